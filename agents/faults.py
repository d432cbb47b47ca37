"""Fault reports (报障单, 第十五条): open -> acknowledged -> fixed, with who and when.

An agent files them (fault.report); the client, who maintains the site's IT (15.3), acknowledges and
fixes them (fault.manage). A seat change within a shift needs one on the old seat (15.1: 禁止只更换座席
但不进行报障). Services flush and audit; the caller commits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from agents.context import AgentsContext
from agents.errors import InvalidTransition, NotFound, RuleViolation
from agents.models import Asset, FaultReport
from agents.org import get_seat
from agents.permissions import Actor, Role, require, require_on

__all__ = [
    "acknowledge_fault",
    "fix_fault",
    "get_fault",
    "has_report_for_seat_change",
    "list_faults",
    "report_fault",
]


async def report_fault(
    ctx: AgentsContext,
    session: AsyncSession,
    actor: Actor,
    *,
    seat_id: int | None,
    description: str,
    now: datetime,
    asset_id: int | None = None,
) -> FaultReport:
    """File a fault on a seat (or on a system: ``seat_id=None``), optionally naming the asset at fault.

    The reporter's vendor is recorded.
    """
    require(actor, "fault.report")
    if not description.strip():
        raise RuleViolation("describe the fault", error_id="agents.fault_invalid")
    if seat_id is not None:
        await get_seat(session, seat_id)
    if asset_id is not None and await session.get(Asset, asset_id) is None:
        raise NotFound(f"no asset {asset_id}", details={"asset_id": asset_id})
    report = FaultReport(
        seat_id=seat_id,
        vendor_id=actor.vendor_id,
        reported_by=actor.work_id,
        description=description,
        status="open",
        reported_at=now,
        asset_id=asset_id,
    )
    session.add(report)
    await session.flush()
    await ctx.audit.append(
        session,
        actor=actor.work_id,
        action="fault.report",
        target=f"fault:{report.id}",
        details={"seat_id": seat_id, "vendor_id": actor.vendor_id, "asset_id": asset_id},
    )
    return report


async def get_fault(session: AsyncSession, actor: Actor, fault_id: int) -> FaultReport:
    """One fault report, if it is the actor's vendor's (admins: any)."""
    report = await session.get(FaultReport, fault_id)
    if report is None:
        raise NotFound(f"no fault report {fault_id}", details={"fault_id": fault_id})
    require_on(actor, "fault.report", report.vendor_id)
    return report


async def list_faults(session: AsyncSession, actor: Actor, *, status: str | None = None) -> list[FaultReport]:
    """The fault reports the actor may see: its vendor's (admins: all), newest first."""
    require(actor, "fault.report", vendor_id=actor.vendor_id)
    stmt = select(FaultReport).order_by(FaultReport.reported_at.desc(), FaultReport.id.desc())
    if actor.role != Role.ADMIN:
        stmt = stmt.where(FaultReport.vendor_id == actor.vendor_id)
    if status is not None:
        stmt = stmt.where(FaultReport.status == status)
    return list((await session.execute(stmt)).scalars())


async def _move(
    ctx: AgentsContext,
    session: AsyncSession,
    actor: Actor,
    fault_id: int,
    *,
    from_status: str,
    to_status: str,
    now: datetime,
    resolution: str | None = None,
) -> FaultReport:
    report = await session.get(FaultReport, fault_id)
    if report is None:
        raise NotFound(f"no fault report {fault_id}", details={"fault_id": fault_id})
    require(actor, "fault.manage", vendor_id=report.vendor_id)
    if report.status != from_status:
        raise InvalidTransition(
            f"fault report {fault_id} is {report.status}; only a {from_status} report can become {to_status}",
            details={"fault_id": fault_id, "status": report.status, "wanted": to_status},
        )
    report.status = to_status
    if to_status == "acknowledged":
        report.acknowledged_by, report.acknowledged_at = actor.work_id, now
    else:
        report.fixed_by, report.fixed_at, report.resolution = actor.work_id, now, resolution
    await session.flush()
    await ctx.audit.append(
        session,
        actor=actor.work_id,
        action=f"fault.{to_status}",
        target=f"fault:{fault_id}",
        details={"seat_id": report.seat_id, "vendor_id": report.vendor_id},
    )
    return report


async def acknowledge_fault(
    ctx: AgentsContext, session: AsyncSession, actor: Actor, fault_id: int, *, now: datetime
) -> FaultReport:
    """The client has seen the report and is tracking it (15.2)."""
    return await _move(ctx, session, actor, fault_id, from_status="open", to_status="acknowledged", now=now)


async def fix_fault(
    ctx: AgentsContext, session: AsyncSession, actor: Actor, fault_id: int, *, resolution: str, now: datetime
) -> FaultReport:
    """The fault is repaired; what was done is kept."""
    return await _move(
        ctx, session, actor, fault_id, from_status="acknowledged", to_status="fixed", now=now, resolution=resolution
    )


async def has_report_for_seat_change(
    session: AsyncSession, *, work_id: str, seat_id: int, since: datetime, now: datetime
) -> bool:
    """Whether ``work_id`` filed a fault on ``seat_id`` that justifies leaving it: one filed this shift
    (``since``..``now``, any status), or one still not fixed.
    """
    row = (
        await session.execute(
            select(FaultReport.id)
            .where(
                FaultReport.seat_id == seat_id,
                FaultReport.reported_by == work_id,
                FaultReport.reported_at <= now,
                or_(FaultReport.reported_at >= since, FaultReport.status != "fixed"),
            )
            .limit(1)
        )
    ).first()
    return row is not None
