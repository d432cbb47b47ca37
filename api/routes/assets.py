"""Site operations (issue 9): assets and their states, issue lists, daily inspections, damage and loss with the
last user, the monthly rates with the assets behind them, and off-boarding (agents.assets does the work).

Vendor scoping: an object of another vendor (or, for a vendor's staff, one still in the client's stock)
answers ``404 api.not_found``, the same answer as an id that does not exist. Work IDs only, never names;
free text is masked (people type numbers into notes).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import Field
from sqlalchemy import select

from agents.assets.damage import decide_compensation, get_damage, list_damage, report_damage
from agents.assets.inspections import ALL_WEEKDAYS, SeatCheck, missing_inspections, record_inspection
from agents.assets.issuing import (
    ReturnCheck,
    check_return,
    confirm_issue_list,
    create_issue_list,
    issue_list_items,
    items_of_lists,
    list_issue_lists,
)
from agents.assets.offboarding import (
    check_back_asset,
    offboarding_checklist,
    record_document,
    return_document,
)
from agents.assets.rates import RateLine, month_rates
from agents.assets.registry import (
    list_assets,
    place_asset,
    register_asset,
    repair_done,
    scrap_asset,
    send_to_repair,
    unplace_asset,
)
from agents.models import (
    Asset,
    DamageRecord,
    FaultReport,
    HandoverDocument,
    Inspection,
    InspectionItem,
    IssueList,
    IssueListItem,
    Seat,
    User,
)
from agents.permissions import Role, require, require_on
from api.deps import Caller, own_vendor_object, require_permission
from api.errors import ApiError, ObjectNotFound
from api.schemas.assets import (
    AssetIn,
    AssetKind,
    AssetNoteIn,
    AssetOut,
    AssetReasonIn,
    AssetStateName,
    CheckBackIn,
    ChecklistOut,
    ConfirmIn,
    DamageIn,
    DamageOut,
    Day,
    DecisionIn,
    DocumentIn,
    DocumentOut,
    InspectionIn,
    InspectionItemOut,
    InspectionOut,
    IssueItemOut,
    IssueListIn,
    IssueListOut,
    LostIn,
    MissingInspectionOut,
    OutstandingOut,
    PlaceIn,
    RateAssetOut,
    RateLineOut,
    RatesOut,
    ReturnCheckOut,
    ReturnIn,
)
from api.schemas.common import ERRORS, Id
from waihu.pii import mask_text

router = APIRouter(tags=["site operations"], responses=ERRORS)

Viewer = Annotated[Caller, Depends(require_permission("asset.view"))]
Manager = Annotated[Caller, Depends(require_permission("asset.manage"))]
Confirmer = Annotated[Caller, Depends(require_permission("asset.confirm"))]
Inspector = Annotated[Caller, Depends(require_permission("inspection.record"))]
Reporter = Annotated[Caller, Depends(require_permission("damage.report"))]
Decider = Annotated[Caller, Depends(require_permission("damage.decide"))]
Offboarder = Annotated[Caller, Depends(require_permission("offboarding.check"))]

VendorFilter = Annotated[int | None, Query(ge=1, le=2**62, description="one vendor (the client's admins)")]
WorkIdPath = Annotated[str, Path(min_length=1, max_length=32)]


def _masked(text: str | None) -> str | None:
    return None if text is None else mask_text(text)


# --- scoping: what the caller may see ------------------------------------------------------------------


def _own_vendor_filter(caller: Caller, permission: str, vendor_id: int | None) -> int | None:
    """A vendor filter of a list: another vendor's answers 404; a vendor's staff see their own vendor."""
    if vendor_id is not None:
        require(caller.user, permission, vendor_id=vendor_id)
    return vendor_id if caller.user.role == Role.ADMIN else caller.user.vendor_id


def _vendor_of_request(caller: Caller, permission: str, vendor_id: int | None) -> int:
    """The vendor a change is for: the caller's own; the client's admins name it."""
    if vendor_id is None:
        if caller.user.vendor_id is None:
            raise ApiError("name the vendor: vendor_id", error_id="api.vendor_required")
        return caller.user.vendor_id
    require(caller.user, permission, vendor_id=vendor_id)
    return vendor_id


async def _asset_for(caller: Caller, asset_id: int, permission: str) -> Asset:
    """An asset the caller may act on: its vendor's (admins: any); another's or the client's stock: 404."""
    asset = await caller.session.get(Asset, asset_id)
    if asset is None:
        raise ObjectNotFound(f"no asset {asset_id}", details={"asset_id": asset_id})
    require_on(caller.user, permission, asset.vendor_id)
    return asset


async def _issue_list_for(caller: Caller, list_id: int, permission: str) -> IssueList:
    issue_list = await caller.session.get(IssueList, list_id)
    if issue_list is None:
        raise ObjectNotFound(f"no issue list {list_id}", details={"list_id": list_id})
    require_on(caller.user, permission, issue_list.vendor_id)
    return issue_list


async def _damage_for(caller: Caller, damage_id: int, permission: str) -> DamageRecord:
    record = await caller.session.get(DamageRecord, damage_id)
    if record is None:
        raise ObjectNotFound(f"no damage record {damage_id}", details={"damage_id": damage_id})
    require_on(caller.user, permission, record.vendor_id)
    return record


async def _person_for(caller: Caller, work_id: str) -> User:
    user = await caller.session.get(User, work_id)
    if user is None:
        raise ObjectNotFound(f"no work ID {work_id}", details={"work_id": work_id})
    require_on(caller.user, "offboarding.check", user.vendor_id)
    return user


async def _check_refs(caller: Caller, *, seat_id: int | None, fault_id: int | None) -> None:
    """A seat or fault report named in a body must be the caller's vendor's (admins: any): else 404."""
    if seat_id is not None:
        await own_vendor_object(caller, Seat, seat_id, f"no seat {seat_id}", {"seat_id": seat_id})
    if fault_id is not None:
        await own_vendor_object(caller, FaultReport, fault_id, f"no fault report {fault_id}", {"fault_id": fault_id})


def _unique(ids: Iterable[int], what: str) -> None:
    seen: set[int] = set()
    for i in ids:
        if i in seen:
            raise ApiError(f"{what}: asset {i} is named twice", error_id="api.duplicate_item", details={"asset_id": i})
        seen.add(i)


async def _seat_codes(caller: Caller, seat_ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in seat_ids if i is not None}
    if not wanted:
        return {}
    rows = await caller.session.execute(select(Seat.id, Seat.code).where(Seat.id.in_(wanted)))
    return {seat_id: code for seat_id, code in rows.all()}


# --- serialisation ------------------------------------------------------------------------------------


def _asset_out(asset: Asset, seats: dict[int, str]) -> AssetOut:
    return AssetOut(
        id=asset.id,
        tag=asset.tag,
        kind=asset.kind,
        category=asset.category,
        state=asset.state,
        vendor_id=asset.vendor_id,
        seat_id=asset.seat_id,
        seat_code=None if asset.seat_id is None else seats.get(asset.seat_id),
        holder_work_id=asset.holder_work_id,
        work_id=asset.work_id,
        value=asset.value,
        description=_masked(asset.description),
        updated_at=asset.updated_at,
    )


async def _one_asset(caller: Caller, asset: Asset) -> AssetOut:
    return _asset_out(asset, await _seat_codes(caller, [asset.seat_id]))


#: a service that moves one asset given only a note (its reason, where the service needs one)
AssetMove = Callable[..., Awaitable[Asset]]


async def _moved(caller: Caller, asset_id: int, permission: str, move: AssetMove, note: str | None) -> AssetOut:
    """An asset moved by one of the services that take only a note (unplace, repair, repaired, scrap)."""
    await _asset_for(caller, asset_id, permission)
    asset = await move(caller.state.agents, caller.session, caller.user, asset_id, now=caller.now(), note=note)
    await caller.session.commit()
    return await _one_asset(caller, asset)


async def _issue_list_out(caller: Caller, issue_list: IssueList) -> IssueListOut:
    return _issue_list_json(issue_list, await issue_list_items(caller.session, issue_list.id))


def _issue_list_json(issue_list: IssueList, items: list[tuple[IssueListItem, Asset]]) -> IssueListOut:
    return IssueListOut(
        id=issue_list.id,
        vendor_id=issue_list.vendor_id,
        status=issue_list.status,
        created_by=issue_list.created_by,
        created_at=issue_list.created_at,
        confirmed_by=issue_list.confirmed_by,
        confirmed_at=issue_list.confirmed_at,
        document_ref=_masked(issue_list.document_ref),
        note=_masked(issue_list.note),
        closed_by=issue_list.closed_by,
        closed_at=issue_list.closed_at,
        items=[
            IssueItemOut(
                asset_id=asset.id,
                tag=asset.tag,
                kind=asset.kind,
                status=item.status,
                note=_masked(item.note),
                checked_by=item.checked_by,
                checked_at=item.checked_at,
            )
            for item, asset in items
        ],
    )


def _return_out(result: ReturnCheck) -> ReturnCheckOut:
    return ReturnCheckOut(
        list_id=result.list_id,
        returned=list(result.returned),
        damaged=list(result.damaged),
        missing=list(result.missing),
        damage_ids=list(result.damage_ids),
        closed=result.closed,
    )


async def _inspections_out(caller: Caller, inspections: Sequence[Inspection]) -> list[InspectionOut]:
    ids = [i.id for i in inspections]
    items: dict[int, list[InspectionItem]] = {i: [] for i in ids}
    if ids:
        for item in (
            await caller.session.execute(
                select(InspectionItem).where(InspectionItem.inspection_id.in_(ids)).order_by(InspectionItem.id)
            )
        ).scalars():
            items[item.inspection_id].append(item)
    seats = await _seat_codes(caller, [item.seat_id for rows in items.values() for item in rows])
    return [
        InspectionOut(
            id=inspection.id,
            vendor_id=inspection.vendor_id,
            day=inspection.day,
            inspected_by=inspection.inspected_by,
            recorded_at=inspection.recorded_at,
            note=_masked(inspection.note),
            items=sorted(
                (
                    InspectionItemOut(
                        seat_id=item.seat_id,
                        seat_code=seats.get(item.seat_id),
                        result=item.result,
                        note=_masked(item.note),
                        asset_id=item.asset_id,
                    )
                    for item in items[inspection.id]
                ),
                key=lambda out: (out.seat_code or "", out.seat_id),
            ),
        )
        for inspection in inspections
    ]


async def _damage_out(caller: Caller, records: Sequence[DamageRecord]) -> list[DamageOut]:
    asset_ids = {r.asset_id for r in records}
    assets: dict[int, Asset] = {}
    if asset_ids:
        assets = {
            a.id: a for a in (await caller.session.execute(select(Asset).where(Asset.id.in_(asset_ids)))).scalars()
        }
    seats = await _seat_codes(caller, [r.seat_id for r in records])
    return [
        DamageOut(
            id=r.id,
            asset_id=r.asset_id,
            asset_tag=assets[r.asset_id].tag,
            asset_kind=assets[r.asset_id].kind,
            vendor_id=r.vendor_id,
            seat_id=r.seat_id,
            seat_code=None if r.seat_id is None else seats.get(r.seat_id),
            kind=r.kind,
            cause=r.cause,
            description=mask_text(r.description),
            occurred_at=r.occurred_at,
            reported_by=r.reported_by,
            reported_at=r.reported_at,
            last_work_id=r.last_work_id,
            last_session_id=r.last_session_id,
            last_user_source=r.last_user_source,
            fault_id=r.fault_id,
            compensation=r.compensation,
            amount=r.amount,
            decided_by=r.decided_by,
            decided_at=r.decided_at,
            decision_note=_masked(r.decision_note),
        )
        for r in records
    ]


def _rate_line_out(line: RateLine) -> RateLineOut:
    return RateLineOut(
        name=line.name,
        count=line.count,
        base=line.base,
        rate=float(line.rate),
        target=line.target,
        met=line.met,
        assets=[
            RateAssetOut(
                tag=a.tag,
                kind=a.kind,
                damage_ids=list(a.damage_ids),
                kinds=list(a.kinds),
                causes=list(a.causes),
                last_work_ids=list(a.last_work_ids),
            )
            for a in line.assets
        ],
        base_tags=list(line.base_tags),
    )


def _document_out(document: HandoverDocument) -> DocumentOut:
    return DocumentOut(
        id=document.id,
        work_id=document.work_id,
        vendor_id=document.vendor_id,
        title=mask_text(document.title),
        issued_by=document.issued_by,
        issued_at=document.issued_at,
        returned_at=document.returned_at,
        checked_by=document.checked_by,
    )


async def _checklist_out(caller: Caller, work_id: str) -> ChecklistOut:
    checklist = await offboarding_checklist(caller.session, caller.user, work_id)
    return ChecklistOut(
        work_id=checklist.work_id,
        complete=checklist.complete,
        outstanding=[OutstandingOut(kind=i.kind, id=i.id, label=mask_text(i.label)) for i in checklist.outstanding],
    )


# --- assets -------------------------------------------------------------------------------------------


@router.get("/assets", response_model=list[AssetOut])
async def get_assets(
    caller: Viewer,
    vendor_id: VendorFilter = None,
    state: Annotated[AssetStateName | None, Query()] = None,
    kind: Annotated[AssetKind | None, Query()] = None,
    seat_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> list[AssetOut]:
    """The vendor's assets (admins: all, or one vendor's), by tag; filters: kind, state, seat, vendor."""
    vendor = _own_vendor_filter(caller, "asset.view", vendor_id)
    assets = await list_assets(caller.session, caller.user, vendor_id=vendor, state=state)
    assets = [a for a in assets if (kind is None or a.kind == kind) and (seat_id is None or a.seat_id == seat_id)]
    seats = await _seat_codes(caller, [a.seat_id for a in assets])
    return [_asset_out(a, seats) for a in assets]


@router.post("/assets", response_model=AssetOut, status_code=201)
async def post_asset(body: AssetIn, caller: Manager) -> AssetOut:
    """Register an asset in the client's stock (``in_stock``)."""
    asset = await register_asset(
        caller.state.agents,
        caller.session,
        caller.user,
        tag=body.tag,
        kind=body.kind,
        now=caller.now(),
        value=body.value,
        description=body.description,
        work_id=body.work_id,
    )
    await caller.session.commit()
    return await _one_asset(caller, asset)


@router.get("/assets/{asset_id}", response_model=AssetOut)
async def get_asset_route(asset_id: Id, caller: Viewer) -> AssetOut:
    """One asset (another vendor's, or one in the client's stock for a vendor's staff: 404)."""
    return await _one_asset(caller, await _asset_for(caller, asset_id, "asset.view"))


@router.post("/assets/{asset_id}/place", response_model=AssetOut)
async def post_place(asset_id: Id, body: PlaceIn, caller: Confirmer) -> AssetOut:
    """The vendor puts an issued asset to use (``in_use``): at one of its seats, with one of its people, or both."""
    await _asset_for(caller, asset_id, "asset.confirm")
    asset = await place_asset(
        caller.state.agents,
        caller.session,
        caller.user,
        asset_id,
        now=caller.now(),
        seat_id=body.seat_id,
        holder_work_id=body.holder_work_id,
    )
    await caller.session.commit()
    return await _one_asset(caller, asset)


@router.post("/assets/{asset_id}/unplace", response_model=AssetOut)
async def post_unplace(asset_id: Id, body: AssetNoteIn, caller: Confirmer) -> AssetOut:
    """Back to the vendor's own stock (``issued``): off its seat, out of its holder's hands."""
    return await _moved(caller, asset_id, "asset.confirm", unplace_asset, body.note)


@router.post("/assets/{asset_id}/repair", response_model=AssetOut)
async def post_repair(asset_id: Id, body: AssetReasonIn, caller: Manager) -> AssetOut:
    """The client takes the asset in for repair (15.3, 13.2); it keeps its vendor, seat and holder."""
    return await _moved(caller, asset_id, "asset.manage", send_to_repair, body.note)


@router.post("/assets/{asset_id}/repaired", response_model=AssetOut)
async def post_repaired(asset_id: Id, body: AssetNoteIn, caller: Manager) -> AssetOut:
    """Repaired: back in use where it was, else back to its vendor, else back in stock."""
    return await _moved(caller, asset_id, "asset.manage", repair_done, body.note)


@router.post("/assets/{asset_id}/scrap", response_model=AssetOut)
async def post_scrap(asset_id: Id, body: AssetReasonIn, caller: Manager) -> AssetOut:
    """Scrap an asset in the client's stock or under repair (报废, 13.2): final."""
    return await _moved(caller, asset_id, "asset.manage", scrap_asset, body.note)


@router.post("/assets/{asset_id}/lost", response_model=DamageOut, status_code=201)
async def post_lost(asset_id: Id, body: LostIn, caller: Reporter) -> DamageOut:
    """The asset is lost: a loss record naming the last user; the asset becomes ``lost`` (final)."""
    await _asset_for(caller, asset_id, "damage.report")
    await _check_refs(caller, seat_id=body.seat_id, fault_id=body.fault_id)
    record = await report_damage(
        caller.state.agents,
        caller.session,
        caller.user,
        asset_id,
        kind="loss",
        description=body.description,
        now=caller.now(),
        cause=body.cause,
        occurred_at=body.occurred_at,
        seat_id=body.seat_id,
        fault_id=body.fault_id,
    )
    await caller.session.commit()
    return (await _damage_out(caller, [record]))[0]


# --- issue lists --------------------------------------------------------------------------------------


@router.get("/issue-lists", response_model=list[IssueListOut])
async def get_issue_lists(
    caller: Viewer,
    vendor_id: VendorFilter = None,
    status: Annotated[Literal["open", "confirmed", "closed"] | None, Query()] = None,
) -> list[IssueListOut]:
    """Issue lists of the vendor (admins: all, or one vendor's), newest first, with their items."""
    vendor = _own_vendor_filter(caller, "asset.view", vendor_id)
    lists = await list_issue_lists(caller.session, caller.user, vendor_id=vendor, status=status)
    items = await items_of_lists(caller.session, [li.id for li in lists])
    return [_issue_list_json(li, items.get(li.id, [])) for li in lists]


@router.post("/issue-lists", response_model=IssueListOut, status_code=201)
async def post_issue_list(body: IssueListIn, caller: Manager) -> IssueListOut:
    """The client lists in-stock assets for a vendor (第十六条); they are issued when the vendor confirms."""
    _unique(body.asset_ids, "an issue list names each asset once")
    issue_list = await create_issue_list(
        caller.state.agents,
        caller.session,
        caller.user,
        vendor_id=body.vendor_id,
        asset_ids=body.asset_ids,
        now=caller.now(),
        note=body.note,
    )
    await caller.session.commit()
    return await _issue_list_out(caller, issue_list)


@router.get("/issue-lists/{list_id}", response_model=IssueListOut)
async def get_issue_list_route(list_id: Id, caller: Viewer) -> IssueListOut:
    return await _issue_list_out(caller, await _issue_list_for(caller, list_id, "asset.view"))


@router.post("/issue-lists/{list_id}/confirm", response_model=IssueListOut)
async def post_confirm(list_id: Id, body: ConfirmIn, caller: Confirmer) -> IssueListOut:
    """The vendor's own team lead or ops manager confirms (16.1 签字确认; the client cannot sign for the vendor):
    the items become ``issued`` to the vendor, refused ones stay in the client's stock."""
    await _issue_list_for(caller, list_id, "asset.confirm")
    _unique((r.asset_id for r in body.refused), "refused items")
    issue_list = await confirm_issue_list(
        caller.state.agents,
        caller.session,
        caller.user,
        list_id,
        now=caller.now(),
        refused={r.asset_id: r.reason for r in body.refused},
        document_ref=body.document_ref,
        note=body.note,
    )
    await caller.session.commit()
    return await _issue_list_out(caller, issue_list)


@router.post("/issue-lists/{list_id}/returns", response_model=ReturnCheckOut)
async def post_returns(list_id: Id, body: ReturnIn, caller: Manager) -> ReturnCheckOut:
    """The client checks a return against the list (16.2): good items back to stock, damaged ones to repair with a
    damage record (last user named), the rest reported missing; ``close`` makes them lost."""
    await _issue_list_for(caller, list_id, "asset.manage")
    _unique((r.asset_id for r in body.returned), "returned items")
    result = await check_return(
        caller.state.agents,
        caller.session,
        caller.user,
        list_id,
        returned={r.asset_id: r.condition for r in body.returned},
        notes={r.asset_id: r.note for r in body.returned if r.note is not None},
        now=caller.now(),
        close=body.close,
    )
    await caller.session.commit()
    return _return_out(result)


# --- daily inspections --------------------------------------------------------------------------------


@router.get("/inspections", response_model=list[InspectionOut])
async def get_inspections(
    caller: Viewer,
    vendor_id: VendorFilter = None,
    since: Annotated[Day | None, Query(description="first site-local day")] = None,
    until: Annotated[Day | None, Query(description="last site-local day")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[InspectionOut]:
    """Recorded inspections of the vendor (admins: all, or one vendor's), newest day first, with each seat's result."""
    vendor = _own_vendor_filter(caller, "asset.view", vendor_id)
    stmt = select(Inspection).order_by(Inspection.day.desc(), Inspection.vendor_id).limit(limit)
    if vendor is not None:
        stmt = stmt.where(Inspection.vendor_id == vendor)
    if since is not None:
        stmt = stmt.where(Inspection.day >= since)
    if until is not None:
        stmt = stmt.where(Inspection.day <= until)
    return await _inspections_out(caller, list((await caller.session.execute(stmt)).scalars()))


@router.post("/inspections", response_model=InspectionOut, status_code=201)
async def post_inspection(body: InspectionIn, caller: Inspector) -> InspectionOut:
    """Record the day's inspection (12.2), one per vendor and site-local day, covering every active seat of the
    vendor; anything but ok needs a note; a fault files a fault report at once (linked to the asset if named)."""
    vendor_id = _vendor_of_request(caller, "inspection.record", body.vendor_id)
    inspection = await record_inspection(
        caller.state.agents,
        caller.session,
        caller.user,
        vendor_id=vendor_id,
        day=body.day,
        checks=[SeatCheck(c.seat_id, c.result, c.note, c.asset_id) for c in body.checks],
        now=caller.now(),
        note=body.note,
    )
    await caller.session.commit()
    return (await _inspections_out(caller, [inspection]))[0]


@router.get("/inspections/missing", response_model=list[MissingInspectionOut])
async def get_missing_inspections(
    caller: Viewer,
    day: Annotated[
        Day | None, Query(description="site-local day (default: yesterday, the desk's morning view)")
    ] = None,
    vendor_id: VendorFilter = None,
    weekdays: Annotated[
        list[Annotated[int, Field(ge=0, le=6)]] | None,
        Query(max_length=7, description="working days, Monday 0 (default: every day)"),
    ] = None,
) -> list[MissingInspectionOut]:
    """Vendors with seats and no inspection of the day: what the team-lead desk shows the next morning."""
    vendor = _own_vendor_filter(caller, "asset.view", vendor_id)
    if day is None:
        day = caller.now().astimezone(caller.state.settings.zone).date() - timedelta(days=1)
    missing = await missing_inspections(
        caller.session,
        caller.user,
        day=day,
        vendor_id=vendor,
        weekdays=frozenset(weekdays) if weekdays else ALL_WEEKDAYS,
    )
    return [
        MissingInspectionOut(vendor_id=m.vendor_id, vendor_code=m.vendor_code, day=m.day, seat_codes=list(m.seat_codes))
        for m in missing
    ]


# --- damage and loss ----------------------------------------------------------------------------------


@router.get("/damage", response_model=list[DamageOut])
async def get_damage_records(
    caller: Viewer,
    vendor_id: VendorFilter = None,
    asset_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    pending: Annotated[bool, Query(description="only those awaiting the compensation decision")] = False,
) -> list[DamageOut]:
    """Damage and loss records of the vendor (admins: all, or one vendor's), newest first, each with its last user."""
    vendor = _own_vendor_filter(caller, "asset.view", vendor_id)
    records = await list_damage(caller.session, caller.user, vendor_id=vendor, pending_only=pending)
    return await _damage_out(caller, [r for r in records if asset_id is None or r.asset_id == asset_id])


@router.post("/damage", response_model=DamageOut, status_code=201)
async def post_damage(body: DamageIn, caller: Reporter) -> DamageOut:
    """Report damage to or loss of an asset (人为损坏(丢失)处理表, 12.2): the last user is the holder of a personal
    item, else the last work ID logged in at the seat before ``occurred_at`` (from the login records)."""
    await _asset_for(caller, body.asset_id, "damage.report")
    await _check_refs(caller, seat_id=body.seat_id, fault_id=body.fault_id)
    record = await report_damage(
        caller.state.agents,
        caller.session,
        caller.user,
        body.asset_id,
        kind=body.kind,
        description=body.description,
        now=caller.now(),
        cause=body.cause,
        occurred_at=body.occurred_at,
        seat_id=body.seat_id,
        fault_id=body.fault_id,
    )
    await caller.session.commit()
    return (await _damage_out(caller, [record]))[0]


@router.get("/damage/{damage_id}", response_model=DamageOut)
async def get_damage_record(damage_id: Id, caller: Viewer) -> DamageOut:
    await _damage_for(caller, damage_id, "asset.view")
    return (await _damage_out(caller, [await get_damage(caller.session, caller.user, damage_id)]))[0]


@router.post("/damage/{damage_id}/decision", response_model=DamageOut)
async def post_damage_decision(damage_id: Id, body: DecisionIn, caller: Decider) -> DamageOut:
    """The client decides the compensation (照价赔偿, 第十一条): charge the asset's value unless ``amount`` says
    otherwise, or waive with a note; the cause may be settled too. Decided once, never by the reporter."""
    await _damage_for(caller, damage_id, "damage.decide")
    record = await decide_compensation(
        caller.state.agents,
        caller.session,
        caller.user,
        damage_id,
        charge=body.charge,
        now=caller.now(),
        cause=body.cause,
        amount=body.amount,
        note=body.note,
    )
    await caller.session.commit()
    return (await _damage_out(caller, [record]))[0]


# --- monthly rates ------------------------------------------------------------------------------------


@router.get("/asset-rates", response_model=RatesOut)
async def get_asset_rates(
    caller: Viewer,
    month: Annotated[str, Query(pattern=r"^20\d\d-(0[1-9]|1[0-2])$", examples=["2026-11"])],
    vendor_id: VendorFilter = None,
) -> RatesOut:
    """A vendor's site-local month: IT-asset loss rate (< 1%), damage by people (0), fixed-asset damage rate (0%),
    each with the assets behind the number and their last users."""
    vendor = _vendor_of_request(caller, "asset.view", vendor_id)
    year, mon = (int(part) for part in month.split("-"))
    rates = await month_rates(caller.state.agents, caller.session, caller.user, vendor_id=vendor, year=year, month=mon)
    return RatesOut(
        vendor_id=rates.vendor_id,
        month=f"{rates.year:04d}-{rates.month:02d}",
        it_loss_rate=_rate_line_out(rates.it_loss),
        human_damage=_rate_line_out(rates.human_damage),
        fixed_damage_rate=_rate_line_out(rates.fixed_damage),
    )


# --- off-boarding -------------------------------------------------------------------------------------


@router.get("/offboarding/{work_id}", response_model=ChecklistOut)
async def get_checklist(work_id: WorkIdPath, caller: Offboarder) -> ChecklistOut:
    """What a work ID still holds (assets, the client's documents): its deletion waits until this is empty (2.5)."""
    await _person_for(caller, work_id)
    return await _checklist_out(caller, work_id)


@router.post("/offboarding/{work_id}/documents", response_model=DocumentOut, status_code=201)
async def post_document(work_id: WorkIdPath, body: DocumentIn, caller: Offboarder) -> DocumentOut:
    """Record that a document of the client's was handed to the work ID (it joins the off-boarding checklist)."""
    await _person_for(caller, work_id)
    document = await record_document(
        caller.state.agents, caller.session, caller.user, work_id, title=body.title, now=caller.now()
    )
    await caller.session.commit()
    return _document_out(document)


@router.post("/offboarding/{work_id}/check-back", response_model=ChecklistOut)
async def post_check_back(work_id: WorkIdPath, body: CheckBackIn, caller: Offboarder) -> ChecklistOut:
    """A manager of the vendor (never the holder) checks one item of the checklist back; answers what is left."""
    await _person_for(caller, work_id)
    agents, session, now = caller.state.agents, caller.session, caller.now()
    if body.kind == "asset":
        asset = await session.get(Asset, body.id)
        if asset is None or asset.holder_work_id != work_id:
            raise ObjectNotFound(f"{work_id} holds no asset {body.id}", details={"asset_id": body.id})
        await check_back_asset(agents, session, caller.user, body.id, now=now, condition=body.condition, note=body.note)
    else:
        document = await session.get(HandoverDocument, body.id)
        if document is None or document.work_id != work_id:
            raise ObjectNotFound(f"{work_id} was handed no document {body.id}", details={"document_id": body.id})
        await return_document(agents, session, caller.user, body.id, now=now)
    await session.commit()
    return await _checklist_out(caller, work_id)
