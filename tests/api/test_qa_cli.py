"""`waihu qa`: replay and the review cycle from the terminal, with the acting work ID's permissions."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.api.conftest import PHONE, Api
from waihu.cli import main


@pytest.fixture
def qa(api: Api, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    settings = api.state.settings
    monkeypatch.setenv("WAIHU_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("WAIHU_KEY_FILE", str(settings.key_file))
    return CliRunner()


def test_replay_is_masked_and_unmasking_needs_a_reason(api: Api, qa: CliRunner) -> None:
    result = qa.invoke(main, ["qa", "replay", api.seed.call_a])
    assert result.exit_code == 0, result.output
    log = json.loads(result.output)
    assert log["call_id"] == api.seed.call_a
    assert PHONE not in result.output
    assert qa.invoke(main, ["qa", "replay", api.seed.call_a, "--unmask"]).exit_code == 2
    other = qa.invoke(main, ["qa", "replay", api.seed.call_a, "--as", "TLB"])
    assert other.exit_code == 1
    assert "not" in other.output


def test_unmasking_names_the_work_id_that_sees_the_data(api: Api, qa: CliRunner) -> None:
    anonymous = qa.invoke(main, ["qa", "replay", api.seed.call_a, "--unmask", "--reason", "投诉核实"])
    assert anonymous.exit_code == 2
    assert "--as" in anonymous.output
    assert PHONE not in anonymous.output
    refused = qa.invoke(main, ["qa", "replay", api.seed.call_a, "--unmask", "--reason", "投诉核实", "--as", "QA1"])
    assert refused.exit_code == 1  # QA sees calls, not the customer's number
    assert PHONE not in refused.output
    shown = qa.invoke(main, ["qa", "replay", api.seed.call_a, "--unmask", "--reason", "投诉核实", "--as", "AD1"])
    assert shown.exit_code == 0, shown.output
    assert PHONE in shown.output


def test_a_review_cycle_through_the_cli(api: Api, qa: CliRunner) -> None:
    started = qa.invoke(main, ["qa", "review", "start", api.seed.call_a, "--as", "QA1"])
    assert started.exit_code == 0, started.output
    review = json.loads(started.output)
    rid = str(review["id"])
    for item, value in review["items"].items():
        if value["points"] is None:
            scored = qa.invoke(main, ["qa", "review", "score", rid, item, "1", "--as", "QA1"])
            assert scored.exit_code == 0, scored.output
    assert qa.invoke(main, ["qa", "review", "ack", rid, "--as", "AG1"]).exit_code == 1  # not submitted yet
    assert json.loads(qa.invoke(main, ["qa", "review", "submit", rid, "--as", "QA1"]).output)["state"] == "submitted"
    refused = qa.invoke(main, ["qa", "review", "submit", rid, "--as", "AG1"])
    assert refused.exit_code == 1
    assert "qa.review" in refused.output
    acked = qa.invoke(main, ["qa", "review", "ack", rid, "--as", "AG1"])
    assert json.loads(acked.output)["state"] == "acknowledged"


def test_the_retention_job_deletes_expired_recordings_and_keeps_tombstones(api: Api, qa: CliRunner) -> None:
    db_file = api.state.settings.database_url.split("///", 1)[1]
    with sqlite3.connect(db_file) as db:
        (path,) = db.execute("SELECT path FROM recording_files WHERE call_id = ?", (api.seed.call_a,)).fetchone()
        assert Path(path).exists()
        kept = db.execute("SELECT count(*) FROM recording_files WHERE call_id != ?", (api.seed.call_a,)).fetchone()[0]
        db.execute(
            "UPDATE recording_files SET expires_at = '2020-01-01 00:00:00.000000' WHERE call_id = ?", (api.seed.call_a,)
        )
    result = qa.invoke(main, ["qa", "purge-recordings"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("1 recording(s) past retention deleted")
    assert not Path(path).exists()
    with sqlite3.connect(db_file) as db:
        rows = db.execute("SELECT call_id, deleted_reason FROM recording_files WHERE deleted_at IS NOT NULL").fetchall()
        assert rows == [(api.seed.call_a, "retention")]
        assert db.execute("SELECT count(*) FROM recording_files WHERE deleted_at IS NULL").fetchone()[0] == kept
        assert db.execute("SELECT count(*) FROM audit_log WHERE action = 'recording.purge'").fetchone()[0] == 1
