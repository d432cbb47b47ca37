"""Funnels and the review sample read from a seeded simulated campaign's stored calls."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from api.qa_service import campaign_funnel, sample_for_review
from dialer.backends.clock import RealClock
from dialer.floor import Floor
from dialer.models import CallAttempt
from recordings.errors import NotVisible
from recordings.viewer import Viewer
from tests.dialer.factories import T0, add_leads, make_world
from tests.dialer.test_runner import phones, runner_for, start


async def test_the_funnel_and_the_sample_of_a_simulated_campaign(sqlite_engine: AsyncEngine) -> None:
    world = await make_world(sqlite_engine)
    campaign = await start(world, ["A1", "A2"])
    await add_leads(world, campaign.id, phones(30))
    clock = RealClock()
    floor = Floor(clock)
    floor.add("A1", "bot/A1")
    floor.add("A2", "bot/A2")
    stats = await asyncio.wait_for(runner_for(world, campaign, floor, clock).run(), 60)
    since, until = T0 - timedelta(days=1), T0 + timedelta(days=1)
    lead_vendor = Viewer("L1", world.vendor_id)

    async with world.factory() as session:
        conversations = (await session.scalars(select(CallAttempt).where(CallAttempt.transcript.is_not(None)))).all()
        result, rows = await campaign_funnel(
            session, world.registry, lead_vendor, campaign.id, since=since, until=until
        )
        assert result.calls == len(conversations) == stats.answered > 0
        assert result.reached["connect"] == result.calls
        assert rows[0]["state"] == "connect"
        assert all(0 <= int(str(r["reached"])) <= result.calls for r in rows)
        # every answer counted on the screen it was given, and every outcome once
        chosen = Counter(
            (e["state"], e["label"]) for c in conversations for e in c.transcript or [] if e["kind"] == "choose"
        )
        assert dict(result.answers) == dict(chosen)
        assert dict(result.outcomes) == dict(Counter(c.outcome or "(none)" for c in conversations))
        offer = next(r for r in rows if r["state"] == "offer_category")
        assert offer["reached"] == sum(
            1 for c in conversations if any(e["state"] == "offer_category" for e in c.transcript or [])
        )

        picked = await sample_for_review(
            session, world.registry, lead_vendor, per_agent_per_week=2, since=since, until=until, seed=1
        )
        agents = Counter(p.work_id for p in picked)
        assert set(agents) <= {"A1", "A2"}
        assert all(n <= 2 for n in agents.values())
        assert {p.call_id for p in picked} <= {c.call_id for c in conversations}

        with pytest.raises(NotVisible):
            await campaign_funnel(
                session, world.registry, Viewer("X9", world.other_vendor_id), campaign.id, since=since, until=until
            )
        assert (
            await sample_for_review(
                session,
                world.registry,
                Viewer("X9", world.other_vendor_id),
                per_agent_per_week=2,
                since=since,
                until=until,
            )
            == []
        )
