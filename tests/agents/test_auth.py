"""Logins (14.4, 7.7): argon2, policy, rotation, lockout, one session per work ID, token expiry, shift end."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from agents.auth import (
    BAD_CREDENTIALS,
    authenticate,
    change_password,
    end_sessions_at_shift_end,
    force_logout,
    hash_token,
    issue_password,
    login,
    logout,
)
from agents.context import AgentsContext
from agents.errors import (
    AccountLocked,
    AuthError,
    PasswordExpired,
    PermissionDenied,
    RuleViolation,
    SessionConflict,
    SessionInvalid,
)
from agents.models import AttendanceRecord, AuthSession
from agents.sessions import State, current_state, set_state
from waihu.migrate import upgrade
from waihu.models import AuditEntry

from .conftest import PASSWORD, T0, World, build_world

MIN = timedelta(minutes=1)


async def _login(world: World, work_id: str, password: str = PASSWORD, *, seat: int | None = None, now=T0):  # type: ignore[no-untyped-def]
    async with world.session() as session:
        return await login(world.ctx, session, work_id, password, seat_id=seat, now=now)


async def _actions(world: World, target: str) -> list[tuple[str, str]]:
    async with world.session() as session:
        rows = await session.execute(
            select(AuditEntry.actor, AuditEntry.action).where(AuditEntry.target == target).order_by(AuditEntry.seq)
        )
        return [(a, b) for a, b in rows]


async def test_passwords_are_stored_as_argon2id_hashes(world: World) -> None:
    user = await world.user("AA1")
    assert user.password_hash is not None
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    result = await _login(world, "AA1", seat=world.seat_a1)
    async with world.session() as session:
        stored = (await session.execute(select(AuthSession.token_hash))).scalar_one()
    assert stored == hash_token(result.token) != result.token


async def test_unknown_id_and_wrong_password_fail_alike_and_are_audited_without_the_password(world: World) -> None:
    for work_id, password in (("NOPE", PASSWORD), ("AA1", "Wrong1234xyz")):
        with pytest.raises(AuthError) as caught:
            await _login(world, work_id, password)
        assert type(caught.value) is AuthError
        assert caught.value.message == BAD_CREDENTIALS
    async with world.session() as session:
        texts = [f"{e.actor} {e.target} {e.details}" for e in (await session.execute(select(AuditEntry))).scalars()]
    assert not any("Wrong1234xyz" in t or PASSWORD in t or "NOPE" in t for t in texts)
    assert ("anonymous", "auth.login_failed") in await _actions(world, "user:unknown")
    assert ("AA1", "auth.login_failed") in await _actions(world, "user:AA1")


async def test_five_failures_lock_the_id_for_exactly_fifteen_minutes(world: World) -> None:
    for i in range(4):
        with pytest.raises(AuthError) as caught:
            await _login(world, "AA1", "Wrong1234xyz", now=T0 + i * MIN)
        assert not isinstance(caught.value, AccountLocked)
    with pytest.raises(AccountLocked) as locked:
        await _login(world, "AA1", "Wrong1234xyz", now=T0 + 4 * MIN)
    until = T0 + 4 * MIN + 15 * MIN
    assert locked.value.details["locked_until"] == until.isoformat()
    with pytest.raises(AccountLocked):  # even the right password, one microsecond before the end
        await _login(world, "AA1", now=until - timedelta(microseconds=1))
    await _login(world, "AA1", now=until)
    assert ("AA1", "auth.locked") in await _actions(world, "user:AA1")


async def test_four_failures_then_a_success_reset_the_count(world: World) -> None:
    for i in range(4):
        with pytest.raises(AuthError):
            await _login(world, "AA1", "Wrong1234xyz", now=T0 + i * MIN)
    result = await _login(world, "AA1", now=T0 + 5 * MIN)
    async with world.session() as session:
        await logout(world.ctx, session, result.token, now=T0 + 6 * MIN)
        await session.commit()
    for i in range(4):
        with pytest.raises(AuthError) as caught:
            await _login(world, "AA1", "Wrong1234xyz", now=T0 + (7 + i) * MIN)
        assert not isinstance(caught.value, AccountLocked)
    assert (await world.user("AA1")).failed_logins == 4


async def test_a_password_expires_after_90_days_not_89(world: World) -> None:
    result = await _login(world, "AA1", now=T0 + timedelta(days=89, hours=23))
    async with world.session() as session:
        await logout(world.ctx, session, result.token, now=T0 + timedelta(days=89, hours=23, minutes=1))
        await session.commit()
    with pytest.raises(PasswordExpired):
        await _login(world, "AA2", now=T0 + timedelta(days=90))
    async with world.session() as session:
        await change_password(world.ctx, session, "AA2", PASSWORD, "Fresh5678pqr", now=T0 + timedelta(days=90))
    await _login(world, "AA2", "Fresh5678pqr", now=T0 + timedelta(days=90))
    assert ("AA2", "auth.password_changed") in await _actions(world, "user:AA2")


async def test_a_new_id_must_change_its_one_time_password_first(world: World) -> None:
    lead = await world.user("LA1")
    async with world.session() as session, session.begin():
        one_time = await issue_password(world.ctx, session, lead, "AA1", now=T0)
    with pytest.raises(PasswordExpired):
        await _login(world, "AA1", one_time)
    async with world.session() as session:
        await change_password(world.ctx, session, "AA1", one_time, "Mine2026abcd", now=T0)
    await _login(world, "AA1", "Mine2026abcd")
    lead_b = await world.user("LB1")
    async with world.session() as session:
        with pytest.raises(PermissionDenied):
            await issue_password(world.ctx, session, lead_b, "AA1", now=T0)


@pytest.mark.parametrize(
    ("new", "problem"),
    [
        ("Ab1", "at least 8 characters"),
        ("abcdefghij", "letters and digits"),
        ("1234567890", "letters and digits"),
        ("xxaa1yy2zz", "must not contain the work ID"),
        (PASSWORD, "must differ from the previous password"),
    ],
)
async def test_password_policy(sqlite_world: World, new: str, problem: str) -> None:
    world = sqlite_world
    async with world.session() as session:
        with pytest.raises(RuleViolation) as caught:
            await change_password(world.ctx, session, "AA1", PASSWORD, new, now=T0)
    assert problem in caught.value.details["problems"]  # type: ignore[operator]
    assert new not in caught.value.message


async def test_change_password_checks_the_old_one(world: World) -> None:
    async with world.session() as session:
        with pytest.raises(AuthError):
            await change_password(world.ctx, session, "AA1", "Wrong1234xyz", "Fresh5678pqr", now=T0)
    assert (await world.user("AA1")).failed_logins == 1


async def test_one_session_per_work_id_until_a_lead_forces_it_out(world: World) -> None:
    await _login(world, "AA1", seat=world.seat_a1)
    with pytest.raises(SessionConflict) as caught:
        await _login(world, "AA1", seat=world.seat_a2, now=T0 + MIN)
    assert "A-01" in caught.value.message
    assert caught.value.details["seat"] == "A-01"
    for who in ("AA2", "LB1"):  # an agent, and another vendor's lead
        actor = await world.user(who)
        async with world.session() as session:
            with pytest.raises(PermissionDenied):
                await force_logout(world.ctx, session, actor, "AA1", now=T0 + 2 * MIN)
    lead = await world.user("LA1")
    async with world.session() as session, session.begin():
        await force_logout(world.ctx, session, lead, "AA1", now=T0 + 2 * MIN)
    await _login(world, "AA1", seat=world.seat_a1, now=T0 + 3 * MIN)
    assert ("LA1", "auth.force_logout") in await _actions(world, "user:AA1")
    async with world.session() as session:
        ended = (await session.execute(select(AuthSession).where(AuthSession.end_reason == "forced"))).scalar_one()
        assert (ended.ended_by, ended.ended_at) == ("LA1", T0 + 2 * MIN)
        assert (await world.ctx.audit.verify(session)).ok


async def test_a_seat_holds_one_person(world: World) -> None:
    await _login(world, "AA1", seat=world.seat_a1)
    with pytest.raises(SessionConflict) as caught:
        await _login(world, "AA2", seat=world.seat_a1)
    assert caught.value.error_id == "agents.seat_busy"


async def test_another_vendors_seat_needs_an_approved_loan(world: World) -> None:
    with pytest.raises(RuleViolation) as caught:
        await _login(world, "AA1", seat=world.seat_b1)
    assert caught.value.error_id == "agents.seat_not_allowed"


async def test_tokens_expire_after_the_idle_time_and_use_refreshes_them(world: World) -> None:
    idle = timedelta(minutes=world.ctx.settings.session_idle_minutes)
    result = await _login(world, "AA1")
    async with world.session() as session, session.begin():
        await authenticate(world.ctx, session, result.token, now=T0 + idle - MIN)
    async with world.session() as session, session.begin():
        auth_session = await authenticate(world.ctx, session, result.token, now=T0 + 2 * idle - 2 * MIN)
        assert auth_session.last_seen_at == T0 + 2 * idle - 2 * MIN
    async with world.session() as session:
        with pytest.raises(SessionInvalid):
            await authenticate(world.ctx, session, result.token, now=T0 + 3 * idle - 2 * MIN)
        with pytest.raises(SessionInvalid):
            await authenticate(world.ctx, session, "not-a-token", now=T0)
    # an expired session does not block a new login
    await _login(world, "AA1", now=T0 + 3 * idle)


async def test_logout_ends_the_token(world: World) -> None:
    result = await _login(world, "AA1")
    async with world.session() as session, session.begin():
        await logout(world.ctx, session, result.token, now=T0 + MIN)
    async with world.session() as session:
        with pytest.raises(SessionInvalid):
            await authenticate(world.ctx, session, result.token, now=T0 + 2 * MIN)


async def test_sessions_end_at_the_default_shift_end(world: World) -> None:
    shift_end = T0 + timedelta(hours=8)  # 18:00 in Shanghai
    result = await _login(world, "AA1", seat=world.seat_a1)
    async with world.session() as session, session.begin():
        assert await end_sessions_at_shift_end(world.ctx, session, shift_end - timedelta(microseconds=1)) == []
        assert await end_sessions_at_shift_end(world.ctx, session, shift_end) == [result.session_id]
    async with world.session() as session:
        ended = await session.get(AuthSession, result.session_id)
        assert ended is not None
        assert (ended.end_reason, ended.ended_by, ended.ended_at) == ("shift_end", "system", shift_end)
        assert (await current_state(session, "AA1")).state == State.LOGGED_OUT


async def test_sessions_end_at_the_agents_own_shift_end_but_not_during_a_call(world: World) -> None:
    shift_end = T0 + timedelta(minutes=30)
    async with world.session() as session, session.begin():
        session.add(AttendanceRecord(work_id="AA1", kind="shift", start=T0 - timedelta(hours=2), end=shift_end))
    result = await _login(world, "AA1", seat=world.seat_a1)
    async with world.session() as session, session.begin():
        await set_state(world.ctx, session, "AA1", "ready", now=T0 + MIN)
        await set_state(world.ctx, session, "AA1", "on_call", now=shift_end - MIN)
    async with world.session() as session, session.begin():
        assert await end_sessions_at_shift_end(world.ctx, session, shift_end) == []
        await set_state(world.ctx, session, "AA1", "wrap_up", now=shift_end + MIN)
        await set_state(world.ctx, session, "AA1", "ready", now=shift_end + 2 * MIN)
    async with world.session() as session, session.begin():
        assert await end_sessions_at_shift_end(world.ctx, session, shift_end + 3 * MIN) == [result.session_id]


async def test_overtime_without_a_shift_record_is_not_cut(world: World) -> None:
    evening = T0 + timedelta(hours=10)  # 20:00 in Shanghai, after the default shift
    await _login(world, "AA1", now=evening)
    async with world.session() as session, session.begin():
        assert await end_sessions_at_shift_end(world.ctx, session, evening + timedelta(hours=1)) == []


@pytest.mark.postgres
async def test_two_simultaneous_logins_open_one_session(ctx: AgentsContext, pg_engine: AsyncEngine) -> None:
    await upgrade(pg_engine)
    world = await build_world(ctx, pg_engine)
    outcomes = await asyncio.gather(
        _login(world, "AA1", seat=world.seat_a1), _login(world, "AA1", seat=world.seat_a2), return_exceptions=True
    )
    assert sorted(type(o).__name__ for o in outcomes) == ["LoginResult", "SessionConflict"]
    async with world.session() as session:
        assert len((await session.execute(select(AuthSession))).scalars().all()) == 1
