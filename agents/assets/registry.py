"""The asset register: what the client owns, where each asset is, and the state machine every change goes through.

States (第十六条): ``in_stock`` (the client's store) -> ``issued`` (to a vendor, on a confirmed issue list)
-> ``in_use`` (placed at a seat or with a person) -> ``under_repair`` (the client maintains IT: 15.3, 13.2)
-> back, or ``scrapped`` / ``lost`` (both final). Every change is one :class:`AssetEvent` row and one audit
entry; the history is what the monthly rates are computed from. Services flush; the caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agents.context import AgentsContext
from agents.errors import InvalidTransition, NotFound, RuleViolation
from agents.models import Asset, AssetEvent, User
from agents.org import get_seat
from agents.permissions import ACTIVE, Actor, Role, require, require_on

__all__ = [
    "HELD",
    "KINDS",
    "TRANSITIONS",
    "AssetState",
    "AssetView",
    "asset_by_tag",
    "get_asset",
    "list_assets",
    "move_asset",
    "place_asset",
    "register_asset",
    "repair_done",
    "scrap_asset",
    "send_to_repair",
    "unplace_asset",
    "view_asset",
]


class AssetState(StrEnum):
    IN_STOCK = "in_stock"
    ISSUED = "issued"
    IN_USE = "in_use"
    UNDER_REPAIR = "under_repair"
    SCRAPPED = "scrapped"
    LOST = "lost"


#: the states each state may move to; scrapped and lost are final
TRANSITIONS: Final[dict[AssetState, frozenset[AssetState]]] = {
    AssetState.IN_STOCK: frozenset({AssetState.ISSUED, AssetState.UNDER_REPAIR, AssetState.SCRAPPED, AssetState.LOST}),
    AssetState.ISSUED: frozenset({AssetState.IN_USE, AssetState.IN_STOCK, AssetState.UNDER_REPAIR, AssetState.LOST}),
    AssetState.IN_USE: frozenset(
        {AssetState.IN_USE, AssetState.ISSUED, AssetState.IN_STOCK, AssetState.UNDER_REPAIR, AssetState.LOST}
    ),
    AssetState.UNDER_REPAIR: frozenset(
        {AssetState.IN_STOCK, AssetState.ISSUED, AssetState.IN_USE, AssetState.SCRAPPED}
    ),
    AssetState.SCRAPPED: frozenset(),
    AssetState.LOST: frozenset(),
}

#: states in which a vendor answers for the asset (第十一条)
HELD: Final = frozenset({AssetState.ISSUED, AssetState.IN_USE, AssetState.UNDER_REPAIR})

#: the kinds of asset and their category: IT assets (第十二条) or fixed assets (第十三条)
KINDS: Final[dict[str, str]] = {
    "computer": "it",
    "monitor": "it",
    "headset": "it",
    "phone": "it",
    "work_id": "it",
    "desk": "fixed",
    "chair": "fixed",
    "cabinet": "fixed",
}

_KEEP: Final = object()


@dataclass(frozen=True, slots=True)
class AssetView:
    """An asset as a team lead sees it (no names: work IDs only)."""

    id: int
    tag: str
    kind: str
    category: str
    state: str
    vendor_id: int | None
    seat_id: int | None
    holder_work_id: str | None
    value: Decimal | None


def view_asset(asset: Asset) -> AssetView:
    return AssetView(
        asset.id,
        asset.tag,
        asset.kind,
        asset.category,
        asset.state,
        asset.vendor_id,
        asset.seat_id,
        asset.holder_work_id,
        asset.value,
    )


async def get_asset(session: AsyncSession, asset_id: int, *, for_update: bool = False) -> Asset:
    stmt = select(Asset).where(Asset.id == asset_id)
    if for_update:
        stmt = stmt.with_for_update()
    asset = (await session.execute(stmt)).scalar_one_or_none()
    if asset is None:
        raise NotFound(f"no asset {asset_id}", details={"asset_id": asset_id})
    return asset


async def asset_by_tag(session: AsyncSession, tag: str) -> Asset:
    asset = (await session.execute(select(Asset).where(Asset.tag == tag))).scalar_one_or_none()
    if asset is None:
        raise NotFound(f"no asset tagged {tag!r}", details={"tag": tag})
    return asset


async def move_asset(
    ctx: AgentsContext,
    session: AsyncSession,
    asset: Asset,
    to_state: AssetState,
    *,
    actor: str,
    action: str,
    now: datetime,
    note: str | None = None,
    vendor_id: int | object | None = _KEEP,
    seat_id: int | object | None = _KEEP,
    holder_work_id: str | object | None = _KEEP,
    force: bool = False,
) -> AssetEvent:
    """The one way an asset changes: check the transition, update the row, write the event, audit.

    ``force`` skips the transition check (only for retiring a deleted work ID's own asset).
    """
    current = AssetState(asset.state)
    if not force and to_state not in TRANSITIONS[current]:
        raise InvalidTransition(
            f"asset {asset.tag} is {current.value} and cannot become {to_state.value}",
            details={"tag": asset.tag, "from": current.value, "to": to_state.value},
            error_id="agents.asset_state",
        )
    if vendor_id is not _KEEP:
        asset.vendor_id = vendor_id  # type: ignore[assignment]
    if seat_id is not _KEEP:
        asset.seat_id = seat_id  # type: ignore[assignment]
    if holder_work_id is not _KEEP:
        asset.holder_work_id = holder_work_id  # type: ignore[assignment]
    asset.state = to_state.value
    asset.updated_at = now
    event = AssetEvent(
        asset_id=asset.id,
        at=now,
        actor=actor,
        action=action,
        from_state=current.value,
        to_state=to_state.value,
        vendor_id=asset.vendor_id,
        seat_id=asset.seat_id,
        holder_work_id=asset.holder_work_id,
        note=note,
    )
    session.add(event)
    await session.flush()
    await ctx.audit.append(
        session,
        actor=actor,
        action=f"asset.{action}",
        target=f"asset:{asset.tag}",
        details={
            "from": current.value,
            "to": to_state.value,
            "vendor_id": asset.vendor_id,
            "seat_id": asset.seat_id,
            "holder_work_id": asset.holder_work_id,
        },
    )
    return event


async def register_asset(
    ctx: AgentsContext,
    session: AsyncSession,
    actor: Actor,
    *,
    tag: str,
    kind: str,
    now: datetime,
    value: Decimal | None = None,
    description: str | None = None,
    work_id: str | None = None,
) -> Asset:
    """Add an asset to the client's stock (``in_stock``); a ``work_id`` asset names the work ID it stands for."""
    require(actor, "asset.manage")
    tag = tag.strip()
    if not tag:
        raise RuleViolation("an asset needs a tag", error_id="agents.asset_invalid")
    if kind not in KINDS:
        raise RuleViolation(
            f"unknown asset kind {kind!r}: one of {', '.join(KINDS)}",
            error_id="agents.asset_invalid",
            details={"kinds": list(KINDS)},
        )
    if (kind == "work_id") != (work_id is not None):
        raise RuleViolation("a work_id asset (and only one) names its work ID", error_id="agents.asset_invalid")
    if work_id is not None and await session.get(User, work_id) is None:
        raise NotFound(f"no work ID {work_id}", details={"work_id": work_id})
    if value is not None and value < 0:
        raise RuleViolation("an asset's value cannot be negative", error_id="agents.asset_invalid")
    if (await session.execute(select(Asset.id).where(Asset.tag == tag))).first() is not None:
        raise RuleViolation(f"asset tag {tag!r} is taken", error_id="agents.asset_exists", details={"tag": tag})
    asset = Asset(
        tag=tag,
        kind=kind,
        category=KINDS[kind],
        description=description,
        value=value,
        state=AssetState.IN_STOCK.value,
        work_id=work_id,
        created_at=now,
        updated_at=now,
    )
    session.add(asset)
    await session.flush()
    session.add(
        AssetEvent(
            asset_id=asset.id,
            at=now,
            actor=actor.work_id,
            action="register",
            from_state=None,
            to_state=AssetState.IN_STOCK.value,
        )
    )
    await session.flush()
    await ctx.audit.append(
        session,
        actor=actor.work_id,
        action="asset.register",
        target=f"asset:{tag}",
        details={"kind": kind, "value": str(value) if value is not None else None},
    )
    return asset


async def list_assets(
    session: AsyncSession, actor: Actor, *, vendor_id: int | None = None, state: str | None = None
) -> list[Asset]:
    """The assets the actor may see: its vendor's (admins: all, or one vendor's), by tag."""
    if actor.role != Role.ADMIN:
        vendor_id = actor.vendor_id
    require(actor, "asset.view", vendor_id=vendor_id)
    stmt = select(Asset).order_by(Asset.tag)
    if vendor_id is not None:
        stmt = stmt.where(Asset.vendor_id == vendor_id)
    if state is not None:
        stmt = stmt.where(Asset.state == state)
    return list((await session.execute(stmt)).scalars())


async def place_asset(
    ctx: AgentsContext,
    session: AsyncSession,
    actor: Actor,
    asset_id: int,
    *,
    now: datetime,
    seat_id: int | None = None,
    holder_work_id: str | None = None,
) -> Asset:
    """The vendor puts an issued asset to use: at one of its seats, with one of its people, or both."""
    asset = await get_asset(session, asset_id, for_update=True)
    require_on(actor, "asset.confirm", asset.vendor_id)
    if seat_id is None and holder_work_id is None:
        raise RuleViolation("place an asset at a seat or with a person", error_id="agents.asset_invalid")
    if asset.state not in (AssetState.ISSUED, AssetState.IN_USE):
        raise InvalidTransition(
            f"asset {asset.tag} is {asset.state}: only an issued asset is put to use",
            details={"tag": asset.tag, "from": asset.state, "to": AssetState.IN_USE.value},
            error_id="agents.asset_state",
        )
    if seat_id is not None:
        seat = await get_seat(session, seat_id)
        if seat.vendor_id != asset.vendor_id or not seat.active:
            raise RuleViolation(
                f"seat {seat.code} is not an active seat of the asset's vendor",
                error_id="agents.asset_place",
                details={"seat": seat.code},
            )
    if holder_work_id is not None:
        holder = await session.get(User, holder_work_id)
        if holder is None or holder.vendor_id != asset.vendor_id or holder.status != ACTIVE:
            raise RuleViolation(
                f"{holder_work_id} is not an active work ID of the asset's vendor",
                error_id="agents.asset_place",
                details={"work_id": holder_work_id},
            )
    await move_asset(
        ctx,
        session,
        asset,
        AssetState.IN_USE,
        actor=actor.work_id,
        action="place",
        now=now,
        seat_id=seat_id,
        holder_work_id=holder_work_id,
    )
    return asset


async def unplace_asset(
    ctx: AgentsContext, session: AsyncSession, actor: Actor, asset_id: int, *, now: datetime, note: str | None = None
) -> Asset:
    """Back to the vendor's own stock (``issued``): off its seat, out of its holder's hands."""
    asset = await get_asset(session, asset_id, for_update=True)
    require_on(actor, "asset.confirm", asset.vendor_id)
    await move_asset(
        ctx,
        session,
        asset,
        AssetState.ISSUED,
        actor=actor.work_id,
        action="unplace",
        now=now,
        note=note,
        seat_id=None,
        holder_work_id=None,
    )
    return asset


async def send_to_repair(
    ctx: AgentsContext, session: AsyncSession, actor: Actor, asset_id: int, *, now: datetime, note: str
) -> Asset:
    """The client takes an asset in for repair (15.3, 13.2); it keeps its vendor, seat and holder."""
    require(actor, "asset.manage")
    asset = await get_asset(session, asset_id, for_update=True)
    await move_asset(
        ctx, session, asset, AssetState.UNDER_REPAIR, actor=actor.work_id, action="repair", now=now, note=note
    )
    return asset


async def repair_done(
    ctx: AgentsContext, session: AsyncSession, actor: Actor, asset_id: int, *, now: datetime, note: str | None = None
) -> Asset:
    """Repaired: back in use where it was, else back to its vendor, else back in stock."""
    require(actor, "asset.manage")
    asset = await get_asset(session, asset_id, for_update=True)
    if asset.state != AssetState.UNDER_REPAIR:
        raise InvalidTransition(
            f"asset {asset.tag} is {asset.state}, not under repair",
            details={"tag": asset.tag, "from": asset.state},
            error_id="agents.asset_state",
        )
    if asset.seat_id is not None or asset.holder_work_id is not None:
        target = AssetState.IN_USE
    elif asset.vendor_id is not None:
        target = AssetState.ISSUED
    else:
        target = AssetState.IN_STOCK
    await move_asset(ctx, session, asset, target, actor=actor.work_id, action="repaired", now=now, note=note)
    return asset


async def scrap_asset(
    ctx: AgentsContext, session: AsyncSession, actor: Actor, asset_id: int, *, now: datetime, note: str
) -> Asset:
    """Scrap an asset in the client's stock or under repair (报废, 13.2)."""
    require(actor, "asset.manage")
    if not note.strip():
        raise RuleViolation("say why the asset is scrapped", error_id="agents.asset_invalid")
    asset = await get_asset(session, asset_id, for_update=True)
    await move_asset(
        ctx,
        session,
        asset,
        AssetState.SCRAPPED,
        actor=actor.work_id,
        action="scrap",
        now=now,
        note=note,
        vendor_id=None,
        seat_id=None,
        holder_work_id=None,
    )
    return asset
