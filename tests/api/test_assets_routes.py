"""Site operations through HTTP (issue 9): assets and their states, issue lists confirmed by the vendor, daily
inspections and the ones missing next morning, damage and loss naming the last user from real login records
(across a seat change and a shift boundary), the compensation decision, a vendor's monthly rates with the assets
behind them, and off-boarding.

The helpers at the top build objects with the agents services (also used by the role x route matrix).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from agents.assets.damage import report_damage
from agents.assets.issuing import confirm_issue_list, create_issue_list
from agents.assets.offboarding import record_document
from agents.assets.registry import place_asset, register_asset, send_to_repair
from agents.auth import authenticate, login, logout
from agents.faults import report_fault
from agents.lifecycle import apply_due
from agents.models import Seat, User
from agents.org import create_seat
from agents.sessions import change_seat, set_state
from api.deps import AppState
from tests.api.conftest import PASSWORD, PHONE, Api, _new_user
from waihu.db import utcnow

HOUR = timedelta(hours=1)
MIN = timedelta(minutes=1)


# --- objects made with the services --------------------------------------------------------------------


async def _actor(state: AppState, work_id: str) -> User:
    async with state.sessions() as session:
        user = await session.get(User, work_id)
        assert user is not None
        return user


async def new_seat(state: AppState, code: str, vendor_id: int | None) -> int:
    admin = await _actor(state, "AD1")
    async with state.sessions() as session, session.begin():
        seat = await create_seat(state.agents, session, admin, code=code, vendor_id=vendor_id, now=utcnow())
        return seat.id


async def vendor_seats(state: AppState, vendor_id: int) -> list[int]:
    async with state.sessions() as session:
        rows = await session.execute(select(Seat.id).where(Seat.vendor_id == vendor_id, Seat.active.is_(True)))
        return list(rows.scalars())


async def new_asset(
    state: AppState,
    tag: str,
    *,
    kind: str = "computer",
    value: str | None = "4000.00",
    issue_to: int | None = None,
    lead: str = "TL1",
    seat: int | None = None,
    holder: str | None = None,
    repair: bool = False,
) -> int:
    """An asset in stock; issued to ``issue_to`` (confirmed by ``lead``), placed at ``seat`` / with ``holder``."""
    admin = await _actor(state, "AD1")
    async with state.sessions() as session, session.begin():
        asset = await register_asset(
            state.agents,
            session,
            admin,
            tag=tag,
            kind=kind,
            value=None if value is None else Decimal(value),
            now=utcnow(),
        )
        asset_id = asset.id
    vendor_lead = await _actor(state, lead)
    if issue_to is not None:
        await new_issue_list(state, issue_to, [asset_id], confirm_by=lead)
    if seat is not None or holder is not None:
        async with state.sessions() as session, session.begin():
            await place_asset(
                state.agents,
                session,
                vendor_lead,
                asset_id,
                now=utcnow(),
                seat_id=seat,
                holder_work_id=holder,
            )
    if repair:
        async with state.sessions() as session, session.begin():
            await send_to_repair(state.agents, session, admin, asset_id, now=utcnow(), note="送修")
    return asset_id


async def new_issue_list(
    state: AppState, vendor_id: int, asset_ids: list[int], *, confirm_by: str | None = None
) -> int:
    admin = await _actor(state, "AD1")
    async with state.sessions() as session, session.begin():
        issue_list = await create_issue_list(
            state.agents, session, admin, vendor_id=vendor_id, asset_ids=asset_ids, now=utcnow()
        )
        list_id = issue_list.id
    if confirm_by is not None:
        confirmer = await _actor(state, confirm_by)
        async with state.sessions() as session, session.begin():
            await confirm_issue_list(state.agents, session, confirmer, list_id, now=utcnow())
    return list_id


async def new_damage(state: AppState, asset_id: int, *, reporter: str = "TL1") -> int:
    actor = await _actor(state, reporter)
    async with state.sessions() as session, session.begin():
        record = await report_damage(
            state.agents, session, actor, asset_id, kind="damage", description="外壳裂", now=utcnow()
        )
        return record.id


async def new_document(state: AppState, work_id: str, title: str, *, by: str = "TL1") -> int:
    actor = await _actor(state, by)
    async with state.sessions() as session, session.begin():
        document = await record_document(state.agents, session, actor, work_id, title=title, now=utcnow())
        return document.id


async def new_agent(state: AppState, work_id: str, vendor_id: int) -> None:
    async with state.sessions() as session, session.begin():
        session.add(_new_user(state, work_id, "agent", vendor_id))


def local_today(api: Api) -> date:
    return utcnow().astimezone(api.state.settings.zone).date()


def this_month(api: Api) -> str:
    return local_today(api).strftime("%Y-%m")


# --- assets -------------------------------------------------------------------------------------------


def test_an_asset_goes_from_stock_through_a_confirmed_issue_list_to_a_seat_and_back(api: Api) -> None:
    seat = api.run(new_seat, api.state, "A-01", api.seed.vendor_a)
    created = api.request("admin", "POST", "/assets", json={"tag": "PC-001", "kind": "computer", "value": "4000.00"})
    assert created.status_code == 201, created.text
    asset = created.json()
    assert (asset["state"], asset["category"], asset["vendor_id"], asset["value"]) == (
        "in_stock",
        "it",
        None,
        "4000.00",
    )
    pc = asset["id"]
    # in the client's stock: no vendor's business
    assert api.request("team_lead", "GET", f"/assets/{pc}").json()["error_id"] == "api.not_found"
    assert api.request("team_lead", "POST", f"/assets/{pc}/place", json={"seat_id": seat}).status_code == 404
    listed = api.request("admin", "POST", "/issue-lists", json={"vendor_id": api.seed.vendor_a, "asset_ids": [pc]})
    assert listed.status_code == 201, listed.text
    list_id = listed.json()["id"]
    confirmed = api.request("team_lead", "POST", f"/issue-lists/{list_id}/confirm", json={"document_ref": "盖章-001"})
    assert confirmed.status_code == 200, confirmed.text
    assert api.request("team_lead", "GET", f"/assets/{pc}").json()["state"] == "issued"
    placed = api.request("team_lead", "POST", f"/assets/{pc}/place", json={"seat_id": seat})
    assert placed.status_code == 200, placed.text
    assert (placed.json()["state"], placed.json()["seat_code"]) == ("in_use", "A-01")
    # filters: kind, state, seat, vendor
    assert [a["tag"] for a in api.request("team_lead", "GET", "/assets", params={"seat_id": seat}).json()] == ["PC-001"]
    assert api.request("team_lead", "GET", "/assets", params={"kind": "headset"}).json() == []
    assert api.request("team_lead", "GET", "/assets", params={"state": "issued"}).json() == []
    assert api.request("admin", "GET", "/assets", params={"vendor_id": api.seed.vendor_b}).json() == []
    assert api.request("team_lead", "GET", "/assets", params={"vendor_id": api.seed.vendor_b}).status_code == 404
    assert api.request("other_vendor_team_lead", "GET", "/assets").json() == []
    assert api.request("other_vendor_team_lead", "GET", f"/assets/{pc}").json()["error_id"] == "api.not_found"
    assert api.request("team_lead", "GET", "/assets/999999").json()["error_id"] == "api.not_found"
    # the client repairs it: back where it was
    repair = api.request("admin", "POST", f"/assets/{pc}/repair", json={"note": "蓝屏"})
    assert repair.json()["state"] == "under_repair"
    assert api.request("admin", "POST", f"/assets/{pc}/repaired", json={}).json()["state"] == "in_use"
    unplaced = api.request("team_lead", "POST", f"/assets/{pc}/unplace", json={"note": "换座"})
    assert (unplaced.json()["state"], unplaced.json()["seat_id"]) == ("issued", None)
    # a refused transition: an issued asset is not scrapped
    refused = api.request("admin", "POST", f"/assets/{pc}/scrap", json={"note": "旧"})
    assert (refused.status_code, refused.json()["error_id"]) == (409, "agents.asset_state")
    assert set(refused.json()) == {"error_id", "message", "details"}
    # a repair needs a reason
    assert api.request("admin", "POST", f"/assets/{pc}/repair", json={}).json()["error_id"] == "api.invalid_request"


def test_registering_checks_the_tag_and_the_kind(api: Api) -> None:
    assert api.request("admin", "POST", "/assets", json={"tag": "D-1", "kind": "desk"}).json()["category"] == "fixed"
    again = api.request("admin", "POST", "/assets", json={"tag": "D-1", "kind": "chair"})
    assert (again.status_code, again.json()["error_id"]) == (409, "agents.asset_exists")
    assert api.request("admin", "POST", "/assets", json={"tag": "X", "kind": "sofa"}).status_code == 422
    no_id = api.request("admin", "POST", "/assets", json={"tag": "WID-1", "kind": "work_id"})
    assert (no_id.status_code, no_id.json()["error_id"]) == (409, "agents.asset_invalid")
    work_id = api.request("admin", "POST", "/assets", json={"tag": "WID-2", "kind": "work_id", "work_id": "AG1"})
    assert work_id.json()["work_id"] == "AG1"
    assert api.request("team_lead", "POST", "/assets", json={"tag": "Z", "kind": "desk"}).status_code == 403


def test_scrap_from_stock_and_loss_of_an_issued_asset(api: Api) -> None:
    old = api.run(new_asset, api.state, "PC-OLD")
    scrapped = api.request("admin", "POST", f"/assets/{old}/scrap", json={"note": "主板损坏"})
    assert scrapped.json()["state"] == "scrapped"
    headset = api.run(new_asset, api.state, "HS-1", kind="headset", value="120.00", issue_to=api.seed.vendor_a)
    assert (
        api.request("other_vendor_team_lead", "POST", f"/assets/{headset}/lost", json={"description": "x"}).json()[
            "error_id"
        ]
        == "api.not_found"
    )
    lost = api.request("team_lead", "POST", f"/assets/{headset}/lost", json={"description": "交班时不见了"})
    assert lost.status_code == 201, lost.text
    assert (lost.json()["kind"], lost.json()["asset_tag"], lost.json()["compensation"]) == ("loss", "HS-1", "pending")
    assert api.request("team_lead", "GET", f"/assets/{headset}").json()["state"] == "lost"
    # a lost asset is no longer the vendor's to report on; the client is told it is final
    assert api.request("team_lead", "POST", f"/assets/{headset}/lost", json={"description": "再报"}).status_code == 404
    again = api.request("admin", "POST", f"/assets/{headset}/lost", json={"description": "再报"})
    assert (again.status_code, again.json()["error_id"]) == (409, "agents.damage_invalid")


# --- issue lists --------------------------------------------------------------------------------------


def test_listing_issue_lists_gives_each_its_own_items_and_filters_by_status(api: Api) -> None:
    first = [api.run(new_asset, api.state, tag) for tag in ("LS-B", "LS-A")]
    second = [api.run(new_asset, api.state, "LS-C")]
    ids = [
        api.request("admin", "POST", "/issue-lists", json={"vendor_id": api.seed.vendor_a, "asset_ids": assets}).json()[
            "id"
        ]
        for assets in (first, second)
    ]
    assert api.request("ops_manager", "POST", f"/issue-lists/{ids[1]}/confirm", json={}).status_code == 200
    listed = api.request("team_lead", "GET", "/issue-lists")
    assert listed.status_code == 200, listed.text
    tags = {li["id"]: [i["tag"] for i in li["items"]] for li in listed.json()}
    assert tags == {ids[0]: ["LS-A", "LS-B"], ids[1]: ["LS-C"]}  # newest first in the answer, items by tag
    assert [li["id"] for li in listed.json()] == [ids[1], ids[0]]
    confirmed = api.request("team_lead", "GET", "/issue-lists", params={"status": "confirmed"}).json()
    assert [(li["id"], li["status"]) for li in confirmed] == [(ids[1], "confirmed")]
    assert api.request("team_lead", "GET", "/issue-lists", params={"status": "closed"}).json() == []


def test_the_vendor_confirms_its_list_and_returns_are_checked_against_it(api: Api) -> None:
    a = api.run(new_asset, api.state, "PC-A")
    b = api.run(new_asset, api.state, "PC-B")
    c = api.run(new_asset, api.state, "PC-C")
    d = api.run(new_asset, api.state, "PC-D")
    body = {"vendor_id": api.seed.vendor_a, "asset_ids": [a, b, c, d], "note": "11月新增"}
    list_id = api.request("admin", "POST", "/issue-lists", json=body).json()["id"]
    twice = api.request("admin", "POST", "/issue-lists", json={"vendor_id": api.seed.vendor_a, "asset_ids": [a, a]})
    assert (twice.status_code, twice.json()["error_id"]) == (422, "api.duplicate_item")
    # the client cannot sign for the vendor; another vendor does not see the list
    by_client = api.request("admin", "POST", f"/issue-lists/{list_id}/confirm", json={})
    assert (by_client.status_code, by_client.json()["error_id"]) == (409, "agents.sod")
    other = api.request("other_vendor_team_lead", "POST", f"/issue-lists/{list_id}/confirm", json={})
    assert (other.status_code, other.json()["error_id"]) == (404, "api.not_found")
    assert api.request("other_vendor_team_lead", "GET", f"/issue-lists/{list_id}").status_code == 404
    assert api.request("other_vendor_team_lead", "GET", "/issue-lists").json() == []
    confirm = {"document_ref": "盖章-2026-031", "refused": [{"asset_id": d, "reason": "屏幕有划痕"}]}
    confirmed = api.request("ops_manager", "POST", f"/issue-lists/{list_id}/confirm", json=confirm)
    assert confirmed.status_code == 200, confirmed.text
    out = confirmed.json()
    assert (out["status"], out["confirmed_by"], out["document_ref"]) == ("confirmed", "OM1", "盖章-2026-031")
    assert {i["tag"]: i["status"] for i in out["items"]} == {
        "PC-A": "issued",
        "PC-B": "issued",
        "PC-C": "issued",
        "PC-D": "refused",
    }
    assert api.request("admin", "GET", f"/assets/{d}").json()["state"] == "in_stock"
    again = api.request("team_lead", "POST", f"/issue-lists/{list_id}/confirm", json={})
    assert (again.status_code, again.json()["error_id"]) == (409, "agents.issue_list_state")
    # the return: A in good order, B damaged, C not brought back
    returned = {"returned": [{"asset_id": a}, {"asset_id": b, "condition": "damaged", "note": "外壳裂"}]}
    check = api.request("admin", "POST", f"/issue-lists/{list_id}/returns", json=returned)
    assert check.status_code == 200, check.text
    result = check.json()
    assert (result["returned"], result["damaged"], result["missing"], result["closed"]) == (
        ["PC-A"],
        ["PC-B"],
        ["PC-C"],
        False,
    )
    assert len(result["damage_ids"]) == 1
    stranger = api.request("admin", "POST", f"/issue-lists/{list_id}/returns", json={"returned": [{"asset_id": d}]})
    assert (stranger.status_code, stranger.json()["error_id"]) == (409, "agents.return_invalid")
    closed = api.request("admin", "POST", f"/issue-lists/{list_id}/returns", json={"close": True}).json()
    assert (closed["missing"], closed["closed"]) == (["PC-C"], True)
    assert api.request("team_lead", "GET", f"/assets/{c}").json()["state"] == "lost"
    losses = api.request("team_lead", "GET", "/damage", params={"asset_id": c}).json()
    assert [(r["kind"], r["asset_tag"]) for r in losses] == [("loss", "PC-C")]
    assert api.request("team_lead", "GET", f"/issue-lists/{list_id}").json()["status"] == "closed"


# --- inspections --------------------------------------------------------------------------------------


def test_a_vendor_inspects_every_seat_daily_and_a_missing_day_shows_next_morning(api: Api) -> None:
    s1 = api.run(new_seat, api.state, "A-01", api.seed.vendor_a)
    s2 = api.run(new_seat, api.state, "A-02", api.seed.vendor_a)
    api.run(new_seat, api.state, "B-01", api.seed.vendor_b)
    headset = api.run(new_asset, api.state, "HS-9", kind="headset", issue_to=api.seed.vendor_a, seat=s2)
    yesterday = local_today(api) - timedelta(days=1)
    # the desk's morning view (default: yesterday): both vendors for the client, its own for a team lead
    desk = api.request("admin", "GET", "/inspections/missing").json()
    assert [(m["vendor_code"], m["day"], m["seat_codes"]) for m in desk] == [
        ("va", yesterday.isoformat(), ["A-01", "A-02"]),
        ("vb", yesterday.isoformat(), ["B-01"]),
    ]
    assert [m["vendor_code"] for m in api.request("team_lead", "GET", "/inspections/missing").json()] == ["va"]
    assert (
        api.request("team_lead", "GET", "/inspections/missing", params={"vendor_id": api.seed.vendor_b}).json()[
            "error_id"
        ]
        == "api.not_found"
    )
    not_working = {"day": yesterday.isoformat(), "weekdays": [(yesterday.weekday() + 1) % 7]}
    assert api.request("admin", "GET", "/inspections/missing", params=not_working).json() == []
    # every seat, a note for anything but ok, one per day, never ahead
    day = yesterday.isoformat()
    partial = api.request(
        "team_lead", "POST", "/inspections", json={"day": day, "checks": [{"seat_id": s1, "result": "ok"}]}
    )
    assert (partial.status_code, partial.json()["error_id"]) == (409, "agents.inspection_incomplete")
    assert partial.json()["details"]["seats"] == ["A-02"]
    silent = {"day": day, "checks": [{"seat_id": s1, "result": "ok"}, {"seat_id": s2, "result": "fault"}]}
    assert (
        api.request("team_lead", "POST", "/inspections", json=silent).json()["error_id"] == "agents.inspection_invalid"
    )
    ahead = {"day": (local_today(api) + timedelta(days=1)).isoformat(), "checks": []}
    assert (
        api.request("team_lead", "POST", "/inspections", json=ahead).json()["error_id"] == "agents.inspection_invalid"
    )
    other = {"vendor_id": api.seed.vendor_a, "day": day, "checks": []}
    assert (
        api.request("other_vendor_team_lead", "POST", "/inspections", json=other).json()["error_id"] == "api.not_found"
    )
    no_vendor = api.request("admin", "POST", "/inspections", json={"day": day, "checks": []})
    assert (no_vendor.status_code, no_vendor.json()["error_id"]) == (422, "api.vendor_required")
    checks = [
        {"seat_id": s1, "result": "ok"},
        {"seat_id": s2, "result": "fault", "note": "耳麦无声", "asset_id": headset},
    ]
    recorded = api.request("team_lead", "POST", "/inspections", json={"day": day, "checks": checks})
    assert recorded.status_code == 201, recorded.text
    assert [(i["seat_code"], i["result"]) for i in recorded.json()["items"]] == [("A-01", "ok"), ("A-02", "fault")]
    twice = api.request("ops_manager", "POST", "/inspections", json={"day": day, "checks": checks})
    assert (twice.status_code, twice.json()["error_id"]) == (409, "agents.inspection_exists")
    # the fault went to the client at once (12.2)
    faults = api.request("team_lead", "GET", "/faults").json()
    assert any(f["seat_id"] == s2 and "耳麦无声" in f["description"] for f in faults)
    assert [m["vendor_code"] for m in api.request("admin", "GET", "/inspections/missing").json()] == ["vb"]
    listed = api.request("team_lead", "GET", "/inspections", params={"since": day, "until": day}).json()
    assert [(i["day"], i["inspected_by"]) for i in listed] == [(day, "TL1")]
    assert api.request("other_vendor_team_lead", "GET", "/inspections").json() == []


# --- damage with the last user -------------------------------------------------------------------------


async def _shifts(state: AppState, vendor_id: int, s1: int, s2: int, t0: datetime) -> dict[str, int]:
    """Real logins: M1 at A-01 from t0, files a fault and moves to A-02 at +30 min (logs out at +80 min); M2 at
    A-01 from +45 to +50 min; the evening shift's E1 at A-01 from +9 h to +11 h. Returns the session ids."""
    for work_id in ("M1", "M2", "E1"):
        await new_agent(state, work_id, vendor_id)
    ctx = state.agents
    sessions: dict[str, int] = {}
    async with state.sessions() as session:
        m1 = await login(ctx, session, "M1", PASSWORD, seat_id=s1, now=t0)
    sessions["M1"] = m1.session_id
    agent = await _actor(state, "M1")
    async with state.sessions() as session, session.begin():
        await set_state(ctx, session, "M1", "ready", now=t0 + MIN)
        await report_fault(ctx, session, agent, seat_id=s1, description="键盘失灵", now=t0 + 20 * MIN)
    async with state.sessions() as session, session.begin():
        await change_seat(ctx, session, "M1", s2, now=t0 + 30 * MIN)
    async with state.sessions() as session:
        m2 = await login(ctx, session, "M2", PASSWORD, seat_id=s1, now=t0 + 45 * MIN)
    sessions["M2"] = m2.session_id
    async with state.sessions() as session:
        await logout(ctx, session, m2.token, now=t0 + 50 * MIN)
        await session.commit()
    async with state.sessions() as session:
        await authenticate(ctx, session, m1.token, now=t0 + 50 * MIN)
        await session.commit()
    async with state.sessions() as session:
        await logout(ctx, session, m1.token, now=t0 + 80 * MIN)
        await session.commit()
    async with state.sessions() as session:
        e1 = await login(ctx, session, "E1", PASSWORD, seat_id=s1, now=t0 + 9 * HOUR)
    sessions["E1"] = e1.session_id
    for minutes in (50, 100):
        async with state.sessions() as session:
            await authenticate(ctx, session, e1.token, now=t0 + 9 * HOUR + minutes * MIN)
            await session.commit()
    async with state.sessions() as session:
        await logout(ctx, session, e1.token, now=t0 + 11 * HOUR)
        await session.commit()
    return sessions


def test_a_damage_report_names_the_last_user_across_a_seat_change_and_a_shift_boundary(api: Api) -> None:
    s1 = api.run(new_seat, api.state, "A-01", api.seed.vendor_a)
    s2 = api.run(new_seat, api.state, "A-02", api.seed.vendor_a)
    pc1 = api.run(new_asset, api.state, "PC-1", issue_to=api.seed.vendor_a, seat=s1)
    pc2 = api.run(new_asset, api.state, "PC-2", issue_to=api.seed.vendor_a, seat=s2)
    zone = api.state.settings.zone
    # the day before yesterday, 09:00 at the site: the morning shift
    t0 = datetime.combine(local_today(api) - timedelta(days=2), time(9, 0), tzinfo=zone)
    sessions = api.run(_shifts, api.state, api.seed.vendor_a, s1, s2, t0)

    def last_user(asset_id: int, at: datetime) -> tuple[str | None, str, int | None]:
        body = {"asset_id": asset_id, "kind": "damage", "description": "检查发现损坏", "occurred_at": at.isoformat()}
        response = api.request("team_lead", "POST", "/damage", json=body)
        assert response.status_code == 201, response.text
        out = response.json()
        return out["last_work_id"], out["last_user_source"], out["last_session_id"]

    assert last_user(pc1, t0 + 15 * MIN) == ("M1", "seat_session", sessions["M1"])  # M1 sits at A-01
    assert last_user(pc1, t0 + 40 * MIN) == ("M1", "seat_session", sessions["M1"])  # M1 moved on; nobody since
    assert last_user(pc2, t0 + 20 * MIN) == (None, "none", None)  # nobody at A-02 before M1 moved there
    assert last_user(pc2, t0 + 40 * MIN) == ("M1", "seat_session", sessions["M1"])  # M1 at A-02 from +30 min
    assert last_user(pc1, t0 + 47 * MIN) == ("M2", "seat_session", sessions["M2"])
    assert last_user(pc1, t0 + 5 * HOUR) == ("M2", "seat_session", sessions["M2"])  # the gap between the shifts
    assert last_user(pc1, t0 + 9 * HOUR) == ("E1", "seat_session", sessions["E1"])  # the evening shift logs in
    assert last_user(pc1, t0 + 10 * HOUR) == ("E1", "seat_session", sessions["E1"])
    assert last_user(pc1, t0 + 24 * HOUR) == ("E1", "seat_session", sessions["E1"])  # next morning, nobody yet
    # the records keep what was found, newest first
    listed = api.request("team_lead", "GET", "/damage", params={"asset_id": pc1}).json()
    assert [r["last_work_id"] for r in listed] == ["E1", "E1", "E1", "M2", "M2", "M1", "M1"]
    assert listed[0]["seat_code"] == "A-01"


def test_a_held_item_names_its_holder_and_a_fault_report_links_to_the_damage(api: Api) -> None:
    headset = api.run(
        new_asset, api.state, "HS-2", kind="headset", value="120.00", issue_to=api.seed.vendor_a, holder="AG1"
    )
    fault = api.request("agent", "POST", "/faults", json={"description": "耳麦线断了"}).json()["id"]
    body = {"asset_id": headset, "kind": "damage", "description": f"耳麦线被扯断，客户{PHONE}", "fault_id": fault}
    created = api.request("team_lead", "POST", "/damage", json=body)
    assert created.status_code == 201, created.text
    record = created.json()
    assert (record["last_work_id"], record["last_user_source"], record["fault_id"]) == ("AG1", "holder", fault)
    assert PHONE not in created.text
    assert "138****5678" in record["description"]
    # another vendor's fault report cannot be linked; another vendor's team lead does not see the record
    fault_b = api.request("other_vendor_team_lead", "POST", "/faults", json={"description": "系统卡"}).json()["id"]
    linked = api.request("team_lead", "POST", "/damage", json={**body, "fault_id": fault_b})
    assert (linked.status_code, linked.json()["error_id"]) == (404, "api.not_found")
    assert api.request("other_vendor_team_lead", "GET", f"/damage/{record['id']}").json()["error_id"] == "api.not_found"
    assert api.request("other_vendor_team_lead", "GET", "/damage").json() == []
    naive = api.request("team_lead", "POST", "/damage", json={**body, "occurred_at": "2026-11-01T10:00:00"})
    assert (naive.status_code, naive.json()["error_id"]) == (422, "api.invalid_request")
    ahead = (utcnow() + HOUR).isoformat()
    future = api.request("team_lead", "POST", "/damage", json={**body, "occurred_at": ahead})
    assert (future.status_code, future.json()["error_id"]) == (409, "agents.damage_invalid")


def test_the_client_decides_the_compensation_once_and_never_on_its_own_report(api: Api) -> None:
    headset = api.run(new_asset, api.state, "HS-3", kind="headset", value="120.00", issue_to=api.seed.vendor_a)
    damage = api.run(new_damage, api.state, headset)
    assert api.request("team_lead", "GET", "/damage", params={"pending": "true"}).json()[0]["id"] == damage
    assert api.request("team_lead", "POST", f"/damage/{damage}/decision", json={"charge": True}).status_code == 403
    waive = api.request("admin", "POST", f"/damage/{damage}/decision", json={"charge": False})
    assert (waive.status_code, waive.json()["error_id"]) == (409, "agents.damage_invalid")
    charged = api.request("admin", "POST", f"/damage/{damage}/decision", json={"charge": True, "cause": "human"})
    assert charged.status_code == 200, charged.text
    out = charged.json()
    assert (out["compensation"], out["amount"], out["cause"], out["decided_by"]) == (
        "charged",
        "120.00",
        "human",
        "AD1",
    )
    again = api.request("admin", "POST", f"/damage/{damage}/decision", json={"charge": False, "note": "改主意"})
    assert (again.status_code, again.json()["error_id"]) == (409, "agents.already_decided")
    assert api.request("team_lead", "GET", "/damage", params={"pending": "true"}).json() == []
    own = api.run(new_damage, api.state, headset, reporter="AD1")
    refused = api.request("admin", "POST", f"/damage/{own}/decision", json={"charge": True, "amount": "50.00"})
    assert (refused.status_code, refused.json()["error_id"]) == (409, "agents.sod")
    assert api.request("admin", "POST", "/damage/999999/decision", json={"charge": True}).status_code == 404


# --- rates --------------------------------------------------------------------------------------------


async def _sitting(state: AppState, work_id: str, vendor_id: int, seat_id: int) -> None:
    await new_agent(state, work_id, vendor_id)
    async with state.sessions() as session:
        await login(state.agents, session, work_id, PASSWORD, seat_id=seat_id, now=utcnow() - 10 * MIN)


def test_a_vendors_monthly_loss_rate_comes_with_the_assets_behind_it(api: Api) -> None:
    seat = api.run(new_seat, api.state, "A-01", api.seed.vendor_a)
    pc = api.run(new_asset, api.state, "PC-R1", issue_to=api.seed.vendor_a, seat=seat)
    headset = api.run(new_asset, api.state, "HS-R2", kind="headset", issue_to=api.seed.vendor_a, holder="AG1")
    api.run(new_asset, api.state, "PC-R3", issue_to=api.seed.vendor_a)
    desk = api.run(new_asset, api.state, "DESK-R4", kind="desk", value="800.00", issue_to=api.seed.vendor_a, seat=seat)
    api.run(new_asset, api.state, "PC-B1", issue_to=api.seed.vendor_b, lead="TLB")
    api.run(_sitting, api.state, "R1", api.seed.vendor_a, seat)
    month = this_month(api)
    clean = api.request("team_lead", "GET", "/asset-rates", params={"month": month}).json()
    assert [
        (line["count"], line["base"], line["met"]) for line in (clean["it_loss_rate"], clean["fixed_damage_rate"])
    ] == [
        (0, 3, True),
        (0, 1, True),
    ]
    damaged = {"asset_id": pc, "kind": "damage", "cause": "human", "description": "键盘被砸坏"}
    assert api.request("team_lead", "POST", "/damage", json=damaged).status_code == 201
    assert api.request("team_lead", "POST", f"/assets/{headset}/lost", json={"description": "丢失"}).status_code == 201
    assert (
        api.request(
            "team_lead", "POST", "/damage", json={"asset_id": desk, "kind": "damage", "description": "桌角断"}
        ).status_code
        == 201
    )
    rates = api.request("team_lead", "GET", "/asset-rates", params={"month": month})
    assert rates.status_code == 200, rates.text
    out = rates.json()
    assert (out["vendor_id"], out["month"]) == (api.seed.vendor_a, month)
    loss = out["it_loss_rate"]
    assert (loss["count"], loss["base"], loss["rate"], loss["target"], loss["met"]) == (2, 3, 0.6667, "< 1%", False)
    assert loss["base_tags"] == ["HS-R2", "PC-R1", "PC-R3"]
    assert [(a["tag"], a["kinds"], a["causes"], a["last_work_ids"]) for a in loss["assets"]] == [
        ("HS-R2", ["loss"], ["unknown"], ["AG1"]),
        ("PC-R1", ["damage"], ["human"], ["R1"]),
    ]
    human = out["human_damage"]
    assert (human["count"], human["met"], [a["tag"] for a in human["assets"]]) == (1, False, ["PC-R1"])
    fixed = out["fixed_damage_rate"]
    assert (fixed["count"], fixed["base"], fixed["rate"], fixed["met"]) == (1, 1, 1.0, False)
    assert [(a["tag"], a["last_work_ids"]) for a in fixed["assets"]] == [("DESK-R4", ["R1"])]
    # the client names the vendor; another vendor's team lead does not see it
    assert (
        api.request("admin", "GET", "/asset-rates", params={"month": month, "vendor_id": api.seed.vendor_a}).json()
        == out
    )
    no_vendor = api.request("admin", "GET", "/asset-rates", params={"month": month})
    assert (no_vendor.status_code, no_vendor.json()["error_id"]) == (422, "api.vendor_required")
    other = api.request(
        "other_vendor_team_lead", "GET", "/asset-rates", params={"month": month, "vendor_id": api.seed.vendor_a}
    )
    assert (other.status_code, other.json()["error_id"]) == (404, "api.not_found")
    b = api.request("other_vendor_team_lead", "GET", "/asset-rates", params={"month": month}).json()
    assert (b["it_loss_rate"]["count"], b["it_loss_rate"]["base_tags"]) == (0, ["PC-B1"])
    assert api.request("team_lead", "GET", "/asset-rates", params={"month": "1999-01"}).status_code == 422


# --- off-boarding -------------------------------------------------------------------------------------


def test_a_leaving_work_id_hands_back_its_items_and_documents(api: Api) -> None:
    headset = api.run(
        new_asset, api.state, "HS-O1", kind="headset", value="120.00", issue_to=api.seed.vendor_a, holder="AG1"
    )
    created = api.request("team_lead", "POST", "/offboarding/AG1/documents", json={"title": "话术手册 v3"})
    assert created.status_code == 201, created.text
    document = created.json()["id"]
    checklist = api.request("team_lead", "GET", "/offboarding/AG1").json()
    assert (checklist["complete"], [(i["kind"], i["label"]) for i in checklist["outstanding"]]) == (
        False,
        [("asset", "headset HS-O1"), ("document", "话术手册 v3")],
    )
    assert api.request("agent", "GET", "/offboarding/AG1").status_code == 403
    assert api.request("other_vendor_team_lead", "GET", "/offboarding/AG1").json()["error_id"] == "api.not_found"
    assert api.request("team_lead", "GET", "/offboarding/NOBODY").json()["error_id"] == "api.not_found"
    stranger = api.request("team_lead", "POST", "/offboarding/TL1/check-back", json={"kind": "asset", "id": headset})
    assert (stranger.status_code, stranger.json()["error_id"]) == (404, "api.not_found")
    back = api.request(
        "team_lead",
        "POST",
        "/offboarding/AG1/check-back",
        json={"kind": "asset", "id": headset, "condition": "damaged"},
    )
    assert back.status_code == 200, back.text
    assert [i["kind"] for i in back.json()["outstanding"]] == ["document"]
    assert api.request("team_lead", "GET", f"/assets/{headset}").json()["state"] == "issued"
    damage = api.request("team_lead", "GET", "/damage", params={"asset_id": headset}).json()
    assert [(r["last_work_id"], r["last_user_source"]) for r in damage] == [("AG1", "holder")]
    done = api.request("ops_manager", "POST", "/offboarding/AG1/check-back", json={"kind": "document", "id": document})
    assert done.json() == {"work_id": "AG1", "complete": True, "outstanding": []}
    twice = api.request("ops_manager", "POST", "/offboarding/AG1/check-back", json={"kind": "document", "id": document})
    assert (twice.status_code, twice.json()["error_id"]) == (409, "agents.already_returned")


async def _apply_due(state: AppState, at: datetime) -> list[int]:
    async with state.sessions() as session, session.begin():
        return await apply_due(state.agents, session, at)


def test_a_deletion_waits_until_the_items_are_checked_back(api: Api) -> None:
    headset = api.run(
        new_asset, api.state, "HS-D1", kind="headset", value="120.00", issue_to=api.seed.vendor_a, holder="AG1"
    )
    effective = utcnow() + timedelta(days=3, hours=1)
    body = {"kind": "delete", "work_id": "AG1", "effective_at": effective.isoformat(), "reason": "离职"}
    request = api.request("team_lead", "POST", "/user-requests", json=body)
    assert request.status_code == 201, request.text
    request_id = request.json()["id"]
    decided = api.request("admin", "POST", f"/user-requests/{request_id}/decision", json={"approve": True})
    assert decided.json()["status"] == "approved"
    assert api.run(_apply_due, api.state, effective + MIN) == []  # postponed: the headset is still out (2.5)
    statuses = {r["id"]: r["status"] for r in api.request("admin", "GET", "/user-requests").json()}
    assert statuses[request_id] == "approved"
    back = api.request("team_lead", "POST", "/offboarding/AG1/check-back", json={"kind": "asset", "id": headset})
    assert back.json()["complete"] is True
    assert api.run(_apply_due, api.state, effective + 2 * MIN) == [request_id]
    statuses = {r["id"]: r["status"] for r in api.request("admin", "GET", "/user-requests").json()}
    assert statuses[request_id] == "applied"


# --- makers for the role x route matrix (tests/api/test_matrix.py): (api, actor) -> (path, request keywords) ------

Made = tuple[str, dict[str, Any]]


def matrix_asset_body(api: Api, actor: str) -> Made:
    return "/assets", {"json": {"tag": api.seed.unique("PC-M"), "kind": "computer", "value": "100.00"}}


def matrix_asset(
    verb: str, *, issued: bool = True, placed: bool = False, repair: bool = False, **kwargs: Any
) -> Callable[[Api, str], Made]:
    """A fresh asset (issued to vendor A, placed with AG1, or sent to repair), then ``verb`` on it."""

    def make(api: Api, actor: str) -> Made:
        asset_id = api.run(
            new_asset,
            api.state,
            api.seed.unique("M-"),
            issue_to=api.seed.vendor_a if issued else None,
            holder="AG1" if placed else None,
            repair=repair,
        )
        return f"/assets/{asset_id}{verb}", dict(kwargs)

    return make


def matrix_issue_list_body(api: Api, actor: str) -> Made:
    asset_id = api.run(new_asset, api.state, api.seed.unique("M-"))
    return "/issue-lists", {"json": {"vendor_id": api.seed.vendor_a, "asset_ids": [asset_id]}}


def matrix_issue_list(verb: str, *, confirmed: bool = False, **kwargs: Any) -> Callable[[Api, str], Made]:
    def make(api: Api, actor: str) -> Made:
        asset_id = api.run(new_asset, api.state, api.seed.unique("M-"))
        list_id = api.run(
            new_issue_list, api.state, api.seed.vendor_a, [asset_id], confirm_by="TL1" if confirmed else None
        )
        body = {"json": {"returned": [{"asset_id": asset_id}], "close": True}} if verb == "/returns" else kwargs
        return f"/issue-lists/{list_id}{verb}", dict(body)

    return make


def matrix_inspection_body(api: Api, actor: str) -> Made:
    """Vendor A's inspection of a day not yet inspected, covering its seats."""
    day = local_today(api) - timedelta(days=int(api.seed.unique("")))
    seats = api.run(vendor_seats, api.state, api.seed.vendor_a)
    body = {
        "vendor_id": api.seed.vendor_a,
        "day": day.isoformat(),
        "checks": [{"seat_id": s, "result": "ok"} for s in seats],
    }
    return "/inspections", {"json": body}


def matrix_damage_body(api: Api, actor: str) -> Made:
    asset_id = api.run(new_asset, api.state, api.seed.unique("M-"), issue_to=api.seed.vendor_a)
    return "/damage", {"json": {"asset_id": asset_id, "kind": "damage", "description": "外壳裂"}}


def matrix_damage(verb: str, **kwargs: Any) -> Callable[[Api, str], Made]:
    """A fresh damage record of vendor A (reported by its team lead), then ``verb`` on it."""

    def make(api: Api, actor: str) -> Made:
        asset_id = api.run(new_asset, api.state, api.seed.unique("M-"), issue_to=api.seed.vendor_a)
        damage_id = api.run(new_damage, api.state, asset_id)
        return f"/damage/{damage_id}{verb}", dict(kwargs)

    return make


def matrix_rates(api: Api, actor: str) -> Made:
    return "/asset-rates", {"params": {"month": this_month(api), "vendor_id": api.seed.vendor_a}}


def matrix_check_back(api: Api, actor: str) -> Made:
    document = api.run(new_document, api.state, "AG1", api.seed.unique("文件"))
    return "/offboarding/AG1/check-back", {"json": {"kind": "document", "id": document}}


def test_a_fault_report_names_the_asset_at_fault_of_its_own_vendor_only(api: Api) -> None:
    headset = api.run(new_asset, api.state, "HS-F1", kind="headset", issue_to=api.seed.vendor_a)
    other = api.run(new_asset, api.state, "HS-F2", kind="headset", issue_to=api.seed.vendor_b, lead="TLB")
    filed = api.request("agent", "POST", "/faults", json={"asset_id": headset, "description": "耳麦无声"})
    assert filed.status_code == 201, filed.text
    assert filed.json()["asset_id"] == headset
    assert api.request("team_lead", "GET", f"/faults/{filed.json()['id']}").json()["asset_id"] == headset
    refused = api.request("agent", "POST", "/faults", json={"asset_id": other, "description": "耳麦无声"})
    assert refused.status_code == 404
    assert api.request("agent", "POST", "/faults", json={"asset_id": 999999, "description": "x"}).status_code == 404
