"""CampaignRunner: leases due leads, checks the gates, asks the pacer, dials, hands answers to agents.

One runner drives one campaign on one telephony backend. Two tasks, owned by a TaskGroup so no
exception is lost: the dial loop (every ``tick``: snapshot the floor, ask the pacer how many calls
to place, lease that many leads, check each against the compliance gates, originate) and the event
loop (apply each backend event to its call's lifecycle; on answer claim the longest-waiting agent
within the safe-harbor limit or play the safe-harbor message and hang up; on hang-up store the call
record and free the lead). Agents work through an :class:`AgentDesk` — bot agents on the simulator,
the agent console later — which drives the script run of each bridged call.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dialer import leasing
from dialer.backends.base import Clock, TelephonyBackend
from dialer.calls import CallLifecycle, CallState
from dialer.campaigns import safe_harbor_text
from dialer.compliance import check_lead
from dialer.errors import DialerError, LeaseLost
from dialer.events import Answered, Bridged, CallEvent, HangupCause, HungUp, MachineDetected, PlaybackFinished
from dialer.floor import AgentSlot, Floor, SlotState
from dialer.leads import lead_variables
from dialer.models import CallAttempt, CallEventRow, Campaign, Lead
from dialer.pacing import (
    HOUR,
    AbandonLedger,
    DialMode,
    PacingSettings,
    PacingSnapshot,
    RecentCalls,
    calls_to_place,
)
from flows.runtime import FlowEngine, FlowRun
from waihu.pii import mask
from waihu.vault import Vault

log = logging.getLogger(__name__)

SAFE_HARBOR_WAIT = 2.0
SAFE_HARBOR_MESSAGE_MAX = 30.0
#: the leases of calls in progress are renewed this many times per lease time
LEASE_RENEW_PARTS = 3
#: a callback waits this long for the agent who promised it (while they work) before anyone takes it
CALLBACK_GRACE = timedelta(minutes=10)
#: gates that refuse for good, and the lead status that records why
PERMANENT_STATUS = {"dnc": "dnc", "refusal": "refused", "attempts": "exhausted"}
RESULT_OF = {
    CallState.BUSY: "busy",
    CallState.NO_ANSWER: "no_answer",
    CallState.MACHINE: "machine",
    CallState.FAILED: "failed",
    CallState.ABANDONED: "abandoned",
    CallState.WRAP_UP: "answered",
    CallState.DONE: "answered",
}


class AgentDesk(Protocol):
    """Where a bridged call's script is worked: bot agents now, the agent console later."""

    async def work(self, call: LiveCall, run: FlowRun) -> None:
        """Drive ``run`` until it ends (or the customer hangs up); return when the agent is done talking."""
        ...

    async def wrap_up(self, call: LiveCall) -> None:
        """Wrap-up after the call; return when the agent is ready again."""
        ...

    async def preview(self, agent: AgentSlot, lead: PreviewLead) -> bool:
        """Preview mode: show the masked lead to the agent; True to dial it, False to skip."""
        ...


@dataclass
class LiveCall:
    call_id: str
    lead_id: int
    phone_hash: str
    variables: dict[str, str]
    started_wall: datetime
    lifecycle: CallLifecycle
    originated_at: float
    events: list[tuple[datetime, str, dict[str, Any]]] = field(default_factory=list)
    slot: AgentSlot | None = None
    run: FlowRun | None = None
    answered_at: float | None = None
    wrap_up_seconds: float | None = None
    talk_task: asyncio.Task[None] | None = None
    played: asyncio.Event = field(default_factory=asyncio.Event)
    #: the agent this call was placed for (preview, or a callback they promised)
    reserved: AgentSlot | None = None
    #: the campaign's wrap-up limit in seconds (what the agent's console counts down)
    wrap_up_limit: int | None = None
    #: the safe-harbor text played to this call (abandoned), stored with its PlaybackFinished event
    safe_harbor: str | None = None
    #: the customer's time zone (the lead's, else the campaign's): a callback time said without one is in it
    zone: ZoneInfo | None = None

    @property
    def recorded(self) -> bool:
        """A recording of this call was started (bridged calls, and abandoned ones with the safe-harbor message)."""
        return any(kind == "RecordingStarted" for _, kind, _ in self.events)


@dataclass(frozen=True)
class PreviewLead:
    """What a preview shows the agent before dialing: masked, as every screen."""

    lead_id: int
    phone_masked: str
    variables: dict[str, str]


@dataclass
class RunnerStats:
    placed: int = 0
    answered: int = 0
    abandoned: int = 0
    refused_by_gates: int = 0
    skipped: int = 0
    finished: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    results: dict[str, int] = field(default_factory=dict)


class CampaignRunner:
    def __init__(
        self,
        *,
        campaign: Campaign,
        engine: FlowEngine,
        session_factory: async_sessionmaker[AsyncSession],
        backend: TelephonyBackend,
        clock: Clock,
        floor: Floor,
        desk: AgentDesk,
        vault: Vault,
        owner: str | None = None,
        tick: float = 1.0,
        lease_ttl: timedelta = timedelta(minutes=10),
        ring_timeout: float = 25.0,
        pacing: PacingSettings | None = None,
        recordings_dir: str = "/var/spool/asterisk/monitor",
        wall: Callable[[], datetime] | None = None,
        on_call_done: Callable[[LiveCall, CallAttempt], Awaitable[None]] | None = None,
        masker: Callable[[str, str], str] = mask,
        exit_when_idle: bool = True,
        policy: Callable[[PacingSnapshot], int] | None = None,
    ) -> None:
        if engine.flow.digest != campaign.flow_digest:
            raise DialerError(
                f"campaign {campaign.id} is pinned to {campaign.flow_id}@{campaign.flow_version} with another digest",
                error_id="dialer.flow_changed",
                details={"campaign": campaign.id},
            )
        self.campaign = campaign
        self.engine = engine
        self.sessions = session_factory
        self.backend = backend
        self.clock = clock
        self.floor = floor
        self.desk = desk
        self.vault = vault
        self.owner = owner or f"runner-{uuid.uuid4().hex[:8]}"
        self.tick = tick
        self.lease_ttl = lease_ttl
        self.ring_timeout = ring_timeout
        self.mode = DialMode(campaign.dial_mode)
        self.pacing = pacing or PacingSettings(max_abandon_rate=campaign.max_abandon_rate)
        self.recordings_dir = recordings_dir.rstrip("/")
        self._clock0 = clock.now()
        self._wall0 = datetime.now(UTC)
        self._wall = wall
        self.on_call_done = on_call_done
        self.masker = masker
        self.exit_when_idle = exit_when_idle
        #: how many calls to place now; the campaign's dial mode unless a study or test injects another
        self.policy = policy or (lambda snapshot: calls_to_place(self.mode, snapshot, self.pacing))
        self.calls: dict[str, LiveCall] = {}
        self._previews = 0
        # One write transaction of this runner at a time: concurrent read-then-write transactions on
        # SQLite deadlock ("database is locked") instead of waiting; PostgreSQL loses nothing by it.
        self._writes = asyncio.Lock()
        self.recent = RecentCalls()
        self.ledger = AbandonLedger(self._clock0)
        self.stats = RunnerStats()
        self.zone = ZoneInfo(campaign.timezone)
        #: what an abandoned customer hears: the campaign's message, or the default naming the script's brand
        self.safe_harbor = safe_harbor_text(campaign, engine.flow.brand)
        self._tasks: set[asyncio.Task[None]] = set()
        self._failures: list[BaseException] = []

    # -- time ---------------------------------------------------------------------------------

    def wall(self) -> datetime:
        if self._wall is not None:
            return self._wall()
        return self._wall0 + timedelta(seconds=self.clock.now() - self._clock0)

    # -- main loop ----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event | None = None) -> RunnerStats:
        """Dial until no lead is due (or ``stop``), then finish the calls in flight."""
        stop = stop or asyncio.Event()
        await self._restore_ledger()
        events = asyncio.create_task(self._event_loop(), name=f"{self.owner}-events")
        renewals = asyncio.create_task(self._renew_loop(), name=f"{self.owner}-leases")
        try:
            await self._dial_loop(stop)
            while self.calls:
                await self.clock.sleep(self.tick)
                self._raise_failures()
        finally:
            events.cancel()
            renewals.cancel()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(events, renewals, *self._tasks, return_exceptions=True)
        self._raise_failures()
        return self.stats

    async def _restore_ledger(self) -> None:
        """The campaign's live answers and abandons so far, from its stored calls: the abandon cap holds over
        the whole campaign and every rolling hour across restarts and runners, not only this runner's calls."""
        now, wall = self.clock.now(), self.wall()
        answered = CallAttempt.answered_at.is_not(None)
        mine = CallAttempt.campaign_id == self.campaign.id
        async with self.sessions() as session:
            total, abandons, first = (
                await session.execute(
                    select(
                        func.count(),
                        func.count().filter(CallAttempt.abandoned.is_(True)),
                        func.min(CallAttempt.answered_at),
                    ).where(mine, answered)
                )
            ).one()
            recent = (
                await session.execute(
                    select(CallAttempt.answered_at, CallAttempt.abandoned)
                    .where(mine, answered, CallAttempt.answered_at > wall - timedelta(seconds=HOUR))
                    .order_by(CallAttempt.answered_at)
                )
            ).all()
        if not total or first is None:
            return

        def clock_time(at: datetime) -> float:
            return now - (wall - at).total_seconds()

        ledger = AbandonLedger(min(self._clock0, clock_time(first)))
        for at, abandoned in recent:
            if at is None:
                continue
            ledger.answered(clock_time(at))
            if abandoned:
                ledger.abandoned(clock_time(at))
        ledger.answers, ledger.abandons = int(total), int(abandons)
        self.ledger = ledger

    async def _renew_loop(self) -> None:
        """Keep the leases of the calls in progress: a call outlasting the lease (a long talk, a slow wrap-up)
        must not let another runner, or this one, lease and dial its lead again before it is recorded."""
        every = max(self.lease_ttl.total_seconds() / LEASE_RENEW_PARTS, self.tick)
        while True:
            await self.clock.sleep(every)
            ids = sorted({call.lead_id for call in self.calls.values()})
            if not ids:
                continue
            try:
                async with self._writes:
                    kept = await leasing.renew(self.sessions, ids, self.owner, self.wall(), self.lease_ttl)
            except Exception:  # the database is busy or away: the next round tries again, well within the lease
                log.warning("runner %s: leases not renewed; trying again", self.owner, exc_info=True)
                continue
            for lead_id in sorted(set(ids) - set(kept)):
                log.warning("runner %s: lost the lease of lead %s during its call", self.owner, lead_id)

    def _raise_failures(self) -> None:
        if self._failures:
            raise self._failures[0]

    def _spawn(self, coro: Awaitable[None], name: str) -> None:
        async def guarded() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except BaseException as exc:  # kept and re-raised by run(): nothing is lost
                log.exception("task %s failed", name)
                self._failures.append(exc)

        task = asyncio.create_task(guarded(), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _campaign_state(self) -> str:
        async with self.sessions() as session:
            campaign = await session.get(Campaign, self.campaign.id)
            return campaign.state if campaign is not None else "stopped"

    async def _dial_loop(self, stop: asyncio.Event) -> None:
        idle_rounds = 0
        while not stop.is_set():
            self._raise_failures()
            state = await self._campaign_state()
            if state in ("stopped", "completed"):
                return
            placed = 0
            if state == "running" and self.mode is DialMode.PREVIEW:
                placed = await self._preview_round()
            elif state == "running":
                placed = await self._place(self.policy(self.snapshot()))
            busy = self.calls or self._previews
            if placed == 0 and not busy and state == "running" and self.exit_when_idle:
                idle_rounds += 1
                if idle_rounds >= 3 and not await self._due_now():
                    return
            else:
                idle_rounds = 0
            await self.clock.sleep(self.tick)

    async def _due_now(self) -> bool:
        async with self.sessions() as session:
            count = await session.scalar(
                select(func.count()).select_from(Lead).where(leasing.due(self.campaign.id, self.wall()))
            )
        return bool(count)

    def snapshot(self) -> PacingSnapshot:
        """The floor and the calls in flight, as the pacer reads them."""
        now = self.clock.now()
        in_flight = (CallState.DIALING, CallState.RINGING)
        return PacingSnapshot(
            ready_agents=self.floor.ready_count,
            talking=self.floor.elapsed(SlotState.ON_CALL),
            wrapping=self.floor.elapsed(SlotState.WRAP_UP),
            # a call placed for a reserved agent is covered already: it does not count against the ready ones
            dialing=tuple(
                now - c.originated_at
                for c in self.calls.values()
                if c.lifecycle.state in in_flight and c.reserved is None
            ),
            waiting=sum(1 for c in self.calls.values() if c.lifecycle.state is CallState.ANSWERED and c.slot is None),
            stats=self.recent.stats(),
            abandons=self.ledger.counts(now),
        )

    # -- dialing ------------------------------------------------------------------------------

    async def _place(self, n: int) -> int:
        """Lease up to ``n`` leads, dial those the gates allow; returns how many calls were placed."""
        if n <= 0:
            return 0
        now = self.wall()
        async with self._writes:
            leads = await leasing.lease_leads(self.sessions, self.campaign.id, self.owner, n, now, self.lease_ttl)
        placed = 0
        for lead in leads:
            reserved = None
            if lead.callback_agent:
                slot = self.floor.slots.get(lead.callback_agent)
                working = slot is not None and slot.state is not SlotState.PAUSED
                if working and now - lead.next_attempt_at < CALLBACK_GRACE:
                    reserved = self.floor.reserve(lead.callback_agent)
                    if reserved is None:  # the agent who promised it is busy: keep it for them a while
                        async with self._writes:
                            await leasing.release(self.sessions, [lead.id], self.owner)
                        continue
            target = await self._admit(lead, now)
            if target is None:
                if reserved is not None:
                    await self.floor.ready(reserved.work_id)
                continue
            number, variables = target
            await self._originate(lead, number, variables, now, reserved)
            placed += 1
        return placed

    async def _admit(self, lead: Lead, now: datetime) -> tuple[str, dict[str, str]] | None:
        """Run the gates on a leased lead: its number and variables, or None (lead freed and rescheduled)."""
        async with self._writes, self.sessions() as session, session.begin():
            fresh = await session.get(Lead, lead.id)
            campaign = await session.get(Campaign, self.campaign.id)
            assert fresh is not None
            assert campaign is not None
            gate = await check_lead(session, fresh, campaign, now)
            if gate.allowed:
                return lead_variables(self.vault, fresh)
            self.stats.refused_by_gates += 1
            # not dialable now: free the lease and look again when the gate lifts
            fresh.lease_owner, fresh.lease_expires_at = None, None
            if gate.until is not None:
                fresh.next_attempt_at = gate.until
            elif gate.gate in PERMANENT_STATUS:
                fresh.status = PERMANENT_STATUS[gate.gate]
            else:  # e.g. consent missing: it may still arrive; look again tomorrow
                fresh.next_attempt_at = now + timedelta(days=1)
            return None

    async def _originate(
        self, lead: Lead, number: str, variables: dict[str, str], now: datetime, reserved: AgentSlot | None
    ) -> LiveCall:
        call_id = f"call-{uuid.uuid4().hex[:16]}"
        call = LiveCall(
            call_id=call_id,
            lead_id=lead.id,
            phone_hash=lead.phone_hash,
            variables=variables,
            started_wall=now,
            lifecycle=CallLifecycle(call_id),
            originated_at=self.clock.now(),
            reserved=reserved,
            wrap_up_limit=self.campaign.wrap_up_limit_seconds,
            zone=ZoneInfo(lead.timezone) if lead.timezone else self.zone,
        )
        call.lifecycle.move(CallState.DIALING, call.originated_at)
        self.calls[call_id] = call
        await self.backend.originate(
            call_id,
            number,
            caller_id=self.campaign.caller_id,
            variables={"WAIHU_CALL_ID": call_id, "WAIHU_CAMPAIGN": str(self.campaign.id)},
            timeout=self.ring_timeout,
        )
        self.stats.placed += 1
        return call

    # -- preview ------------------------------------------------------------------------------

    async def _preview_round(self) -> int:
        """Preview: each ready agent is offered one lead (masked) and dials it or skips it."""
        offered = 0
        for slot in [s for s in self.floor.slots.values() if s.state is SlotState.READY]:
            if self.floor.reserve(slot.work_id) is None:
                continue
            async with self._writes:
                leads = await leasing.lease_leads(
                    self.sessions, self.campaign.id, self.owner, 1, self.wall(), self.lease_ttl
                )
            if not leads:
                await self.floor.ready(slot.work_id)
                break
            offered += 1
            self._previews += 1
            self._spawn(self._preview(slot, leads[0]), f"preview-{slot.work_id}")
        return offered

    async def _preview(self, slot: AgentSlot, lead: Lead) -> None:
        try:
            now = self.wall()
            target = await self._admit(lead, now)
            if target is None:
                await self.floor.ready(slot.work_id)
                return
            number, variables = target
            shown = PreviewLead(lead.id, lead.phone_masked, {k: self._shown(k, v) for k, v in variables.items()})
            if await self.desk.preview(slot, shown):
                await self._originate(lead, number, variables, self.wall(), slot)
                return
            self.stats.skipped += 1
            async with self._writes, self.sessions() as session, session.begin():
                fresh = await session.get(Lead, lead.id)
                assert fresh is not None
                if fresh.lease_owner == self.owner:
                    fresh.lease_owner, fresh.lease_expires_at = None, None
                    gap = timedelta(minutes=int((self.campaign.retry_rules or {}).get("min_gap_minutes", 60)))
                    fresh.next_attempt_at = now + gap
            await self.floor.ready(slot.work_id)
        finally:
            self._previews -= 1

    def _shown(self, name: str, value: str) -> str:
        var = self.engine.flow.variables.get(name)
        if name == "phone":
            return self.masker("phone", value)
        if var is not None and var.pii is not None:
            return self.masker(var.pii.value, value)
        return value if var is not None else self.masker("name", value)

    # -- events -------------------------------------------------------------------------------

    async def _event_loop(self) -> None:
        async for event in self.backend.events():
            call = self.calls.get(event.call_id)
            if call is None:
                continue
            details = _details(event)
            if isinstance(event, PlaybackFinished) and call.safe_harbor is not None:
                # the words the customer was told; ``message`` is what the backend played (on Asterisk the
                # spoken prompt of the text, or the site's recorded prompt where it has no text-to-speech)
                details["text"] = call.safe_harbor
            call.events.append((self.wall(), type(event).__name__, details))
            before = call.lifecycle.state
            state = call.lifecycle.apply(event)
            if isinstance(event, Answered) and before is not state:
                self.stats.answered += 1
                call.answered_at = event.at
                self.recent.attempt(event.at - call.originated_at, live=True)
                self.ledger.answered(event.at)
                self._spawn(self._connect(call), f"{call.call_id}-connect")
            elif isinstance(event, Bridged):
                self._start_talk(call)
            elif isinstance(event, HungUp):
                call.played.set()  # a message playing ends with the line
                await self._hung_up(call, event)
            elif isinstance(event, PlaybackFinished):
                call.played.set()
            elif isinstance(event, MachineDetected):
                self.recent.attempt(event.at - call.originated_at, live=False)
                with contextlib.suppress(DialerError):  # it may have ended meanwhile; HungUp follows anyway
                    await self.backend.hangup(call.call_id, HangupCause.MACHINE)

    async def _connect(self, call: LiveCall) -> None:
        """Give an answered call to an agent within the safe-harbor limit, else abandon it.

        A real PBX can end the call or fail an action at any point here (the customer hangs up, the PBX
        restarts): the call's HungUp still comes and stores the record; the agent is freed.
        """
        try:
            await self._hand_over(call)
        except DialerError as exc:
            log.warning("call %s: hand-over failed: %s", call.call_id, exc)
            await self._release(call)
            if not call.lifecycle.ended:
                with contextlib.suppress(DialerError):
                    await self.backend.hangup(call.call_id, HangupCause.FAILED)

    async def _release(self, call: LiveCall) -> None:
        """Free the agent claimed for a call that never reached them (it ended or failed before the bridge)."""
        slot, call.slot = call.slot, None
        if slot is not None and slot.call_id == call.call_id:
            await self.floor.ready(slot.work_id)

    async def _hand_over(self, call: LiveCall) -> None:
        if call.reserved is not None:
            slot: AgentSlot | None = self.floor.take_reserved(call.reserved, call.call_id)
        else:
            slot = await self.floor.wait_for_agent(call.call_id, SAFE_HARBOR_WAIT)
        if call.lifecycle.state is not CallState.ANSWERED:  # the customer hung up meanwhile
            if slot is not None:
                await self.floor.ready(slot.work_id)
            return
        if slot is None:
            call.lifecycle.abandoning = True  # a hang-up from here on, the customer's too, ends it as abandoned
            self.stats.abandoned += 1
            assert call.answered_at is not None
            self.ledger.abandoned(call.answered_at)
            message = call.safe_harbor = self.safe_harbor
            # every answered call is recorded, an abandoned one too: the record shows the message was played
            with contextlib.suppress(DialerError):
                await self.backend.start_recording(call.call_id, self._recording_path(call))
            try:
                await self.backend.play(call.call_id, message)
                # the customer hears the whole message (company and call-back number) before the line drops
                await asyncio.wait_for(call.played.wait(), SAFE_HARBOR_MESSAGE_MAX)
            except TimeoutError:
                log.warning("call %s: safe-harbor message did not finish in time", call.call_id)
            except DialerError:  # the customer hung up before it could play; the HungUp event ends the call
                log.info("call %s: safe-harbor message not played, the call had ended", call.call_id)
            if not call.lifecycle.ended:
                await self.backend.hangup(call.call_id, HangupCause.ABANDONED)
            return
        call.slot = slot
        await self.backend.start_recording(call.call_id, self._recording_path(call))
        await self.backend.bridge(call.call_id, slot.endpoint)

    def _start_talk(self, call: LiveCall) -> None:
        run = self.engine.new_run(call.variables, call_id=call.call_id, clock=self._wall_seconds, mask=self.masker)
        call.run = run

        async def talk() -> None:
            await run.start()
            try:
                await self.desk.work(call, run)
            finally:
                if not run.ended:
                    await run.hang_up("agent left the script")
                await run.close()
            if call.lifecycle.state is CallState.BRIDGED:  # the agent ends the call
                await self.backend.hangup(call.call_id, HangupCause.NORMAL)

        call.talk_task = asyncio.create_task(talk(), name=f"{call.call_id}-talk")
        self._tasks.add(call.talk_task)
        call.talk_task.add_done_callback(self._tasks.discard)

    def _wall_seconds(self) -> float:
        return self.wall().timestamp()

    async def _hung_up(self, call: LiveCall, event: HungUp) -> None:
        state = call.lifecycle.state
        if state is CallState.WRAP_UP:
            self._spawn(self._finish_conversation(call, event), f"{call.call_id}-wrap")
            return
        if call.answered_at is None and state is not CallState.MACHINE:
            self.recent.attempt(event.at - call.originated_at, live=False)
        if call.slot is not None and CallState.BRIDGED not in call.lifecycle.times:
            await self._release(call)  # claimed, but the customer was gone before the agent answered
        # stored beside the event loop: a write waiting for the database never holds up other calls' events
        self._spawn(self._store_unconnected(call, event), f"{call.call_id}-store")

    async def _store_unconnected(self, call: LiveCall, event: HungUp) -> None:
        await self._store(call, event)
        if call.reserved is not None and call.slot is None:  # the reserved agent's call did not connect
            await self.floor.ready(call.reserved.work_id)

    async def _finish_conversation(self, call: LiveCall, event: HungUp) -> None:
        """The customer or the agent hung up a bridged call: the script stops, wrap-up, ready."""
        if call.run is not None and not call.run.ended:
            await call.run.hang_up("customer hung up")
        if call.talk_task is not None:
            await asyncio.gather(call.talk_task, return_exceptions=True)
        bridged = call.lifecycle.times.get(CallState.BRIDGED)
        if bridged is not None:
            self.recent.talk(event.at - bridged)
        assert call.slot is not None
        await self.floor.wrap_up(call.slot.work_id)
        started = self.clock.now()
        await self.desk.wrap_up(call)
        call.wrap_up_seconds = self.clock.now() - started
        self.recent.wrap(call.wrap_up_seconds)
        call.lifecycle.move(CallState.DONE, self.clock.now())
        await self._store(call, event)
        await self.floor.ready(call.slot.work_id)

    async def _store(self, call: LiveCall, event: HungUp) -> None:
        """The call record, its events and the script transcript; the lead freed and rescheduled."""
        result = RESULT_OF.get(call.lifecycle.state, "failed")
        run = call.run
        flow = self.engine.flow
        outcome = run.outcome if run is not None else None
        category = flow.outcomes[outcome].category.value if outcome else None
        callback_at = _callback_time(run, call.zone or self.zone) if category == "callback" else None
        async with self._writes:
            try:
                attempt = await leasing.complete(
                    self.sessions,
                    call.lead_id,
                    self.owner,
                    result=result,
                    started_at=call.started_wall,
                    ended_at=self.wall(),
                    call_id=call.call_id,
                    cause=str(event.q850) if event.q850 is not None else event.cause.value,
                    outcome=outcome,
                    outcome_category=category,
                    abandoned=call.lifecycle.state is CallState.ABANDONED,
                    callback_at=callback_at,
                )
            except LeaseLost:
                log.warning(
                    "call %s: lead %s was leased by another runner; record kept only in events",
                    call.call_id,
                    call.lead_id,
                )
                self.calls.pop(call.call_id, None)
                return
            times = call.lifecycle.times
            promised_by = call.slot.work_id if call.slot is not None and category == "callback" else None
            async with self.sessions() as session, session.begin():
                await session.execute(update(Lead).where(Lead.id == call.lead_id).values(callback_agent=promised_by))
                await session.execute(
                    update(CallAttempt)
                    .where(CallAttempt.id == attempt.id)
                    .values(
                        work_id=call.slot.work_id if call.slot else None,
                        answered_at=self._at(times.get(CallState.ANSWERED)),
                        bridged_at=self._at(times.get(CallState.BRIDGED)),
                        wrap_up_seconds=call.wrap_up_seconds,
                        flow_ref=flow.ref,
                        flow_started_at=datetime.fromtimestamp(run.started_at, UTC) if run else None,
                        transcript=[e.to_dict() for e in run.transcript] if run else None,
                        tags=list(run.tags) if run else None,
                        captured_enc=self.vault.encrypt(json.dumps(run.captured, ensure_ascii=False)) if run else None,
                        recording_path=self._recording_path(call) if call.recorded else None,
                    )
                )
                session.add_all(
                    CallEventRow(call_id=call.call_id, at=at, kind=kind, details=details)
                    for at, kind, details in call.events
                )
        self.stats.finished += 1
        self.stats.results[result] = self.stats.results.get(result, 0) + 1
        if outcome:
            self.stats.outcomes[outcome] = self.stats.outcomes.get(outcome, 0) + 1
        self.calls.pop(call.call_id, None)
        if self.on_call_done is not None:
            # under the write lock: the hook may write to the database too (see ``_writes``)
            async with self._writes:
                await self.on_call_done(call, attempt)

    def _recording_path(self, call: LiveCall) -> str:
        return f"{self.recordings_dir}/{call.call_id}.wav"

    def _at(self, clock_time: float | None) -> datetime | None:
        if clock_time is None:
            return None
        return self.wall() - timedelta(seconds=self.clock.now() - clock_time)


def _details(event: CallEvent) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("cause", "q850", "endpoint", "message", "path"):
        value = getattr(event, name, None)
        if value is not None:
            out[name] = str(value) if not isinstance(value, int) else value
    return out


def _callback_time(run: FlowRun | None, zone: ZoneInfo) -> datetime | None:
    """The callback time the script captured (local time unless it says otherwise)."""
    raw: Mapping[str, Any] = run.captured if run is not None else {}
    value = raw.get("callback_at")
    if not value:
        return None
    moment = datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment
