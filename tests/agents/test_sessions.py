"""Agent states and seat changes (第十五条), fault reports open -> acknowledged -> fixed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from agents.auth import login, logout
from agents.errors import InvalidTransition, PermissionDenied, RuleViolation, SessionInvalid
from agents.faults import acknowledge_fault, fix_fault, get_fault, list_faults, report_fault
from agents.models import AgentStateChange
from agents.sessions import State, change_seat, current_state, list_open_sessions, set_state

from .conftest import PASSWORD, T0, World

MIN = timedelta(minutes=1)


async def _login(world: World, work_id: str, seat: int | None, now=T0) -> str:  # type: ignore[no-untyped-def]
    async with world.session() as session:
        return (await login(world.ctx, session, work_id, PASSWORD, seat_id=seat, now=now)).token


async def _set(world: World, state: str, at_minute: int, reason: str | None = None, work_id: str = "AA1") -> None:
    async with world.session() as session, session.begin():
        await set_state(world.ctx, session, work_id, state, now=T0 + at_minute * MIN, reason=reason)


async def _fault(world: World, work_id: str, seat: int, at_minute: int) -> int:
    actor = await world.user(work_id)
    async with world.session() as session, session.begin():
        report = await report_fault(
            world.ctx, session, actor, seat_id=seat, description="耳麦无声", now=T0 + at_minute * MIN
        )
        return report.id


async def test_a_call_cycle_is_recorded_state_by_state(world: World) -> None:
    token = await _login(world, "AA1", world.seat_a1)
    await _set(world, "ready", 1)
    await _set(world, "on_call", 2)
    await _set(world, "wrap_up", 5)
    await _set(world, "paused", 6, reason="小休")
    await _set(world, "ready", 16)
    async with world.session() as session:
        state = await current_state(session, "AA1")
        assert (state.state, state.since, state.seat_id) == (State.READY, T0 + 16 * MIN, world.seat_a1)
        await logout(world.ctx, session, token, now=T0 + 20 * MIN)
        await session.commit()
        rows = (
            await session.execute(
                select(AgentStateChange.state, AgentStateChange.reason, AgentStateChange.at)
                .where(AgentStateChange.work_id == "AA1")
                .order_by(AgentStateChange.at)
            )
        ).all()
    assert [(s, r, at - T0) for s, r, at in rows] == [
        ("logged_in", None, 0 * MIN),
        ("ready", None, 1 * MIN),
        ("on_call", None, 2 * MIN),
        ("wrap_up", None, 5 * MIN),
        ("paused", "小休", 6 * MIN),
        ("ready", None, 16 * MIN),
        ("logged_out", "logout", 20 * MIN),
    ]


@pytest.mark.parametrize(
    ("path", "bad"),
    [
        (["ready", "on_call"], "ready"),  # no ready without wrap-up
        ([], "on_call"),  # on_call only from ready
        (["paused"], "on_call"),
        (["ready", "on_call"], "paused"),
    ],
)
async def test_forbidden_transitions(sqlite_world: World, path: list[str], bad: str) -> None:
    world = sqlite_world
    await _login(world, "AA1", world.seat_a1)
    for minute, state in enumerate(path, start=1):
        await _set(world, state, minute, reason="会议" if state == "paused" else None)
    with pytest.raises(InvalidTransition):
        await _set(world, bad, 10, reason="会议" if bad == "paused" else None)


async def test_a_pause_needs_a_reason_from_the_list(world: World) -> None:
    await _login(world, "AA1", world.seat_a1)
    with pytest.raises(RuleViolation) as caught:
        await _set(world, "paused", 1)
    assert "小休、培训、会议、如厕、故障" in caught.value.message
    with pytest.raises(RuleViolation):
        await _set(world, "paused", 1, reason="吃饭")
    await _set(world, "paused", 1, reason="如厕")


async def test_state_changes_need_a_login(world: World) -> None:
    with pytest.raises(SessionInvalid):
        await _set(world, "ready", 1)
    async with world.session() as session:
        assert (await current_state(session, "AA1")).state == State.LOGGED_OUT


async def test_a_seat_change_without_a_fault_report_is_refused(world: World) -> None:
    await _login(world, "AA1", world.seat_a1)
    async with world.session() as session:
        with pytest.raises(RuleViolation) as caught:
            await change_seat(world.ctx, session, "AA1", world.seat_a2, now=T0 + 5 * MIN)
    assert caught.value.error_id == "agents.seat_change_without_fault_report"
    assert "A-01" in caught.value.message
    await _fault(world, "AA2", world.seat_a1, 6)  # somebody else's report does not count
    async with world.session() as session:
        with pytest.raises(RuleViolation):
            await change_seat(world.ctx, session, "AA1", world.seat_a2, now=T0 + 7 * MIN)
    await _fault(world, "AA1", world.seat_a1, 8)
    async with world.session() as session, session.begin():
        state = await change_seat(world.ctx, session, "AA1", world.seat_a2, now=T0 + 9 * MIN)
    assert state.seat_id == world.seat_a2


async def test_logging_in_at_another_seat_in_the_same_shift_needs_a_fault_report(world: World) -> None:
    token = await _login(world, "AA1", world.seat_a1)
    async with world.session() as session, session.begin():
        await logout(world.ctx, session, token, now=T0 + 10 * MIN)
    with pytest.raises(RuleViolation):
        await _login(world, "AA1", world.seat_a2, now=T0 + 11 * MIN)
    await _login(world, "AA1", world.seat_a1, now=T0 + 12 * MIN)  # the same seat is fine


async def test_a_new_shift_starts_at_any_seat(world: World) -> None:
    token = await _login(world, "AA1", world.seat_a1)
    async with world.session() as session, session.begin():
        await logout(world.ctx, session, token, now=T0 + 10 * MIN)
    await _login(world, "AA1", world.seat_a2, now=T0 + timedelta(days=1))


async def test_fault_reports_go_open_acknowledged_fixed(world: World) -> None:
    fault_id = await _fault(world, "AA1", world.seat_a1, 0)
    admin, lead = await world.user("ADM1"), await world.user("LA1")
    async with world.session() as session, session.begin():
        with pytest.raises(PermissionDenied):
            await acknowledge_fault(world.ctx, session, lead, fault_id, now=T0 + MIN)
        with pytest.raises(InvalidTransition):
            await fix_fault(world.ctx, session, admin, fault_id, resolution="换耳麦", now=T0 + MIN)
    async with world.session() as session, session.begin():
        await acknowledge_fault(world.ctx, session, admin, fault_id, now=T0 + 2 * MIN)
        report = await fix_fault(world.ctx, session, admin, fault_id, resolution="换耳麦", now=T0 + 30 * MIN)
    assert (report.status, report.vendor_id, report.reported_by) == ("fixed", world.vendor_a, "AA1")
    assert (report.acknowledged_by, report.acknowledged_at) == ("ADM1", T0 + 2 * MIN)
    assert (report.fixed_by, report.fixed_at, report.resolution) == ("ADM1", T0 + 30 * MIN, "换耳麦")


async def test_a_fixed_report_from_this_shift_still_allows_the_move(world: World) -> None:
    await _login(world, "AA1", world.seat_a1)
    fault_id = await _fault(world, "AA1", world.seat_a1, 1)
    admin = await world.user("ADM1")
    async with world.session() as session, session.begin():
        await acknowledge_fault(world.ctx, session, admin, fault_id, now=T0 + 2 * MIN)
        await fix_fault(world.ctx, session, admin, fault_id, resolution="ok", now=T0 + 3 * MIN)
        await change_seat(world.ctx, session, "AA1", world.seat_a2, now=T0 + 4 * MIN)


async def test_vendor_isolation_of_faults_and_sessions(world: World) -> None:
    fault_id = await _fault(world, "AA1", world.seat_a1, 0)
    await _login(world, "AA1", world.seat_a1)
    await _login(world, "AB1", world.seat_b1)
    lead_a, lead_b, admin = await world.user("LA1"), await world.user("LB1"), await world.user("ADM1")
    async with world.session() as session:
        assert await list_faults(session, lead_b) == []
        assert [f.id for f in await list_faults(session, lead_a)] == [fault_id]
        with pytest.raises(PermissionDenied):
            await get_fault(session, lead_b, fault_id)
        assert [s.work_id for s in await list_open_sessions(session, lead_b, now=T0)] == ["AB1"]
        assert [s.work_id for s in await list_open_sessions(session, admin, now=T0)] == ["AA1", "AB1"]
        assert [s.seat_code for s in await list_open_sessions(session, lead_a, now=T0)] == ["A-01"]
