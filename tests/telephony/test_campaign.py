"""A whole campaign through the real Asterisk: CampaignRunner + AsteriskBackend, pjsua2 agents, recordings on disk.

Leads carry ordinary-looking mobile numbers, ``+86138``, three digits, then a five-digit test customer
number (deploy/asterisk/README.md: ``1RRTT`` answers, ``2RR00`` busy ...). The backend's
``number_rules`` rewrite does what a carrier's number normalisation does in production: it strips
the prefix, so ``PJSIP/<customer>@loopback`` reaches the test ``[customers]`` context and each lead
ends as its number says. Agents are pjsua2 softphones that register and auto-answer (the audio path
is real and recorded); the script is worked by :class:`~dialer.bots.BotDesk` with quick bot choices.
"""

from __future__ import annotations

import array
import asyncio
import dataclasses
import hashlib
import os
import stat
import wave
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from agents.models import User
from agents.softphone import Softphone
from api.dialing import recording_job
from dialer.backends.asterisk import AmiState, AsteriskBackend, AsteriskSettings
from dialer.backends.clock import RealClock
from dialer.bots import BotDesk, BotProfile
from dialer.campaigns import set_state
from dialer.floor import Floor
from dialer.models import CallAttempt, CallEventRow, Campaign, Lead
from dialer.pacing import PacingSnapshot
from dialer.runner import CampaignRunner, LiveCall
from recordings.models import RecordingFile
from recordings.prompts import SpokenPrompts
from recordings.store import RecordingKeeper
from tests.dialer.factories import T0, World, add_leads, make_campaign, make_world
from tests.telephony.conftest import pbx_command
from tests.telephony.helpers import AsteriskEnv, audio_of, until_recorded

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
    "6": ("machine", None),  # AMD says MACHINE; the dialer hangs up
    "8": ("failed", "21"),
}
# 30 leads: 15 answer (ring 0-1 s, talk 4-6 s: AMD takes the first ~1.5 s), 2 answering machines (AMD is on),
# 3 busy, 4 never answer (39900 rings into the ring timeout), 2 congestion, 2 invalid, 2 rejections.
CAMPAIGN_30 = [
    "10005", "20000", "10104", "30100", "10006", "50000", "60003", "40000", "10105", "39900",
    "10004", "80000", "10006", "20100", "10005", "30000", "10104", "10006", "40100", "60102",
    "39900", "10004", "50000", "10105", "20000", "10006", "80100", "10005", "10104", "10004",
]  # fmt: skip
RETENTION = timedelta(days=180)
# Screens of ~0.6 s, so most scripts end before the customer does; conversations last a second or more
# (MixMonitor may write nothing for a call shorter than about half a second, before RTP flows both ways).
QUICK_BOTS = BotProfile(seconds_per_screen=(0.5, 0.8), wrap_up_seconds=(0.1, 0.3), objection_chance=0.1)


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


async def agents_on_the_floor(
    make_phone: Callable[..., Softphone], clock: RealClock, **phone_options: Any
) -> tuple[Floor, list[Softphone]]:
    phones = [make_phone(endpoint, **phone_options) for endpoint in AGENTS.values()]
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

    def __init__(
        self,
        settings: AsteriskSettings,
        on_state: Callable[[AmiState], None] | None = None,
        speak: Callable[[str], Awaitable[str]] | None = None,
    ) -> None:
        super().__init__(settings, on_state=on_state, speak=speak)
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
    env: AsteriskEnv,
    on_state: Callable[[AmiState], None] | None = None,
    speak: Callable[[str], Awaitable[str]] | None = None,
    **overrides: object,
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
    return CountingBackend(dataclasses.replace(settings, **overrides), on_state, speak)  # type: ignore[arg-type]


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
    policy: Callable[[PacingSnapshot], int] | None = None,
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
        policy=policy,
    )


def keeper_for(world: World, env: AsteriskEnv, store: Path) -> RecordingKeeper:
    """The recording keeper a campaign's composition runs beside the runner (as ``waihu campaign demo``)."""
    return RecordingKeeper(world.factory, spool_dir=env.recordings, store_dir=store, retention=RETENTION)


def keeping(keeper: RecordingKeeper, vendor_id: int | None) -> Callable[[LiveCall, CallAttempt], Awaitable[None]]:
    """The runner's ``on_call_done``: hand every recorded call to the keeper."""

    async def on_call_done(call: LiveCall, attempt: CallAttempt) -> None:
        job = recording_job(call, vendor_id)
        if job is not None:
            keeper.collect(job)

    return on_call_done


def audible_seconds(path: Path, *, threshold: int = 500) -> float:
    """Seconds of a WAV file in 20 ms frames louder than ``threshold`` (peak): speech, not silence."""
    with wave.open(str(path)) as wav:
        rate = wav.getframerate()
        samples = array.array("h", wav.readframes(wav.getnframes()))
    frame = rate // 50
    loud = sum(
        1 for i in range(0, len(samples), frame) if max((abs(v) for v in samples[i : i + frame]), default=0) > threshold
    )
    return loud / 50


async def attempts_of(world: World) -> list[CallAttempt]:
    async with world.factory() as session:
        return list((await session.scalars(select(CallAttempt).order_by(CallAttempt.id))).all())


async def number_of(world: World, attempt: CallAttempt) -> str:
    async with world.factory() as session:
        lead = await session.get(Lead, attempt.lead_id)
        assert lead is not None
        return world.vault.decrypt(lead.phone_enc)[-5:]


async def recording_of(world: World, call_id: str | None) -> RecordingFile | None:
    async with world.factory() as session:
        return await session.scalar(select(RecordingFile).where(RecordingFile.call_id == call_id))


def check_file(row: RecordingFile) -> None:
    """The stored file: the service user's, mode 0600, with the size, SHA-256 and duration on its row."""
    path = Path(row.path)
    info = path.stat()
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert info.st_uid == os.getuid()
    data = path.read_bytes()
    assert row.size_bytes == len(data) == info.st_size
    assert row.sha256 == hashlib.sha256(data).hexdigest()
    seconds, _ = audio_of(path)
    assert row.duration_seconds is not None
    assert abs(row.duration_seconds - seconds) <= 0.01


async def check_stored_recording(world: World, env: AsteriskEnv, attempt: CallAttempt, store: Path) -> RecordingFile:
    """The call's recording was moved from Asterisk's spool into the store: a file of the service user's,
    mode 0600, whose size, SHA-256 and duration are on its row, with the retention's expiry."""
    assert attempt.recording_path == f"{env.monitor_dir}/{attempt.call_id}.wav"
    row = await recording_of(world, attempt.call_id)
    assert row is not None, attempt.call_id
    path = Path(row.path)
    assert path.parent.parent == store
    assert path.name == f"{attempt.call_id}.wav"
    assert not await asyncio.to_thread((env.recordings / f"{attempt.call_id}.wav").exists)  # out of the spool
    await asyncio.to_thread(check_file, row)
    assert row.expires_at == row.created_at + RETENTION
    assert row.work_id == attempt.work_id
    assert row.answer_offset <= 0.0  # recording starts once the call is answered (timeline zero: the answer)
    return row


async def check_bridged_recordings(world: World, env: AsteriskEnv, attempts: list[CallAttempt], store: Path) -> int:
    """Every bridged call has its stored recording, as long as the call was recorded (RecordingStarted to
    HungUp, as the runner logged them)."""
    checked = 0
    for attempt in attempts:
        if attempt.bridged_at is None:
            continue
        row = await check_stored_recording(world, env, attempt, store)
        async with world.factory() as session:
            rows = (await session.scalars(select(CallEventRow).where(CallEventRow.call_id == attempt.call_id))).all()
        seconds, peak = audio_of(Path(row.path))
        at = {row.kind: row.at for row in rows}
        recorded = (at["HungUp"] - at["RecordingStarted"]).total_seconds()
        assert abs(seconds - recorded) <= 0.75, (attempt.call_id, seconds, recorded)
        if recorded >= 2.0:  # the customer's voice (hello, a pause, then talk), not silence
            assert peak > 1000, (attempt.call_id, seconds, recorded)
        checked += 1
    return checked


async def test_a_campaign_of_30_leads_runs_through_asterisk_with_agents_on_softphones(
    sqlite_engine: AsyncEngine, asterisk: AsteriskEnv, make_phone: Callable[..., Softphone], tmp_path: Path
) -> None:
    world = await make_world(sqlite_engine)
    campaign = await running_campaign(world, CAMPAIGN_30)
    clock = RealClock()
    floor, phones = await agents_on_the_floor(make_phone, clock)
    backend = backend_for(asterisk, amd=True)
    keeper = keeper_for(world, asterisk, tmp_path / "recordings")
    await backend.start()
    try:
        runner = runner_for(
            world, campaign, backend, floor, clock, asterisk, on_call_done=keeping(keeper, campaign.vendor_id)
        )
        stats = await asyncio.wait_for(runner.run(), 90)
        await asyncio.wait_for(keeper.drain(), 30)
    finally:
        await keeper.aclose()
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
    assert len(answered) == 15
    assert stats.abandoned == 0
    machines = [a for a in attempts if a.result == "machine"]
    assert len(machines) == 2
    assert all(a.work_id is None and a.bridged_at is None and a.recording_path is None for a in machines)
    for attempt in answered:  # bridged to an agent, who worked the script; outcome and transcript stored
        assert attempt.work_id in AGENTS
        assert attempt.bridged_at is not None
        assert attempt.answered_at is not None
        assert attempt.answered_at <= attempt.bridged_at
        assert attempt.transcript
        assert attempt.flow_ref == "mobile-newspaper-trial@1"
    assert sum(1 for a in answered if a.outcome) >= 10  # most scripts reached an outcome before a hang-up
    assert await check_bridged_recordings(world, asterisk, attempts, tmp_path / "recordings") == 15
    assert len(keeper.stored) == 15  # recordings of bridged calls only: no machine, no unanswered call
    assert keeper.repaired == []  # each taken once MixMonitor had closed it
    assert {a.work_id for a in answered} == set(AGENTS)  # all three agents took calls
    assert sum(sum(1 for c in p.calls if c.answered_at is not None) for p in phones) == 15
    async with world.factory() as session:
        kinds = (
            await session.scalars(select(CallEventRow.kind).where(CallEventRow.call_id == answered[0].call_id))
        ).all()
    assert kinds[0] == "Originated"
    assert {"Answered", "RecordingStarted", "Bridged", "HungUp"} <= set(kinds)


async def test_given_the_ami_connection_cut_and_asterisk_crashing_mid_campaign_then_the_runner_recovers(
    sqlite_engine: AsyncEngine, asterisk: AsteriskEnv, make_phone: Callable[..., Softphone], tmp_path: Path
) -> None:
    numbers = ["10104", "10003", "20000", "10104", "10003", "30100", "10104", "10003", "50000"] * 2
    world = await make_world(sqlite_engine)
    campaign = await running_campaign(world, numbers)
    clock = RealClock()
    floor, phones = await agents_on_the_floor(make_phone, clock, media_timeout=2.0)
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
    keeper = keeper_for(world, asterisk, tmp_path / "recordings")
    keep = keeping(keeper, campaign.vendor_id)

    async def on_call_done(call: LiveCall, attempt: CallAttempt) -> None:
        await keep(call, attempt)
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
            for _ in range(300):  # up to 15 s: crash with an agent on a call (the phones' side is polled)
                if any(phone.active_calls() for phone in phones):
                    break
                await asyncio.sleep(0.05)
            in_flight_at_crash = len(runner.calls)
            before_crash = set(done) | set(runner.calls)
            reconnected.clear()
            await asyncio.to_thread(pbx_command, "kill")
            # The agents' phones notice their calls went dead (a SIGKILLed PBX sends no BYE: no RTP for
            # media_timeout seconds) and hang up by themselves before Asterisk is back (a phone left
            # streaming RTP would be locked onto by Asterisk's strict RTP on a reused port).
            talking = [phone for phone in phones if phone.active_calls()]
            for phone in phones:
                await phone.until(lambda p: not p.active_calls(), within=6)
            await asyncio.to_thread(pbx_command, "start")
            await reconnected.wait()
            stats = await campaign_task
        await asyncio.wait_for(keeper.drain(), 30)
    finally:
        if not campaign_task.done():
            campaign_task.cancel()
            await asyncio.gather(campaign_task, return_exceptions=True)
        await keeper.aclose()
        await backend.aclose()

    assert in_flight_at_cut > 0
    assert in_flight_at_crash > 0
    assert talking  # agents were on calls when Asterisk died, and each such call ended on a media timeout
    for phone in talking:
        assert any(e.state == "media-timeout" for e in phone.events), phone.events
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
    assert await check_bridged_recordings(world, asterisk, after, tmp_path / "recordings") == len(after)
    assert floor.ready_count == len(AGENTS)  # no agent left stuck on a call that vanished
    # The recordings of calls cut by the crash were never closed by Asterisk: kept, their headers repaired.
    cut = [
        row
        for attempt in attempts
        if attempt.call_id in before_crash and attempt.bridged_at is not None
        if (row := await recording_of(world, attempt.call_id)) is not None
    ]
    assert cut  # agents were talking when Asterisk died (above): their recordings were kept
    for row in cut:
        await asyncio.to_thread(check_file, row)


async def test_given_no_free_agent_when_customers_answer_then_they_hear_the_safe_harbor_message(
    sqlite_engine: AsyncEngine, asterisk: AsteriskEnv, make_phone: Callable[..., Softphone], tmp_path: Path
) -> None:
    """One agent, three customers answering at once: the first is bridged, the two others wait the 2 s
    safe-harbor limit and are abandoned. Each listening customer (``9RRTT``: Asterisk records what that
    customer's own channel receives) heard the campaign's message, spoken (espeak-ng) with its company and
    call-back number, and the dialer's recording of the call has it."""
    numbers = ["10006", "90120", "90220"]
    for number in numbers:
        (asterisk.recordings / f"heard-{number}.wav").unlink(missing_ok=True)
    world = await make_world(sqlite_engine)
    campaign = await running_campaign(world, numbers)
    clock = RealClock()
    phone = make_phone("agent1001")
    phone.register()
    await phone.until(lambda p: p.registered, within=5)
    floor = Floor(clock)
    floor.add("A1", "agent1001")
    prompts = SpokenPrompts(asterisk.recordings, asterisk.monitor_dir)
    backend = backend_for(asterisk, speak=prompts.prompt)
    keeper = keeper_for(world, asterisk, tmp_path / "recordings")
    slow_agent = BotProfile(seconds_per_screen=(4.0, 5.0), wrap_up_seconds=(0.1, 0.2), objection_chance=0.0)
    await backend.start()
    try:
        runner = runner_for(
            world,
            campaign,
            backend,
            floor,
            clock,
            asterisk,
            bots=slow_agent,
            on_call_done=keeping(keeper, campaign.vendor_id),
            policy=lambda snapshot: 3,  # over-dial on purpose: every lead at once, one agent
        )
        stats = await asyncio.wait_for(runner.run(), 60)
        await asyncio.wait_for(keeper.drain(), 30)
    finally:
        await keeper.aclose()
        await backend.aclose()

    attempts = await attempts_of(world)
    by_number = {await number_of(world, a): a for a in attempts}
    assert stats.abandoned == 2
    assert by_number["10006"].result == "answered"
    assert by_number["10006"].work_id == "A1"
    spoken = prompts.file_of(runner.safe_harbor)
    message_seconds = audible_seconds(spoken)
    assert message_seconds > 3.0  # a sentence: the company and the call-back number
    for number in ("90120", "90220"):
        attempt = by_number[number]
        assert attempt.result == "abandoned", (number, attempt.result)
        assert attempt.abandoned
        assert attempt.work_id is None
        async with world.factory() as session:
            rows = (await session.scalars(select(CallEventRow).where(CallEventRow.call_id == attempt.call_id))).all()
        kinds = [row.kind for row in rows]
        assert kinds.index("Answered") < kinds.index("RecordingStarted") < kinds.index("PlaybackFinished")
        finished = [row.details for row in rows if row.kind == "PlaybackFinished"]
        assert [d.get("message") for d in finished] == [await prompts.prompt(runner.safe_harbor)]
        assert [d.get("text") for d in finished] == [runner.safe_harbor]
        # The customer's side: Asterisk recorded what the customer's channel received — the spoken
        # message, whole, and nothing else was sent to them.
        heard = asterisk.recordings / f"heard-{number}.wav"
        await until_recorded(heard, within=5)
        assert message_seconds - 1.0 <= audible_seconds(heard) <= message_seconds + 0.5, (number, message_seconds)
        # The dialer's side: the abandoned call was recorded too, message included.
        row = await check_stored_recording(world, asterisk, attempt, tmp_path / "recordings")
        assert message_seconds - 1.0 <= audible_seconds(Path(row.path)) <= message_seconds + 0.5
