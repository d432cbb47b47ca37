"""Simulated calls get real audio: script lines spoken at their step times (espeak-ng + sox)."""

from __future__ import annotations

import array
import wave
from pathlib import Path

from flows import FlowRegistry
from recordings.synth import SpokenLine, lines_from_transcript, synthesize, tools_missing
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
    out = await synthesize(
        [
            SpokenLine(1.0, "agent", "您好！我是无锡移动客服代表"),
            SpokenLine(6.0, "customer", "是的"),
        ],
        tmp_path / "call.wav",
    )
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
    out = await synthesize(lines, tmp_path / "walk.wav")
    assert rms(out, 7.05, 7.5) > 500
