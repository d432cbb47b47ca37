"""Issue lists (第十六条): the client issues assets to a vendor, the vendor's team lead confirms, returns are checked.

16.1: the vendor checks quantity and quality and signs; the signed, stamped form becomes a recorded
confirmation (who, when, the stamped form's reference). Items the vendor refuses at confirmation stay in
the client's stock. 16.2: returns are checked against the list: items back in good order return to
stock, damaged ones get a damage record (with the last user), and items not brought back are reported
missing; closing the list makes them lost (with a loss record each). Services flush; the caller commits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agents.assets.damage import Cause, DamageKind, record_damage
from agents.assets.registry import AssetState, get_asset, move_asset
from agents.context import AgentsContext
from agents.errors import InvalidTransition, NotFound, RuleViolation
from agents.models import Asset, IssueList, IssueListItem
from agents.org import get_vendor
from agents.permissions import Actor, Role, require, require_on

__all__ = [
    "ReturnCheck",
    "check_return",
    "confirm_issue_list",
    "create_issue_list",
    "get_issue_list",
    "issue_list_items",
    "items_of_lists",
    "list_issue_lists",
]


@dataclass(frozen=True, slots=True)
class ReturnCheck:
    """What a return check found, by asset tag."""

    list_id: int
    returned: list[str] = field(default_factory=list)
    damaged: list[str] = field(default_factory=list)
    #: still out after this check (lost, with a loss record, if the list was closed)
    missing: list[str] = field(default_factory=list)
    damage_ids: list[int] = field(default_factory=list)
    closed: bool = False


async def get_issue_list(session: AsyncSession, list_id: int, *, for_update: bool = False) -> IssueList:
    stmt = select(IssueList).where(IssueList.id == list_id)
    if for_update:
        stmt = stmt.with_for_update()
    issue_list = (await session.execute(stmt)).scalar_one_or_none()
    if issue_list is None:
        raise NotFound(f"no issue list {list_id}", details={"list_id": list_id})
    return issue_list


async def issue_list_items(session: AsyncSession, list_id: int) -> list[tuple[IssueListItem, Asset]]:
    return (await items_of_lists(session, [list_id])).get(list_id, [])


async def items_of_lists(
    session: AsyncSession, list_ids: Sequence[int]
) -> dict[int, list[tuple[IssueListItem, Asset]]]:
    """The items of several issue lists in one query, by list id (each list's items by asset tag)."""
    found: dict[int, list[tuple[IssueListItem, Asset]]] = {}
    if not list_ids:
        return found
    rows = await session.execute(
        select(IssueListItem, Asset)
        .join(Asset, Asset.id == IssueListItem.asset_id)
        .where(IssueListItem.list_id.in_(list_ids))
        .order_by(IssueListItem.list_id, Asset.tag)
    )
    for item, asset in rows.all():
        found.setdefault(item.list_id, []).append((item, asset))
    return found


async def list_issue_lists(
    session: AsyncSession, actor: Actor, *, vendor_id: int | None = None, status: str | None = None
) -> list[IssueList]:
    if actor.role != Role.ADMIN:
        vendor_id = actor.vendor_id
    require(actor, "asset.view", vendor_id=vendor_id)
    stmt = select(IssueList).order_by(IssueList.created_at.desc(), IssueList.id.desc())
    if vendor_id is not None:
        stmt = stmt.where(IssueList.vendor_id == vendor_id)
    if status is not None:
        stmt = stmt.where(IssueList.status == status)
    return list((await session.execute(stmt)).scalars())


async def create_issue_list(
    ctx: AgentsContext,
    session: AsyncSession,
    actor: Actor,
    *,
    vendor_id: int,
    asset_ids: Sequence[int],
    now: datetime,
    note: str | None = None,
) -> IssueList:
    """The client lists in-stock assets for a vendor; they are issued when the vendor confirms."""
    require(actor, "asset.manage")
    await get_vendor(session, vendor_id)
    if not asset_ids or len(set(asset_ids)) != len(asset_ids):
        raise RuleViolation("an issue list names each asset once", error_id="agents.issue_list_invalid")
    assets = [await get_asset(session, asset_id, for_update=True) for asset_id in asset_ids]
    not_in_stock = [a.tag for a in assets if a.state != AssetState.IN_STOCK]
    if not_in_stock:
        raise RuleViolation(
            f"not in stock: {', '.join(not_in_stock)}",
            error_id="agents.issue_list_invalid",
            details={"tags": not_in_stock},
        )
    on_open = list(
        (
            await session.execute(
                select(Asset.tag)
                .join(IssueListItem, IssueListItem.asset_id == Asset.id)
                .join(IssueList, IssueList.id == IssueListItem.list_id)
                .where(IssueList.status == "open", Asset.id.in_(asset_ids))
            )
        ).scalars()
    )
    if on_open:
        raise RuleViolation(
            f"already on an open issue list: {', '.join(sorted(on_open))}",
            error_id="agents.issue_list_invalid",
            details={"tags": sorted(on_open)},
        )
    issue_list = IssueList(vendor_id=vendor_id, created_by=actor.work_id, created_at=now, status="open", note=note)
    session.add(issue_list)
    await session.flush()
    session.add_all(IssueListItem(list_id=issue_list.id, asset_id=a.id, status="pending") for a in assets)
    await session.flush()
    await ctx.audit.append(
        session,
        actor=actor.work_id,
        action="asset.issue_list",
        target=f"issue_list:{issue_list.id}",
        details={"vendor_id": vendor_id, "tags": sorted(a.tag for a in assets)},
    )
    return issue_list


async def confirm_issue_list(
    ctx: AgentsContext,
    session: AsyncSession,
    actor: Actor,
    list_id: int,
    *,
    now: datetime,
    refused: Mapping[int, str] | None = None,
    document_ref: str | None = None,
    note: str | None = None,
) -> IssueList:
    """The vendor's team lead confirms the list (16.1 签字确认): the assets become the vendor's (``issued``).

    ``refused`` maps asset ids the vendor does not accept (wrong count, bad quality) to the reason; they stay
    in the client's stock. Only the vendor's own staff confirm: the client cannot sign for the vendor.
    """
    issue_list = await get_issue_list(session, list_id, for_update=True)
    require_on(actor, "asset.confirm", issue_list.vendor_id)
    if actor.vendor_id != issue_list.vendor_id:
        raise RuleViolation("the vendor's own team lead confirms an issue list, not the client", error_id="agents.sod")
    if issue_list.status != "open":
        raise InvalidTransition(
            f"issue list {list_id} is {issue_list.status}",
            details={"list_id": list_id, "status": issue_list.status},
            error_id="agents.issue_list_state",
        )
    refused = dict(refused or {})
    items = await issue_list_items(session, list_id)
    unknown = sorted(set(refused) - {asset.id for _, asset in items})
    if unknown:
        raise RuleViolation(
            f"not on issue list {list_id}: asset ids {unknown}",
            error_id="agents.issue_list_invalid",
            details={"asset_ids": unknown},
        )
    if any(not reason.strip() for reason in refused.values()):
        raise RuleViolation("give the reason for each refused item", error_id="agents.issue_list_invalid")
    for item, asset in items:
        item.checked_by, item.checked_at = actor.work_id, now
        if asset.id in refused:
            item.status, item.note = "refused", refused[asset.id]
            continue
        item.status = "issued"
        await move_asset(
            ctx,
            session,
            asset,
            AssetState.ISSUED,
            actor=actor.work_id,
            action="issue",
            now=now,
            note=f"issue list {list_id}",
            vendor_id=issue_list.vendor_id,
            seat_id=None,
            holder_work_id=None,
        )
    issue_list.status = "confirmed"
    issue_list.confirmed_by, issue_list.confirmed_at = actor.work_id, now
    issue_list.document_ref = document_ref
    if note:
        issue_list.note = note
    await session.flush()
    await ctx.audit.append(
        session,
        actor=actor.work_id,
        action="asset.issue_confirm",
        target=f"issue_list:{list_id}",
        details={
            "vendor_id": issue_list.vendor_id,
            "document_ref": document_ref,
            "refused": sorted(asset.tag for _, asset in items if asset.id in refused),
        },
    )
    return issue_list


async def check_return(
    ctx: AgentsContext,
    session: AsyncSession,
    actor: Actor,
    list_id: int,
    *,
    returned: Mapping[int, str],
    now: datetime,
    notes: Mapping[int, str] | None = None,
    close: bool = False,
) -> ReturnCheck:
    """The client checks a return against the list (16.2): ``returned`` maps asset ids to ``ok`` or ``damaged``.

    Items of the list still out are reported missing; with ``close`` they become lost (a loss record
    each) and the list is closed. An item under repair is with the client already: it counts as returned
    (and stays under repair, no longer the vendor's).
    """
    require(actor, "asset.manage")
    issue_list = await get_issue_list(session, list_id, for_update=True)
    if issue_list.status != "confirmed":
        raise InvalidTransition(
            f"issue list {list_id} is {issue_list.status}: only a confirmed list takes returns",
            details={"list_id": list_id, "status": issue_list.status},
            error_id="agents.issue_list_state",
        )
    notes = dict(notes or {})
    bad = sorted({str(c) for c in returned.values()} - {"ok", "damaged"})
    if bad:
        raise RuleViolation("a returned item is ok or damaged", error_id="agents.return_invalid", details={"got": bad})
    items = await issue_list_items(session, list_id)
    out = {asset.id: (item, asset) for item, asset in items if item.status == "issued"}
    strangers = sorted(set(returned) - set(out))
    if strangers:
        raise RuleViolation(
            f"not out on issue list {list_id}: asset ids {strangers}",
            error_id="agents.return_invalid",
            details={"asset_ids": strangers},
        )
    result = ReturnCheck(list_id=list_id, closed=close)
    for asset_id, (item, asset) in sorted(out.items(), key=lambda kv: kv[1][1].tag):
        item.checked_by, item.checked_at = actor.work_id, now
        condition = returned.get(asset_id)
        if condition is None and asset.state == AssetState.UNDER_REPAIR:
            condition = "ok"  # the client has it at repair: back with the client, not missing
        if condition is None:
            result.missing.append(asset.tag)
            if close:
                item.status, item.note = "missing", notes.get(asset_id) or "not returned"
                record = await record_damage(
                    ctx,
                    session,
                    asset,
                    actor=actor.work_id,
                    kind=DamageKind.LOSS,
                    cause=Cause.UNKNOWN,
                    description=f"not returned on issue list {list_id}",
                    occurred_at=now,
                    now=now,
                    vendor_id=issue_list.vendor_id,
                    seat_id=asset.seat_id,
                )
                result.damage_ids.append(record.id)
            continue
        if condition == "damaged":
            item.status, item.note = "damaged", notes.get(asset_id) or "returned damaged"
            record = await record_damage(
                ctx,
                session,
                asset,
                actor=actor.work_id,
                kind=DamageKind.DAMAGE,
                cause=Cause.UNKNOWN,
                description=item.note,
                occurred_at=now,
                now=now,
                vendor_id=issue_list.vendor_id,
                seat_id=asset.seat_id,
            )
            result.damaged.append(asset.tag)
            result.damage_ids.append(record.id)
            target = AssetState.UNDER_REPAIR
        else:
            item.status, item.note = "returned", notes.get(asset_id)
            if asset.state == AssetState.UNDER_REPAIR:
                item.note = item.note or "under repair with the client"
                target = AssetState.UNDER_REPAIR
            else:
                target = AssetState.IN_STOCK
            result.returned.append(asset.tag)
        await move_asset(
            ctx,
            session,
            asset,
            target,
            actor=actor.work_id,
            action="return",
            now=now,
            note=f"issue list {list_id}",
            vendor_id=None,
            seat_id=None,
            holder_work_id=None,
            force=target == asset.state,  # under repair stays under repair, now the client's
        )
    if close:
        issue_list.status = "closed"
        issue_list.closed_by, issue_list.closed_at = actor.work_id, now
    await session.flush()
    await ctx.audit.append(
        session,
        actor=actor.work_id,
        action="asset.return_check",
        target=f"issue_list:{list_id}",
        details={
            "vendor_id": issue_list.vendor_id,
            "returned": result.returned,
            "damaged": result.damaged,
            "missing": result.missing,
            "closed": close,
        },
    )
    return result
