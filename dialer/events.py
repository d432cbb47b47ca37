"""Backend-neutral call events: what happened to a call, when, and why it ended.

Every backend (Asterisk AMI, the simulator) translates its own signalling into these, so the
call lifecycle, the pacer and the call record never see a PBX detail. Times are seconds on the
backend's clock (monotonic or virtual); ``wall`` is the UTC wall time when the backend knows it.
Events carry call ids only, never phone numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

__all__ = [
    "Answered",
    "Bridged",
    "CallEvent",
    "HangupCause",
    "HungUp",
    "MachineDetected",
    "Originated",
    "PlaybackFinished",
    "RecordingStarted",
    "RecordingStopped",
    "Ringing",
    "cause_from_q850",
]


class HangupCause(StrEnum):
    """Why a call ended, coarse enough for dispositions and retry rules; the Q.850 code keeps the detail."""

    NORMAL = "normal"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    REJECTED = "rejected"
    INVALID_NUMBER = "invalid_number"
    CONGESTION = "congestion"
    FAILED = "failed"
    ABANDONED = "abandoned"
    MACHINE = "machine"


_Q850: dict[int, HangupCause] = {
    1: HangupCause.INVALID_NUMBER,  # unallocated number
    3: HangupCause.INVALID_NUMBER,  # no route to destination
    16: HangupCause.NORMAL,
    17: HangupCause.BUSY,
    18: HangupCause.NO_ANSWER,  # no user responding
    19: HangupCause.NO_ANSWER,  # no answer from user (alerted)
    21: HangupCause.REJECTED,
    22: HangupCause.INVALID_NUMBER,  # number changed
    28: HangupCause.INVALID_NUMBER,  # invalid number format
    31: HangupCause.NORMAL,  # normal, unspecified
    34: HangupCause.CONGESTION,  # no circuit available
    38: HangupCause.CONGESTION,  # network out of order
    41: HangupCause.CONGESTION,  # temporary failure
    42: HangupCause.CONGESTION,  # switching equipment congestion
}


def cause_from_q850(code: int | None) -> HangupCause:
    """Map a Q.850 cause code (what Asterisk reports) to our coarse cause; unknown codes are failures."""
    if code is None:
        return HangupCause.FAILED
    return _Q850.get(code, HangupCause.FAILED)


@dataclass(frozen=True, slots=True, kw_only=True)
class CallEvent:
    """Base of all call events: which call, and when on the backend's clock."""

    call_id: str
    at: float
    wall: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Originated(CallEvent):
    """The backend accepted the originate and is placing the call."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Ringing(CallEvent):
    """The far end is alerting."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Answered(CallEvent):
    """A person answered (with AMD on, machines are reported as :class:`MachineDetected` instead)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MachineDetected(CallEvent):
    """Answering-machine detection says a machine answered; the call is up until the dialer hangs up."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HungUp(CallEvent):
    """The call ended; the last event of every call."""

    cause: HangupCause
    q850: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Bridged(CallEvent):
    """The customer is connected to an agent's endpoint (a PJSIP endpoint name)."""

    endpoint: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaybackFinished(CallEvent):
    """A message played to the customer has ended (the safe-harbor message, typically)."""

    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingStarted(CallEvent):
    """Recording of the call began, into ``path`` (relative to the recordings store)."""

    path: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingStopped(CallEvent):
    """Recording of the call ended; the file at ``path`` is complete."""

    path: str
