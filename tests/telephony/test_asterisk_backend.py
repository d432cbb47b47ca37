"""dialer.backends.asterisk against the real Asterisk: the backend-neutral events of real SIP calls."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
import uuid
import wave
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from agents.softphone import Softphone
from dialer.backends.asterisk import AmiState, AsteriskBackend, AsteriskSettings, backoff_delay, hangup_cause
from dialer.backends.base import TelephonyBackend
from dialer.errors import BackendError, CallNotFound, CallStateError, DuplicateCallId
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
from recordings.prompts import SpokenPrompts
from tests.telephony.helpers import AsteriskEnv, until_recorded


def new_call_id() -> str:
    return f"b-{uuid.uuid4().hex[:12]}"


@dataclass
class Recorder:
    """Consumes the backend's event stream (the one consumer) and lets tests wait for an event."""

    events: list[CallEvent] = field(default_factory=list)
    _waiters: list[asyncio.Future[None]] = field(default_factory=list)

    async def consume(self, backend: AsteriskBackend) -> None:
        async for event in backend.events():
            self.events.append(event)
            for waiter in self._waiters:
                if not waiter.done():
                    waiter.set_result(None)

    def of(self, call_id: str) -> list[CallEvent]:
        return [e for e in self.events if e.call_id == call_id]

    async def wait(self, call_id: str, kind: type[CallEvent], *, within: float = 10.0) -> CallEvent:
        async with asyncio.timeout(within):
            while not (found := [e for e in self.of(call_id) if isinstance(e, kind)]):
                waiter = asyncio.get_running_loop().create_future()
                self._waiters.append(waiter)
                try:
                    await waiter
                finally:
                    self._waiters.remove(waiter)
        return found[0]


def settings_of(env: AsteriskEnv, **overrides: Any) -> AsteriskSettings:
    """Backend settings for the test Asterisk (from asterisk.env), with overrides."""
    base = AsteriskSettings(
        host=env.ami_host, port=env.ami_port, username=env.ami_user, secret=env.ami_secret, trunk=env.trunk
    )
    return dataclasses.replace(base, **overrides)


@pytest.fixture
async def backend(asterisk: AsteriskEnv) -> AsyncIterator[tuple[AsteriskBackend, Recorder]]:
    """A started backend whose events are recorded; closed (tasks awaited) after the test."""
    backend = AsteriskBackend(settings_of(asterisk))
    await backend.start()
    recorder = Recorder()
    consumer = asyncio.get_running_loop().create_task(recorder.consume(backend))
    try:
        yield backend, recorder
    finally:
        await backend.aclose()
        await asyncio.wait_for(consumer, 5)


def kinds(events: list[CallEvent]) -> list[str]:
    return [type(e).__name__ for e in events]


def test_the_backend_satisfies_the_protocol(asterisk: AsteriskEnv) -> None:
    assert isinstance(AsteriskBackend(settings_of(asterisk)), TelephonyBackend)


@pytest.mark.parametrize(
    ("cause", "tech", "expected"),
    [
        (17, 486, HangupCause.BUSY),
        (19, 480, HangupCause.NO_ANSWER),
        (19, 487, HangupCause.NO_ANSWER),
        (1, 404, HangupCause.INVALID_NUMBER),
        (21, 403, HangupCause.REJECTED),
        (34, 503, HangupCause.CONGESTION),
        (16, None, HangupCause.NORMAL),
        (18, None, HangupCause.NO_ANSWER),
        (None, None, HangupCause.FAILED),
    ],
)
def test_hangup_causes_read_cause_and_tech_cause(cause: int | None, tech: int | None, expected: HangupCause) -> None:
    assert hangup_cause(cause, tech) is expected


async def test_given_a_wrong_secret_when_starting_then_backend_error(asterisk: AsteriskEnv) -> None:
    backend = AsteriskBackend(settings_of(asterisk, secret="nope"))
    with pytest.raises(BackendError):
        await backend.start()
    await backend.aclose()


async def test_given_an_answering_customer_when_bridged_and_recorded_then_events_tell_the_whole_call(
    backend: tuple[AsteriskBackend, Recorder], asterisk: AsteriskEnv, make_phone: Callable[..., Softphone]
) -> None:
    ami, recorder = backend
    phone = make_phone("agent1004")
    phone.register()
    await phone.until(lambda p: p.registered, within=5)
    call_id = new_call_id()

    await ami.originate(call_id, "10004", timeout=10)  # answers at once, talks 4 s
    await recorder.wait(call_id, Answered)
    await ami.start_recording(call_id, f"{call_id}.wav")
    await ami.bridge(call_id, "agent1004")
    bridged = await recorder.wait(call_id, Bridged)
    hung_up = await recorder.wait(call_id, HungUp, within=15)

    assert isinstance(bridged, Bridged)
    assert bridged.endpoint == "agent1004"
    assert isinstance(hung_up, HungUp)
    assert (hung_up.cause, hung_up.q850) == (HangupCause.NORMAL, 16)
    assert kinds(recorder.of(call_id)) == [
        "Originated",
        "Ringing",
        "Answered",
        "RecordingStarted",
        "Bridged",
        "RecordingStopped",
        "HungUp",
    ]
    assert hung_up.wall is not None
    seconds, peak = await until_recorded(asterisk.recordings / f"{call_id}.wav", within=5)
    assert 3.0 <= seconds <= 8.0
    assert peak > 1000
    assert any(c.answered_at is not None for c in phone.calls)


@pytest.mark.parametrize(
    ("number", "ring", "cause", "q850"),
    [
        pytest.param("20000", 10.0, HangupCause.BUSY, 17, id="busy"),
        pytest.param("30100", 10.0, HangupCause.NO_ANSWER, 19, id="no-answer"),
        pytest.param("39900", 1.5, HangupCause.NO_ANSWER, 19, id="ring-timeout"),
        pytest.param("40000", 10.0, HangupCause.CONGESTION, 34, id="congestion"),
        pytest.param("50000", 10.0, HangupCause.INVALID_NUMBER, 1, id="invalid-number"),
        pytest.param("80000", 10.0, HangupCause.REJECTED, 21, id="rejected"),
    ],
)
async def test_given_a_customer_who_does_not_answer_when_originated_then_hungup_says_why(
    backend: tuple[AsteriskBackend, Recorder], number: str, ring: float, cause: HangupCause, q850: int
) -> None:
    ami, recorder = backend
    call_id = new_call_id()

    await ami.originate(call_id, number, timeout=ring)
    hung_up = await recorder.wait(call_id, HungUp)

    assert isinstance(hung_up, HungUp)
    assert (hung_up.cause, hung_up.q850) == (cause, q850)
    assert isinstance(recorder.of(call_id)[0], Originated)
    assert not [e for e in recorder.of(call_id) if isinstance(e, Answered)]


async def test_given_amd_when_a_machine_answers_then_machine_detected_and_the_dialer_hangs_up(
    backend: tuple[AsteriskBackend, Recorder],
) -> None:
    ami, recorder = backend
    call_id = new_call_id()

    await ami.originate(call_id, "60001", variables={"WAIHU_AMD": "yes"})
    await recorder.wait(call_id, MachineDetected)
    await ami.hangup(call_id, HangupCause.MACHINE)
    hung_up = await recorder.wait(call_id, HungUp)

    assert isinstance(hung_up, HungUp)
    assert hung_up.cause is HangupCause.MACHINE
    assert not [e for e in recorder.of(call_id) if isinstance(e, Answered)]


async def test_given_no_free_agent_when_the_dialer_plays_the_safe_harbor_message_then_playback_finishes(
    backend: tuple[AsteriskBackend, Recorder],
) -> None:
    ami, recorder = backend
    call_id = new_call_id()

    await ami.originate(call_id, "10020")
    await recorder.wait(call_id, Answered)
    await ami.play(call_id, "sorry&please-try-call-later")
    played = await recorder.wait(call_id, PlaybackFinished)
    await ami.hangup(call_id, HangupCause.ABANDONED)
    hung_up = await recorder.wait(call_id, HungUp)

    assert isinstance(played, PlaybackFinished)
    assert played.message == "sorry&please-try-call-later"
    assert isinstance(hung_up, HungUp)
    assert hung_up.cause is HangupCause.ABANDONED


async def play_to_an_answered_call(ami: AsteriskBackend, recorder: Recorder, message: str) -> tuple[CallEvent, float]:
    """A customer answers, ``message`` plays to them, then the dialer hangs up: the PlaybackFinished event and
    the seconds from ``play`` to it."""
    call_id = new_call_id()
    await ami.originate(call_id, "10020")
    await recorder.wait(call_id, Answered)
    started = time.monotonic()
    await ami.play(call_id, message)
    played = await recorder.wait(call_id, PlaybackFinished)
    took = time.monotonic() - started
    await ami.hangup(call_id, HangupCause.ABANDONED)
    await recorder.wait(call_id, HungUp)
    return played, took


async def test_given_a_written_safe_harbor_message_when_played_then_the_sites_safe_harbor_prompt_plays(
    backend: tuple[AsteriskBackend, Recorder],
) -> None:
    """A campaign's safe-harbor text is no prompt name: Asterisk plays the site's recorded prompt for it."""
    played, _ = await play_to_an_answered_call(
        *backend, "您好，这里是无锡移动，稍后将再与您联系，如有需要请致电10086。"
    )

    assert isinstance(played, PlaybackFinished)
    assert played.message == "safe-harbor"


async def test_given_text_to_speech_when_a_written_message_is_played_then_asterisk_plays_the_spoken_file(
    asterisk: AsteriskEnv,
) -> None:
    """The campaign's own words: the message is spoken into Asterisk's recordings directory, and Asterisk
    finds and plays it (a prompt it cannot play would fall back to the site's, reported as safe-harbor)."""
    prompts = SpokenPrompts(asterisk.recordings, asterisk.monitor_dir)
    message = "您好，这里是无锡移动，稍后将再与您联系，如有需要请致电10086。"
    ami = AsteriskBackend(settings_of(asterisk), speak=prompts.prompt)
    await ami.start()
    recorder = Recorder()
    consumer = asyncio.get_running_loop().create_task(recorder.consume(ami))
    try:
        played, took = await play_to_an_answered_call(ami, recorder, message)
    finally:
        await ami.aclose()
        await asyncio.wait_for(consumer, 5)

    assert isinstance(played, PlaybackFinished)
    assert played.message == await prompts.prompt(message)
    with wave.open(str(prompts.file_of(message))) as w:
        seconds = w.getnframes() / w.getframerate()
    assert seconds - 0.5 <= took <= seconds + 3.0  # the whole message played, not the site's 3 s prompt


async def test_given_a_prompt_asterisk_cannot_find_when_played_then_the_sites_prompt_plays_instead(
    backend: tuple[AsteriskBackend, Recorder],
) -> None:
    played, _ = await play_to_an_answered_call(*backend, "/var/spool/asterisk/monitor/prompts/waihu-say-missing")

    assert isinstance(played, PlaybackFinished)
    assert played.message == "safe-harbor"  # never silence


async def test_given_calls_in_progress_when_misused_then_typed_errors(
    backend: tuple[AsteriskBackend, Recorder],
) -> None:
    ami, recorder = backend
    call_id = new_call_id()
    with pytest.raises(CallNotFound):
        await ami.bridge("no-such-call", "agent1001")

    await ami.originate(call_id, "39900", timeout=2)
    await recorder.wait(call_id, Ringing)
    with pytest.raises(DuplicateCallId):
        await ami.originate(call_id, "39900")
    with pytest.raises(CallStateError):
        await ami.bridge(call_id, "agent1001")  # still ringing
    with pytest.raises(CallStateError):
        await ami.start_recording(call_id, "x.wav")
    await recorder.wait(call_id, HungUp)


async def started(
    env: AsteriskEnv, **overrides: Any
) -> tuple[AsteriskBackend, Recorder, asyncio.Task[None], list[AmiState]]:
    states: list[AmiState] = []
    backend = AsteriskBackend(settings_of(env, **overrides), on_state=states.append)
    await backend.start()
    recorder = Recorder()
    consumer = asyncio.get_running_loop().create_task(recorder.consume(backend))
    return backend, recorder, consumer, states


async def test_given_the_ami_connection_drops_when_a_call_ends_meanwhile_then_its_record_is_closed(
    asterisk: AsteriskEnv,
) -> None:
    # The reconnect waits 1.5 s: longer than the customer's call (hello, then hang up: ~0.6 s).
    ami, recorder, consumer, states = await started(asterisk, reconnect_initial=1.5, reconnect_jitter=0.0)
    try:
        call_id = new_call_id()
        await ami.originate(call_id, "70000")
        await recorder.wait(call_id, Answered)
        ami.drop_connection()
        assert ami.state is AmiState.RECONNECTING
        hung_up = await recorder.wait(call_id, HungUp, within=10)

        assert isinstance(hung_up, HungUp)
        assert (hung_up.cause, hung_up.q850) == (HangupCause.NORMAL, None)  # found gone by CoreShowChannels
        assert [type(e) for e in recorder.of(call_id)].count(HungUp) == 1
        assert (ami.disconnects, ami.reconnects, ami.ended_unseen) == (1, 1, 1)
        assert states == [AmiState.CONNECTED, AmiState.RECONNECTING, AmiState.CONNECTED]
        # The connection works again: a new call goes through and ends as its number says.
        after = new_call_id()
        await ami.originate(after, "20000")
        busy = await recorder.wait(after, HungUp)
        assert isinstance(busy, HungUp)
        assert busy.cause is HangupCause.BUSY
    finally:
        await ami.aclose()
        await asyncio.wait_for(consumer, 5)
    assert states[-1] is AmiState.CLOSED


async def test_given_the_ami_connection_drops_when_a_call_is_answered_meanwhile_then_it_catches_up_and_carries_on(
    asterisk: AsteriskEnv, make_phone: Callable[..., Softphone]
) -> None:
    phone = make_phone("agent1006")
    phone.register()
    await phone.until(lambda p: p.registered, within=5)
    ami, recorder, consumer, _ = await started(asterisk, reconnect_initial=1.5, reconnect_jitter=0.0)
    try:
        call_id = new_call_id()
        await ami.originate(call_id, "10104")  # rings 1 s, then answers and talks 4 s
        await recorder.wait(call_id, Ringing)
        ami.drop_connection()  # the answer happens while we are away
        answered = await recorder.wait(call_id, Answered, within=10)
        assert isinstance(answered, Answered)
        assert ami.ended_unseen == 0
        # The call is still ours to control: record it and hand it to an agent.
        await ami.start_recording(call_id, f"{asterisk_dir(ami)}/{call_id}.wav")
        await ami.bridge(call_id, "agent1006")
        await recorder.wait(call_id, Bridged)
        hung_up = await recorder.wait(call_id, HungUp, within=15)
        assert isinstance(hung_up, HungUp)
        assert hung_up.cause is HangupCause.NORMAL
        assert kinds(recorder.of(call_id)).count("Answered") == 1
        await until_recorded(asterisk.recordings / f"{call_id}.wav", within=5)
    finally:
        await ami.aclose()
        await asyncio.wait_for(consumer, 5)


def asterisk_dir(backend: AsteriskBackend) -> str:
    """The recordings directory as Asterisk sees it (absolute paths inside it are accepted)."""
    return backend.settings.recordings_dir


async def test_given_ami_is_down_when_originating_then_the_call_fails_as_events_and_nothing_is_sent(
    asterisk: AsteriskEnv,
) -> None:
    ami, recorder, consumer, _ = await started(
        asterisk, reconnect_initial=30.0, reconnect_jitter=0.0, action_timeout=0.3
    )
    try:
        ami.drop_connection()
        call_id = new_call_id()
        await ami.originate(call_id, "10005")
        hung_up = await recorder.wait(call_id, HungUp)
        assert isinstance(hung_up, HungUp)
        assert hung_up.cause is HangupCause.FAILED
        assert kinds(recorder.of(call_id)) == ["Originated", "HungUp"]
    finally:
        await ami.aclose()
        await asyncio.wait_for(consumer, 5)


def test_reconnect_delays_double_up_to_the_cap_with_jitter() -> None:
    settings = AsteriskSettings(reconnect_initial=0.5, reconnect_max=8.0, reconnect_jitter=0.25)
    rng = random.Random(1)
    delays = [backoff_delay(n, settings, rng) for n in range(8)]
    for n, delay in enumerate(delays):
        top = min(8.0, 0.5 * 2**n)
        assert 0.75 * top <= delay <= top
    assert max(delays) <= 8.0
    assert len({round(d, 6) for d in delays[5:]}) == 3  # capped, but not all the same (jitter)


def test_number_rules_rewrite_the_dialed_number() -> None:
    backend = AsteriskBackend(AsteriskSettings(number_rules=((r"\+86138000(\d{5})", r"\1"), (r"\+86(\d+)", r"0\1"))))
    assert backend.dial_string("+8613800010305") == "PJSIP/10305@loopback"
    assert backend.dial_string("+8613912345678") == "PJSIP/013912345678@loopback"
    assert backend.dial_string("10005") == "PJSIP/10005@loopback"


async def test_events_are_the_neutral_types(backend: tuple[AsteriskBackend, Recorder]) -> None:
    """Nothing Asterisk-specific leaks into the stream: events name call ids only."""
    ami, recorder = backend
    call_id = new_call_id()
    await ami.originate(call_id, "20000")
    await recorder.wait(call_id, HungUp)
    allowed = (Originated, Ringing, Answered, HungUp, RecordingStarted, RecordingStopped)
    assert all(isinstance(e, allowed) for e in recorder.of(call_id))
