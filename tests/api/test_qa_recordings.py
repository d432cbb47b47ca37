"""The demo's synthesized recordings follow their calls: as long as the call, the steps on the audio's timeline
where the replay puts them, and rows with the duration, size and SHA-256 the PBX's recordings have."""

from __future__ import annotations

import array
import hashlib
import json
import sqlite3
import wave
from pathlib import Path

import pytest
from click.testing import CliRunner

from waihu.cli import main


def _rms(samples: array.array[int], rate: int, start: float, end: float) -> float:
    part = samples[int(start * rate) : int(end * rate)]
    return (sum(s * s for s in part) / max(len(part), 1)) ** 0.5


def test_every_demo_recording_lasts_its_call_and_carries_its_stamps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WAIHU_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}")
    monkeypatch.setenv("WAIHU_KEY_FILE", str(tmp_path / "demo.key"))
    result = CliRunner().invoke(main, ["campaign", "demo", "--leads", "10", "--seed", "5"])
    assert result.exit_code == 0, result.output
    (run_dir,) = (tmp_path / "var" / "demo").iterdir()
    replays = [json.loads(p.read_text(encoding="utf-8")) for p in sorted((run_dir / "replay").glob("*.json"))]
    assert replays
    with sqlite3.connect(tmp_path / "demo.db") as db:
        rows = {
            call_id: (path, duration, size, sha256, answer_offset)
            for call_id, path, duration, size, sha256, answer_offset in db.execute(
                "select call_id, path, duration_seconds, size_bytes, sha256, answer_offset from recording_files"
            )
        }
    assert len(rows) == len(replays)
    heard = 0  # steps whose words were measured in the audio
    for log in replays:
        path, duration, size, sha256, answer_offset = rows[log["call_id"]]
        wav = Path(path)
        data = wav.read_bytes()
        assert (size, sha256) == (len(data), hashlib.sha256(data).hexdigest())
        with wave.open(str(wav)) as w:
            rate = w.getframerate()
            samples = array.array("h", w.readframes(w.getnframes()))
        assert duration == pytest.approx(len(samples) / rate, abs=0.001)
        assert log["recording"]["duration_seconds"] == duration  # the replay shows it
        assert log["recording"]["answer_offset"] == answer_offset
        # the audio runs from the recording's start to the hang-up, on the replay's clock (zero: the answer)
        events = {i["kind"]: i["at"] for i in log["timeline"] if i["source"] == "telephony"}
        moments = sorted({i["audio_at"] for i in log["timeline"] if i["source"] == "script"})
        hung_up = answer_offset + events["HungUp"]
        assert hung_up - 0.002 <= duration <= max(hung_up, moments[-1]) + 0.012  # (rounded up to 10 ms)
        assert answer_offset + events["RecordingStarted"] == pytest.approx(0.0, abs=0.002)
        # every step is in the audio, and what is said at one step's moment is heard until the next one
        assert all(0 <= m <= duration for m in moments)
        spoken = [
            i["audio_at"]
            for i in log["timeline"]
            if i["source"] == "script" and i["kind"] in ("enter", "return", "choose", "objection")
        ]
        ends = [*moments[1:], duration]
        for start, end in zip(moments, ends, strict=True):
            if start in spoken and end - start > 0.3:
                assert _rms(samples, rate, start, end) > 300, (log["call_id"], start, end)
                heard += 1
    assert heard  # some steps were long enough to measure what was said
