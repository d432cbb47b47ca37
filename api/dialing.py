"""Live campaigns inside the API process: one :class:`~dialer.runner.CampaignRunner` per running campaign.

``POST /campaigns/{id}/start`` (and ``resume``, and the app's start-up for campaigns left running)
calls :meth:`DialerPool.start`. Each runner dials on its own telephony backend: the simulator for
training campaigns and when ``WAIHU_TELEPHONY=sim`` (the embedded default), Asterisk over AMI when
``WAIHU_TELEPHONY=asterisk``. Calls are worked on the agents' consoles (:class:`~api.ws.ConsoleHub`);
work IDs listed as bots (the demo's) are worked by :class:`~dialer.bots.BotDesk` instead.

Agents reach a campaign's :class:`~dialer.floor.Floor` from their console: ``ready`` puts the agent on the
floor of the first running campaign they are assigned to (an agent is on one floor at a time, so two
campaigns never pace for the same person); ``paused`` and logging out take effect at once when the agent
is idle, else when the current call is over. A console that drops while its agent is ready stops getting
calls until it is back. The runner stops by itself when its campaign is stopped or completed; a paused
campaign's runner stays, places nothing, and lets the calls in flight finish.

The floor is the live truth for a call's agent states (on call, wrap-up); the agents' session records
keep what the agent chose (ready / paused / logged out), which is what attendance reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agents.softphone_cli import endpoint_of
from api.deps import AppState
from api.ws import ConsoleHub, console_of
from dialer.backends.asterisk import AmiState, AsteriskBackend, AsteriskSettings
from dialer.backends.base import Clock, TelephonyBackend
from dialer.backends.clock import RealClock
from dialer.backends.sim import SimBackend, SimProfile
from dialer.bots import BotDesk, BotProfile
from dialer.calls import CallState
from dialer.floor import AgentSlot, Floor
from dialer.models import CallAttempt, Campaign, CampaignAgent
from dialer.runner import CampaignRunner, LiveCall, PreviewLead, RunnerStats
from flows import FlowRun
from recordings.models import RecordingFile
from recordings.prompts import message_speaker
from recordings.store import RecordingJob, RecordingKeeper
from recordings.synth import lines_from_transcript, synthesize
from waihu.settings import Settings

__all__ = [
    "LIVE_CUSTOMERS",
    "CampaignLive",
    "DialerPool",
    "RoutedDesk",
    "dialers_of",
    "recording_job",
    "synth_recording",
]

log = logging.getLogger(__name__)

#: simulated customers for people at consoles: they answer quickly and stay on the line until the agent
#: ends the call by the script (a talk time far beyond any script's length)
LIVE_CUSTOMERS: Final = SimProfile(
    p_live=0.6,
    answer_delay=(1.5, 4.0),
    busy_delay=(1.0, 3.0),
    talk_mean=1800.0,
    talk_cv=0.1,
    ring_after=0.5,
    playback_seconds=2.0,
)
#: how long shutdown waits for calls in flight before cutting them
_SHUTDOWN_GRACE: Final = 5.0


async def synth_recording(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    campaign: Campaign,
    call: LiveCall,
    directory: Path,
    at: datetime,
) -> Path | None:
    """A simulated call's recording, stored as the call's recording row: its script lines spoken at their step
    times (espeak-ng), each heard alone, over what a PBX would have recorded — from the recording's start (just
    before the bridge) to the hang-up (``at`` if the call has no hang-up event), rounded up to 10 ms. The row
    carries the duration, size and SHA-256, and the answer's offset into the audio, as the PBX's recordings do
    (the replay's zero is the answer). None when the call never reached a script."""
    run = call.run
    if run is None:
        return None
    first: dict[str, datetime] = {}
    for moment, kind, _details in call.events:
        first.setdefault(kind, moment)
    flow_start = datetime.fromtimestamp(run.started_at, UTC)
    recording_start = first.get("RecordingStarted") or first.get("Bridged") or flow_start
    answered = first.get("Answered", recording_start)
    hung_up = first.get("HungUp", at)
    lines = lines_from_transcript(
        run.flow, run.transcript, run.render, offset=run.started_at - recording_start.timestamp()
    )
    if not lines:
        return None
    # to the hang-up, or to the script's last step if that came later (the runtime notes a customer's hang-up
    # after the event), rounded up to 10 ms: every step of the replay (offsets rounded to 1 ms) is in the audio
    last_step = run.started_at + (run.transcript[-1].at if run.transcript else 0.0) - recording_start.timestamp()
    end = max((hung_up - recording_start).total_seconds(), last_step, 0.0)
    duration = math.ceil(round(end * 100, 6)) / 100
    stored = await synthesize(lines, directory / f"{call.call_id}.wav", duration=duration)
    async with sessions() as session, session.begin():
        session.add(
            RecordingFile(
                call_id=call.call_id,
                vendor_id=campaign.vendor_id,
                work_id=call.slot.work_id if call.slot else None,
                path=str(stored.path),
                duration_seconds=round(stored.duration_seconds, 3),
                size_bytes=stored.size_bytes,
                sha256=stored.sha256,
                answer_offset=round((answered - recording_start).total_seconds(), 3),
                created_at=recording_start,
                expires_at=recording_start + timedelta(days=settings.recording_retention_days),
            )
        )
    return stored.path


def recording_job(call: LiveCall, vendor_id: int | None) -> RecordingJob | None:
    """What the recording keeper needs of a call the PBX recorded (the runner's ``on_call_done``), or None if
    the call was never recorded."""
    work_id = call.slot.work_id if call.slot is not None else None
    return RecordingJob.from_events(call.call_id, call.events, vendor_id=vendor_id, work_id=work_id)


class RoutedDesk:
    """The agent desk of a live campaign: bot work IDs to the bot desk, everyone else to their console."""

    def __init__(self, hub: ConsoleHub, bots: BotDesk, bot_ids: set[str]) -> None:
        self.hub = hub
        self.bots = bots
        self.bot_ids = bot_ids

    def _desk(self, work_id: str | None) -> ConsoleHub | BotDesk:
        return self.bots if work_id in self.bot_ids else self.hub

    async def work(self, call: LiveCall, run: FlowRun) -> None:
        await self._desk(call.slot.work_id if call.slot else None).work(call, run)

    async def wrap_up(self, call: LiveCall) -> None:
        await self._desk(call.slot.work_id if call.slot else None).wrap_up(call)

    async def preview(self, agent: AgentSlot, lead: PreviewLead) -> bool:
        return await self._desk(agent.work_id).preview(agent, lead)


@dataclass
class CampaignLive:
    """One running campaign's dialer."""

    campaign_id: int
    runner: CampaignRunner
    floor: Floor
    backend: TelephonyBackend
    stop: asyncio.Event
    task: asyncio.Task[RunnerStats] | None = None
    telephony: str = "sim"
    error: str | None = None
    started_at: float = 0.0
    assigned: set[str] = field(default_factory=set)
    #: collects Asterisk's recordings into the store (None on the simulator, whose recordings are synthesized)
    keeper: RecordingKeeper | None = None

    @property
    def ami_state(self) -> AmiState | None:
        """The backend's AMI connection state, read when asked (None: a backend without one, the simulator)."""
        state = getattr(self.backend, "state", None)
        return state if isinstance(state, AmiState) else None


BackendFactory = Callable[[Campaign], Awaitable[tuple[TelephonyBackend, str]]]


class DialerPool:
    """The app's live campaigns and which floor each console's agent is on."""

    def __init__(
        self,
        state: AppState,
        hub: ConsoleHub,
        *,
        clock: Clock | None = None,
        tick: float = 0.25,
        ring_timeout: float = 20.0,
        customers: SimProfile = LIVE_CUSTOMERS,
        bots: BotProfile | None = None,
        record: bool = True,
        backend_factory: BackendFactory | None = None,
        seed: int | None = None,
    ) -> None:
        self.state = state
        self.hub = hub
        self.clock: Clock = clock or RealClock()
        self.tick = tick
        self.ring_timeout = ring_timeout
        self.customers = customers
        self.bots = bots or BotProfile()
        self.record = record
        self.backend_factory = backend_factory or self._backend
        self.rng = random.Random(seed)
        self.live: dict[int, CampaignLive] = {}
        #: work IDs whose calls bots work (the demo's), per campaign
        self.bot_ids: set[str] = set()
        #: agents who said ready, and those ready whose console dropped (ready again when it is back)
        self._wanted: set[str] = set()
        self._away: set[str] = set()
        self._lock = asyncio.Lock()
        self._endings: set[asyncio.Task[None]] = set()

    # -- campaigns ------------------------------------------------------------------------------

    async def _backend(self, campaign: Campaign) -> tuple[TelephonyBackend, str]:
        settings = self.state.settings
        if campaign.training or settings.telephony == "sim":
            return SimBackend(self.customers, seed=self.rng.randrange(2**31), clock=self.clock), "sim"
        backend = AsteriskBackend(
            AsteriskSettings(
                host=settings.ami_host,
                port=settings.ami_port,
                username=settings.ami_user,
                secret=settings.ami_secret.get_secret_value(),
                trunk=settings.asterisk_trunk,
                recordings_dir=settings.asterisk_monitor_dir,
                number_rules=tuple(settings.asterisk_number_rules),
                amd=settings.asterisk_amd,
            ),
            clock=self.clock,
            speak=message_speaker(settings),
        )
        await backend.start()
        return backend, "asterisk"

    async def start(self, campaign_id: int) -> CampaignLive:
        """Run the campaign's dialer (nothing happens if it runs already)."""
        async with self._lock:
            current = self.live.get(campaign_id)
            if current is not None and current.task is not None and not current.task.done():
                return current
            async with self.state.sessions() as session:
                campaign = await session.get(Campaign, campaign_id)
                assert campaign is not None, "start() is called for a campaign the route has loaded"
                assigned = set(
                    (
                        await session.scalars(
                            select(CampaignAgent.work_id).where(CampaignAgent.campaign_id == campaign_id)
                        )
                    ).all()
                )
            backend, telephony = await self.backend_factory(campaign)
            floor = Floor(self.clock)
            settings = self.state.settings
            directory = settings.recordings_dir
            record_here = telephony == "sim" and self.record
            keeper = None
            if telephony == "asterisk":
                keeper = RecordingKeeper(
                    self.state.sessions,
                    spool_dir=settings.asterisk_recordings_dir or Path(settings.asterisk_monitor_dir),
                    store_dir=directory,
                    retention=timedelta(days=settings.recording_retention_days),
                )

            async def after_call(call: LiveCall, attempt: CallAttempt) -> None:
                if keeper is not None:  # Asterisk recorded it: collected once MixMonitor has closed the file
                    job = recording_job(call, campaign.vendor_id)
                    if job is not None:
                        keeper.collect(job)
                elif record_here:
                    try:
                        await synth_recording(self.state.sessions, settings, campaign, call, directory, runner.wall())
                    except Exception:  # a missing espeak-ng must not stop the campaign; the call is stored
                        log.exception("call %s: no simulated recording", call.call_id)

            runner = CampaignRunner(
                campaign=campaign,
                engine=self.state.flows.engine(campaign.flow_id, campaign.flow_version),
                session_factory=self.state.sessions,
                backend=backend,
                clock=self.clock,
                floor=floor,
                desk=RoutedDesk(
                    self.hub, BotDesk(self.clock, seed=self.rng.randrange(2**31), profile=self.bots), self.bot_ids
                ),
                vault=self.state.vault,
                owner=f"api-{campaign_id}-{self.rng.randrange(16**6):06x}",
                tick=self.tick,
                ring_timeout=self.ring_timeout,
                recordings_dir=str(directory) if telephony == "sim" else settings.asterisk_monitor_dir,
                on_call_done=after_call,
                exit_when_idle=False,
            )
            live = CampaignLive(
                campaign_id=campaign_id,
                runner=runner,
                floor=floor,
                backend=backend,
                stop=asyncio.Event(),
                telephony=telephony,
                started_at=self.clock.now(),
                assigned=assigned,
                keeper=keeper,
            )
            self.live[campaign_id] = live
            live.task = asyncio.create_task(runner.run(live.stop), name=f"campaign-{campaign_id}")
            live.task.add_done_callback(lambda task: self._ended(live, task))
            for work_id in sorted(self._wanted & assigned):
                if self._floor_of(work_id) is None and work_id not in self._away:
                    await floor.request_ready(work_id, self._endpoint(live, work_id))
            return live

    def _ended(self, live: CampaignLive, task: asyncio.Task[RunnerStats]) -> None:
        failure = None if task.cancelled() else task.exception()
        if failure is not None:
            live.error = f"{type(failure).__name__}: {failure}"
            log.error("campaign %s: the dialer stopped: %s", live.campaign_id, live.error)
        ending = asyncio.get_running_loop().create_task(self._after_end(live), name=f"campaign-{live.campaign_id}-end")
        self._endings.add(ending)  # owned: close() waits for it
        ending.add_done_callback(self._endings.discard)

    async def _after_end(self, live: CampaignLive) -> None:
        await self._close_live(live)
        async with self._lock:
            if self.live.get(live.campaign_id) is live and live.error is None:
                del self.live[live.campaign_id]
        # its agents go on to another running campaign they are assigned to
        for work_id in sorted(self._wanted - self._away):
            if self._floor_of(work_id) is None:
                await self._place(work_id)

    async def close(self) -> None:
        """App shutdown: stop every dialer, give calls in flight a moment, then cut them."""
        lives = list(self.live.values())
        for live in lives:
            live.stop.set()
        tasks = [live.task for live in lives if live.task is not None]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=_SHUTDOWN_GRACE)
            for task in pending:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*list(self._endings), return_exceptions=True)
        for live in lives:
            await self._close_live(live)
        self.live.clear()

    async def _close_live(self, live: CampaignLive) -> None:
        """A dialer that ended: its recordings collected (shutdown: the waiting ones dropped), its backend closed."""
        if live.keeper is not None:
            try:
                await asyncio.wait_for(live.keeper.drain(), timeout=_SHUTDOWN_GRACE)
            except Exception:
                log.exception("campaign %s: recordings not all stored", live.campaign_id)
            await live.keeper.aclose()
        with contextlib.suppress(Exception):
            await live.backend.aclose()

    async def restore(self) -> None:
        """Start-up: campaigns left running (or paused) get their dialer again."""
        async with self.state.sessions() as session:
            ids = (await session.scalars(select(Campaign.id).where(Campaign.state.in_(("running", "paused"))))).all()
        for campaign_id in ids:
            try:
                await self.start(campaign_id)
            except Exception:
                log.exception("campaign %s: could not restore its dialer", campaign_id)

    # -- agents ---------------------------------------------------------------------------------

    def _endpoint(self, live: CampaignLive, work_id: str) -> str:
        return endpoint_of(work_id) if live.telephony == "asterisk" else f"console/{work_id}"

    def _floor_of(self, work_id: str) -> CampaignLive | None:
        for live in self.live.values():
            if work_id in live.floor.slots:
                return live
        return None

    async def _place(self, work_id: str) -> CampaignLive | None:
        for campaign_id in sorted(self.live):
            live = self.live[campaign_id]
            if work_id in live.assigned and live.task is not None and not live.task.done():
                await live.floor.request_ready(work_id, self._endpoint(live, work_id))
                return live
        return None

    async def agent_state(self, work_id: str, state: str) -> None:
        """The agent chose a state on the console (after the session record accepted it)."""
        live = self._floor_of(work_id)
        if state == "ready":
            self._wanted.add(work_id)
            if live is not None:
                await live.floor.request_ready(work_id, self._endpoint(live, work_id))
            else:
                await self._place(work_id)
        elif state == "paused":
            self._wanted.discard(work_id)
            if live is not None:
                live.floor.request_pause(work_id)
        elif state == "logged_out":
            self.agent_left(work_id)

    def agent_left(self, work_id: str) -> None:
        """Logged out (or forced out): off the floor now, or after the current call."""
        self._wanted.discard(work_id)
        self._away.discard(work_id)
        live = self._floor_of(work_id)
        if live is not None:
            live.floor.request_leave(work_id)

    def console_away(self, work_id: str) -> None:
        """The console's socket dropped: a ready agent gets no new call until it is back."""
        if work_id not in self._wanted:
            return
        self._away.add(work_id)
        live = self._floor_of(work_id)
        if live is not None:
            live.floor.request_pause(work_id)

    async def console_back(self, work_id: str) -> None:
        if work_id not in self._away:
            return
        self._away.discard(work_id)
        live = self._floor_of(work_id)
        if live is not None:
            await live.floor.request_ready(work_id, self._endpoint(live, work_id))
        else:
            await self._place(work_id)

    # -- what the wallboard shows ---------------------------------------------------------------

    def snapshot(self, campaign_id: int) -> dict[str, Any] | None:
        live = self.live.get(campaign_id)
        if live is None:
            return None
        now = self.clock.now()
        runner = live.runner
        counts = runner.ledger.counts(now)
        in_progress: dict[str, int] = {}
        for call in runner.calls.values():
            name = call.lifecycle.state.value
            in_progress[name] = in_progress.get(name, 0) + 1
        stats = runner.stats
        return {
            "running": live.task is not None and not live.task.done(),
            "telephony": live.telephony,
            "ami_state": live.ami_state.value if live.ami_state is not None else None,
            "error": live.error,
            "dial_mode": runner.mode.value,
            "uptime_seconds": round(now - live.started_at, 1),
            "agents": [
                {
                    "work_id": slot.work_id,
                    "state": slot.state.value,
                    "seconds_in_state": round(now - slot.since, 1),
                    "call_id": slot.call_id,
                    "bot": slot.work_id in self.bot_ids,
                }
                for slot in sorted(live.floor.slots.values(), key=lambda s: s.work_id)
            ],
            "calls_in_progress": in_progress,
            "talking": sum(1 for c in runner.calls.values() if c.lifecycle.state is CallState.BRIDGED),
            "placed": stats.placed,
            "answered": stats.answered,
            "abandoned": stats.abandoned,
            "abandon_rate": stats.abandoned / stats.answered if stats.answered else 0.0,
            "hour_abandon_rate": counts.hour_abandons / counts.hour_answers if counts.hour_answers else 0.0,
            "max_abandon_rate": runner.pacing.max_abandon_rate,
            "outcomes": dict(stats.outcomes),
        }


def dialers_of(state: AppState) -> DialerPool:
    """The app's pool (made on first use with the app's console hub)."""
    pool = state.extra.get("dialers")
    if not isinstance(pool, DialerPool):
        pool = DialerPool(state, console_of(state))
        state.extra["dialers"] = pool
    return pool
