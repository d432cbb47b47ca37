"""Who used a seat last before a moment (12.2: 必须确认最后使用人), from the login records.

A login (``auth_sessions``) may move between seats: the session row keeps only its latest seat, while
every state change (``agent_state_changes``) records the seat it happened at, so a login's stints at
each seat are read from its state changes in order: a stint starts at the first change at a seat and
ends at the next change at another seat, or when the login ends. A login without state changes is one
stint at its seat. The last user before ``at`` is the stint at the seat that started at or before
``at`` and lasted latest (cut at ``at``); a stint still going at ``at`` wins, so a login ending after the
report still names its work ID.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agents.models import AgentStateChange, AuthSession

__all__ = ["CANDIDATES", "LastUser", "last_user_of_seat", "seat_stints"]

#: how many recent logins at a seat are considered (one person per seat: the latest few always include the answer)
CANDIDATES: Final = 20


@dataclass(frozen=True, slots=True)
class Stint:
    """One login's time at one seat; ``end`` None while it goes on."""

    work_id: str
    session_id: int
    seat_id: int
    start: datetime
    end: datetime | None


@dataclass(frozen=True, slots=True)
class LastUser:
    """The last work ID at a seat before a moment, the login it used, and whether it was still there."""

    work_id: str
    session_id: int
    seat_id: int
    since: datetime
    #: when it left the seat; None if it was still there at the moment asked about
    left_at: datetime | None


def _session_end(auth_session: AuthSession) -> datetime | None:
    if auth_session.ended_at is not None:
        return auth_session.ended_at
    return None


def seat_stints(auth_session: AuthSession, changes: list[AgentStateChange], *, at: datetime) -> list[Stint]:
    """The stints of one login, from its state changes (ordered by time); an unclosed login that had
    expired by ``at`` ends at its expiry.
    """
    end = _session_end(auth_session)
    if end is None and auth_session.expires_at <= at:
        end = auth_session.expires_at
    if not changes:
        if auth_session.seat_id is None:
            return []
        return [Stint(auth_session.work_id, auth_session.id, auth_session.seat_id, auth_session.started_at, end)]
    stints: list[Stint] = []
    seat: int | None = None
    start = auth_session.started_at
    for change in changes:
        if change.seat_id != seat:
            if seat is not None:
                stints.append(Stint(auth_session.work_id, auth_session.id, seat, start, change.at))
            seat = change.seat_id
            start = min(change.at, auth_session.started_at) if not stints and seat is not None else change.at
    if seat is not None:
        stints.append(Stint(auth_session.work_id, auth_session.id, seat, start, end))
    return stints


async def last_user_of_seat(session: AsyncSession, seat_id: int, at: datetime) -> LastUser | None:
    """The last work ID logged in at ``seat_id`` at or before ``at`` (None if nobody ever was)."""
    by_change = (
        select(AgentStateChange.session_id)
        .where(
            AgentStateChange.seat_id == seat_id,
            AgentStateChange.at <= at,
            AgentStateChange.session_id.is_not(None),
        )
        .order_by(AgentStateChange.at.desc(), AgentStateChange.id.desc())
        .limit(CANDIDATES)
    )
    by_session = (
        select(AuthSession.id)
        .where(AuthSession.seat_id == seat_id, AuthSession.started_at <= at)
        .order_by(AuthSession.started_at.desc(), AuthSession.id.desc())
        .limit(CANDIDATES)
    )
    ids = {i for i in (await session.execute(by_change)).scalars() if i is not None}
    ids |= set((await session.execute(by_session)).scalars())
    if not ids:
        return None
    sessions = (await session.execute(select(AuthSession).where(AuthSession.id.in_(ids)))).scalars().all()
    changes: dict[int, list[AgentStateChange]] = defaultdict(list)
    for change in (
        await session.execute(
            select(AgentStateChange)
            .where(AgentStateChange.session_id.in_(ids))
            .order_by(AgentStateChange.at, AgentStateChange.id)
        )
    ).scalars():
        assert change.session_id is not None
        changes[change.session_id].append(change)
    best: tuple[datetime, datetime, int] | None = None
    found: LastUser | None = None
    for auth_session in sessions:
        for stint in seat_stints(auth_session, changes[auth_session.id], at=at):
            if stint.seat_id != seat_id or stint.start > at:
                continue
            present = stint.end is None or stint.end > at
            until = at if present or stint.end is None else stint.end
            key = (until, stint.start, stint.session_id)
            if best is None or key > best:
                best = key
                found = LastUser(stint.work_id, stint.session_id, seat_id, stint.start, None if present else stint.end)
    return found
