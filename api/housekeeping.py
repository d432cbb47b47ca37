"""The time-driven rules of work IDs and logins, run inside the API with nobody acting.

Every ``interval`` seconds one round of :func:`agents.scheduler.tick`: approved work-ID requests whose
effective time has come are applied (14.2), logins past their idle expiry end, and logins whose shift has
ended are logged out (7.7; an agent on a call or in wrap-up is left to finish and goes at a later round).
A login that a round ended also leaves the dialer's floor, and its console is told and closed (the page
goes to the login). ``waihu serve`` and ``waihu demo`` run it; ``waihu agents apply-due`` does one round by
hand (cron, or a server without the API).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agents.auth import end_idle_sessions, end_sessions_at_shift_end
from agents.context import AgentsContext
from agents.lifecycle import apply_due
from agents.models import AuthSession
from agents.scheduler import Job, tick
from api.deps import AppState
from api.periodic import Periodic
from api.ws import login_ended

__all__ = ["INTERVAL", "Housekeeper"]


#: seconds between two rounds in ``waihu serve`` and ``waihu demo``
INTERVAL: Final = 30.0


class Housekeeper(Periodic):
    """One task, started and stopped by the app's lifespan."""

    def __init__(self, state: AppState, *, interval: float, now: Callable[[], datetime]) -> None:
        super().__init__("housekeeping", interval)
        self.state = state
        self.now = now

    async def round(self) -> list[str]:
        """One round; the work IDs whose login it ended (they are off the floor and their consoles closed)."""
        ended: list[int] = []

        def noting(job: Callable[[AgentsContext, AsyncSession, datetime], Awaitable[list[int]]]) -> Job:
            async def run(ctx: AgentsContext, session: AsyncSession, now: datetime) -> list[int]:
                ids = await job(ctx, session, now)
                ended.extend(ids)
                return ids

            return run

        await tick(
            self.state.agents,
            self.state.sessions,
            self.now(),
            (apply_due, noting(end_idle_sessions), noting(end_sessions_at_shift_end)),
        )
        if not ended:
            return []
        async with self.state.sessions() as session:
            # only the logins whose job committed (a failed job rolled its transaction back)
            rows = (
                await session.execute(
                    select(AuthSession.work_id, AuthSession.end_reason).where(
                        AuthSession.id.in_(ended), AuthSession.ended_at.is_not(None)
                    )
                )
            ).all()
        for work_id, reason in rows:
            await login_ended(self.state, work_id, reason or "signed_out")
        return [work_id for work_id, _ in rows]
