"""Daily inspections (12.2): each vendor checks its seats every working day; a missing one shows the next morning.

One inspection per vendor and site-local day covers every active seat allocated to the vendor, each
``ok``, ``fault``, ``damaged`` or ``missing_item`` (anything but ok with a note). A fault is reported to
the client at once (12.2: 第一时间向XX方进行反馈): the inspection files a fault report for it, linked to
the asset if named. Damage and loss get their own record (:mod:`agents.assets.damage`), which names the
last user. Services flush; the caller commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agents.context import AgentsContext
from agents.errors import RuleViolation
from agents.faults import report_fault
from agents.models import Asset, Inspection, InspectionItem, Seat, Vendor
from agents.org import get_vendor
from agents.permissions import Actor, Role, require

__all__ = [
    "ALL_WEEKDAYS",
    "MissingInspection",
    "Result",
    "SeatCheck",
    "get_inspection",
    "missing_inspections",
    "missing_this_morning",
    "record_inspection",
]

#: the site works every day of the week unless a caller passes fewer (Monday is 0)
ALL_WEEKDAYS: Final = frozenset(range(7))


class Result(StrEnum):
    OK = "ok"
    FAULT = "fault"
    DAMAGED = "damaged"
    MISSING_ITEM = "missing_item"


@dataclass(frozen=True, slots=True)
class SeatCheck:
    """What the inspection found at one seat."""

    seat_id: int
    result: Result | str
    note: str | None = None
    asset_id: int | None = None


@dataclass(frozen=True, slots=True)
class MissingInspection:
    """A vendor without an inspection for a working day, and the seats it should have covered."""

    vendor_id: int
    vendor_code: str
    day: date
    seat_codes: list[str]


async def _vendor_seats(session: AsyncSession, vendor_id: int) -> list[Seat]:
    stmt = select(Seat).where(Seat.vendor_id == vendor_id, Seat.active.is_(True)).order_by(Seat.code)
    return list((await session.execute(stmt)).scalars())


async def record_inspection(
    ctx: AgentsContext,
    session: AsyncSession,
    actor: Actor,
    *,
    vendor_id: int,
    day: date,
    checks: Sequence[SeatCheck],
    now: datetime,
    note: str | None = None,
) -> Inspection:
    """Record the vendor's inspection of ``day`` (site-local; today or earlier) covering all its seats."""
    require(actor, "inspection.record", vendor_id=vendor_id)
    await get_vendor(session, vendor_id)
    today = now.astimezone(ctx.settings.zone).date()
    if day > today:
        raise RuleViolation("an inspection cannot be recorded for a day to come", error_id="agents.inspection_invalid")
    existing = await session.execute(
        select(Inspection.id).where(Inspection.vendor_id == vendor_id, Inspection.day == day)
    )
    if existing.first() is not None:
        raise RuleViolation(
            f"the inspection of {day.isoformat()} is already recorded",
            error_id="agents.inspection_exists",
            details={"vendor_id": vendor_id, "day": day.isoformat()},
        )
    seats = {seat.id: seat for seat in await _vendor_seats(session, vendor_id)}
    seen: set[int] = set()
    for check in checks:
        if check.seat_id not in seats:
            raise RuleViolation(
                f"seat {check.seat_id} is not an active seat of the vendor",
                error_id="agents.inspection_invalid",
                details={"seat_id": check.seat_id},
            )
        if check.seat_id in seen:
            raise RuleViolation("each seat is inspected once", error_id="agents.inspection_invalid")
        seen.add(check.seat_id)
        try:
            result = Result(check.result)
        except ValueError:
            raise RuleViolation(
                f"unknown result {check.result!r}: ok, fault, damaged or missing_item",
                error_id="agents.inspection_invalid",
            ) from None
        if result != Result.OK and not (check.note and check.note.strip()):
            raise RuleViolation(
                f"seat {seats[check.seat_id].code}: say what is wrong", error_id="agents.inspection_invalid"
            )
        if check.asset_id is not None:
            asset = await session.get(Asset, check.asset_id)
            if asset is None or asset.vendor_id != vendor_id:
                raise RuleViolation(f"asset {check.asset_id} is not the vendor's", error_id="agents.inspection_invalid")
    unchecked = sorted(seats[s].code for s in set(seats) - seen)
    if unchecked:
        raise RuleViolation(
            f"the inspection must cover every seat of the vendor; missing: {', '.join(unchecked)}",
            error_id="agents.inspection_incomplete",
            details={"seats": unchecked},
        )
    inspection = Inspection(vendor_id=vendor_id, day=day, inspected_by=actor.work_id, recorded_at=now, note=note)
    session.add(inspection)
    await session.flush()
    faults: list[int] = []
    for check in checks:
        result = Result(check.result)
        session.add(
            InspectionItem(
                inspection_id=inspection.id,
                seat_id=check.seat_id,
                result=result.value,
                asset_id=check.asset_id,
                note=check.note,
            )
        )
        if result == Result.FAULT:
            assert check.note is not None
            report = await report_fault(
                ctx,
                session,
                actor,
                seat_id=check.seat_id,
                description=f"日检 {day.isoformat()}: {check.note}",
                now=now,
                asset_id=check.asset_id,
            )
            faults.append(report.id)
    await session.flush()
    await ctx.audit.append(
        session,
        actor=actor.work_id,
        action="inspection.record",
        target=f"vendor:{vendor_id}",
        details={
            "inspection_id": inspection.id,
            "day": day.isoformat(),
            "results": {r.value: sum(1 for c in checks if Result(c.result) == r) for r in Result},
            "fault_ids": faults,
        },
    )
    return inspection


async def get_inspection(
    session: AsyncSession, actor: Actor, *, vendor_id: int, day: date
) -> tuple[Inspection, list[InspectionItem]] | None:
    require(actor, "asset.view", vendor_id=vendor_id)
    inspection = (
        await session.execute(select(Inspection).where(Inspection.vendor_id == vendor_id, Inspection.day == day))
    ).scalar_one_or_none()
    if inspection is None:
        return None
    items = (
        await session.execute(select(InspectionItem).where(InspectionItem.inspection_id == inspection.id))
    ).scalars()
    return inspection, list(items)


async def missing_inspections(
    session: AsyncSession,
    actor: Actor,
    *,
    day: date,
    vendor_id: int | None = None,
    weekdays: frozenset[int] = ALL_WEEKDAYS,
) -> list[MissingInspection]:
    """Vendors (the actor's own; admins: all, or ``vendor_id``) with seats but no inspection of ``day``.

    A day outside ``weekdays`` is not a working day: nothing is missing.
    """
    if actor.role != Role.ADMIN:
        vendor_id = actor.vendor_id
    require(actor, "asset.view", vendor_id=vendor_id)
    if day.weekday() not in weekdays:
        return []
    stmt = select(Vendor).order_by(Vendor.code)
    if vendor_id is not None:
        stmt = stmt.where(Vendor.id == vendor_id)
    done = set((await session.execute(select(Inspection.vendor_id).where(Inspection.day == day))).scalars())
    missing: list[MissingInspection] = []
    for vendor in (await session.execute(stmt)).scalars():
        if vendor.id in done:
            continue
        seats = await _vendor_seats(session, vendor.id)
        if seats:
            missing.append(MissingInspection(vendor.id, vendor.code, day, [s.code for s in seats]))
    return missing


async def missing_this_morning(
    ctx: AgentsContext, session: AsyncSession, actor: Actor, *, now: datetime, weekdays: frozenset[int] = ALL_WEEKDAYS
) -> list[MissingInspection]:
    """For the team-lead desk: the inspections of the previous site-local day that nobody recorded."""
    yesterday = now.astimezone(ctx.settings.zone).date() - timedelta(days=1)
    return await missing_inspections(session, actor, day=yesterday, weekdays=weekdays)
