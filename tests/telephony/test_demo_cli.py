"""``waihu campaign demo --backend asterisk``: the demo campaign through the real Asterisk, two softphones answering."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from agents.softphone import Softphone
from tests.telephony.conftest import REPO
from tests.telephony.helpers import AsteriskEnv
from waihu.cli import main


def test_given_asterisk_and_two_softphones_when_the_demo_runs_on_asterisk_then_calls_are_bridged_and_recorded(
    asterisk: AsteriskEnv, make_phone: Callable[..., Softphone], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    phones = [make_phone("agent1001"), make_phone("agent1002")]
    for phone in phones:
        phone.register()
    for phone in phones:
        phone.wait_for(lambda p: p.registered, timeout=5)
    env_file = Path(os.environ.get("WAIHU_ASTERISK_ENV", REPO / "var" / "asterisk" / "asterisk.env"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WAIHU_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}")
    monkeypatch.setenv("WAIHU_KEY_FILE", str(tmp_path / "demo.key"))

    # 4 leads: 10112 and 10215 answer after 1-2 s and talk 12-15 s, 20200 busy, 60310 a machine (AMD)
    args = ["campaign", "demo", "--backend", "asterisk", "--leads", "4", "--asterisk-env", str(env_file)]
    result = CliRunner().invoke(main, args)

    assert result.exit_code == 0, result.output
    assert "4 calls, 2 answered, 0 abandoned" in result.output
    assert "answered:2, busy:1, machine:1" in result.output  # the live table's last state
    assert "2 stored" in result.output
    (run_dir,) = (tmp_path / "var" / "demo").iterdir()
    replays = sorted((run_dir / "replay").glob("*.json"))
    assert len(replays) == 2
    recordings = sorted((run_dir / "recordings").glob("*/*.wav"))
    assert len(recordings) == 2
    for path in recordings:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.stat().st_uid == os.getuid()
        log = json.loads((run_dir / "replay" / f"{path.stem}.json").read_text(encoding="utf-8"))
        assert log["agent"] in ("A1001", "A1002")
        assert log["recording"]["available"] is True
        assert log["recording"]["duration_seconds"] > 5.0
    assert {p.username for p in phones if any(c.answered_at for c in p.calls)} == {"agent1001", "agent1002"}
    assert hashlib.sha256(recordings[0].read_bytes()).hexdigest()  # readable by us, the service user
