"""The scheduler applies due requests and logs sessions out with nobody acting, driven by an injected clock."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from agents.auth import login
from agents.context import AgentsContext
from agents.lifecycle import apply_due, decide_change, request_change
from agents.scheduler import DEFAULT_JOBS, run_scheduler
from agents.sessions import State, current_state

from .conftest import PASSWORD, T0, World


async def test_the_loop_applies_due_requests_and_ends_shifts_then_stops(world: World) -> None:
    lead, admin = await world.user("LA1"), await world.user("ADM1")
    effective = T0 + timedelta(days=3)
    async with world.session() as session, session.begin():
        request = await request_change(
            world.ctx,
            session,
            lead,
            kind="change_skills",
            work_id="AA2",
            skills=["edu"],
            effective_at=effective,
            reason="new campaign",
            now=T0,
        )
        await decide_change(world.ctx, session, admin, request.id, approve=True, now=T0)
    async with world.session() as session:
        await login(world.ctx, session, "AA1", PASSWORD, seat_id=world.seat_a1, now=effective)
    times = [effective - timedelta(seconds=1), effective, effective + timedelta(hours=9)]
    seen: list[datetime] = []
    stop = asyncio.Event()

    def clock() -> datetime:
        now = times[len(seen)]
        seen.append(now)
        return now

    async def stop_after_three(ctx: AgentsContext, session: AsyncSession, now: datetime) -> None:
        if len(seen) == len(times):
            stop.set()

    ticks = await run_scheduler(world.ctx, world.factory, clock, stop, 0.001, (*DEFAULT_JOBS, stop_after_three))
    assert ticks == 3
    assert (await world.user("AA2")).skills == ["edu"]
    async with world.session() as session:
        assert (await current_state(session, "AA1")).state == State.LOGGED_OUT


async def test_a_failing_job_is_logged_and_the_loop_goes_on(world: World, caplog: pytest.LogCaptureFixture) -> None:
    stop = asyncio.Event()
    calls: list[datetime] = []

    async def broken(ctx: AgentsContext, session: AsyncSession, now: datetime) -> None:
        calls.append(now)
        if len(calls) == 2:
            stop.set()
        raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR, logger="agents.scheduler"):
        ticks = await run_scheduler(world.ctx, world.factory, lambda: T0, stop, 0.001, (broken, apply_due))
    assert ticks == 2
    assert len(calls) == 2
    assert "retrying at the next tick" in caplog.text
