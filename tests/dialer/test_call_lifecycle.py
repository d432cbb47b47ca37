"""The call lifecycle fed with backend events: every path of the issue, and the illegal jumps refused."""

from __future__ import annotations

import pytest

from dialer.calls import CallLifecycle, CallState
from dialer.errors import CallStateError
from dialer.events import Answered, Bridged, HangupCause, HungUp, MachineDetected, Ringing


def dialing() -> CallLifecycle:
    call = CallLifecycle("c1")
    call.move(CallState.DIALING, 0.0)
    return call


def test_a_conversation_goes_through_every_state_with_its_time() -> None:
    call = dialing()
    call.apply(Ringing(call_id="c1", at=2.0))
    call.apply(Answered(call_id="c1", at=9.0))
    call.apply(Bridged(call_id="c1", at=9.5, endpoint="PJSIP/agent1001"))
    call.apply(HungUp(call_id="c1", at=99.5, cause=HangupCause.NORMAL, q850=16))
    assert call.state is CallState.WRAP_UP
    call.move(CallState.DONE, 110.0)
    assert call.ended
    assert call.times == {
        CallState.DIALING: 0.0,
        CallState.RINGING: 2.0,
        CallState.ANSWERED: 9.0,
        CallState.BRIDGED: 9.5,
        CallState.WRAP_UP: 99.5,
        CallState.DONE: 110.0,
    }
    assert call.talk_seconds == 90.0
    assert call.q850 == 16


@pytest.mark.parametrize(
    ("cause", "state"),
    [
        (HangupCause.BUSY, CallState.BUSY),
        (HangupCause.NO_ANSWER, CallState.NO_ANSWER),
        (HangupCause.INVALID_NUMBER, CallState.FAILED),
        (HangupCause.CONGESTION, CallState.FAILED),
    ],
)
def test_calls_that_never_answer_end_in_their_cause(cause: HangupCause, state: CallState) -> None:
    call = dialing()
    call.apply(Ringing(call_id="c1", at=1.0))
    call.apply(HungUp(call_id="c1", at=5.0, cause=cause))
    assert call.state is state
    assert call.ended


def test_an_answered_call_nobody_takes_is_abandoned_and_a_machine_is_a_machine() -> None:
    call = dialing()
    call.apply(Answered(call_id="c1", at=3.0))
    call.apply(HungUp(call_id="c1", at=13.0, cause=HangupCause.ABANDONED))
    assert call.state is CallState.ABANDONED
    machine = dialing()
    machine.apply(MachineDetected(call_id="c1", at=4.0))
    machine.apply(HungUp(call_id="c1", at=8.0, cause=HangupCause.NORMAL))
    assert machine.state is CallState.MACHINE


def test_illegal_jumps_are_refused_and_repeats_ignored() -> None:
    call = CallLifecycle("c1")
    with pytest.raises(CallStateError):
        call.move(CallState.BRIDGED, 1.0)
    call = dialing()
    call.apply(Ringing(call_id="c1", at=1.0))
    call.apply(Ringing(call_id="c1", at=1.5))
    assert call.times[CallState.RINGING] == 1.0
    call.apply(HungUp(call_id="c1", at=5.0, cause=HangupCause.BUSY))
    call.apply(HungUp(call_id="c1", at=6.0, cause=HangupCause.NORMAL))
    assert call.state is CallState.BUSY
