"""The loop that makes time-driven rules happen with nobody acting.

Each tick runs every job in its own transaction: effective-dated work-ID requests (14.2), idle
sessions, and the shift-end logout (7.7). The clock is injected so tests drive time themselves; a
failing job is logged and retried at the next tick, never lost silently and never fatal to the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agents.auth import end_idle_sessions, end_sessions_at_shift_end
from agents.context import AgentsContext
from agents.lifecycle import apply_due

__all__ = ["DEFAULT_JOBS", "Job", "run_scheduler", "tick"]

log = logging.getLogger(__name__)

Job = Callable[[AgentsContext, AsyncSession, datetime], Awaitable[object]]

DEFAULT_JOBS: Final[tuple[Job, ...]] = (apply_due, end_idle_sessions, end_sessions_at_shift_end)


async def tick(
    ctx: AgentsContext,
    session_factory: async_sessionmaker[AsyncSession],
    now: datetime,
    jobs: Sequence[Job] = DEFAULT_JOBS,
) -> int:
    """Run each job once at ``now`` in its own committed transaction; the number of jobs that failed."""
    failures = 0
    for job in jobs:
        try:
            async with session_factory() as session, session.begin():
                await job(ctx, session, now)
        except Exception:
            failures += 1
            log.exception("scheduled job %s failed; retrying at the next tick", getattr(job, "__name__", job))
    return failures


async def run_scheduler(
    ctx: AgentsContext,
    session_factory: async_sessionmaker[AsyncSession],
    clock: Callable[[], datetime],
    stop_event: asyncio.Event,
    interval: float,
    jobs: Sequence[Job] = DEFAULT_JOBS,
) -> int:
    """Tick every ``interval`` seconds until ``stop_event`` is set; returns how many ticks ran."""
    ticks = 0
    while not stop_event.is_set():
        await tick(ctx, session_factory, clock(), jobs)
        ticks += 1
        with contextlib.suppress(TimeoutError):  # the interval passed without a stop
            await asyncio.wait_for(stop_event.wait(), timeout=interval)
    return ticks
