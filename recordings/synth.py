"""Recordings for simulated calls: the script's lines spoken at their step times, as long as the call.

So the demo's replay has real audio on its timeline: the agent's screen texts in espeak-ng's
Mandarin voice, the customer's answers in another voice, in one 8 kHz mono 16-bit WAV — the format
Asterisk's MixMonitor writes. Texts are the masked renderings, so a synthetic file never holds a
customer's data either.

The audio follows the call, not the speech: a recording covers what a PBX recording would (from the
recording's start, just before the bridge, to the hang-up) and every line starts at its step's
moment and is heard alone, *cut* (with a 10 ms fade) where the next step begins — the bot agents
move on long before a screen's text could be read out, and nobody talks over anybody. Lines of the
same instant (the customer's answer and the screen it leads to are one click) share that step's
time in transcript order: the answer first, at most its fair share, then the screen's text. The
voices keep their natural speed. espeak-ng speaks, sox converts each clip to the PBX format, and the
clips are laid on the timeline sample-exactly here; :func:`~recordings.store.store_file` then stores
the file (0600) and gives its size, SHA-256 and duration, as for the PBX's recordings.
"""

from __future__ import annotations

import array
import asyncio
import shutil
import sys
import tempfile
import wave
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from flows.model import Flow
from flows.runtime import TranscriptEntry
from recordings.errors import RecordingsError
from recordings.store import StoredRecording, store_file

Speaker = Literal["agent", "customer"]
VOICES: dict[Speaker, list[str]] = {
    "agent": ["-v", "cmn+f3", "-s", "190", "-p", "55"],
    "customer": ["-v", "cmn", "-s", "170", "-p", "30"],
}
RATE = 8000
#: lines closer than this are one instant (a click records the answer and enters the next screen)
SAME_INSTANT = 0.05
#: a line cut short fades out over this many samples (10 ms), so the cut does not click
FADE_SAMPLES = RATE // 100


class SynthError(RecordingsError):
    default_error_id = "recording.synth_failed"


@dataclass(frozen=True)
class SpokenLine:
    #: seconds into the recording
    at: float
    speaker: Speaker
    text: str


@dataclass(frozen=True)
class Placement:
    """Where one line plays in the recording, in samples (``length`` 0: not heard, the call was over)."""

    start: int
    length: int
    cut: bool


def lines_from_transcript(
    flow: Flow, transcript: Iterable[TranscriptEntry], render: Callable[[str], str], *, offset: float = 0.0
) -> list[SpokenLine]:
    """The agent says each screen's text when it is entered; the customer's answer is the chosen label.

    ``offset``: seconds from the recording's start to the script's start (the transcript's zero).
    """
    lines = []
    for entry in transcript:
        at = round(offset + entry.at, 6)
        if entry.kind in ("enter", "return") and entry.state in flow.states:
            lines.append(SpokenLine(at, "agent", render(flow.states[entry.state].say)))
        elif entry.kind in ("choose", "objection") and entry.label:
            lines.append(SpokenLine(at, "customer", entry.label))
    return lines


def place(starts: Sequence[float], natural: Sequence[int], end: int | None) -> list[Placement]:
    """Lay lines (their times in seconds, in order, and their natural lengths in samples) on a recording of
    ``end`` samples (None: as long as the speech): each starts at its time and is heard alone until the next
    instant's first line; lines of one instant follow each other, each but the last taking at most an equal
    share of what is left. Pure, so the timing is tested without audio."""
    if len(starts) != len(natural):
        raise ValueError("one natural length per line")
    groups: list[list[int]] = []
    for i, at in enumerate(starts):
        if groups and at - starts[groups[-1][0]] < SAME_INSTANT:
            groups[-1].append(i)
        else:
            groups.append([i])
    out: list[Placement | None] = [None] * len(starts)
    for g, members in enumerate(groups):
        begin = max(round(starts[members[0]] * RATE), 0)
        stop = max(round(starts[groups[g + 1][0]] * RATE), 0) if g + 1 < len(groups) else end
        if stop is not None and end is not None:
            stop = min(stop, end)
        cursor = begin if stop is None else min(begin, stop)
        for j, i in enumerate(members):
            if stop is None:
                length = natural[i]
            else:
                left = max(stop - cursor, 0)
                room = left if j == len(members) - 1 else left // (len(members) - j)
                length = min(natural[i], room)
            out[i] = Placement(cursor, length, length < natural[i])
            cursor += length
    return [p for p in out if p is not None]


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


def _samples(path: Path) -> array.array[int]:
    with wave.open(str(path)) as w:
        if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (RATE, 1, 2):
            raise SynthError(f"{path.name} is not 8 kHz mono 16-bit", details={"clip": path.name})
        samples = array.array("h", w.readframes(w.getnframes()))
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def _lay(clips: Sequence[array.array[int]], placements: Sequence[Placement], end: int) -> array.array[int]:
    track = array.array("h", bytes(2 * end))
    for clip, spot in zip(clips, placements, strict=True):
        if spot.length <= 0:
            continue
        piece = clip[: spot.length]
        if spot.cut:
            fade = min(FADE_SAMPLES, len(piece))
            for k in range(fade):
                idx = len(piece) - fade + k
                piece[idx] = int(piece[idx] * (fade - 1 - k) / fade)
        track[spot.start : spot.start + len(piece)] = piece
    return track


def _write_wav(path: Path, track: array.array[int]) -> None:
    if sys.byteorder == "big":
        track = array.array("h", track)
        track.byteswap()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(track.tobytes())


async def synthesize(
    lines: Sequence[SpokenLine], out: Path, *, duration: float | None = None, tail_seconds: float = 1.0
) -> StoredRecording:
    """Write ``out`` (WAV, 8 kHz mono 16-bit, mode 0600) with every line starting at its time, heard alone.

    ``duration``: the recording's length in seconds (the call's: lines past it are not heard, the last one is
    cut at it); None: until the last line has been said, plus ``tail_seconds`` of silence.
    """
    missing = tools_missing()
    if missing:
        raise SynthError(
            f"{', '.join(missing)} not installed: apt-get install espeak-ng sox", details={"missing": missing}
        )
    if not lines:
        raise SynthError("nothing to speak", details={"lines": 0})
    if duration is not None and duration < 0:
        raise SynthError("a recording cannot last less than nothing", details={"duration": duration})
    ordered = sorted(lines, key=lambda line: line.at)  # stable: lines of one instant keep their order
    end = round(duration * RATE) if duration is not None else None
    with tempfile.TemporaryDirectory(prefix="waihu-synth-") as tmp:
        work = Path(tmp)
        clips: list[array.array[int]] = []
        for i, line in enumerate(ordered):
            if end is not None and round(line.at * RATE) >= end:
                clips.append(array.array("h"))  # after the hang-up: never said
                continue
            raw, clip = work / f"{i:04d}.raw.wav", work / f"{i:04d}.wav"
            await _run("espeak-ng", *VOICES[line.speaker], "-w", str(raw), line.text)
            await _run("sox", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", "-e", "signed-integer", str(clip))
            clips.append(_samples(clip))
        placements = place([line.at for line in ordered], [len(c) for c in clips], end)
        if end is None:
            end = max(p.start + p.length for p in placements) + round(tail_seconds * RATE)
        track = _lay(clips, placements, end)
        assembled = work / "call.wav"
        await asyncio.to_thread(_write_wav, assembled, track)
        return await asyncio.to_thread(store_file, assembled, out)
