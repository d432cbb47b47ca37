"""Status, audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class StatusOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "ok": True,
                    "version": "0.1.0",
                    "database": "ok",
                    "migrations": {"current": ["0007"], "head": ["0007"], "at_head": True},
                }
            ]
        }
    )

    ok: bool
    version: str
    database: str
    migrations: dict[str, Any]


class AuditEntryOut(BaseModel):
    seq: int
    at: datetime
    actor: str
    action: str
    target: str
    details: dict[str, Any]
    hash: str


class AuditProblemOut(BaseModel):
    kind: str
    message: str
    row_id: int | None
    seq: int | None


class AuditVerifyOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"ok": True, "rows": 1204, "head_seq": 1204, "head_hash": "ab12…", "problems": []}]
        }
    )

    ok: bool
    rows: int
    head_seq: int
    head_hash: str
    problems: list[AuditProblemOut]
