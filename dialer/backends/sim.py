"""An in-process telephony simulator with the backend interface: for demos, training IDs and pacing studies.

Each originate draws the customer's behaviour from one seeded :class:`random.Random`: invalid
number, answering machine, a live answer after an answer delay U(a0, a1), or not live — busy after
U(3, 8) s or no answer at the ring timeout. A live customer talks for a lognormal time (given mean
and cv) measured from the bridge, then hangs up; an answered call nobody bridges stays up until the
dialer hangs it up (the safe-harbor path). Every call consumes the same four random draws, so two
runs with one seed see the same customers in the same order whatever the dialer does with them.

Timers are the running loop's; on a :class:`~dialer.backends.clock.VirtualClock` a 4-hour campaign
runs in seconds and stays deterministic.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from statistics import NormalDist

from dialer.backends.base import Clock, EventStream
from dialer.backends.clock import RealClock, VirtualClock
from dialer.errors import BackendError, CallNotFound, CallStateError, DuplicateCallId, PacingError
from dialer.events import (
    Answered,
    Bridged,
    CallEvent,
    HangupCause,
    HungUp,
    MachineDetected,
    Originated,
    PlaybackFinished,
    RecordingStarted,
    RecordingStopped,
    Ringing,
)

__all__ = ["OutcomeKind", "SimBackend", "SimOutcome", "SimProfile", "lognormal_params"]

_Q850_NORMAL = 16
_Q850_BUSY = 17
_Q850_NO_ANSWER = 19
_Q850_UNALLOCATED = 1
_STD_NORMAL = NormalDist()


class OutcomeKind(StrEnum):
    LIVE = "live"
    MACHINE = "machine"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class SimProfile:
    """The customer population. Probabilities are shares of all attempts; the rest are not live."""

    p_live: float = 0.33
    answer_delay: tuple[float, float] = (5.0, 25.0)
    p_machine: float = 0.0
    p_invalid: float = 0.0
    busy_share: float = 0.4  # of the non-live attempts; the others ring until the timeout
    busy_delay: tuple[float, float] = (3.0, 8.0)
    talk_mean: float = 90.0
    talk_cv: float = 0.8
    ring_after: float = 2.0  # Ringing this long after originate (never after the outcome)
    invalid_after: float = 0.5
    playback_seconds: float = 8.0
    machine_gives_up_after: float = 30.0  # a machine left alone ends the call itself

    def __post_init__(self) -> None:
        shares = (self.p_live, self.p_machine, self.p_invalid, self.busy_share)
        if any(not 0.0 <= p <= 1.0 for p in shares) or self.p_live + self.p_machine + self.p_invalid > 1.0:
            raise PacingError("simulator probabilities must lie in [0, 1] and sum to at most 1")
        for lo, hi in (self.answer_delay, self.busy_delay):
            if not 0.0 <= lo <= hi:
                raise PacingError("simulator delay ranges must satisfy 0 <= low <= high")
        if self.talk_mean <= 0 or self.talk_cv < 0:
            raise PacingError("talk time needs a positive mean and a non-negative cv")


def lognormal_params(mean: float, cv: float) -> tuple[float, float]:
    """(mu, sigma) of the lognormal with this mean and coefficient of variation."""
    sigma2 = math.log1p(cv * cv)
    return math.log(mean) - sigma2 / 2.0, math.sqrt(sigma2)


@dataclass(frozen=True, slots=True)
class SimOutcome:
    """What the customer behind one attempt will do: ``after`` is the answer / busy / invalid delay."""

    kind: OutcomeKind
    after: float
    talk: float


@dataclass(slots=True)
class _Call:
    outcome: SimOutcome
    state: str = "dialing"  # dialing -> up -> bridged; removed when it ends
    recording: str | None = None
    ring_pending: bool = False
    timers: list[asyncio.TimerHandle] = field(default_factory=list)


class SimBackend:
    """The simulator. ``seed`` fixes every customer; ``clock`` stamps the events (virtual or real)."""

    def __init__(self, profile: SimProfile | None = None, *, seed: int = 0, clock: Clock | None = None) -> None:
        self.profile = profile or SimProfile()
        self._rng = random.Random(seed)
        self._clock: Clock = clock or RealClock()
        self._mu, self._sigma = lognormal_params(self.profile.talk_mean, self.profile.talk_cv)
        self._calls: dict[str, _Call] = {}
        self._queue: asyncio.Queue[CallEvent | None] = asyncio.Queue()
        self._next: SimOutcome | None = None
        self._closed = False

    # -- outcomes ---------------------------------------------------------------------------------

    def _draw(self) -> SimOutcome:
        p = self.profile
        u = self._rng.random()
        answer = self._rng.uniform(*p.answer_delay)
        busy_or_not = self._rng.random()
        # inverse CDF: exactly one draw (lognormvariate's rejection loop would use a varying number)
        talk = math.exp(self._mu + self._sigma * _STD_NORMAL.inv_cdf(self._rng.random() or 1e-300))
        if u < p.p_invalid:
            return SimOutcome(OutcomeKind.INVALID, p.invalid_after, 0.0)
        if u < p.p_invalid + p.p_machine:
            return SimOutcome(OutcomeKind.MACHINE, answer, 0.0)
        if u < p.p_invalid + p.p_machine + p.p_live:
            return SimOutcome(OutcomeKind.LIVE, answer, talk)
        if busy_or_not < p.busy_share:
            return SimOutcome(OutcomeKind.BUSY, self._busy_delay(busy_or_not / p.busy_share), 0.0)
        return SimOutcome(OutcomeKind.NO_ANSWER, math.inf, 0.0)

    def _busy_delay(self, unit: float) -> float:
        lo, hi = self.profile.busy_delay
        return lo + (hi - lo) * unit

    def peek_outcome(self) -> SimOutcome:
        """The outcome the next originate will get (for the benchmark's oracle only: it knows the future)."""
        if self._next is None:
            self._next = self._draw()
        return self._next

    def outcome_of(self, call_id: str) -> SimOutcome:
        """The outcome of a call still in progress (oracle only)."""
        return self._get(call_id).outcome

    # -- the backend interface ----------------------------------------------------------------------

    async def originate(
        self,
        call_id: str,
        number: str,
        *,
        caller_id: str | None = None,
        variables: Mapping[str, str] | None = None,
        timeout: float = 25.0,  # noqa: ASYNC109  (the ring time, not a wait of ours)
    ) -> None:
        if self._closed:
            raise BackendError("the simulator is closed")
        if isinstance(self._clock, VirtualClock):
            self._clock.check_running()
        if call_id in self._calls:
            raise DuplicateCallId(f"call {call_id} is already in progress", details={"call_id": call_id})
        outcome = self.peek_outcome()
        self._next = None
        call = _Call(outcome)
        self._calls[call_id] = call
        self._emit(Originated(call_id=call_id, at=self._clock.now()))
        p = self.profile
        kind = outcome.kind
        if kind is OutcomeKind.INVALID:
            self._after(call, outcome.after, self._end, call_id, HangupCause.INVALID_NUMBER, _Q850_UNALLOCATED)
            return
        if kind is OutcomeKind.BUSY:
            self._after(call, outcome.after, self._end, call_id, HangupCause.BUSY, _Q850_BUSY)
            return
        settles = min(outcome.after, timeout)
        if p.ring_after < settles:
            self._after(call, p.ring_after, self._ring, call_id)
        else:  # timers due at one instant have no guaranteed order: ring inside the outcome's callback
            call.ring_pending = True
        if outcome.after >= timeout:
            self._after(call, timeout, self._end, call_id, HangupCause.NO_ANSWER, _Q850_NO_ANSWER)
        elif kind is OutcomeKind.LIVE:
            self._after(call, outcome.after, self._answer, call_id)
        else:
            self._after(call, outcome.after, self._machine, call_id)

    async def hangup(self, call_id: str, cause: HangupCause = HangupCause.NORMAL) -> None:
        self._get(call_id)
        self._end(call_id, cause, _Q850_NORMAL)

    async def bridge(self, call_id: str, endpoint: str) -> None:
        call = self._get(call_id)
        if call.state != "up":
            raise CallStateError(f"call {call_id} is {call.state}, not answered", details={"call_id": call_id})
        call.state = "bridged"
        self._emit(Bridged(call_id=call_id, at=self._clock.now(), endpoint=endpoint))
        self._after(call, call.outcome.talk, self._end, call_id, HangupCause.NORMAL, _Q850_NORMAL)

    async def play(self, call_id: str, message: str) -> None:
        call = self._up(call_id)
        self._after(call, self.profile.playback_seconds, self._played, call_id, message)

    async def start_recording(self, call_id: str, path: str) -> None:
        call = self._up(call_id)
        if call.recording is not None:
            raise CallStateError(f"call {call_id} is already recording", details={"call_id": call_id})
        call.recording = path
        self._emit(RecordingStarted(call_id=call_id, at=self._clock.now(), path=path))

    async def stop_recording(self, call_id: str) -> None:
        call = self._get(call_id)
        if call.recording is None:
            raise CallStateError(f"call {call_id} is not recording", details={"call_id": call_id})
        self._emit(RecordingStopped(call_id=call_id, at=self._clock.now(), path=call.recording))
        call.recording = None

    def events(self) -> AsyncIterator[CallEvent]:
        return EventStream(self._queue)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        for call in self._calls.values():
            for timer in call.timers:
                timer.cancel()
        self._calls.clear()
        self._queue.put_nowait(None)

    # -- internals ----------------------------------------------------------------------------------

    def _get(self, call_id: str) -> _Call:
        try:
            return self._calls[call_id]
        except KeyError:
            raise CallNotFound(f"no call {call_id} in progress", details={"call_id": call_id}) from None

    def _up(self, call_id: str) -> _Call:
        call = self._get(call_id)
        if call.state == "dialing":
            raise CallStateError(f"call {call_id} has not been answered", details={"call_id": call_id})
        return call

    def _emit(self, event: CallEvent) -> None:
        self._queue.put_nowait(event)

    def _after(self, call: _Call, delay: float, fn: Callable[..., None], *args: object) -> None:
        call.timers.append(asyncio.get_running_loop().call_later(delay, fn, *args))

    def _ring(self, call_id: str) -> None:
        self._emit(Ringing(call_id=call_id, at=self._clock.now()))

    def _ring_if_pending(self, call: _Call, call_id: str) -> None:
        if call.ring_pending:
            call.ring_pending = False
            self._ring(call_id)

    def _answer(self, call_id: str) -> None:
        call = self._calls[call_id]
        self._ring_if_pending(call, call_id)
        call.state = "up"
        self._emit(Answered(call_id=call_id, at=self._clock.now()))

    def _machine(self, call_id: str) -> None:
        call = self._calls[call_id]
        self._ring_if_pending(call, call_id)
        call.state = "up"
        self._emit(MachineDetected(call_id=call_id, at=self._clock.now()))
        self._after(call, self.profile.machine_gives_up_after, self._end, call_id, HangupCause.NORMAL, _Q850_NORMAL)

    def _played(self, call_id: str, message: str) -> None:
        self._emit(PlaybackFinished(call_id=call_id, at=self._clock.now(), message=message))

    def _end(self, call_id: str, cause: HangupCause, q850: int) -> None:
        call = self._calls.pop(call_id)
        for timer in call.timers:
            timer.cancel()
        if cause is HangupCause.NO_ANSWER:
            self._ring_if_pending(call, call_id)
        now = self._clock.now()
        if call.recording is not None:
            self._emit(RecordingStopped(call_id=call_id, at=now, path=call.recording))
        self._emit(HungUp(call_id=call_id, at=now, cause=cause, q850=q850))
