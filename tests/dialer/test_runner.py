"""The CampaignRunner end to end on the simulator, bot agents and a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from dialer.backends.clock import RealClock
from dialer.backends.sim import SimBackend, SimProfile
from dialer.bots import BotDesk, BotProfile
from dialer.campaigns import set_state
from dialer.compliance import check_lead
from dialer.events import HangupCause
from dialer.floor import AgentSlot, Floor
from dialer.models import CallAttempt, CallEventRow, Campaign, Lead, LeadList
from dialer.pacing import PacingSnapshot
from dialer.runner import CampaignRunner, LiveCall, PreviewLead
from flows.runtime import FlowRun
from tests.dialer.factories import T0, World, add_leads, make_campaign, make_world

FAST = SimProfile(
    p_live=0.6,
    answer_delay=(0.02, 0.08),
    busy_delay=(0.02, 0.05),
    talk_mean=60.0,  # customers stay on: the bots end the calls
    talk_cv=0.1,
    ring_after=0.01,
    playback_seconds=0.02,
)
BOTS = BotProfile(seconds_per_screen=(0.005, 0.015), wrap_up_seconds=(0.005, 0.01), objection_chance=0.1)


def phones(n: int) -> list[str]:
    return [f"+86138{i:08d}" for i in range(n)]


async def start(world: World, agents: list[str], **kwargs: object) -> Campaign:
    campaign = await make_campaign(world, flow="mobile-newspaper-trial@1", agents=agents, **kwargs)
    async with world.factory() as session, session.begin():
        await set_state(session, world.audit, campaign.id, "running", actor="L1", now=T0)
    return campaign


def runner_for(world: World, campaign: Campaign, floor: Floor, clock: RealClock, **kwargs: object) -> CampaignRunner:
    loop_start = clock.now()
    return CampaignRunner(
        campaign=campaign,
        engine=world.registry.engine(campaign.flow_id, campaign.flow_version),
        session_factory=world.factory,
        backend=SimBackend(FAST, seed=7, clock=clock),
        clock=clock,
        floor=floor,
        desk=BotDesk(clock, seed=3, profile=BOTS),
        vault=world.vault,
        tick=0.02,
        ring_timeout=0.2,
        wall=lambda: T0 + timedelta(seconds=clock.now() - loop_start),
        **kwargs,  # type: ignore[arg-type]
    )


async def test_a_progressive_campaign_dials_every_lead_once_and_records_each_call(engine: AsyncEngine) -> None:
    world = await make_world(engine)
    campaign = await start(world, ["A1", "A2"])
    await add_leads(world, campaign.id, phones(24))
    clock = RealClock()
    floor = Floor(clock)
    floor.add("A1", "bot/A1")
    floor.add("A2", "bot/A2")
    runner = runner_for(world, campaign, floor, clock)
    stats = await asyncio.wait_for(runner.run(), 60)

    assert stats.placed == stats.finished == 24
    assert stats.abandoned == 0
    async with world.factory() as session:
        attempts = (await session.scalars(select(CallAttempt).order_by(CallAttempt.id))).all()
        per_lead = Counter(a.lead_id for a in attempts)
        assert set(per_lead.values()) == {1}  # nobody dialed twice
        assert len(per_lead) == 24
        answered = [a for a in attempts if a.result == "answered"]
        assert answered, "some customers answered"
        assert stats.answered == len(answered)
        for a in answered:
            assert a.work_id in ("A1", "A2")
            assert a.flow_ref == "mobile-newspaper-trial@1"
            assert a.transcript
            assert (a.transcript[0]["kind"], a.transcript[0]["state"]) == ("enter", "connect")
            assert a.answered_at is not None
            assert a.bridged_at is not None
            assert a.answered_at <= a.bridged_at
            assert a.wrap_up_seconds is not None
            assert a.wrap_up_seconds > 0
            assert a.captured_enc is not None
            json.loads(world.vault.decrypt(a.captured_enc))
            if a.outcome is not None:
                assert a.outcome_category is not None
        not_answered = {a.result for a in attempts} - {"answered"}
        assert not_answered <= {"busy", "no_answer"}
        kinds = (
            await session.scalars(
                select(CallEventRow.kind).where(CallEventRow.call_id == answered[0].call_id).order_by(CallEventRow.id)
            )
        ).all()
        assert kinds[0] == "Originated"
        assert {"Answered", "Bridged"} <= set(kinds)
        assert kinds[-1] == "HungUp"
        opened = await session.scalar(select(func.count()).select_from(Lead).where(Lead.status == "done"))
        assert opened == sum(1 for a in answered if a.outcome_category in ("success", "contact", "wrong_party"))
        # a busy or unanswered lead waits for its retry after the minimum gap
        retry = next((a for a in attempts if a.result in ("busy", "no_answer")), None)
        if retry is not None:
            lead = await session.get(Lead, retry.lead_id)
            assert lead is not None
            assert lead.status == "dialable"
            assert lead.next_attempt_at >= T0 + timedelta(minutes=60)


def overflowing(world: World, campaign: Campaign, calls: int, backend: type[SimBackend] = SimBackend) -> CampaignRunner:
    """A runner that places ``calls`` calls at once to customers who all answer at once, with one agent
    (A1) who stays on the first call for seconds: the others find nobody and hear the safe-harbor message."""
    clock = RealClock()
    floor = Floor(clock)
    floor.add("A1", "bot/A1")
    placed = [False]

    def all_at_once(snapshot: PacingSnapshot) -> int:
        if placed[0]:
            return 0
        placed[0] = True
        return calls

    runner = runner_for(world, campaign, floor, clock, policy=all_at_once)
    runner.backend = backend(
        SimProfile(p_live=1.0, answer_delay=(0.01, 0.02), talk_mean=60, talk_cv=0.1, playback_seconds=0.02),
        seed=1,
        clock=clock,
    )
    slow = BotProfile(seconds_per_screen=(1.0, 1.0), wrap_up_seconds=(0.01, 0.01), objection_chance=0)
    runner.desk = BotDesk(clock, profile=slow)
    return runner


async def test_answers_with_no_agent_free_within_2s_are_abandoned_and_not_recalled_for_72h(
    sqlite_engine: AsyncEngine,
) -> None:
    world = await make_world(sqlite_engine)
    campaign = await start(world, ["A1"], safe_harbor_message="这里是无锡移动，稍后回电，号码10086")
    await add_leads(world, campaign.id, phones(3))
    runner = overflowing(world, campaign, 3)  # one agent busy for seconds: two customers wait in vain
    stats = await asyncio.wait_for(runner.run(), 60)

    assert (stats.placed, stats.answered, stats.abandoned) == (3, 3, 2)
    async with world.factory() as session:
        abandoned = (await session.scalars(select(CallAttempt).where(CallAttempt.abandoned.is_(True)))).all()
        assert len(abandoned) == 2
        assert {a.result for a in abandoned} == {"abandoned"}
        kinds = (
            await session.scalars(select(CallEventRow.kind).where(CallEventRow.call_id == abandoned[0].call_id))
        ).all()
        assert "PlaybackFinished" in kinds  # the safe-harbor message was played before hanging up
        lead = await session.get(Lead, abandoned[0].lead_id)
        fresh = await session.get(Campaign, campaign.id)
        assert lead is not None
        assert fresh is not None
        later: datetime = T0 + timedelta(hours=71)
        lead.next_attempt_at = later
        gate = await check_lead(session, lead, fresh, later)
        assert not gate.allowed
        assert "abandon" in gate.gate


class ScriptedDesk(BotDesk):
    """Bots that promise a callback on every call, and skip previews of numbers ending in an odd digit."""

    def __init__(self, clock: RealClock) -> None:
        super().__init__(clock, profile=BOTS)
        self.previews: list[tuple[str, str]] = []

    async def work(self, call: LiveCall, run: FlowRun) -> None:
        await run.enter_objection("think_it_over")
        await run.choose("还是想考虑，改天再聊")
        await run.choose("约好时间", {"callback_at": "2026-11-28 10:30"})

    async def preview(self, agent: AgentSlot, lead: PreviewLead) -> bool:
        self.previews.append((agent.work_id, lead.phone_masked))
        assert "****" in lead.phone_masked
        assert all(not re.search(r"\d{11}", v) for v in lead.variables.values())
        return int(lead.phone_masked[-1]) % 2 == 0


async def test_preview_agents_dial_or_skip_and_get_the_calls_they_chose(sqlite_engine: AsyncEngine) -> None:
    world = await make_world(sqlite_engine)
    campaign = await start(world, ["A1", "A2"], dial_mode="preview")
    await add_leads(world, campaign.id, phones(10))
    clock = RealClock()
    floor = Floor(clock)
    floor.add("A1", "bot/A1")
    floor.add("A2", "bot/A2")
    desk = ScriptedDesk(clock)
    runner = runner_for(world, campaign, floor, clock)
    runner.backend = SimBackend(
        SimProfile(p_live=1.0, answer_delay=(0.01, 0.03), talk_mean=60, talk_cv=0.1), clock=clock
    )
    runner.desk = desk
    stats = await asyncio.wait_for(runner.run(), 60)

    assert len(desk.previews) == 10
    assert (stats.placed, stats.skipped, stats.abandoned) == (5, 5, 0)
    async with world.factory() as session:
        attempts = (await session.scalars(select(CallAttempt))).all()
        assert len(attempts) == 5
        assert {a.work_id for a in attempts} <= {"A1", "A2"}
        for a in attempts:  # each call went to the agent who previewed it
            lead = await session.get(Lead, a.lead_id)
            assert lead is not None
            assert (a.work_id, lead.phone_masked) in desk.previews
            assert lead.callback_agent == a.work_id  # the promise is remembered
        skipped = (await session.scalars(select(Lead).where(Lead.attempts == 0))).all()
        assert len(skipped) == 5
        assert all(lead.next_attempt_at >= T0 + timedelta(minutes=59) for lead in skipped)


async def callback_promised_by_a2(engine: AsyncEngine) -> tuple[World, Campaign, Lead]:
    """A campaign with one lead due now whose callback agent A2 promised."""
    world = await make_world(engine)
    campaign = await start(world, ["A1", "A2"])
    (lead,) = await add_leads(world, campaign.id, phones(1))
    async with world.factory() as session, session.begin():
        fresh = await session.get(Lead, lead.id)
        assert fresh is not None
        fresh.callback_agent = "A2"
    return world, campaign, lead


async def test_a_callback_goes_to_the_agent_who_promised_it_while_they_work(sqlite_engine: AsyncEngine) -> None:
    world, campaign, lead = await callback_promised_by_a2(sqlite_engine)
    clock = RealClock()
    floor = Floor(clock)
    floor.add("A1", "bot/A1")
    floor.add("A2", "bot/A2")
    floor.claim("someone-else")  # A1 has waited longest, so A1 is now busy ...
    floor.claim("another")  # ... and so is A2: the callback waits for A2, not for whoever frees first

    async def free_a1_then_a2() -> None:
        await asyncio.sleep(0.2)
        await floor.ready("A1")
        await asyncio.sleep(0.3)
        await floor.ready("A2")

    freeing = asyncio.create_task(free_a1_then_a2())
    runner = runner_for(world, campaign, floor, clock)
    runner.backend = SimBackend(
        SimProfile(p_live=1.0, answer_delay=(0.01, 0.02), talk_mean=60, talk_cv=0.1), clock=clock
    )
    runner.desk = ScriptedDesk(clock)
    stats = await asyncio.wait_for(runner.run(), 60)
    await freeing
    assert stats.placed == 1
    async with world.factory() as session:
        (attempt,) = (await session.scalars(select(CallAttempt))).all()
        assert attempt.work_id == "A2"
        assert attempt.outcome == "callback"
        fresh = await session.get(Lead, lead.id)
        assert fresh is not None
        assert fresh.callback_agent == "A2"
        assert fresh.status == "dialable"
        assert fresh.next_attempt_at.astimezone(ZoneInfo("Asia/Shanghai")).hour == 10


async def test_a_callback_goes_to_anyone_when_its_agent_is_not_working(sqlite_engine: AsyncEngine) -> None:
    world, campaign, _ = await callback_promised_by_a2(sqlite_engine)
    clock = RealClock()
    floor = Floor(clock)
    floor.add("A1", "bot/A1")  # A2 is not logged in today
    runner = runner_for(world, campaign, floor, clock)
    runner.backend = SimBackend(
        SimProfile(p_live=1.0, answer_delay=(0.01, 0.02), talk_mean=60, talk_cv=0.1), clock=clock
    )
    stats = await asyncio.wait_for(runner.run(), 60)
    assert stats.placed == 1
    async with world.factory() as session:
        (attempt,) = (await session.scalars(select(CallAttempt))).all()
        assert attempt.work_id == "A1"


class PromptBackend(SimBackend):
    """Plays as the Asterisk backend does: a written text is the site's recorded safe-harbor prompt."""

    async def play(self, call_id: str, message: str) -> None:
        await super().play(call_id, message if re.fullmatch(r"[A-Za-z0-9_/&-]+", message) else "safe-harbor")


@pytest.mark.parametrize("backend", [SimBackend, PromptBackend], ids=["sim", "asterisk_like"])
async def test_given_an_abandoned_call_when_the_safe_harbor_message_plays_then_the_record_shows_the_text_played(
    sqlite_engine: AsyncEngine, backend: type[SimBackend]
) -> None:
    """No message of its own: the default names the script's brand (无锡移动) and the call-back number.
    ``message`` is what the backend played (on Asterisk the site's prompt), ``text`` the words it stands for."""
    world = await make_world(sqlite_engine)
    campaign = await start(world, ["A1"], callback_number="10086")
    await add_leads(world, campaign.id, phones(2))
    runner = overflowing(world, campaign, 2, backend)
    stats = await asyncio.wait_for(runner.run(), 60)

    assert stats.abandoned == 1
    expected = (
        "您好，这里是无锡移动。非常抱歉，现在没有空闲的客服接听您的电话，我们稍后再与您联系。"
        "如需咨询，请拨打10086。谢谢，再见。"
    )
    async with world.factory() as session:
        abandoned = (await session.scalars(select(CallAttempt).where(CallAttempt.abandoned.is_(True)))).one()
        played = (
            await session.scalars(
                select(CallEventRow).where(
                    CallEventRow.call_id == abandoned.call_id, CallEventRow.kind == "PlaybackFinished"
                )
            )
        ).one()
    assert played.details == {"message": expected if backend is SimBackend else "safe-harbor", "text": expected}


class HangsUpOnTheMessage(SimBackend):
    """Customers who hang up as soon as the safe-harbor message starts."""

    async def play(self, call_id: str, message: str) -> None:
        self._up(call_id)
        self._end(call_id, HangupCause.NORMAL, 16)


async def test_a_customer_who_hangs_up_on_the_safe_harbor_message_is_still_an_abandoned_call(
    sqlite_engine: AsyncEngine,
) -> None:
    world = await make_world(sqlite_engine)
    campaign = await start(world, ["A1"], callback_number="10086")
    await add_leads(world, campaign.id, phones(2))
    runner = overflowing(world, campaign, 2, HangsUpOnTheMessage)
    stats = await asyncio.wait_for(runner.run(), 20)  # nobody waits for a message to a line that is gone

    assert stats.abandoned == 1
    async with world.factory() as session:
        attempts = (await session.scalars(select(CallAttempt).order_by(CallAttempt.id))).all()
        assert sorted((a.result, a.abandoned) for a in attempts) == [("abandoned", True), ("answered", False)]
        lost = next(a for a in attempts if a.abandoned)
        lead = await session.get(Lead, lost.lead_id)
        fresh = await session.get(Campaign, campaign.id)
        assert lead is not None
        assert fresh is not None
        later = T0 + timedelta(hours=5)
        lead.next_attempt_at = later
        gate = await check_lead(session, lead, fresh, later)
        assert not gate.allowed  # the 72-hour rule holds for it
        assert "abandon" in gate.gate


class LongTalks(BotDesk):
    """An agent who stays on each call for ``seconds``: longer than the runner's lease."""

    def __init__(self, clock: RealClock, seconds: float) -> None:
        super().__init__(clock, profile=BOTS)
        self.seconds = seconds

    async def work(self, call: LiveCall, run: FlowRun) -> None:
        await asyncio.sleep(self.seconds)


async def test_a_call_longer_than_its_lease_keeps_its_lead_and_is_recorded(sqlite_engine: AsyncEngine) -> None:
    world = await make_world(sqlite_engine)
    campaign = await start(world, ["A1", "A2"])
    await add_leads(world, campaign.id, phones(1))
    clock = RealClock()
    floor = Floor(clock)
    floor.add("A1", "bot/A1")
    floor.add("A2", "bot/A2")  # free all along: had the lease lapsed, the lead would be dialed to them
    # renewed every 0.4 s: only a stall of 0.8 s in a row loses it (0.6 s lost it once on a loaded CI machine)
    runner = runner_for(world, campaign, floor, clock, lease_ttl=timedelta(seconds=1.2))
    runner.backend = SimBackend(
        SimProfile(p_live=1.0, answer_delay=(0.01, 0.02), talk_mean=60, talk_cv=0.1), seed=1, clock=clock
    )
    runner.desk = LongTalks(clock, 4.0)  # over three lease times
    stats = await asyncio.wait_for(runner.run(), 30)

    assert stats.placed == 1
    async with world.factory() as session:
        attempts = (await session.scalars(select(CallAttempt))).all()
    assert [(a.result, a.work_id) for a in attempts] == [("answered", "A1")]


async def test_the_abandon_rate_counts_the_campaigns_earlier_calls(sqlite_engine: AsyncEngine) -> None:
    """A restarted (or second) runner starts from the campaign's record, not from 0 %: the cap holds over the
    whole campaign and the rolling hour."""
    world = await make_world(sqlite_engine)
    campaign = await start(world, ["A1"])
    leads = await add_leads(world, campaign.id, phones(1))
    async with world.factory() as session, session.begin():
        for minutes, abandoned in ((-180, True), (-90, False), (-30, True), (-20, False), (-10, False)):
            at = T0 + timedelta(minutes=minutes)
            session.add(
                CallAttempt(
                    campaign_id=campaign.id,
                    lead_id=leads[0].id,
                    phone_hash=leads[0].phone_hash,
                    started_at=at,
                    ended_at=at + timedelta(seconds=30),
                    result="abandoned" if abandoned else "answered",
                    abandoned=abandoned,
                    answered_at=at,
                )
            )
        session.add(  # not answered: no live answer to count
            CallAttempt(
                campaign_id=campaign.id,
                lead_id=leads[0].id,
                phone_hash=leads[0].phone_hash,
                started_at=T0,
                ended_at=T0,
                result="busy",
            )
        )
        lead = await session.get(Lead, leads[0].id)
        assert lead is not None
        lead.status = "done"  # nothing to dial: the runner only reads the record and stops
    clock = RealClock()
    runner = runner_for(world, campaign, Floor(clock), clock)
    await asyncio.wait_for(runner.run(), 20)

    counts = runner.ledger.counts(clock.now())
    assert (counts.answers, counts.abandons) == (5, 2)
    assert (counts.hour_answers, counts.hour_abandons) == (3, 1)  # the last hour: -30, -20, -10 minutes
    assert counts.window == 3600.0


@pytest.mark.parametrize(("lead_zone", "expected_utc"), [(None, "02:30"), ("Asia/Tokyo", "01:30")])
async def test_a_promised_callback_time_is_the_customers_local_time(
    sqlite_engine: AsyncEngine, lead_zone: str | None, expected_utc: str
) -> None:
    """The agent types "2026-11-28 10:30" as the customer said it: in the lead's zone (a customer in Tokyo,
    UTC+9), else the campaign's (Shanghai, UTC+8)."""
    world = await make_world(sqlite_engine)
    campaign = await start(world, ["A1"])
    (lead,) = await add_leads(world, campaign.id, phones(1), timezone=lead_zone)
    clock = RealClock()
    floor = Floor(clock)
    floor.add("A1", "bot/A1")
    runner = runner_for(world, campaign, floor, clock)
    runner.backend = SimBackend(SimProfile(p_live=1.0, answer_delay=(0.01, 0.02), talk_mean=60), clock=clock)
    runner.desk = ScriptedDesk(clock)
    await asyncio.wait_for(runner.run(), 30)

    async with world.factory() as session:
        fresh = await session.get(Lead, lead.id)
    assert fresh is not None
    assert fresh.next_attempt_at.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M") == f"2026-11-28 {expected_utc}"


async def test_a_paused_lead_list_is_not_dialed_and_the_runner_ends_when_only_it_is_left(
    sqlite_engine: AsyncEngine,
) -> None:
    world = await make_world(sqlite_engine)
    campaign = await start(world, ["A1"])
    leads = await add_leads(world, campaign.id, phones(8))
    async with world.factory() as session, session.begin():
        held = LeadList(campaign_id=campaign.id, name="held", active=False, created_at=T0)
        worked = LeadList(campaign_id=campaign.id, name="worked", active=True, created_at=T0)
        session.add_all([held, worked])
        await session.flush()
        for lead in leads:
            await session.execute(
                update(Lead).where(Lead.id == lead.id).values(list_id=held.id if lead.id % 2 else worked.id)
            )
    clock = RealClock()
    floor = Floor(clock)
    floor.add("A1", "bot/A1")
    stats = await asyncio.wait_for(runner_for(world, campaign, floor, clock).run(), 60)

    async with world.factory() as session:
        dialed = set((await session.scalars(select(CallAttempt.lead_id))).all())
    assert dialed == {lead.id for lead in leads if lead.id % 2 == 0}
    assert stats.placed == 4
