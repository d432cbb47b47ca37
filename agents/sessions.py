"""Agent states during a login (第十五条): ready, on_call, wrap_up, paused (with a reason), and seat changes.

Every change is a row of ``agent_state_changes`` with its time; attendance and the dialer's pacing
read them. The login itself (``logged_in``) and its end (``logged_out``) are written by
:mod:`agents.auth` through :func:`record_state` and :func:`close_session`. Services flush; the
caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agents.context import AgentsContext
from agents.errors import InvalidTransition, RuleViolation, SessionConflict, SessionInvalid
from agents.faults import has_report_for_seat_change
from agents.models import AgentStateChange, AuthSession, Seat, User
from agents.org import get_seat, seat_usable_by
from agents.permissions import Actor, Role, require
from agents.shifts import local_day, shift_for

__all__ = [
    "TRANSITIONS",
    "AgentState",
    "SessionView",
    "State",
    "change_seat",
    "check_seat_change",
    "check_seat_free",
    "close_session",
    "current_state",
    "list_open_sessions",
    "open_session_of",
    "record_state",
    "set_state",
]


class State(StrEnum):
    LOGGED_IN = "logged_in"
    READY = "ready"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"
    LOGGED_OUT = "logged_out"


#: the states :func:`set_state` may move to from each state; login and logout belong to agents.auth
TRANSITIONS: Final[dict[State, frozenset[State]]] = {
    State.LOGGED_IN: frozenset({State.READY, State.PAUSED}),
    State.READY: frozenset({State.ON_CALL, State.PAUSED}),
    State.ON_CALL: frozenset({State.WRAP_UP}),
    State.WRAP_UP: frozenset({State.READY, State.PAUSED}),
    State.PAUSED: frozenset({State.READY, State.PAUSED}),
    State.LOGGED_OUT: frozenset(),
}


@dataclass(frozen=True, slots=True)
class AgentState:
    """Where an agent is now: the state, since when, at which seat, and the pause reason if paused."""

    work_id: str
    state: State
    since: datetime | None
    seat_id: int | None
    reason: str | None
    session_id: int | None


@dataclass(frozen=True, slots=True)
class SessionView:
    """An open login as a team lead sees it."""

    session_id: int
    work_id: str
    seat_code: str | None
    started_at: datetime
    last_seen_at: datetime
    expires_at: datetime


async def open_session_of(session: AsyncSession, work_id: str, *, for_update: bool = False) -> AuthSession | None:
    """The work ID's login not ended yet (it may have expired by idleness; callers check ``expires_at``)."""
    stmt = (
        select(AuthSession)
        .where(AuthSession.work_id == work_id, AuthSession.ended_at.is_(None))
        .order_by(AuthSession.started_at.desc())
        .limit(1)
    )
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def record_state(
    session: AsyncSession,
    auth_session: AuthSession,
    state: State,
    *,
    at: datetime,
    reason: str | None = None,
) -> AgentStateChange:
    """Store one state change of the session's agent at its seat."""
    row = AgentStateChange(
        work_id=auth_session.work_id,
        session_id=auth_session.id,
        seat_id=auth_session.seat_id,
        state=state.value,
        reason=reason,
        at=at,
    )
    session.add(row)
    await session.flush()
    return row


async def close_session(
    ctx: AgentsContext,
    session: AsyncSession,
    auth_session: AuthSession,
    *,
    reason: str,
    by: str,
    at: datetime,
    action: str = "auth.logout",
) -> None:
    """End a login: ``logout``, ``expired``, ``forced``, ``shift_end``, ``deleted`` …; recorded and audited."""
    auth_session.ended_at = at
    auth_session.end_reason = reason
    auth_session.ended_by = by
    await record_state(session, auth_session, State.LOGGED_OUT, at=at, reason=reason)
    await ctx.audit.append(
        session,
        actor=by,
        action=action,
        target=f"user:{auth_session.work_id}",
        details={"session_id": auth_session.id, "seat_id": auth_session.seat_id, "reason": reason},
    )


async def _last_change(session: AsyncSession, auth_session: AuthSession) -> AgentStateChange | None:
    stmt = (
        select(AgentStateChange)
        .where(AgentStateChange.session_id == auth_session.id)
        .order_by(AgentStateChange.at.desc(), AgentStateChange.id.desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def current_state(session: AsyncSession, work_id: str, *, now: datetime | None = None) -> AgentState:
    """The agent's state now; ``logged_out`` without an open login (or, given ``now``, an expired one)."""
    auth_session = await open_session_of(session, work_id)
    if auth_session is None or (now is not None and now >= auth_session.expires_at):
        return AgentState(work_id, State.LOGGED_OUT, None, None, None, None)
    last = await _last_change(session, auth_session)
    state = State(last.state) if last is not None else State.LOGGED_IN
    return AgentState(
        work_id=work_id,
        state=state,
        since=last.at if last is not None else auth_session.started_at,
        seat_id=auth_session.seat_id,
        reason=last.reason if last is not None else None,
        session_id=auth_session.id,
    )


async def _live_session(session: AsyncSession, work_id: str, now: datetime) -> AuthSession:
    auth_session = await open_session_of(session, work_id, for_update=True)
    if auth_session is None or now >= auth_session.expires_at:
        raise SessionInvalid(f"{work_id} is not logged in", details={"work_id": work_id})
    return auth_session


async def set_state(
    ctx: AgentsContext,
    session: AsyncSession,
    work_id: str,
    state: State | str,
    *,
    now: datetime,
    reason: str | None = None,
) -> AgentState:
    """Move the logged-in agent to ``state`` (paused needs a reason from ``ctx.pause_reasons``)."""
    target = State(state)
    auth_session = await _live_session(session, work_id, now)
    current = await current_state(session, work_id)
    if target not in TRANSITIONS[current.state]:
        raise InvalidTransition(
            f"{work_id} cannot go from {current.state.value} to {target.value}",
            details={"work_id": work_id, "from": current.state.value, "to": target.value},
        )
    if target == State.PAUSED:
        if reason not in ctx.pause_reasons:
            raise RuleViolation(
                f"a pause needs a reason: one of {'、'.join(ctx.pause_reasons)}",
                error_id="agents.pause_reason",
                details={"allowed": list(ctx.pause_reasons)},
            )
    elif reason is not None:
        raise RuleViolation("only a pause takes a reason", error_id="agents.pause_reason")
    row = await record_state(session, auth_session, target, at=now, reason=reason)
    # a state change is activity: it restarts the idle timer like an authenticated request
    auth_session.last_seen_at = now
    auth_session.expires_at = now + timedelta(minutes=ctx.settings.session_idle_minutes)
    return AgentState(work_id, target, row.at, auth_session.seat_id, reason, auth_session.id)


async def check_seat_free(session: AsyncSession, seat: Seat, *, work_id: str, now: datetime) -> None:
    """Refuse a seat someone else is logged in at (one person per seat)."""
    other = (
        await session.execute(
            select(AuthSession.work_id)
            .where(
                AuthSession.seat_id == seat.id,
                AuthSession.ended_at.is_(None),
                AuthSession.expires_at > now,
                AuthSession.work_id != work_id,
            )
            .limit(1)
        )
    ).first()
    if other is not None:
        raise SessionConflict(
            f"seat {seat.code} is in use by another work ID", details={"seat": seat.code}, error_id="agents.seat_busy"
        )


async def check_seat_change(
    ctx: AgentsContext, session: AsyncSession, *, work_id: str, old_seat_id: int, now: datetime
) -> None:
    """Leaving ``old_seat_id`` within the shift needs a fault report on it by the agent (15.1)."""
    window = await shift_for(session, ctx.settings, work_id, now)
    since = window.start if window is not None and window.start <= now else local_day(ctx.settings, now)[0]
    if not await has_report_for_seat_change(session, work_id=work_id, seat_id=old_seat_id, since=since, now=now):
        old = await get_seat(session, old_seat_id)
        raise RuleViolation(
            f"file a fault report on seat {old.code} before moving to another seat (15.1: 禁止只更换座席但不进行报障)",
            error_id="agents.seat_change_without_fault_report",
            details={"work_id": work_id, "old_seat": old.code},
        )


async def change_seat(
    ctx: AgentsContext, session: AsyncSession, work_id: str, new_seat_id: int, *, now: datetime
) -> AgentState:
    """Move a logged-in agent to another seat (not during a call); needs a fault report on the old seat."""
    auth_session = await _live_session(session, work_id, now)
    current = await current_state(session, work_id)
    if current.state in (State.ON_CALL, State.WRAP_UP):
        raise InvalidTransition(
            f"{work_id} cannot change seats during a call", details={"work_id": work_id, "state": current.state.value}
        )
    if auth_session.seat_id == new_seat_id:
        return current
    user = await session.get(User, work_id)
    vendor_id = user.vendor_id if user is not None else None
    seat = await get_seat(session, new_seat_id)
    if not await seat_usable_by(session, new_seat_id, vendor_id, now):
        raise RuleViolation(
            f"seat {seat.code} is not the vendor's and no approved loan covers it (第十条)",
            error_id="agents.seat_not_allowed",
            details={"seat": seat.code},
        )
    await check_seat_free(session, seat, work_id=work_id, now=now)
    old_seat_id = auth_session.seat_id
    if old_seat_id is not None:
        await check_seat_change(ctx, session, work_id=work_id, old_seat_id=old_seat_id, now=now)
    auth_session.seat_id = new_seat_id
    await record_state(session, auth_session, current.state, at=now, reason=current.reason)
    await ctx.audit.append(
        session,
        actor=work_id,
        action="agent.seat_change",
        target=f"user:{work_id}",
        details={"session_id": auth_session.id, "old_seat_id": old_seat_id, "seat_id": new_seat_id},
    )
    return AgentState(work_id, current.state, now, new_seat_id, current.reason, auth_session.id)


async def list_open_sessions(session: AsyncSession, actor: Actor, *, now: datetime) -> list[SessionView]:
    """Open, unexpired logins the actor may see: its vendor's (admins: all)."""
    require(actor, "user.view", vendor_id=actor.vendor_id)
    stmt = (
        select(AuthSession, Seat.code)
        .join(User, User.work_id == AuthSession.work_id)
        .outerjoin(Seat, Seat.id == AuthSession.seat_id)
        .where(AuthSession.ended_at.is_(None), AuthSession.expires_at > now)
        .order_by(AuthSession.work_id)
    )
    if actor.role != Role.ADMIN:
        stmt = stmt.where(User.vendor_id == actor.vendor_id)
    return [
        SessionView(s.id, s.work_id, code, s.started_at, s.last_seen_at, s.expires_at)
        for s, code in (await session.execute(stmt)).all()
    ]
