from __future__ import annotations

import dataclasses

import pytest

from dialer.errors import CallNotFound, DialerError
from dialer.events import Bridged, HangupCause, HungUp, cause_from_q850
from waihu.errors import WaihuError


def test_events_are_frozen_and_slotted() -> None:
    event = HungUp(call_id="c1", at=1.5, cause=HangupCause.BUSY, q850=17)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.at = 2.0  # type: ignore[misc]
    assert not hasattr(event, "__dict__")
    assert Bridged(call_id="c1", at=0.0, endpoint="agent001").endpoint == "agent001"


@pytest.mark.parametrize(
    ("code", "cause"),
    [
        (16, HangupCause.NORMAL),
        (17, HangupCause.BUSY),
        (19, HangupCause.NO_ANSWER),
        (21, HangupCause.REJECTED),
        (1, HangupCause.INVALID_NUMBER),
        (34, HangupCause.CONGESTION),
        (127, HangupCause.FAILED),
        (None, HangupCause.FAILED),
    ],
)
def test_q850_codes_map_to_coarse_causes(code: int | None, cause: HangupCause) -> None:
    assert cause_from_q850(code) is cause


def test_dialer_errors_descend_from_waihu_error_with_stable_ids() -> None:
    error = CallNotFound("no call c9 in progress", details={"call_id": "c9"})
    assert isinstance(error, DialerError)
    assert isinstance(error, WaihuError)
    assert error.to_dict() == {
        "error_id": "dialer.call_not_found",
        "message": "no call c9 in progress",
        "details": {"call_id": "c9"},
    }
