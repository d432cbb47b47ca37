"""The weekly QA sample through the API (``GET /qa/sample``) and the CLI (``waihu qa sample``): the setting by default,
reproducible for a week, the site's weeks, vendor-scoped, numbers masked, and only calls a review can start on."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from api.deps import AppState
from dialer.models import CallAttempt
from recordings.sampling import week_bounds
from tests.api.conftest import PHONE, Api, add_call
from waihu.cli import main
from waihu.settings import Settings

WEEK = "2025-W10"  # Monday 3 March 2025 00:00 in Shanghai is Sunday 2 March 16:00 UTC
MONDAY = datetime(2025, 3, 2, 16, 0, tzinfo=UTC)


async def _week_of_calls(
    state: AppState, tmp: Path, campaign_a: int, campaign_b: int, vendor_a: int, vendor_b: int
) -> None:
    for i in range(8):  # AG1: eight calls through the week, the first one 30 min into Monday in Shanghai
        await add_call(
            state,
            campaign_a,
            f"w-a-{i}",
            "AG1",
            vendor_a,
            tmp / f"w-a-{i}.wav",
            MONDAY + timedelta(minutes=30 + i * 900),
        )
    await add_call(state, campaign_a, "w-tr", "TR1", vendor_a, tmp / "w-tr.wav", MONDAY + timedelta(days=2))
    await add_call(state, campaign_a, "w-qa", "QA1", vendor_a, tmp / "w-qa.wav", MONDAY + timedelta(days=2))
    # Sunday 23:30 in Shanghai: the week before (in UTC, AG1's first call is on that Sunday too)
    await add_call(state, campaign_a, "w-before", "AG1", vendor_a, tmp / "w-before.wav", MONDAY - timedelta(minutes=30))
    # never reached an agent (the safe-harbor message), and another vendor's call
    await add_call(state, campaign_a, "w-lost", "AG1", vendor_a, tmp / "w-lost.wav", MONDAY + timedelta(days=3))
    await add_call(state, campaign_b, "w-b", "AGB", vendor_b, tmp / "w-b.wav", MONDAY + timedelta(days=1))
    async with state.sessions() as session, session.begin():
        await session.execute(update(CallAttempt).where(CallAttempt.call_id == "w-lost").values(work_id=None))


@pytest.fixture
def week(api: Api, tmp_path: Path) -> Api:
    s = api.seed
    api.run(_week_of_calls, api.state, tmp_path, s.campaign_a, s.campaign_b, s.vendor_a, s.vendor_b)
    return api


def _picked(body: dict[str, object]) -> dict[str, list[str]]:
    agents = body["agents"]
    assert isinstance(agents, list)
    return {a["work_id"]: [p["call_id"] for p in a["picked"]] for a in agents}


def test_the_week_is_monday_to_monday_in_the_sites_zone() -> None:
    assert week_bounds(WEEK, Settings(database_url="sqlite+aiosqlite://").zone) == (MONDAY, MONDAY + timedelta(days=7))
    with pytest.raises(ValueError, match="2026-W48"):
        week_bounds("2026-48", Settings(database_url="sqlite+aiosqlite://").zone)


def test_the_sample_picks_the_setting_per_agent_the_same_every_time(week: Api) -> None:
    first = week.request("qa", "GET", "/qa/sample", params={"week": WEEK})
    assert first.status_code == 200, first.text
    body = first.json()
    n = week.state.settings.qa_samples_per_agent_week
    assert (body["week"], body["per_agent"]) == (WEEK, n)
    picked = _picked(body)
    # QA1's own call is not theirs to review; the call that never reached an agent, the week before and vendor B's
    # call are not drawn
    assert set(picked) == {"AG1", "TR1"}
    assert {a["work_id"]: a["calls"] for a in body["agents"]} == {"AG1": 8, "TR1": 1}
    assert len(picked["AG1"]) == min(n, 8)
    assert set(picked["AG1"]) <= {f"w-a-{i}" for i in range(8)}
    assert week.request("qa", "GET", "/qa/sample", params={"week": WEEK}).json() == body  # reproducible
    call = body["agents"][0]["picked"][0]
    assert call["phone_masked"] == "138****5678"
    assert PHONE not in first.text
    # fewer per agent: the first ones of the same draw
    two = _picked(week.request("qa", "GET", "/qa/sample", params={"week": WEEK, "per_agent": 2}).json())
    assert two["AG1"] == picked["AG1"][:2]
    # every picked call is one a review can start on
    for call_id in picked["AG1"] + picked["TR1"]:
        started = week.request("qa", "POST", "/qa/reviews", json={"call_id": call_id})
        assert started.status_code == 201, started.text
    again = week.request("qa", "GET", "/qa/sample", params={"week": WEEK}).json()
    assert all(p["review_state"] == "draft" and p["review_id"] for a in again["agents"] for p in a["picked"])
    assert _picked(again) == picked


def test_the_setting_decides_how_many(week: Api) -> None:
    week.state.settings = week.state.settings.model_copy(update={"qa_samples_per_agent_week": 3})
    body = week.request("qa", "GET", "/qa/sample", params={"week": WEEK}).json()
    assert body["per_agent"] == 3
    assert len(_picked(body)["AG1"]) == 3


def test_the_sample_is_scoped_to_the_callers_vendor(week: Api) -> None:
    admin = _picked(week.request("admin", "GET", "/qa/sample", params={"week": WEEK}).json())
    assert set(admin) == {"AG1", "AGB", "QA1", "TR1"}  # the admin sees every vendor (and QA1's own call)
    only_b = week.request("admin", "GET", "/qa/sample", params={"week": WEEK, "campaign_id": week.seed.campaign_b})
    assert _picked(only_b.json()) == {"AGB": ["w-b"]}
    # vendor A's QA: vendor B's campaign does not exist for them
    hidden = week.request("qa", "GET", "/qa/sample", params={"week": WEEK, "campaign_id": week.seed.campaign_b})
    assert hidden.status_code == 404
    # an agent is not a reviewer
    assert week.request("agent", "GET", "/qa/sample", params={"week": WEEK}).status_code == 403


def test_weeks_are_checked_and_this_week_is_the_default(week: Api) -> None:
    assert week.request("qa", "GET", "/qa/sample", params={"week": "2025-10"}).status_code == 422
    bad = week.request("qa", "GET", "/qa/sample", params={"week": "2025-W54"})
    assert (bad.status_code, bad.json()["error_id"]) == (422, "api.week_invalid")
    now = week.state.now().astimezone(week.state.settings.zone).isocalendar()
    assert week.request("qa", "GET", "/qa/sample").json()["week"] == f"{now.year}-W{now.week:02d}"
    empty = week.request("qa", "GET", "/qa/sample", params={"week": "2020-W01"}).json()
    assert empty["agents"] == []


def test_the_cli_gives_the_apis_answer(week: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = week.state.settings
    monkeypatch.setenv("WAIHU_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("WAIHU_KEY_FILE", str(settings.key_file))
    monkeypatch.setenv("WAIHU_QA_SAMPLES_PER_AGENT_WEEK", str(settings.qa_samples_per_agent_week))
    api_body = week.request("qa", "GET", "/qa/sample", params={"week": WEEK}).json()
    result = CliRunner().invoke(main, ["qa", "sample", "--week", WEEK, "--as", "QA1"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == api_body
    assert PHONE not in result.output
    one = CliRunner().invoke(main, ["qa", "sample", "--week", WEEK, "--as", "QA1", "--per-agent", "1"])
    assert _picked(json.loads(one.output))["AG1"] == _picked(api_body)["AG1"][:1]
    monkeypatch.setenv("WAIHU_QA_SAMPLES_PER_AGENT_WEEK", "2")
    setting = CliRunner().invoke(main, ["qa", "sample", "--week", WEEK, "--as", "QA1"])
    assert json.loads(setting.output)["per_agent"] == 2
    bad = CliRunner().invoke(main, ["qa", "sample", "--week", "2025-W54", "--as", "QA1"])
    assert bad.exit_code != 0
    assert "2025-W54" in bad.output
    agent = CliRunner().invoke(main, ["qa", "sample", "--week", WEEK, "--as", "AG1"])
    assert agent.exit_code == 1
