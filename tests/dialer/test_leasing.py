"""Lead leases: two dialers never lease one lead twice; a killed dialer's leads come back after the TTL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dialer.errors import LeaseLost
from dialer.leasing import complete, lease_leads, release, renew
from dialer.models import Lead
from tests.dialer.factories import T0, World, add_leads, make_campaign, make_world
from waihu.db import engine_from_url, session_factory

TTL = timedelta(minutes=5)


def phones(n: int, start: int = 0) -> list[str]:
    return [f"138{i:08d}" for i in range(start, start + n)]


async def second_engine(engine: AsyncEngine) -> AsyncEngine:
    """Another engine (its own pool and connections) on the same database, as a second dialer process has."""
    if engine.dialect.name == "postgresql":
        async with engine.connect() as connection:
            schema = (await connection.execute(text("select current_schema()"))).scalar_one()
        return engine_from_url(
            engine.url.render_as_string(hide_password=False),
            connect_args={"server_settings": {"search_path": schema}, "timeout": 10},
        )
    return engine_from_url(engine.url.render_as_string(hide_password=False))


@pytest.fixture
async def world(engine: AsyncEngine) -> World:
    return await make_world(engine)


async def test_two_runners_never_lease_one_lead_twice(world: World) -> None:
    campaign = await make_campaign(world)
    leads = await add_leads(world, campaign.id, phones(300))
    other = await second_engine(world.engine)
    try:
        factories = [world.factory, session_factory(other)]

        async def runner(name: str, factory: object) -> list[int]:
            got: list[int] = []
            empty = 0
            while empty < 3:
                batch = await lease_leads(factory, campaign.id, name, 7, T0, TTL)  # type: ignore[arg-type]
                got += [lead.id for lead in batch]
                empty = 0 if batch else empty + 1
                await asyncio.sleep(0.001)  # the other runners' turn
            return got

        for factory in factories:  # both "processes" connected before the race starts
            async with factory() as session:
                await session.execute(text("select 1"))

        results = await asyncio.gather(
            *(runner(f"dialer-{i}", factories[i % 2]) for i in range(4))  # two processes, two tasks each
        )
    finally:
        await other.dispose()
    everything = [lead_id for got in results for lead_id in got]
    assert len(everything) == len(set(everything)), "a lead was leased twice"
    assert sorted(everything) == sorted(lead.id for lead in leads), "every lead is leased exactly once"
    assert results[0] + results[2], "the first process got work"
    assert results[1] + results[3], "the second process got work"


async def test_killed_runner_leads_come_back_after_the_ttl_not_before(world: World) -> None:
    campaign = await make_campaign(world)
    await add_leads(world, campaign.id, phones(10))
    killed = await lease_leads(world.factory, campaign.id, "dialer-killed", 10, T0, TTL)
    assert len(killed) == 10
    assert all(lead.lease_owner == "dialer-killed" and lead.lease_expires_at == T0 + TTL for lead in killed)
    # the killed dialer never releases; another dialer polls
    assert await lease_leads(world.factory, campaign.id, "dialer-2", 10, T0 + TTL - timedelta(seconds=1), TTL) == []
    taken = await lease_leads(world.factory, campaign.id, "dialer-2", 10, T0 + TTL, TTL)
    assert sorted(lead.id for lead in taken) == sorted(lead.id for lead in killed)
    # the killed dialer, back from the dead, may not record on leads it lost
    with pytest.raises(LeaseLost):
        await complete(world.factory, killed[0].id, "dialer-killed", result="answered", started_at=T0)
    assert await renew(world.factory, [lead.id for lead in killed], "dialer-killed", T0 + TTL, TTL) == []


async def test_only_due_dialable_leads_of_the_campaign_are_leased(world: World) -> None:
    campaign = await make_campaign(world)
    other = await make_campaign(world, name="c2")
    due = await add_leads(world, campaign.id, phones(2))
    await add_leads(world, campaign.id, phones(2, 100), next_attempt_at=T0 + timedelta(hours=1))
    await add_leads(world, other.id, phones(2, 200))
    async with world.factory() as session, session.begin():
        closed = await session.get(Lead, due[1].id)
        assert closed is not None
        closed.status = "done"
    got = await lease_leads(world.factory, campaign.id, "d1", 10, T0, TTL)
    assert [lead.id for lead in got] == [due[0].id]
    assert await lease_leads(world.factory, campaign.id, "d1", 0, T0, TTL) == []


async def test_release_renew_and_complete(world: World) -> None:
    campaign = await make_campaign(world)
    await add_leads(world, campaign.id, phones(3))
    a, b, c = await lease_leads(world.factory, campaign.id, "d1", 3, T0, TTL)
    assert await release(world.factory, [a.id], "someone-else") == 0
    assert await release(world.factory, [a.id], "d1") == 1
    assert [lead.id for lead in await lease_leads(world.factory, campaign.id, "d2", 3, T0, TTL)] == [a.id]
    assert await renew(world.factory, [b.id, c.id, a.id], "d1", T0 + TTL, TTL) == sorted([b.id, c.id])
    # renewed: b and c are still d1's after the first TTL; only d2's expired lease on a is free
    assert [lead.id for lead in await lease_leads(world.factory, campaign.id, "d3", 3, T0 + TTL, TTL)] == [a.id]
    attempt = await complete(
        world.factory,
        b.id,
        "d1",
        result="answered",
        started_at=T0,
        ended_at=T0 + timedelta(minutes=2),
        call_id="call-b",
        outcome="agreed",
        outcome_category="success",
    )
    assert attempt.call_id == "call-b"
    async with world.factory() as session:
        lead = await session.get(Lead, b.id)
        assert lead is not None
        assert (lead.status, lead.attempts, lead.lease_owner, lead.last_outcome) == ("done", 1, None, "agreed")
    with pytest.raises(LeaseLost):
        await complete(world.factory, b.id, "d1", result="answered", started_at=T0)
    await complete(world.factory, a.id, "d3", result="answered", started_at=T0, outcome_category="wrong_party")
    # a no-answer goes back to the queue after the retry delay, lease freed
    await complete(world.factory, c.id, "d1", result="no_answer", started_at=T0, ended_at=T0 + timedelta(seconds=25))
    assert await lease_leads(world.factory, campaign.id, "d4", 3, T0 + timedelta(minutes=30), TTL) == []
    again = await lease_leads(world.factory, campaign.id, "d4", 3, T0 + timedelta(minutes=61), TTL)
    assert [lead.id for lead in again] == [c.id]
