"""Simulated calls get real audio: script lines spoken at their step times (espeak-ng + sox)."""

from __future__ import annotations

import array
import hashlib
import itertools
import wave
from pathlib import Path

import pytest

from flows import FlowRegistry
from recordings.synth import (
    RATE,
    Placement,
    SpokenLine,
    SynthError,
    lines_from_transcript,
    place,
    synthesize,
    tools_missing,
)
from tests.flows.conftest import FakeClock
from waihu.pii import mask


def rms(path: Path, start: float, end: float) -> float:
    with wave.open(str(path)) as w:
        rate = w.getframerate()
        w.setpos(int(start * rate))
        frames = w.readframes(int((end - start) * rate))
    samples = array.array("h", frames)
    return (sum(s * s for s in samples) / max(len(samples), 1)) ** 0.5


def test_the_tools_are_installed_by_the_test_setup() -> None:
    assert tools_missing() == []


async def test_lines_are_spoken_at_their_times_in_pbx_format(tmp_path: Path) -> None:
    stored = await synthesize(
        [
            SpokenLine(1.0, "agent", "您好！我是无锡移动客服代表"),
            SpokenLine(6.0, "customer", "是的"),
        ],
        tmp_path / "call.wav",
    )
    out = stored.path
    with wave.open(str(out)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        duration = w.getnframes() / w.getframerate()
    assert duration > 6.5
    assert rms(out, 0.0, 0.9) < 50  # silence before the first line
    assert rms(out, 1.1, 2.0) > 500  # the agent speaking
    assert rms(out, 6.05, 6.4) > 500  # the customer's answer at 6 s


async def test_a_walk_becomes_masked_lines_on_the_timeline(tmp_path: Path) -> None:
    clock = FakeClock()
    engine = FlowRegistry().engine("mobile-newspaper-trial")
    run = engine.new_run({"phone": "13812345678"}, clock=clock, mask=mask)
    await run.start()
    for label in ["是的", "生活"]:
        clock.advance(7)
        await run.choose(label)
    await run.close()
    lines = lines_from_transcript(engine.flow, run.transcript, run.render)
    assert [(line.at, line.speaker) for line in lines] == [
        (0, "agent"),
        (7, "customer"),
        (7, "agent"),
        (14, "customer"),
        (14, "agent"),
    ]
    assert "138****5678" in lines[0].text
    assert all("13812345678" not in line.text for line in lines)
    out = (await synthesize(lines, tmp_path / "walk.wav")).path
    assert rms(out, 7.05, 7.5) > 500


def seconds(path: Path) -> float:
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def test_each_line_is_heard_alone_until_the_next_step() -> None:
    # a screen read out for 14 s, but the agent moved on after 0.8 s: cut there, nobody talks over it
    spots = place([0.0, 0.8, 1.6], [14 * RATE, 14 * RATE, 1 * RATE], end=None)
    assert spots == [
        Placement(0, int(0.8 * RATE), cut=True),
        Placement(int(0.8 * RATE), int(0.8 * RATE), cut=True),
        Placement(int(1.6 * RATE), RATE, cut=False),
    ]
    # one click: the customer's answer and the next screen share the instant, the answer first
    short, long_ = int(0.3 * RATE), 10 * RATE
    spots = place([0.0, 1.0, 1.0004, 2.0], [long_, short, long_, short], end=None)
    assert spots[1] == Placement(RATE, short, cut=False)
    assert spots[2] == Placement(RATE + short, RATE - short, cut=True)
    # an answer longer than its share leaves the screen's text half of the step
    spots = place([0.0, 0.0001], [long_, long_], end=RATE)
    assert spots == [Placement(0, RATE // 2, cut=True), Placement(RATE // 2, RATE // 2, cut=True)]
    spots = place([0.0, 0.5, 0.5, 3.0], [RATE] * 4, end=2 * RATE)
    for a, b in itertools.pairwise(spots):
        assert a.start + a.length <= b.start or b.length == 0  # never overlapping


def test_the_call_ends_the_recording() -> None:
    spots = place([0.0, 1.5, 2.5], [2 * RATE, 2 * RATE, RATE], end=2 * RATE)
    assert spots[0] == Placement(0, int(1.5 * RATE), cut=True)
    assert spots[1] == Placement(int(1.5 * RATE), int(0.5 * RATE), cut=True)  # the hang-up cuts it
    assert spots[2].length == 0  # after the hang-up: never said
    with pytest.raises(ValueError, match="one natural length per line"):
        place([0.0], [], end=None)


async def test_a_recording_lasts_the_call_and_its_lines_do_not_overlap(tmp_path: Path) -> None:
    long_text = "您好！我是无锡移动客服代表，请问您是机主吗？我们推出了手机报免费试用，看新闻很方便。"
    lines = [
        SpokenLine(0.2, "agent", long_text),
        SpokenLine(1.0, "customer", "是的"),
        SpokenLine(1.0, "agent", long_text),
        SpokenLine(1.9, "agent", long_text),
    ]
    stored = await synthesize(lines, tmp_path / "call.wav", duration=2.95)
    # as long as the call, not as long as the speech (about 8 s per screen)
    assert seconds(stored.path) == pytest.approx(2.95, abs=1 / RATE)
    assert stored.duration_seconds == pytest.approx(2.95, abs=1 / RATE)
    data = stored.path.read_bytes()
    assert (stored.size_bytes, stored.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert stored.path.stat().st_mode & 0o777 == 0o600
    assert rms(stored.path, 0.0, 0.18) < 50  # silence before the first line
    assert rms(stored.path, 0.25, 0.95) > 500  # the first screen, heard until the next step
    assert rms(stored.path, 1.0, 1.85) > 500
    assert rms(stored.path, 1.95, 2.9) > 500  # the last screen, cut by the hang-up


async def test_lines_after_the_hang_up_are_never_said(tmp_path: Path) -> None:
    stored = await synthesize(
        [SpokenLine(0.0, "agent", "您好"), SpokenLine(5.0, "customer", "是的")], tmp_path / "c.wav", duration=1.0
    )
    assert seconds(stored.path) == pytest.approx(1.0, abs=1 / RATE)
    with pytest.raises(SynthError):
        await synthesize([], tmp_path / "none.wav", duration=1.0)
