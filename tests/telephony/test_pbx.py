"""Asterisk as configured by deploy/asterisk: the AMI user's rights, agent registration, the call path end to end.

Each call is a real SIP call through the loopback trunk into the test ``customers`` context, whose
number says what the customer does (see deploy/asterisk/README.md).
"""

from __future__ import annotations

import array
import math
import uuid
import wave
from collections.abc import Callable
from pathlib import Path

import pytest

from agents.softphone import Softphone
from tests.telephony.helpers import Ami, AsteriskEnv, connect_ami, originate, until_recorded


def new_call_id() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


async def test_given_our_ami_user_when_it_logs_in_then_it_may_not_run_cli_commands(ami: Ami) -> None:
    ping = await ami.send({"Action": "Ping"})
    assert ping.response == "Success"

    command = await ami.send({"Action": "Command", "Command": "core show version"})

    assert command.response == "Error"
    assert "Permission denied" in command.message


async def test_given_a_wrong_secret_when_logging_in_then_ami_refuses(asterisk: AsteriskEnv) -> None:
    manager, ok = await connect_ami(asterisk, secret="not-the-secret")
    manager.close()
    assert not ok


async def test_given_agent_credentials_when_the_softphone_registers_then_asterisk_answers_200(
    make_phone: Callable[..., Softphone],
) -> None:
    good = make_phone("agent1001")
    bad = make_phone("agent1002", password="wrong")

    good.register()
    bad.register()
    await good.until(lambda p: p.registration_code != 0, within=5)
    await bad.until(lambda p: p.registration_code != 0, within=5)

    assert good.registration_code == 200
    assert bad.registration_code == 401


async def test_given_a_customer_who_answers_when_originated_then_the_agent_talks_and_the_call_is_recorded(
    ami: Ami, asterisk: AsteriskEnv, make_phone: Callable[..., Softphone]
) -> None:
    phone = make_phone("agent1003")
    phone.register()
    await phone.until(lambda p: p.registered, within=5)
    call_id = new_call_id()

    # 10003: answers at once, says hello, talks 3 s, hangs up.
    reply = await ami.send(originate(asterisk, call_id, "10003", WAIHU_AGENT="1003"))

    assert [m.get("Response") for m in reply] == ["Success", "Success"]
    assert reply[1].get("Event") == "OriginateResponse"
    assert reply[1].get("Reason") == "4"  # answered
    assert reply[1].get("Uniqueid") == call_id
    dial = await ami.events.wait("DialEnd", Uniqueid=call_id, DialStatus="ANSWER")
    assert dial.get("DestChannel", "").startswith("PJSIP/agent1003-")
    await phone.until(lambda p: any(c.answered_at is not None for c in p.calls), within=5)
    hangup = await ami.events.wait("Hangup", Uniqueid=call_id, within=15)
    assert hangup.get("Cause") == "16"
    await phone.until(lambda p: not p.active_calls(), within=5)

    # MixMonitor finishes the file (its WAV header) on its own thread just after the hangup.
    recording = asterisk.recordings / f"{call_id}.wav"
    seconds, peak = await until_recorded(recording, within=5)
    assert 3.0 <= seconds <= 8.0
    assert peak > 1000  # the customer's voice, not silence


@pytest.mark.parametrize(
    ("number", "cause", "tech_cause"),
    [
        pytest.param("20000", "17", "486", id="busy"),
        pytest.param("30100", "19", "480", id="no-answer-after-ringing"),
        pytest.param("40000", "34", "503", id="congestion"),
        pytest.param("50000", "1", "404", id="invalid-number"),
        pytest.param("80000", "21", "403", id="rejected"),
    ],
)
async def test_given_a_customer_who_does_not_answer_when_originated_then_hangup_carries_the_cause(
    ami: Ami, asterisk: AsteriskEnv, number: str, cause: str, tech_cause: str
) -> None:
    call_id = new_call_id()

    reply = await ami.send(originate(asterisk, call_id, number))

    assert reply[1].get("Response") == "Failure"
    hangup = await ami.events.wait("Hangup", Uniqueid=call_id)
    assert (hangup.get("Cause"), hangup.get("TechCause")) == (cause, tech_cause)


async def test_given_a_phone_that_rings_on_when_the_originate_times_out_then_no_answer(
    ami: Ami, asterisk: AsteriskEnv
) -> None:
    call_id = new_call_id()

    reply = await ami.send(originate(asterisk, call_id, "39900", timeout_ms=1500))

    assert (reply[1].get("Response"), reply[1].get("Reason")) == ("Failure", "3")  # ring timeout
    hangup = await ami.events.wait("Hangup", Uniqueid=call_id)
    assert hangup.get("Cause") in {"18", "19"}


async def test_given_amd_on_when_a_machine_answers_then_asterisk_says_machine(ami: Ami, asterisk: AsteriskEnv) -> None:
    call_id = new_call_id()

    await ami.send(originate(asterisk, call_id, "60001", WAIHU_AMD="yes", WAIHU_PARK_TIMEOUT="0"))

    amd = await ami.events.wait("UserEvent", UserEvent="WaihuAMD", Uniqueid=call_id)
    assert amd.get("Status") == "MACHINE"
    await ami.events.wait("Hangup", Uniqueid=call_id)


async def test_given_amd_on_when_a_person_answers_then_asterisk_says_human(ami: Ami, asterisk: AsteriskEnv) -> None:
    call_id = new_call_id()

    await ami.send(originate(asterisk, call_id, "10002", WAIHU_AMD="yes", WAIHU_PARK_TIMEOUT="0"))

    amd = await ami.events.wait("UserEvent", UserEvent="WaihuAMD", Uniqueid=call_id)
    assert amd.get("Status") == "HUMAN"
    await ami.events.wait("Hangup", Uniqueid=call_id)


async def test_given_no_agent_takes_the_call_when_the_wait_ends_then_the_customer_hears_the_safe_harbor_message(
    ami: Ami, asterisk: AsteriskEnv
) -> None:
    call_id = new_call_id()

    # 10010: answers and would talk 10 s; nobody bridges it within WAIHU_PARK_TIMEOUT.
    await ami.send(originate(asterisk, call_id, "10010", WAIHU_PARK_TIMEOUT="1"))

    await ami.events.wait("UserEvent", UserEvent="WaihuSafeHarbor", Uniqueid=call_id, within=5)
    finished = await ami.events.wait("UserEvent", UserEvent="WaihuPlaybackFinished", Uniqueid=call_id, within=10)
    assert finished.get("Message") == "safe-harbor"
    assert finished.get("Status") == "SUCCESS"
    hangup = await ami.events.wait("Hangup", Uniqueid=call_id, within=5)
    assert hangup.get("Cause") == "16"


def write_tone(path: Path, seconds: float = 3.0, hz: float = 440.0, rate: int = 8000) -> None:
    """A sine tone WAV (16-bit mono): the agent's voice in a test."""
    samples = array.array("h", (int(12000 * math.sin(2 * math.pi * hz * i / rate)) for i in range(int(seconds * rate))))
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.tobytes())


async def test_given_an_agent_with_a_voice_file_when_bridged_then_the_recording_holds_the_agents_voice(
    ami: Ami, asterisk: AsteriskEnv, make_phone: Callable[..., Softphone], tmp_path: Path
) -> None:
    voice = tmp_path / "voice.wav"
    write_tone(voice)
    phone = make_phone("agent1005", voice=voice)
    phone.register()
    await phone.until(lambda p: p.registered, within=5)
    call_id = new_call_id()

    # 70004: the customer says "hello?" and then stays silent for 4 s: what is heard after that is the agent.
    await ami.send(originate(asterisk, call_id, "70004", WAIHU_AGENT="1005"))
    await ami.events.wait("Hangup", Uniqueid=call_id, within=15)
    await phone.until(lambda p: not p.active_calls(), within=5)

    seconds, _ = await until_recorded(asterisk.recordings / f"{call_id}.wav", within=5)
    with wave.open(str(asterisk.recordings / f"{call_id}.wav")) as wav:
        rate = wav.getframerate()
        wav.setpos(int(2.0 * rate))  # after the customer's hello
        tail = array.array("h", wav.readframes(rate))
    assert seconds >= 3.0
    assert max(abs(s) for s in tail) > 1000
