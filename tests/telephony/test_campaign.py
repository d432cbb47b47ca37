"""A whole campaign through the real Asterisk: CampaignRunner + AsteriskBackend, pjsua2 agents, recordings on disk.

Leads carry ordinary-looking mobile numbers, ``+86138``, three digits, then a five-digit test customer
number (deploy/asterisk/README.md: ``1RRTT`` answers, ``2RR00`` busy ...). The backend's
``number_rules`` rewrite does what a carrier's number normalisation does in production: it strips
the prefix, so ``PJSIP/<customer>@loopback`` reaches the test ``[customers]`` context and each lead
ends as its number says. Agents are pjsua2 softphones that register and auto-answer (the audio path
is real and recorded); the script is worked by :class:`~dialer.bots.BotDesk` with quick bot choices.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from agents.models import User
from agents.softphone import Softphone
from dialer.backends.asterisk import AmiState, AsteriskBackend, AsteriskSettings
from dialer.backends.clock import RealClock
from dialer.bots import BotDesk, BotProfile
from dialer.campaigns import set_state
from dialer.floor import Floor
from dialer.models import CallAttempt, CallEventRow, Campaign, Lead
from dialer.runner import CampaignRunner, LiveCall
from tests.dialer.factories import T0, World, add_leads, make_campaign, make_world
from tests.telephony.conftest import pbx_command
from tests.telephony.helpers import AsteriskEnv, until_recorded

PREFIX = "+86138"  # then three digits that make the number unique, then the test customer's five
RULES = ((r"\+86138\d{3}(\d{5})", r"\1"),)
AGENTS = {"A1": "agent1001", "A2": "agent1002", "A3": "agent1003"}
# What a lead's customer number makes of the call: the stored result and the stored cause (Q.850).
EXPECTED: Mapping[str, tuple[str, str | None]] = {
    "1": ("answered", None),  # cause: whoever hangs up first (agent 16, customer 16)
    "2": ("busy", "17"),
    "3": ("no_answer", "19"),
    "4": ("failed", "34"),
    "5": ("failed", "1"),
    "8": ("failed", "21"),
}
# 30 leads: 17 answer (ring 0-1 s, talk 2-4 s), 3 busy, 4 never answer (39900 rings into the ring
# timeout), 2 congestion, 2 invalid numbers, 2 rejections.
CAMPAIGN_30 = [
    "10003", "20000", "10102", "30100", "10004", "50000", "10003", "40000", "10103", "39900",
    "10002", "80000", "10004", "20100", "10003", "30000", "10102", "10004", "40100", "10003",
    "39900", "10002", "50000", "10103", "20000", "10004", "80100", "10003", "10102", "10002",
]  # fmt: skip
# Screens of ~1 s: conversations of a second or more (MixMonitor may write nothing for a call shorter
# than about half a second, before RTP flows both ways).
QUICK_BOTS = BotProfile(seconds_per_screen=(0.8, 1.2), wrap_up_seconds=(0.1, 0.3), objection_chance=0.1)


async def add_agent(world: World, work_id: str) -> None:
    async with world.factory() as session, session.begin():
        session.add(
            User(
                work_id=work_id,
                name_enc=world.vault.encrypt(work_id),
                role="agent",
                vendor_id=world.vendor_id,
                status="active",
                skills=[],
                must_change_password=False,
                failed_logins=0,
                created_at=T0,
            )
        )


async def running_campaign(world: World, numbers: list[str]) -> Campaign:
    await add_agent(world, "A3")
    campaign = await make_campaign(world, flow="mobile-newspaper-trial@1", agents=list(AGENTS))
    async with world.factory() as session, session.begin():
        await set_state(session, world.audit, campaign.id, "running", actor="L1", now=T0)
    await add_leads(world, campaign.id, [f"{PREFIX}{i:03d}{n}" for i, n in enumerate(numbers)])
    return campaign


async def agents_on_the_floor(make_phone: Callable[..., Softphone], clock: RealClock) -> tuple[Floor, list[Softphone]]:
    phones = [make_phone(endpoint) for endpoint in AGENTS.values()]
    for phone in phones:
        phone.register()
    for phone in phones:
        await phone.until(lambda p: p.registered, within=5)
    floor = Floor(clock)
    for work_id, endpoint in AGENTS.items():
        floor.add(work_id, endpoint)
    return floor, phones


class CountingBackend(AsteriskBackend):
    """The real backend, counting the originates the runner asks for (per number) and the channels
    Asterisk reports created (Newchannel events, per Uniqueid: our call id)."""

    def __init__(self, settings: AsteriskSettings, on_state: Callable[[AmiState], None] | None = None) -> None:
        super().__init__(settings, on_state=on_state)
        self.dialed: Counter[str] = Counter()
        self.channels_created: Counter[str] = Counter()

    def _dispatch(self, manager: Any, event: Mapping[str, Any]) -> None:
        if event.get("Event") == "Newchannel" and str(event.get("Uniqueid", "")).startswith("call-"):
            self.channels_created[str(event["Uniqueid"])] += 1
        super()._dispatch(manager, event)

    async def originate(self, call_id: str, number: str, **kwargs: object) -> None:
        self.dialed[number] += 1
        await super().originate(call_id, number, **kwargs)  # type: ignore[arg-type]


def backend_for(
    env: AsteriskEnv, on_state: Callable[[AmiState], None] | None = None, **overrides: object
) -> CountingBackend:
    settings = AsteriskSettings(
        host=env.ami_host,
        port=env.ami_port,
        username=env.ami_user,
        secret=env.ami_secret,
        trunk=env.trunk,
        recordings_dir=env.monitor_dir,
        number_rules=RULES,
    )
    return CountingBackend(dataclasses.replace(settings, **overrides), on_state)  # type: ignore[arg-type]


def runner_for(
    world: World,
    campaign: Campaign,
    backend: AsteriskBackend,
    floor: Floor,
    clock: RealClock,
    env: AsteriskEnv,
    *,
    bots: BotProfile = QUICK_BOTS,
    on_call_done: Callable[[LiveCall, CallAttempt], Awaitable[None]] | None = None,
) -> CampaignRunner:
    start = clock.now()
    return CampaignRunner(
        campaign=campaign,
        engine=world.registry.engine(campaign.flow_id, campaign.flow_version),
        session_factory=world.factory,
        backend=backend,
        clock=clock,
        floor=floor,
        desk=BotDesk(clock, seed=5, profile=bots),
        vault=world.vault,
        tick=0.1,
        ring_timeout=3.0,
        recordings_dir=env.monitor_dir,
        wall=lambda: T0 + timedelta(seconds=clock.now() - start),  # 10:00 in Shanghai, inside the window
        on_call_done=on_call_done,
    )


async def attempts_of(world: World) -> list[CallAttempt]:
    async with world.factory() as session:
        return list((await session.scalars(select(CallAttempt).order_by(CallAttempt.id))).all())


async def number_of(world: World, attempt: CallAttempt) -> str:
    async with world.factory() as session:
        lead = await session.get(Lead, attempt.lead_id)
        assert lead is not None
        return world.vault.decrypt(lead.phone_enc)[-5:]


async def check_bridged_recordings(world: World, env: AsteriskEnv, attempts: list[CallAttempt]) -> int:
    """Every bridged call has its recording, named by call id, as long as the call was recorded
    (RecordingStarted to HungUp, as the runner logged them)."""
    checked = 0
    for attempt in attempts:
        if attempt.bridged_at is None:
            continue
        assert attempt.recording_path == f"{env.monitor_dir}/{attempt.call_id}.wav"
        async with world.factory() as session:
            rows = (await session.scalars(select(CallEventRow).where(CallEventRow.call_id == attempt.call_id))).all()
        seconds, peak = await until_recorded(env.recordings / f"{attempt.call_id}.wav", within=5)
        at = {row.kind: row.at for row in rows}
        recorded = (at["HungUp"] - at["RecordingStarted"]).total_seconds()
        assert abs(seconds - recorded) <= 0.75, (attempt.call_id, seconds, recorded)
        if recorded >= 2.0:  # the customer's voice (hello, a pause, then talk), not silence
            assert peak > 1000, (attempt.call_id, seconds, recorded)
        checked += 1
    return checked


async def test_a_campaign_of_30_leads_runs_through_asterisk_with_agents_on_softphones(
    sqlite_engine: AsyncEngine, asterisk: AsteriskEnv, make_phone: Callable[..., Softphone]
) -> None:
    world = await make_world(sqlite_engine)
    campaign = await running_campaign(world, CAMPAIGN_30)
    clock = RealClock()
    floor, phones = await agents_on_the_floor(make_phone, clock)
    backend = backend_for(asterisk)
    await backend.start()
    try:
        runner = runner_for(world, campaign, backend, floor, clock, asterisk)
        stats = await asyncio.wait_for(runner.run(), 90)
    finally:
        await backend.aclose()

    attempts = await attempts_of(world)
    assert stats.placed == stats.finished == len(attempts) == 30
    assert set(Counter(a.lead_id for a in attempts).values()) == {1}  # every lead dialed once
    assert set(backend.dialed.values()) == {1}
    # Asterisk created one channel per call id (Newchannel events as Asterisk sent them: no Originate re-sent).
    channels = backend.channels_created
    assert channels == Counter({a.call_id: 1 for a in attempts})
    for attempt in attempts:
        number = await number_of(world, attempt)
        result, cause = EXPECTED[number[0]]
        assert attempt.result == result, (number, attempt.result, attempt.cause)
        if cause is not None:
            assert attempt.cause == cause, (number, attempt.cause)
    answered = [a for a in attempts if a.result == "answered"]
    assert len(answered) == 17
    assert stats.abandoned == 0
    for attempt in answered:  # bridged to an agent, who worked the script; outcome and transcript stored
        assert attempt.work_id in AGENTS
        assert attempt.bridged_at is not None
        assert attempt.answered_at is not None
        assert attempt.answered_at <= attempt.bridged_at
        assert attempt.transcript
        assert attempt.flow_ref == "mobile-newspaper-trial@1"
    assert sum(1 for a in answered if a.outcome) >= 10  # most scripts reached an outcome before a hang-up
    assert await check_bridged_recordings(world, asterisk, attempts) == 17
    assert {a.work_id for a in answered} == set(AGENTS)  # all three agents took calls
    assert sum(sum(1 for c in p.calls if c.answered_at is not None) for p in phones) == 17
    async with world.factory() as session:
        kinds = (
            await session.scalars(select(CallEventRow.kind).where(CallEventRow.call_id == answered[0].call_id))
        ).all()
    assert kinds[0] == "Originated"
    assert {"Answered", "RecordingStarted", "Bridged", "HungUp"} <= set(kinds)


async def test_given_the_ami_connection_cut_and_asterisk_crashing_mid_campaign_then_the_runner_recovers(
    sqlite_engine: AsyncEngine, asterisk: AsteriskEnv, make_phone: Callable[..., Softphone]
) -> None:
    numbers = ["10104", "10003", "20000", "10104", "10003", "30100", "10104", "10003", "50000"] * 2
    world = await make_world(sqlite_engine)
    campaign = await running_campaign(world, numbers)
    clock = RealClock()
    floor, phones = await agents_on_the_floor(make_phone, clock)
    states: list[AmiState] = []
    reconnected = asyncio.Event()

    def on_state(state: AmiState) -> None:
        states.append(state)
        if state is AmiState.CONNECTED:
            reconnected.set()

    backend = backend_for(
        asterisk, on_state, reconnect_initial=0.2, reconnect_max=1.0, ping_interval=1.0, ping_timeout=1.0
    )
    done: list[str] = []
    progress = asyncio.Event()

    async def on_call_done(call: LiveCall, attempt: CallAttempt) -> None:
        done.append(call.call_id)
        progress.set()

    async def until_done(count: int) -> None:
        while len(done) < count:
            progress.clear()
            await progress.wait()

    await backend.start()
    runner = runner_for(world, campaign, backend, floor, clock, asterisk, on_call_done=on_call_done)
    campaign_task = asyncio.create_task(runner.run())
    try:
        async with asyncio.timeout(90):
            # 1. Cut the AMI connection with calls in flight (as a network failure would).
            await until_done(3)
            in_flight_at_cut = len(runner.calls)
            reconnected.clear()
            backend.drop_connection()
            await reconnected.wait()
            # 2. Asterisk crashes (SIGKILL: no Hangup events, no Shutdown) and is started again.
            await until_done(8)
            in_flight_at_crash = len(runner.calls)
            before_crash = set(done) | set(runner.calls)
            reconnected.clear()
            await asyncio.to_thread(pbx_command, "kill")
            # The agents' phones see their calls go dead and hang up (a SIGKILLed PBX sends no BYE; a phone
            # left streaming RTP would be locked onto by Asterisk's strict RTP on a reused port).
            for phone in phones:
                await asyncio.to_thread(phone.hangup_all)
            await asyncio.to_thread(pbx_command, "start")
            await reconnected.wait()
            stats = await campaign_task
    finally:
        if not campaign_task.done():
            campaign_task.cancel()
            await asyncio.gather(campaign_task, return_exceptions=True)
        await backend.aclose()

    assert in_flight_at_cut > 0
    assert in_flight_at_crash > 0
    assert backend.disconnects == 2
    assert backend.reconnects == 2
    assert backend.ended_unseen >= 1  # the crash's calls were closed by the reconcile
    assert states[:3] == [AmiState.CONNECTED, AmiState.RECONNECTING, AmiState.CONNECTED]
    attempts = await attempts_of(world)
    # No call record lost, no lead dialed twice: one attempt per lead, each with its own call id.
    assert stats.placed == stats.finished == len(attempts) == len(numbers)
    assert set(Counter(a.lead_id for a in attempts).values()) == {1}
    assert set(backend.dialed.values()) == {1}
    assert len({a.call_id for a in attempts}) == len(numbers)
    assert all(a.ended_at is not None for a in attempts)
    # The campaign carried on after the crash: calls placed afterwards were answered, bridged, recorded.
    after = [a for a in attempts if a.call_id not in before_crash and a.result == "answered" and a.bridged_at]
    assert after
    assert await check_bridged_recordings(world, asterisk, after) == len(after)
    assert floor.ready_count == len(AGENTS)  # no agent left stuck on a call that vanished
