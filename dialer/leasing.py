"""Lead leases: a lead is leased, atomically and with an expiry, before it is dialed.

Two dialer processes, or one restarted, never dial one lead twice: a lead is handed out only when
its lease is empty or expired, in one statement that both picks and marks it —
``SELECT … FOR UPDATE SKIP LOCKED`` inside the UPDATE on PostgreSQL (concurrent dialers skip each
other's rows instead of waiting), and on SQLite an UPDATE … RETURNING that is the transaction's
first statement, so it takes the database's single write lock at once (as BEGIN IMMEDIATE would)
and nobody else can pick in between. A dialer that dies keeps its leases until they expire; then
the leads are leasable again. Owners must be unique per process (host, pid, a random part).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Final, TypeVar

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dialer.compliance import DEFAULT_POLICY, CompliancePolicy, record_outcome
from dialer.errors import LeaseLost
from dialer.lists import dialable_lists
from dialer.models import CallAttempt, Campaign, Lead

__all__ = ["complete", "due", "lease_leads", "release", "renew"]

T = TypeVar("T")

#: SQLite "database is locked" after busy_timeout: try the lease again this many times
_LOCKED_RETRIES: Final = 5


def _free(now: datetime) -> ColumnElement[bool]:
    return or_(Lead.lease_expires_at.is_(None), Lead.lease_expires_at <= now)


def due(campaign_id: int, now: datetime) -> ColumnElement[bool]:
    """A lead the campaign may dial now, lease aside: dialable, its next attempt due, its list not paused."""
    return and_(
        Lead.campaign_id == campaign_id,
        Lead.status == "dialable",
        Lead.next_attempt_at <= now,
        dialable_lists(campaign_id),
    )


async def lease_leads(
    session_factory: async_sessionmaker[AsyncSession],
    campaign_id: int,
    owner: str,
    n: int,
    now: datetime,
    ttl: timedelta,
) -> list[Lead]:
    """Lease up to ``n`` due leads of a campaign to ``owner`` until ``now + ttl``; returns them.

    Due: status dialable, ``next_attempt_at <= now``, its list not paused, and no lease or an expired one.
    Oldest due first.
    """
    if n <= 0:
        return []
    return await _in_transaction(session_factory, lambda session: _lease(session, campaign_id, owner, n, now, ttl))


async def _in_transaction(
    session_factory: async_sessionmaker[AsyncSession], work: Callable[[AsyncSession], Awaitable[T]]
) -> T:
    """Run ``work`` in a transaction of its own; when SQLite says "database is locked" (another writer
    held the lock past busy_timeout, or committed between our read and our write), roll back and retry."""
    for attempt in range(_LOCKED_RETRIES):
        try:
            async with session_factory() as session, session.begin():
                return await work(session)
        except OperationalError as exc:
            if "locked" not in str(exc) or attempt == _LOCKED_RETRIES - 1:
                raise
            await asyncio.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


async def _lease(
    session: AsyncSession, campaign_id: int, owner: str, n: int, now: datetime, ttl: timedelta
) -> list[Lead]:
    pick = select(Lead.id).where(due(campaign_id, now), _free(now)).order_by(Lead.next_attempt_at, Lead.id).limit(n)
    values = {"lease_owner": owner, "lease_expires_at": now + ttl}
    stmt: Any
    if session.get_bind().dialect.name == "postgresql":
        picked = pick.with_for_update(skip_locked=True).cte("picked")
        stmt = update(Lead).where(Lead.id == picked.c.id).values(values).returning(Lead)
    else:
        stmt = update(Lead).where(Lead.id.in_(pick.scalar_subquery()), _free(now)).values(values).returning(Lead)
    leads = list((await session.scalars(stmt, execution_options={"synchronize_session": False})).all())
    leads.sort(key=lambda lead: (lead.next_attempt_at, lead.id))
    return leads


async def release(session_factory: async_sessionmaker[AsyncSession], lead_ids: Sequence[int], owner: str) -> int:
    """Give back leads not dialed (a paused campaign, a shutdown); returns how many were still ours."""
    if not lead_ids:
        return 0

    async def work(session: AsyncSession) -> int:
        result = await session.execute(
            update(Lead)
            .where(Lead.id.in_(list(lead_ids)), Lead.lease_owner == owner)
            .values(lease_owner=None, lease_expires_at=None)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0))

    return await _in_transaction(session_factory, work)


async def renew(
    session_factory: async_sessionmaker[AsyncSession],
    lead_ids: Sequence[int],
    owner: str,
    now: datetime,
    ttl: timedelta,
) -> list[int]:
    """Extend our leases (a call still ringing or talking); returns the ids renewed.

    A lease that expired and was taken by another owner is not renewed: that id is missing from
    the result and the caller must not record the call on it.
    """
    if not lead_ids:
        return []

    async def work(session: AsyncSession) -> list[int]:
        rows = await session.scalars(
            update(Lead)
            .where(Lead.id.in_(list(lead_ids)), Lead.lease_owner == owner)
            .values(lease_expires_at=now + ttl)
            .returning(Lead.id)
            .execution_options(synchronize_session=False)
        )
        return sorted(rows.all())

    return await _in_transaction(session_factory, work)


async def complete(
    session_factory: async_sessionmaker[AsyncSession],
    lead_id: int,
    owner: str,
    *,
    result: str,
    started_at: datetime,
    ended_at: datetime | None = None,
    call_id: str | None = None,
    cause: str | None = None,
    outcome: str | None = None,
    outcome_category: str | None = None,
    abandoned: bool = False,
    callback_at: datetime | None = None,
    policy: CompliancePolicy = DEFAULT_POLICY,
) -> CallAttempt:
    """Record how the dial of a leased lead ended and free the lease, in one transaction.

    Raises LeaseLost if the lead is no longer leased by ``owner`` (released, or expired and taken
    by another dialer). A lease that expired but was not taken is still ours: the call happened.
    """

    async def work(session: AsyncSession) -> CallAttempt:
        query = select(Lead).where(Lead.id == lead_id, Lead.lease_owner == owner)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        lead = (await session.scalars(query)).first()
        if lead is None:
            raise LeaseLost(f"lead {lead_id} is not leased by {owner}", details={"lead_id": lead_id, "owner": owner})
        campaign = await session.get(Campaign, lead.campaign_id)
        assert campaign is not None  # foreign key
        attempt = await record_outcome(
            session,
            lead,
            campaign,
            result=result,
            started_at=started_at,
            ended_at=ended_at,
            call_id=call_id,
            cause=cause,
            outcome=outcome,
            outcome_category=outcome_category,
            abandoned=abandoned,
            callback_at=callback_at,
            policy=policy,
        )
        lead.lease_owner = None
        lead.lease_expires_at = None
        await session.flush()
        return attempt

    return await _in_transaction(session_factory, work)
