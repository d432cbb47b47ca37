"""The life of one call: queued → dialing → ringing → answered → bridged → wrap_up → done.

Or it ends early: busy, no_answer, failed, machine, or abandoned (answered but no agent free in
time). The lifecycle is a pure state machine fed with backend-neutral events; the runner stores
each applied event with its time, so the call record shows exactly what happened and when.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from dialer.errors import CallStateError
from dialer.events import Answered, Bridged, CallEvent, HangupCause, HungUp, MachineDetected, Ringing


class CallState(StrEnum):
    QUEUED = "queued"
    DIALING = "dialing"
    RINGING = "ringing"
    ANSWERED = "answered"
    BRIDGED = "bridged"
    WRAP_UP = "wrap_up"
    DONE = "done"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"
    MACHINE = "machine"
    ABANDONED = "abandoned"


#: states a call ends in; ``done`` is reached through wrap-up after a bridged conversation
FINAL = frozenset(
    {CallState.DONE, CallState.BUSY, CallState.NO_ANSWER, CallState.FAILED, CallState.MACHINE, CallState.ABANDONED}
)

_ALLOWED: dict[CallState, frozenset[CallState]] = {
    CallState.QUEUED: frozenset({CallState.DIALING, CallState.FAILED}),
    CallState.DIALING: frozenset(
        {
            CallState.RINGING,
            CallState.ANSWERED,
            CallState.BUSY,
            CallState.NO_ANSWER,
            CallState.FAILED,
            CallState.MACHINE,
        }
    ),
    CallState.RINGING: frozenset(
        {CallState.ANSWERED, CallState.BUSY, CallState.NO_ANSWER, CallState.FAILED, CallState.MACHINE}
    ),
    CallState.ANSWERED: frozenset({CallState.BRIDGED, CallState.ABANDONED, CallState.MACHINE, CallState.FAILED}),
    CallState.BRIDGED: frozenset({CallState.WRAP_UP}),
    CallState.WRAP_UP: frozenset({CallState.DONE}),
}

_END_BEFORE_ANSWER = {
    HangupCause.BUSY: CallState.BUSY,
    HangupCause.NO_ANSWER: CallState.NO_ANSWER,
    HangupCause.MACHINE: CallState.MACHINE,
    HangupCause.ABANDONED: CallState.ABANDONED,
}


@dataclass
class CallLifecycle:
    """One call's state and the times it entered each state (seconds on the backend's clock)."""

    call_id: str
    state: CallState = CallState.QUEUED
    times: dict[CallState, float] = field(default_factory=dict)
    cause: HangupCause | None = None
    q850: int | None = None
    #: the dialer gave up finding an agent (the safe-harbor message is playing): however the line drops now,
    #: the customer hung up on, or was hung up on by, the dialer — an abandoned call
    abandoning: bool = False

    def move(self, to: CallState, at: float) -> None:
        if to not in _ALLOWED.get(self.state, frozenset()):
            raise CallStateError(
                f"call {self.call_id}: {self.state} -> {to} is not a step of the call lifecycle",
                details={"call_id": self.call_id, "from": self.state.value, "to": to.value},
            )
        self.state = to
        self.times[to] = at

    def apply(self, event: CallEvent) -> CallState:
        """Advance on a backend event; events that change nothing (a second Ringing) are ignored."""
        if isinstance(event, Ringing) and self.state is CallState.DIALING:
            self.move(CallState.RINGING, event.at)
        elif isinstance(event, Answered) and self.state in (CallState.DIALING, CallState.RINGING):
            self.move(CallState.ANSWERED, event.at)
        elif isinstance(event, MachineDetected) and self.state in (
            CallState.DIALING,
            CallState.RINGING,
            CallState.ANSWERED,
        ):
            self.move(CallState.MACHINE, event.at)
        elif isinstance(event, Bridged) and self.state is CallState.ANSWERED:
            self.move(CallState.BRIDGED, event.at)
        elif isinstance(event, HungUp):
            self.cause, self.q850 = event.cause, event.q850
            self._hung_up(event)
        return self.state

    def _hung_up(self, event: HungUp) -> None:
        if self.state in FINAL or self.state is CallState.WRAP_UP:
            return
        if self.state is CallState.BRIDGED:
            self.move(CallState.WRAP_UP, event.at)
        elif self.state is CallState.ANSWERED:
            abandoned = self.abandoning or event.cause is HangupCause.ABANDONED
            self.move(CallState.ABANDONED if abandoned else CallState.FAILED, event.at)
        else:
            self.move(_END_BEFORE_ANSWER.get(event.cause, CallState.FAILED), event.at)

    @property
    def ended(self) -> bool:
        return self.state in FINAL

    @property
    def talk_seconds(self) -> float | None:
        if CallState.BRIDGED in self.times and CallState.WRAP_UP in self.times:
            return self.times[CallState.WRAP_UP] - self.times[CallState.BRIDGED]
        return None
