"""Assets and issue lists (第十六条): the state machine, the vendor's confirmation, returns checked against the list."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from agents.assets.issuing import check_return, confirm_issue_list, create_issue_list, issue_list_items
from agents.assets.registry import (
    get_asset,
    list_assets,
    place_asset,
    register_asset,
    repair_done,
    scrap_asset,
    send_to_repair,
    unplace_asset,
)
from agents.errors import InvalidTransition, PermissionDenied, RuleViolation
from agents.models import AssetEvent, DamageRecord

from .assets_helpers import audit_actions, issue, place, register, stint
from .conftest import T0, World

HOUR = timedelta(hours=1)


async def _state(world: World, asset_id: int) -> str:
    async with world.session() as session:
        return (await get_asset(session, asset_id)).state


async def test_an_asset_goes_from_stock_to_a_seat_to_repair_and_back_with_its_history(world: World) -> None:
    pc = await register(world, "PC-001")
    assert await _state(world, pc) == "in_stock"
    await issue(world, world.vendor_a, [pc])
    assert await _state(world, pc) == "issued"
    await place(world, pc, seat=world.seat_a1)
    admin = await world.user("ADM1")
    async with world.session() as session, session.begin():
        await send_to_repair(world.ctx, session, admin, pc, now=T0 + HOUR, note="no display")
    async with world.session() as session, session.begin():
        asset = await repair_done(world.ctx, session, admin, pc, now=T0 + 2 * HOUR)
        assert (asset.state, asset.seat_id, asset.vendor_id) == ("in_use", world.seat_a1, world.vendor_a)
    async with world.session() as session:
        events = (
            await session.execute(
                select(AssetEvent.action, AssetEvent.to_state).where(AssetEvent.asset_id == pc).order_by(AssetEvent.id)
            )
        ).all()
    assert [tuple(e) for e in events] == [
        ("register", "in_stock"),
        ("issue", "issued"),
        ("place", "in_use"),
        ("repair", "under_repair"),
        ("repaired", "in_use"),
    ]
    assert await audit_actions(world, "asset:PC-001") == [
        ("ADM1", "asset.register"),
        ("LA1", "asset.issue"),
        ("LA1", "asset.place"),
        ("ADM1", "asset.repair"),
        ("ADM1", "asset.repaired"),
    ]


async def test_transitions_outside_the_table_are_refused(sqlite_world: World) -> None:
    world = sqlite_world
    pc = await register(world, "PC-001")
    admin = await world.user("ADM1")
    await issue(world, world.vendor_a, [pc])
    await place(world, pc, seat=world.seat_a1)
    async with world.session() as session:
        with pytest.raises(InvalidTransition) as caught:
            await scrap_asset(world.ctx, session, admin, pc, now=T0, note="old")  # in use: return it first
        assert caught.value.error_id == "agents.asset_state"
        with pytest.raises(InvalidTransition):
            await repair_done(world.ctx, session, admin, pc, now=T0)
    async with world.session() as session, session.begin():
        await send_to_repair(world.ctx, session, admin, pc, now=T0, note="broken")
    async with world.session() as session, session.begin():
        await scrap_asset(world.ctx, session, admin, pc, now=T0, note="beyond repair")
    assert await _state(world, pc) == "scrapped"
    async with world.session() as session:
        with pytest.raises(InvalidTransition):
            await send_to_repair(world.ctx, session, admin, pc, now=T0, note="again")  # scrapped is final


async def test_register_validates_kind_tag_and_work_id(sqlite_world: World) -> None:
    world = sqlite_world
    admin, lead = await world.user("ADM1"), await world.user("LA1")
    async with world.session() as session:
        with pytest.raises(RuleViolation):
            await register_asset(world.ctx, session, admin, tag="X", kind="sofa", now=T0)
        with pytest.raises(RuleViolation):
            await register_asset(world.ctx, session, admin, tag="W", kind="work_id", now=T0)
        with pytest.raises(PermissionDenied):
            await register_asset(world.ctx, session, lead, tag="X", kind="computer", now=T0)
    await register(world, "PC-001")
    with pytest.raises(RuleViolation) as caught:
        await register(world, "PC-001")
    assert caught.value.error_id == "agents.asset_exists"
    await register(world, "ID-AA1", kind="work_id", value=None, work_id="AA1")


async def test_the_vendor_confirms_the_list_and_refuses_what_is_wrong(world: World) -> None:
    pc, headset, phone = (
        await register(world, "PC-001"),
        await register(world, "HS-001", "headset"),
        await register(world, "PH-001", "phone"),
    )
    admin, lead_a, lead_b = await world.user("ADM1"), await world.user("LA1"), await world.user("LB1")
    async with world.session() as session, session.begin():
        issue_list = await create_issue_list(
            world.ctx, session, admin, vendor_id=world.vendor_a, asset_ids=[pc, headset, phone], now=T0
        )
        list_id = issue_list.id
    async with world.session() as session:
        with pytest.raises(RuleViolation) as caught:  # on an open list already
            await create_issue_list(world.ctx, session, admin, vendor_id=world.vendor_b, asset_ids=[pc], now=T0)
        assert caught.value.error_id == "agents.issue_list_invalid"
        with pytest.raises(RuleViolation) as caught:  # the client cannot sign for the vendor
            await confirm_issue_list(world.ctx, session, admin, list_id, now=T0)
        assert caught.value.error_id == "agents.sod"
        with pytest.raises(PermissionDenied):
            await confirm_issue_list(world.ctx, session, lead_b, list_id, now=T0)
    async with world.session() as session, session.begin():
        confirmed = await confirm_issue_list(
            world.ctx,
            session,
            lead_a,
            list_id,
            now=T0 + HOUR,
            refused={phone: "屏幕碎裂"},
            document_ref="A-2026-03-盖章",
        )
        assert (confirmed.status, confirmed.confirmed_by, confirmed.confirmed_at) == ("confirmed", "LA1", T0 + HOUR)
    assert (await _state(world, pc), await _state(world, headset), await _state(world, phone)) == (
        "issued",
        "issued",
        "in_stock",
    )
    async with world.session() as session:
        items = {asset.tag: (item.status, item.note) for item, asset in await issue_list_items(session, list_id)}
        assert items == {"HS-001": ("issued", None), "PC-001": ("issued", None), "PH-001": ("refused", "屏幕碎裂")}
        assert [a.tag for a in await list_assets(session, lead_a)] == ["HS-001", "PC-001"]
        assert await list_assets(session, lead_b) == []
        with pytest.raises(InvalidTransition):
            await confirm_issue_list(world.ctx, session, lead_a, list_id, now=T0)
    assert await audit_actions(world, f"issue_list:{list_id}") == [
        ("ADM1", "asset.issue_list"),
        ("LA1", "asset.issue_confirm"),
    ]


async def test_placing_needs_the_vendors_own_seat_and_person(sqlite_world: World) -> None:
    world = sqlite_world
    pc = await register(world, "PC-001")
    await issue(world, world.vendor_a, [pc])
    lead_a, lead_b = await world.user("LA1"), await world.user("LB1")
    async with world.session() as session:
        with pytest.raises(RuleViolation):
            await place_asset(world.ctx, session, lead_a, pc, now=T0, seat_id=world.seat_b1)
        with pytest.raises(RuleViolation):
            await place_asset(world.ctx, session, lead_a, pc, now=T0, holder_work_id="AB1")
        with pytest.raises(PermissionDenied):
            await place_asset(world.ctx, session, lead_b, pc, now=T0, seat_id=world.seat_b1)
    await place(world, pc, holder="AA1")
    async with world.session() as session, session.begin():
        asset = await unplace_asset(world.ctx, session, lead_a, pc, now=T0)
        assert (asset.state, asset.holder_work_id) == ("issued", None)


async def test_a_return_is_checked_against_the_list_and_closing_it_loses_what_is_missing(world: World) -> None:
    pc1, pc2, pc3 = await register(world, "PC-001"), await register(world, "PC-002"), await register(world, "PC-003")
    list_id = await issue(world, world.vendor_a, [pc1, pc2, pc3])
    await place(world, pc2, seat=world.seat_a1)
    await stint(world, "AA1", [(world.seat_a1, T0 + HOUR)], T0 + 3 * HOUR)
    admin = await world.user("ADM1")
    async with world.session() as session, session.begin():
        check = await check_return(
            world.ctx,
            session,
            admin,
            list_id,
            returned={pc1: "ok", pc2: "damaged"},
            notes={pc2: "键盘缺键"},
            now=T0 + 5 * HOUR,
        )
    assert (check.returned, check.damaged, check.missing, check.closed) == (["PC-001"], ["PC-002"], ["PC-003"], False)
    assert (await _state(world, pc1), await _state(world, pc2), await _state(world, pc3)) == (
        "in_stock",
        "under_repair",
        "issued",
    )
    async with world.session() as session:
        with pytest.raises(RuleViolation):  # already back
            await check_return(world.ctx, session, admin, list_id, returned={pc1: "ok"}, now=T0 + 6 * HOUR)
    async with world.session() as session, session.begin():
        final = await check_return(world.ctx, session, admin, list_id, returned={}, now=T0 + 6 * HOUR, close=True)
    assert (final.missing, final.closed) == (["PC-003"], True)
    assert await _state(world, pc3) == "lost"
    async with world.session() as session:
        records = (await session.execute(select(DamageRecord).order_by(DamageRecord.id))).scalars().all()
        assert [(r.asset_id, r.kind, r.vendor_id, r.last_work_id, r.last_user_source) for r in records] == [
            (pc2, "damage", world.vendor_a, "AA1", "seat_session"),
            (pc3, "loss", world.vendor_a, None, "none"),
        ]
    assert await audit_actions(world, f"issue_list:{list_id}") == [
        ("ADM1", "asset.issue_list"),
        ("LA1", "asset.issue_confirm"),
        ("ADM1", "asset.return_check"),
        ("ADM1", "asset.return_check"),
    ]


async def test_an_item_under_repair_counts_as_back_with_the_client(sqlite_world: World) -> None:
    world = sqlite_world
    pc1, pc2 = await register(world, "PC-001"), await register(world, "PC-002")
    list_id = await issue(world, world.vendor_a, [pc1, pc2])
    admin = await world.user("ADM1")
    async with world.session() as session, session.begin():
        await send_to_repair(world.ctx, session, admin, pc2, now=T0, note="风扇异响")
    async with world.session() as session, session.begin():
        check = await check_return(world.ctx, session, admin, list_id, returned={pc1: "ok"}, now=T0 + HOUR, close=True)
    assert (check.returned, check.missing, check.damage_ids) == (["PC-001", "PC-002"], [], [])
    async with world.session() as session:
        asset = await get_asset(session, pc2)
        assert (asset.state, asset.vendor_id) == ("under_repair", None)
