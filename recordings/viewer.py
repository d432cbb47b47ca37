"""Who is looking: enough to scope QA data by vendor without importing the agents package."""

from __future__ import annotations

from dataclasses import dataclass

from recordings.errors import NotVisible


@dataclass(frozen=True)
class Viewer:
    """A work ID acting in QA. ``vendor_id`` None is the client (XX方), who sees every vendor."""

    work_id: str
    vendor_id: int | None

    def may_see(self, vendor_id: int | None) -> bool:
        return self.vendor_id is None or self.vendor_id == vendor_id

    def check(self, vendor_id: int | None, what: str) -> None:
        # Another vendor's data is reported as missing, so its existence is not revealed either.
        if not self.may_see(vendor_id):
            raise NotVisible(f"no {what} visible to {self.work_id}", details={"what": what})
