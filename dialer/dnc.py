"""The internal do-not-call list: numbers kept only as keyed hashes, matched at dial time.

Numbers arrive three ways: an import file, a manual add, and a call that ends in a ``do_not_call``
outcome (see :func:`dialer.compliance.record_outcome`). The compliance gate reads the list on
every dial, so a number added here is never dialed again by any campaign.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dialer.errors import LeadImportError
from dialer.models import DNC_SOURCES, DncEntry
from dialer.phones import phone_hasher, validate_phone
from waihu.db import utcnow
from waihu.pii import mask_phone
from waihu.vault import Vault

__all__ = ["DncImportReport", "InvalidPhone", "add_phone", "add_to_dnc", "import_dnc", "is_listed"]

_BATCH = 5000


class InvalidPhone(ValueError):
    """The value is not a valid phone number (the message holds only its mask)."""


@dataclass(slots=True)
class DncImportReport:
    """Counts and masked row errors of a DNC file import."""

    rows: int = 0
    added: int = 0
    already: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)

    def summary(self) -> str:
        return f"{self.rows} rows: {self.added} added, {self.already} already listed, {len(self.errors)} errors"


async def add_to_dnc(
    session: AsyncSession,
    phone_hash: str,
    *,
    source: str,
    added_by: str,
    reason: str | None = None,
    call_id: str | None = None,
    now: datetime | None = None,
) -> bool:
    """List a number by its keyed hash; True if it is new (adding twice is harmless). The caller commits."""
    if source not in DNC_SOURCES:
        raise ValueError(f"unknown DNC source {source!r}; expected one of {', '.join(DNC_SOURCES)}")
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(DncEntry)
        .values(
            phone_hash=phone_hash,
            source=source,
            reason=reason,
            added_by=added_by,
            call_id=call_id,
            added_at=now or utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["phone_hash"])
    )
    result = await session.execute(stmt)
    return bool(getattr(result, "rowcount", 0))


async def is_listed(session: AsyncSession, phone_hash: str) -> bool:
    """Whether the number (by keyed hash) is on the DNC list."""
    found = await session.scalar(select(DncEntry.id).where(DncEntry.phone_hash == phone_hash).limit(1))
    return found is not None


async def add_phone(
    session: AsyncSession,
    vault: Vault,
    phone: str,
    *,
    added_by: str,
    reason: str | None = None,
    source: str = "manual",
    region: str = "CN",
) -> bool:
    """List a number given in clear (manual add); InvalidPhone if it is not valid. The caller commits."""
    e164 = validate_phone(phone, region)
    if e164 is None:
        raise InvalidPhone(f"not a valid phone number: {mask_phone(phone)}")
    return await add_to_dnc(session, vault.lookup_hash(e164, "phone"), source=source, added_by=added_by, reason=reason)


def _read(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8-sig", errors="replace")
    except OSError as exc:
        raise LeadImportError(f"cannot read {file.name}: {exc.strerror}", details={"file": file.name}) from None


async def import_dnc(
    session_factory: async_sessionmaker[AsyncSession],
    vault: Vault,
    path: Path | str,
    *,
    added_by: str,
    reason: str | None = None,
    region: str = "CN",
) -> DncImportReport:
    """Import a DNC file: one number a line, or a CSV whose header has a ``phone`` column.

    Invalid rows are reported (row, masked value) and skipped; the rest land in batches.
    """
    rows = csv.reader(io.StringIO(_read(Path(path)), newline=""))
    hasher = phone_hasher(vault)
    report = DncImportReport()
    column = 0
    batch: list[str] = []
    async with session_factory() as session:

        async def flush() -> None:
            async with session.begin():
                for digest in batch:
                    if await add_to_dnc(session, digest, source="import", added_by=added_by, reason=reason):
                        report.added += 1
                    else:
                        report.already += 1
            batch.clear()

        for index, row in enumerate(rows):
            if not row or not "".join(row).strip():
                continue
            lowered = [c.strip().lower() for c in row]
            if index == 0 and "phone" in lowered:
                column = lowered.index("phone")
                continue
            report.rows += 1
            value = row[column] if column < len(row) else ""
            e164 = validate_phone(value, region) if value.strip() else None
            if e164 is None:
                report.errors.append((rows.line_num, f"not a valid phone number: {mask_phone(value)}"))
                continue
            batch.append(hasher(e164))
            if len(batch) >= _BATCH:
                await flush()
        if batch:
            await flush()
    return report
