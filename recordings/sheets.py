"""QA scoring sheets: data (YAML), versioned like call scripts, loaded with line-accurate errors.

A sheet lists items, each worth ``points``; a reviewer gives 0..points per item. Items with an
``auto`` check are pre-filled from the call log (:mod:`recordings.autochecks`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from flows.errors import Problem
from flows.validate import pydantic_problems
from flows.yamlmarks import load_marked
from recordings.errors import SheetError, SheetNotFound

PACKAGE_SHEETS = Path(__file__).resolve().parent / "sheets"

AutoCheck = Literal["opening_15s", "benefit_45s", "no_step_skipped", "outcome_matches_last_step", "wrap_up_in_time"]


class SheetItem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
    label: Annotated[str, StringConstraints(min_length=1)]
    #: where the rule comes from (第三篇 第一条 …)
    source: str | None = None
    points: int = Field(default=1, ge=1)
    auto: AutoCheck | None = None


class QaSheet(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["qa-sheet"]
    id: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*$")]
    version: int = Field(ge=1)
    title: Annotated[str, StringConstraints(min_length=1)]
    items: list[SheetItem] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_items(self) -> QaSheet:
        seen: set[str] = set()
        for item in self.items:
            if item.id in seen:
                raise ValueError(f"duplicate item id `{item.id}`")
            seen.add(item.id)
        return self

    @property
    def max_points(self) -> int:
        return sum(item.points for item in self.items)

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"

    def item(self, item_id: str) -> SheetItem:
        for item in self.items:
            if item.id == item_id:
                return item
        raise SheetNotFound(f"sheet {self.ref} has no item `{item_id}`", details={"item": item_id})


@dataclass(frozen=True)
class LoadedSheet:
    sheet: QaSheet
    path: Path
    digest: str


def load_sheet(path: Path) -> LoadedSheet:
    """One sheet file, or SheetError naming file:line:column for each problem."""
    raw = path.read_bytes()
    marked, problems = load_marked(raw.decode("utf-8", errors="replace"), str(path))
    if marked is not None and not problems:
        try:
            sheet = QaSheet.model_validate(marked.data)
        except ValidationError as exc:
            problems = pydantic_problems(marked, exc)
        else:
            return LoadedSheet(sheet, path, hashlib.sha256(raw).hexdigest())
    raise SheetError(_summary(problems), details={"problems": [str(p) for p in problems]})


def _summary(problems: Sequence[Problem]) -> str:
    first = str(problems[0]) if problems else "invalid sheet"
    return first + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")


class SheetRegistry:
    """Sheets found in directories (the package's own first); versions are immutable once used."""

    def __init__(self, dirs: Sequence[Path] = (PACKAGE_SHEETS,)) -> None:
        self.dirs = [Path(d) for d in dirs]

    def all(self) -> list[LoadedSheet]:
        return [load_sheet(p) for d in self.dirs for p in sorted(d.glob("*.yaml"))]

    def get(self, sheet_id: str, version: int | None = None) -> LoadedSheet:
        found = [s for s in self.all() if s.sheet.id == sheet_id and (version is None or s.sheet.version == version)]
        if not found:
            known = sorted(s.sheet.ref for s in self.all())
            raise SheetNotFound(
                f"no QA sheet `{sheet_id}{'@' + str(version) if version else ''}`; known: {', '.join(known)}",
                details={"known": known},
            )
        return max(found, key=lambda s: s.sheet.version)
