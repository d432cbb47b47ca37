"""Damage and loss (人为损坏(丢失)处理表, 12.2) with the last user, and the compensation decision (照价赔偿, 第十一条).

The record names the asset, what happened, and the last user: the holder of a personal item (a headset,
a work ID), else the last work ID logged in at the asset's seat before the damage was found
(:mod:`agents.assets.lastuser`). The client decides the compensation; the vendor pays the asset's value
unless the client sets another amount or waives it. A loss makes the asset ``lost``. Services flush; the
caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agents.assets.lastuser import last_user_of_seat
from agents.assets.registry import HELD, AssetState, get_asset, move_asset
from agents.context import AgentsContext
from agents.errors import NotFound, RuleViolation
from agents.models import Asset, DamageRecord, FaultReport
from agents.org import get_seat
from agents.permissions import Actor, Role, require, require_on

__all__ = [
    "Cause",
    "DamageKind",
    "LastUserFinding",
    "decide_compensation",
    "find_last_user",
    "get_damage",
    "list_damage",
    "record_damage",
    "report_damage",
]


class DamageKind(StrEnum):
    DAMAGE = "damage"
    LOSS = "loss"


class Cause(StrEnum):
    HUMAN = "human"  # 人为: counts against "damage by people" (12.1: must stay 0)
    WEAR = "wear"  # normal wear or a defect
    UNKNOWN = "unknown"  # until the client decides


@dataclass(frozen=True, slots=True)
class LastUserFinding:
    work_id: str | None
    session_id: int | None
    source: str  # seat_session / holder / none


async def find_last_user(session: AsyncSession, asset: Asset, *, seat_id: int | None, at: datetime) -> LastUserFinding:
    """The holder of a personal item, else the last work ID at the seat before ``at``, else nobody."""
    if asset.holder_work_id is not None:
        return LastUserFinding(asset.holder_work_id, None, "holder")
    if seat_id is not None:
        last = await last_user_of_seat(session, seat_id, at)
        if last is not None:
            return LastUserFinding(last.work_id, last.session_id, "seat_session")
    return LastUserFinding(None, None, "none")


async def record_damage(
    ctx: AgentsContext,
    session: AsyncSession,
    asset: Asset,
    *,
    actor: str,
    kind: DamageKind,
    cause: Cause,
    description: str,
    occurred_at: datetime,
    now: datetime,
    vendor_id: int | None,
    seat_id: int | None,
    fault_id: int | None = None,
) -> DamageRecord:
    """Store a damage or loss record with its last user (permissions are the caller's); a loss loses the asset."""
    finding = await find_last_user(session, asset, seat_id=seat_id, at=occurred_at)
    record = DamageRecord(
        asset_id=asset.id,
        vendor_id=vendor_id,
        seat_id=seat_id,
        kind=kind.value,
        cause=cause.value,
        description=description,
        occurred_at=occurred_at,
        reported_by=actor,
        reported_at=now,
        last_work_id=finding.work_id,
        last_session_id=finding.session_id,
        last_user_source=finding.source,
        fault_id=fault_id,
        compensation="pending",
    )
    session.add(record)
    await session.flush()
    await ctx.audit.append(
        session,
        actor=actor,
        action="damage.report",
        target=f"asset:{asset.tag}",
        details={
            "damage_id": record.id,
            "kind": kind.value,
            "cause": cause.value,
            "vendor_id": vendor_id,
            "seat_id": seat_id,
            "last_work_id": finding.work_id,
            "last_user_source": finding.source,
            "occurred_at": occurred_at.isoformat(),
        },
    )
    if kind == DamageKind.LOSS and asset.state != AssetState.LOST:
        await move_asset(ctx, session, asset, AssetState.LOST, actor=actor, action="lost", now=now, note=description)
    return record


async def report_damage(
    ctx: AgentsContext,
    session: AsyncSession,
    actor: Actor,
    asset_id: int,
    *,
    kind: DamageKind | str,
    description: str,
    now: datetime,
    cause: Cause | str = Cause.UNKNOWN,
    occurred_at: datetime | None = None,
    seat_id: int | None = None,
    fault_id: int | None = None,
) -> DamageRecord:
    """Report damage to or loss of an asset the vendor holds (or, for the client, any asset).

    ``occurred_at`` (default: now) is when it was found; the last user is the one before it. ``seat_id``
    defaults to the asset's seat.
    """
    try:
        kind, cause = DamageKind(kind), Cause(cause)
    except ValueError:
        raise RuleViolation(
            "kind is damage or loss; cause is human, wear or unknown", error_id="agents.damage_invalid"
        ) from None
    asset = await get_asset(session, asset_id, for_update=True)
    vendor_id = asset.vendor_id if asset.state in HELD else None
    require_on(actor, "damage.report", vendor_id)
    if not description.strip():
        raise RuleViolation("say what happened", error_id="agents.damage_invalid")
    if asset.state in (AssetState.SCRAPPED, AssetState.LOST):
        raise RuleViolation(
            f"asset {asset.tag} is already {asset.state}", error_id="agents.damage_invalid", details={"tag": asset.tag}
        )
    occurred_at = occurred_at or now
    if occurred_at > now:
        raise RuleViolation("damage cannot be reported before it happens", error_id="agents.damage_invalid")
    seat_id = seat_id if seat_id is not None else asset.seat_id
    if seat_id is not None:
        await get_seat(session, seat_id)
    if fault_id is not None:
        fault = await session.get(FaultReport, fault_id)
        if fault is None:
            raise NotFound(f"no fault report {fault_id}", details={"fault_id": fault_id})
    return await record_damage(
        ctx,
        session,
        asset,
        actor=actor.work_id,
        kind=kind,
        cause=cause,
        description=description,
        occurred_at=occurred_at,
        now=now,
        vendor_id=vendor_id,
        seat_id=seat_id,
        fault_id=fault_id,
    )


async def get_damage(session: AsyncSession, actor: Actor, damage_id: int) -> DamageRecord:
    record = await session.get(DamageRecord, damage_id)
    if record is None:
        raise NotFound(f"no damage record {damage_id}", details={"damage_id": damage_id})
    require_on(actor, "asset.view", record.vendor_id)
    return record


async def list_damage(
    session: AsyncSession, actor: Actor, *, vendor_id: int | None = None, pending_only: bool = False
) -> list[DamageRecord]:
    """Damage and loss records the actor may see, newest first."""
    if actor.role != Role.ADMIN:
        vendor_id = actor.vendor_id
    require(actor, "asset.view", vendor_id=vendor_id)
    stmt = select(DamageRecord).order_by(DamageRecord.occurred_at.desc(), DamageRecord.id.desc())
    if vendor_id is not None:
        stmt = stmt.where(DamageRecord.vendor_id == vendor_id)
    if pending_only:
        stmt = stmt.where(DamageRecord.compensation == "pending")
    return list((await session.execute(stmt)).scalars())


async def decide_compensation(
    ctx: AgentsContext,
    session: AsyncSession,
    actor: Actor,
    damage_id: int,
    *,
    charge: bool,
    now: datetime,
    cause: Cause | str | None = None,
    amount: Decimal | None = None,
    note: str | None = None,
) -> DamageRecord:
    """The client decides: charge the vendor (照价赔偿: the asset's value unless ``amount`` says otherwise) or waive.

    The cause may be settled at the same time (human damage counts against the vendor's rates). Decided once;
    the reporter does not decide their own report.
    """
    require(actor, "damage.decide")
    record = await session.get(DamageRecord, damage_id)
    if record is None:
        raise NotFound(f"no damage record {damage_id}", details={"damage_id": damage_id})
    if record.compensation != "pending":
        raise RuleViolation(
            f"damage record {damage_id} is already decided ({record.compensation})", error_id="agents.already_decided"
        )
    if record.reported_by == actor.work_id:
        raise RuleViolation("the reporter cannot decide their own damage report", error_id="agents.sod")
    asset = await get_asset(session, record.asset_id)
    if cause is not None:
        try:
            record.cause = Cause(cause).value
        except ValueError:
            raise RuleViolation("cause is human, wear or unknown", error_id="agents.damage_invalid") from None
    if charge:
        amount = amount if amount is not None else asset.value
        if amount is None or amount <= 0:
            raise RuleViolation(
                f"asset {asset.tag} has no value on record: give the amount to charge", error_id="agents.damage_amount"
            )
        record.amount = amount
    elif not (note and note.strip()):
        raise RuleViolation("say why the compensation is waived", error_id="agents.damage_invalid")
    record.compensation = "charged" if charge else "waived"
    record.decided_by, record.decided_at, record.decision_note = actor.work_id, now, note
    await session.flush()
    await ctx.audit.append(
        session,
        actor=actor.work_id,
        action="damage.decide",
        target=f"asset:{asset.tag}",
        details={
            "damage_id": damage_id,
            "compensation": record.compensation,
            "amount": str(record.amount) if record.amount is not None else None,
            "cause": record.cause,
            "vendor_id": record.vendor_id,
        },
    )
    return record
