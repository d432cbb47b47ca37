"""Damage and loss with the last user from the logins at the seat (12.2), and the compensation decision (第十一条)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from agents.assets.damage import decide_compensation, list_damage, report_damage
from agents.assets.lastuser import last_user_of_seat
from agents.auth import login, logout
from agents.errors import PermissionDenied, RuleViolation
from agents.faults import report_fault
from agents.models import FaultReport
from agents.sessions import change_seat, set_state

from .assets_helpers import audit_actions, issue, place, register, stint
from .conftest import PASSWORD, T0, World

HOUR = timedelta(hours=1)
MIN = timedelta(minutes=1)


async def _last(world: World, seat: int, at_hours: float) -> tuple[str, bool] | None:
    async with world.session() as session:
        last = await last_user_of_seat(session, seat, T0 + at_hours * HOUR)
    return None if last is None else (last.work_id, last.left_at is None)


async def test_last_user_follows_a_login_across_seat_changes_with_the_real_services(world: World) -> None:
    """AA1 logs in at A-01, reports a fault and moves to A-02; AA2 then sits at A-01."""
    async with world.session() as session:
        await login(world.ctx, session, "AA1", PASSWORD, seat_id=world.seat_a1, now=T0)
    agent = await world.user("AA1")
    async with world.session() as session, session.begin():
        await set_state(world.ctx, session, "AA1", "ready", now=T0 + MIN)
        await report_fault(
            world.ctx,
            session,
            agent,
            seat_id=world.seat_a1,
            description="耳麦无声",
            now=T0 + 20 * MIN,
        )
    async with world.session() as session, session.begin():
        await change_seat(world.ctx, session, "AA1", world.seat_a2, now=T0 + 30 * MIN)
    async with world.session() as session:
        token = (await login(world.ctx, session, "AA2", PASSWORD, seat_id=world.seat_a1, now=T0 + 45 * MIN)).token
    async with world.session() as session:
        await logout(world.ctx, session, token, now=T0 + 50 * MIN)
    assert await _last(world, world.seat_a1, 0.25) == ("AA1", True)  # 15 min: still at A-01
    assert await _last(world, world.seat_a1, 40 / 60) == ("AA1", False)  # 40 min: AA1 left at 30, nobody since
    assert await _last(world, world.seat_a2, 40 / 60) == ("AA1", True)  # the session row says A-02 only from 30 min
    assert await _last(world, world.seat_a2, 0.25) is None  # before AA1 moved there
    assert await _last(world, world.seat_a1, 47 / 60) == ("AA2", True)
    assert await _last(world, world.seat_a1, 2) == ("AA2", False)  # AA2 logged out at 50 min: still the last


async def test_two_agents_on_one_seat_on_different_shifts(world: World) -> None:
    """AA1 on the morning shift (0-4h), AA2 on the evening shift (4.5-9h), both at A-01."""
    await stint(world, "AA1", [(world.seat_a1, T0)], T0 + 4 * HOUR)
    await stint(world, "AA2", [(world.seat_a1, T0 + 4.5 * HOUR)], T0 + 9 * HOUR)
    assert await _last(world, world.seat_a1, 2) == ("AA1", True)
    assert await _last(world, world.seat_a1, 4.25) == ("AA1", False)  # between the shifts
    assert await _last(world, world.seat_a1, 4.5) == ("AA2", True)  # the very moment AA2 logs in
    assert await _last(world, world.seat_a1, 6) == ("AA2", True)
    assert await _last(world, world.seat_a1, 24 + 0.5) == ("AA2", False)  # next morning before anyone comes
    assert await _last(world, world.seat_a1, -1) is None


async def test_a_login_ending_after_the_report_and_one_visiting_several_seats(world: World) -> None:
    # AA1: A-02 from 0h, A-01 from 1h, back to A-02 from 2h, logs out at 8h (after every report below)
    await stint(
        world, "AA1", [(world.seat_a2, T0), (world.seat_a1, T0 + HOUR), (world.seat_a2, T0 + 2 * HOUR)], T0 + 8 * HOUR
    )
    # AA2 at A-01 earlier that morning
    await stint(world, "AA2", [(world.seat_a1, T0 - 3 * HOUR)], T0 - HOUR)
    assert await _last(world, world.seat_a1, 0.5) == ("AA2", False)
    assert await _last(world, world.seat_a1, 1.5) == ("AA1", True)
    assert await _last(world, world.seat_a1, 3) == ("AA1", False)  # AA1 left A-01 at 2h, still logged in elsewhere
    assert await _last(world, world.seat_a2, 3) == ("AA1", True)  # the login ends at 8h, after the report


async def test_an_open_login_that_expired_ends_at_its_expiry(sqlite_world: World) -> None:
    world = sqlite_world
    await stint(world, "AA1", [(world.seat_a1, T0)], None)  # never closed; expires 2 days later
    assert await _last(world, world.seat_a1, 1) == ("AA1", True)
    assert await _last(world, world.seat_a1, 72) == ("AA1", False)


async def test_a_damage_report_names_the_last_user_of_the_seat_or_the_holder(world: World) -> None:
    pc, headset = await register(world, "PC-001", value="4500.00"), await register(world, "HS-001", "headset", "120.00")
    await issue(world, world.vendor_a, [pc, headset])
    await place(world, pc, seat=world.seat_a1)
    await place(world, headset, holder="AA2")
    await stint(world, "AA1", [(world.seat_a1, T0 + HOUR)], T0 + 5 * HOUR)
    await stint(world, "AA2", [(world.seat_a1, T0 + 6 * HOUR)], T0 + 10 * HOUR)
    lead = await world.user("LA1")
    async with world.session() as session, session.begin():
        fault = await report_fault(
            world.ctx, session, lead, seat_id=world.seat_a1, description="主机不开机", now=T0 + 11 * HOUR, asset_id=pc
        )
        damage = await report_damage(
            world.ctx,
            session,
            lead,
            pc,
            kind="damage",
            cause="human",
            description="主机外壳破裂",
            occurred_at=T0 + 4 * HOUR,  # found during the morning shift
            now=T0 + 11 * HOUR,
            fault_id=fault.id,
        )
        held = await report_damage(
            world.ctx, session, lead, headset, kind="loss", description="耳麦丢失", now=T0 + 11 * HOUR
        )
        damage_id, held_id = damage.id, held.id
        assert (damage.last_work_id, damage.last_user_source, damage.seat_id, damage.vendor_id) == (
            "AA1",
            "seat_session",
            world.seat_a1,
            world.vendor_a,
        )
        assert (held.last_work_id, held.last_user_source, held.kind) == ("AA2", "holder", "loss")
    other_lead = await world.user("LB1")
    async with world.session() as session:
        stored = await session.get(FaultReport, fault.id)
        assert stored is not None
        assert stored.asset_id == pc
        assert [r.id for r in await list_damage(session, lead)] == [held_id, damage_id]
        assert await list_damage(session, other_lead) == []
    assert await audit_actions(world, "asset:HS-001") == [
        ("ADM1", "asset.register"),
        ("LA1", "asset.issue"),
        ("LA1", "asset.place"),
        ("LA1", "damage.report"),
        ("LA1", "asset.lost"),
    ]


async def test_compensation_is_the_value_unless_set_decided_once_by_someone_else(world: World) -> None:
    pc, chair = await register(world, "PC-001", value="4500.00"), await register(world, "CH-001", "chair", None)
    await issue(world, world.vendor_a, [pc, chair])
    lead, adm1, adm2 = await world.user("LA1"), await world.user("ADM1"), await world.user("ADM2")
    async with world.session() as session, session.begin():
        first = await report_damage(world.ctx, session, lead, pc, kind="damage", description="屏幕划伤", now=T0)
        second = await report_damage(world.ctx, session, adm1, chair, kind="damage", description="椅背断裂", now=T0)
        first_id, second_id = first.id, second.id
    async with world.session() as session:
        with pytest.raises(PermissionDenied):
            await decide_compensation(world.ctx, session, lead, first_id, charge=True, now=T0)
        with pytest.raises(RuleViolation) as caught:
            await decide_compensation(world.ctx, session, adm1, second_id, charge=True, amount=Decimal(80), now=T0)
        assert caught.value.error_id == "agents.sod"
        with pytest.raises(RuleViolation) as caught:  # no value on record and no amount
            await decide_compensation(world.ctx, session, adm2, second_id, charge=True, now=T0)
        assert caught.value.error_id == "agents.damage_amount"
        with pytest.raises(RuleViolation):  # waiving needs a reason
            await decide_compensation(world.ctx, session, adm2, second_id, charge=False, now=T0)
    async with world.session() as session, session.begin():
        decided = await decide_compensation(
            world.ctx, session, adm1, first_id, charge=True, cause="human", now=T0 + HOUR
        )
        assert (decided.compensation, decided.amount, decided.cause, decided.decided_by) == (
            "charged",
            Decimal("4500.00"),
            "human",
            "ADM1",
        )
    async with world.session() as session:
        with pytest.raises(RuleViolation) as caught:
            await decide_compensation(world.ctx, session, adm2, first_id, charge=False, note="x", now=T0)
        assert caught.value.error_id == "agents.already_decided"
    assert ("ADM1", "damage.decide") in await audit_actions(world, "asset:PC-001")


async def test_damage_reports_stay_within_the_vendor(sqlite_world: World) -> None:
    world = sqlite_world
    pc = await register(world, "PC-001")
    await issue(world, world.vendor_a, [pc])
    lead_a, lead_b = await world.user("LA1"), await world.user("LB1")
    async with world.session() as session:
        with pytest.raises(PermissionDenied):
            await report_damage(world.ctx, session, lead_b, pc, kind="damage", description="x", now=T0)
        with pytest.raises(RuleViolation):
            await report_damage(world.ctx, session, lead_a, pc, kind="theft", description="x", now=T0)
        with pytest.raises(RuleViolation):
            await report_damage(
                world.ctx,
                session,
                lead_a,
                pc,
                kind="damage",
                description="x",
                now=T0,
                occurred_at=T0 + HOUR,
            )
