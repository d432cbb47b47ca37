"""The audit log (admins): read it, and verify its hash chain."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select

from api.deps import Caller, require_permission
from api.schemas.common import ERRORS
from api.schemas.system import AuditEntryOut, AuditProblemOut, AuditVerifyOut
from waihu.audit import ChainHead
from waihu.models import AuditEntry

router = APIRouter(tags=["audit"], responses=ERRORS)
Auditor = Annotated[Caller, Depends(require_permission("audit.view"))]


@router.get("/audit", response_model=list[AuditEntryOut])
async def list_entries(
    caller: Auditor,
    actor: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    after_seq: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditEntryOut]:
    """Entries in chain order after ``after_seq`` (page with the last seq you got)."""
    stmt = select(AuditEntry).where(AuditEntry.seq > after_seq).order_by(AuditEntry.seq).limit(limit)
    if actor is not None:
        stmt = stmt.where(AuditEntry.actor == actor)
    if action is not None:
        stmt = stmt.where(AuditEntry.action == action)
    rows = (await caller.session.scalars(stmt)).all()
    return [
        AuditEntryOut(
            seq=r.seq,
            at=r.at,
            actor=r.actor,
            action=r.action,
            target=r.target,
            details=json.loads(r.details),
            hash=r.hash,
        )
        for r in rows
    ]


@router.get("/audit/verify", response_model=AuditVerifyOut)
async def verify(
    caller: Auditor,
    expect_seq: Annotated[int | None, Query(ge=1, le=2**62, description="head seq recorded earlier")] = None,
    expect_hash: Annotated[str | None, Query(pattern=r"^[0-9a-f]{64}$")] = None,
) -> AuditVerifyOut:
    """Walk the chain and name every broken row; pass a head recorded earlier to detect truncation."""
    anchor = ChainHead(expect_seq, expect_hash) if expect_seq is not None and expect_hash is not None else None
    report = await caller.state.audit.verify(caller.session, anchor=anchor)
    return AuditVerifyOut(
        ok=report.ok,
        rows=report.rows,
        head_seq=report.head.seq,
        head_hash=report.head.hash,
        problems=[AuditProblemOut(kind=p.kind, message=p.message, row_id=p.row_id, seq=p.seq) for p in report.problems],
    )
