"""`waihu demo`: the served demo — a work ID per role, both scripts running, bots on the floor, logins printed."""

from __future__ import annotations

import functools
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from api.app import create_app
from api.demo_server import BOTS, PEOPLE, SHIFT_FOR, SHIFT_LENGTH, bots_ready, seed_demo
from api.dialing import dialers_of
from tests.conftest import free_port
from waihu.cli import main
from waihu.settings import Settings, load_settings


@pytest.fixture
def demo_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WAIHU_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}")
    monkeypatch.setenv("WAIHU_KEY_FILE", str(tmp_path / "demo.key"))
    monkeypatch.setenv("WAIHU_RECORDINGS_DIR", str(tmp_path / "recordings"))
    return load_settings()


def test_the_demo_seeds_every_role_both_scripts_and_puts_the_bots_to_work(demo_settings: Settings) -> None:
    app = create_app(demo_settings, on_start=bots_ready)
    with TestClient(app) as client:
        portal = client.portal
        assert portal is not None
        seeded = portal.call(functools.partial(seed_demo, demo_settings, leads=30))
        portal.call(dialers_of(client.app.state.waihu).restore)  # type: ignore[attr-defined]
        roles, tokens = set(), {}
        for work_id, role, _ in PEOPLE:
            answer = client.post("/auth/login", json={"work_id": work_id, "password": seeded.passwords[work_id]})
            assert answer.status_code == 200, (work_id, answer.text)
            assert answer.json()["role"] == role
            roles.add(role)
            tokens[work_id] = answer.json()["token"]
        assert roles == {"trainee", "agent", "team_lead", "ops_manager", "qa", "admin"}
        client.cookies.clear()
        headers = {"Authorization": f"Bearer {tokens['TL01']}"}
        campaigns = {c["id"]: c for c in client.get("/campaigns", headers=headers).json()}
        mobile, training = campaigns[seeded.campaigns["mobile"]], campaigns[seeded.campaigns["training"]]
        assert (mobile["flow"], mobile["state"]) == ("mobile-newspaper-trial@2", "running")
        assert (training["flow"], training["state"], training["training"]) == ("edu-survey-invite@2", "running", True)
        deadline = time.monotonic() + 20
        while True:
            live = client.get(f"/campaigns/{mobile['id']}/live", headers=headers).json()
            if live["placed"] > 0:
                break
            assert time.monotonic() < deadline, live
            time.sleep(0.1)
        assert {a["work_id"] for a in live["agents"]} == set(BOTS)
        assert all(a["bot"] for a in live["agents"])


def test_waihu_demo_serves_and_prints_the_urls_and_logins(demo_settings: Settings) -> None:
    port = free_port()
    result = CliRunner().invoke(main, ["demo", "--port", str(port), "--for", "2", "--leads", "10"])
    assert result.exit_code == 0, result.output
    assert f"http://127.0.0.1:{port}/console" in result.output
    assert f"http://127.0.0.1:{port}/desk" in result.output
    for work_id, _, _ in PEOPLE:
        assert work_id in result.output
    assert "Demo-" in result.output


def test_waihu_demo_prints_live_progress_and_a_summary_at_the_end(
    demo_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("api.demo_server.PROGRESS_EVERY", 2.0)
    result = CliRunner().invoke(main, ["demo", "--port", str(free_port()), "--for", "12", "--leads", "20"])
    assert result.exit_code == 0, result.output
    progress = [line for line in result.output.splitlines() if line.startswith("mobile #") and " calls, " in line]
    assert progress, result.output  # the bots' campaign moved while the demo served
    assert "answered" in progress[-1]
    assert "abandoned" in progress[-1]
    assert "cap 3%" in progress[-1]
    summary = result.output[result.output.index("demo summary") :]
    for column in ("calls", "answered", "abandoned", "abandon rate", "outcomes"):
        assert column in summary
    assert "mobile #" in summary


def test_the_demo_schedules_todays_shift_so_attendance_counts_the_day(demo_settings: Settings) -> None:
    app = create_app(demo_settings)
    with TestClient(app) as client:
        portal = client.portal
        assert portal is not None
        portal.call(functools.partial(seed_demo, demo_settings, leads=5))
        seeded = portal.call(functools.partial(seed_demo, demo_settings, leads=5))  # a second run replaces it
        assert seeded.shift is not None
        start, end = seeded.shift
        assert end - start == SHIFT_LENGTH
        tokens = {}
        for work_id in ("A1001", "TL01"):
            answer = client.post("/auth/login", json={"work_id": work_id, "password": seeded.passwords[work_id]})
            assert answer.status_code == 200, answer.text
            tokens[work_id] = answer.json()["token"]
        month = start.astimezone(demo_settings.zone).strftime("%Y-%m")
        report = client.get(
            "/attendance/report", params={"month": month}, headers={"Authorization": f"Bearer {tokens['TL01']}"}
        )
        assert report.status_code == 200, report.text
        rows = {row["work_id"]: row for row in report.json()}
        for work_id in SHIFT_FOR:
            assert rows[work_id]["working_days"] == 1, rows[work_id]  # one shift, not one per demo run
        # A1001 logged in before the shift began: on time, no absence
        assert rows["A1001"]["late_early_count"] == 0, rows["A1001"]
        assert rows["A1001"]["absence_days"] == 0, rows["A1001"]
