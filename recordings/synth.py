"""Recordings for simulated calls: the script's lines spoken at their step times.

So the demo's replay has real audio on its timeline: the agent's screen texts in espeak-ng's
Mandarin voice, the customer's answers in another voice, each placed at the second it happened,
mixed by sox into one 8 kHz mono 16-bit WAV — the format Asterisk's MixMonitor writes. Texts are
the masked renderings, so a synthetic file never holds a customer's data either.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from flows.model import Flow
from flows.runtime import TranscriptEntry
from recordings.errors import RecordingsError

Speaker = Literal["agent", "customer"]
VOICES: dict[Speaker, list[str]] = {
    "agent": ["-v", "cmn+f3", "-s", "190", "-p", "55"],
    "customer": ["-v", "cmn", "-s", "170", "-p", "30"],
}
RATE = 8000


class SynthError(RecordingsError):
    default_error_id = "recording.synth_failed"


@dataclass(frozen=True)
class SpokenLine:
    at: float
    speaker: Speaker
    text: str


def lines_from_transcript(
    flow: Flow, transcript: Iterable[TranscriptEntry], render: Callable[[str], str]
) -> list[SpokenLine]:
    """The agent says each screen's text when it is entered; the customer's answer is the chosen label."""
    lines = []
    for entry in transcript:
        if entry.kind in ("enter", "return") and entry.state in flow.states:
            lines.append(SpokenLine(entry.at, "agent", render(flow.states[entry.state].say)))
        elif entry.kind in ("choose", "objection") and entry.label:
            lines.append(SpokenLine(entry.at, "customer", entry.label))
    return lines


def tools_missing() -> list[str]:
    return [tool for tool in ("espeak-ng", "sox") if shutil.which(tool) is None]


async def _run(*args: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, err = await proc.communicate()
    if proc.returncode != 0:
        raise SynthError(
            f"{args[0]} failed ({proc.returncode}): {err.decode(errors='replace').strip()[:200]}",
            details={"tool": args[0]},
        )


async def synthesize(lines: Sequence[SpokenLine], out: Path, *, tail_seconds: float = 1.0) -> Path:
    """Write ``out`` (WAV, 8 kHz mono 16-bit) with every line starting at its time."""
    missing = tools_missing()
    if missing:
        raise SynthError(
            f"{', '.join(missing)} not installed: apt-get install espeak-ng sox", details={"missing": missing}
        )
    if not lines:
        raise SynthError("nothing to speak", details={"lines": 0})
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="waihu-synth-") as tmp:
        work = Path(tmp)
        placed: list[Path] = []
        for i, line in enumerate(lines):
            raw, clip = work / f"{i:04d}.raw.wav", work / f"{i:04d}.wav"
            await _run("espeak-ng", *VOICES[line.speaker], "-w", str(raw), line.text)
            # resample to the PBX format and delay the clip to its moment on the call's timeline
            await _run("sox", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(clip), "pad", f"{line.at:.3f}")
            placed.append(clip)
        mix: list[str] = []
        for clip in placed:
            mix += ["-v", "1", str(clip)]
        command = ["sox", "-m", *mix] if len(placed) > 1 else ["sox", str(placed[0])]
        await _run(*command, "-r", str(RATE), "-c", "1", "-b", "16", str(out), "pad", "0", f"{tail_seconds:.3f}")
    return out
