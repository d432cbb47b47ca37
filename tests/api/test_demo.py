"""`waihu campaign demo`, the headless campaign run, end to end on a fresh SQLite database: calls, recordings, replay,
a review."""

from __future__ import annotations

import json
import re
import wave
from pathlib import Path

import pytest
from click.testing import CliRunner

from waihu.cli import main


def test_the_demo_runs_a_campaign_and_leaves_replays_recordings_and_a_review(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WAIHU_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}")
    monkeypatch.setenv("WAIHU_KEY_FILE", str(tmp_path / "demo.key"))
    result = CliRunner().invoke(main, ["campaign", "demo", "--leads", "12", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "QA review of the first answered call: acknowledged" in result.output
    assert "0 abandoned" in result.output
    (run_dir,) = (tmp_path / "var" / "demo").iterdir()
    replays = sorted((run_dir / "replay").glob("*.json"))
    assert replays
    log = json.loads(replays[0].read_text(encoding="utf-8"))
    steps = [i for i in log["timeline"] if i["source"] == "script"]
    assert steps[0]["state"] == "connect"
    assert all("audio_at" in s for s in steps)
    assert log["recording"]["available"] is True
    assert log["outcome"] is not None or log["checks"]["outcome_matches_last_step"]["passed"] is False
    wav = run_dir / "recordings" / f"{log['call_id']}.wav"
    with wave.open(str(wav)) as w:
        duration = w.getnframes() / w.getframerate()
    assert duration >= max(s["audio_at"] for s in steps)
    first_screen = next(s for s in steps if s["kind"] == "enter")
    assert re.search(r"请问您是1\d\d\*{4}\d{4}的机主吗", first_screen["text"])  # the number, masked
    # no clear phone number anywhere in the replays (the leads are 11-digit mobiles)
    assert not any(re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", p.read_text(encoding="utf-8")) for p in replays)
