"""A campaign reads back with every setting it was created with; the company's numbers and the abandon cap are
checked on the way in; lead upload errors name the client's file."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest

from api.imports import MAX_NAME, upload_name
from tests.api.conftest import FLOW, Api

_names = itertools.count(1)

SETTINGS: dict[str, Any] = {
    "flow": FLOW,
    "agents": ["AG1"],
    "dial_mode": "predictive",
    "max_abandon_rate": 0.02,
    "calling_windows": [["13:30", "20:00"], ["09:00", "12:00"]],
    "timezone": "Asia/Urumqi",
    "retry_rules": {"max_attempts": 5, "delays_minutes": {"busy": 15}},
    "caller_id": "0510-8123 4567",
    "consent_required": True,
    "training": False,
    "safe_harbor_message": "您好，这里是{company}。请拨打{callback_number}。",
    "callback_number": "10086",
    "wrap_up_limit_seconds": 45,
}
#: what the campaign answers for SETTINGS (windows sorted, retry rules with the defaults filled in)
EXPECTED: dict[str, Any] = {
    **SETTINGS,
    "flow": FLOW,
    "calling_windows": [["09:00", "12:00"], ["13:30", "20:00"]],
    "retry_rules": {
        "max_attempts": 5,
        "min_gap_minutes": 60,
        "delays_minutes": {"no_contact": 60, "callback": 0, "busy": 15, "no_answer": 60, "machine": 120},
    },
}


def _create(api: Api, **overrides: Any) -> Any:
    body = {"name": f"设置活动{next(_names)}", **SETTINGS, **overrides}
    return api.request("team_lead", "POST", "/campaigns", json=body)


def _settings_of(answer: dict[str, Any]) -> dict[str, Any]:
    return {key: answer[key] for key in EXPECTED}


def test_given_a_campaign_created_with_settings_when_read_then_every_setting_comes_back(shared_api: Api) -> None:
    created = _create(shared_api)
    assert created.status_code == 201, created.text
    body = created.json()
    assert _settings_of(body) == EXPECTED
    one = shared_api.request("team_lead", "GET", f"/campaigns/{body['id']}")
    assert one.status_code == 200
    assert _settings_of(one.json()) == EXPECTED
    listed = next(c for c in shared_api.request("team_lead", "GET", "/campaigns").json() if c["id"] == body["id"])
    assert _settings_of(listed) == EXPECTED


def test_defaults_are_answered_too(shared_api: Api) -> None:
    answer = shared_api.request("team_lead", "POST", "/campaigns", json={"name": f"默认{next(_names)}", "flow": FLOW})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["agents"] == []
    assert (body["caller_id"], body["callback_number"], body["safe_harbor_message"]) == (None, None, None)
    assert (body["consent_required"], body["wrap_up_limit_seconds"], body["max_abandon_rate"]) == (False, 60, 0.03)
    assert body["retry_rules"]["max_attempts"] == 3


def test_the_seeded_campaign_lists_its_agent_and_the_steering_answers_carry_the_settings(shared_api: Api) -> None:
    seeded = shared_api.request("team_lead", "GET", f"/campaigns/{shared_api.seed.campaign_a}").json()
    assert seeded["agents"] == ["AG1"]
    campaign = _create(shared_api, dial_mode="preview").json()
    started = shared_api.request("team_lead", "POST", f"/campaigns/{campaign['id']}/start")
    assert started.status_code == 200, started.text
    paused = shared_api.request("team_lead", "POST", f"/campaigns/{campaign['id']}/pause")
    assert paused.status_code == 200, paused.text
    assert _settings_of(paused.json()) == {**EXPECTED, "dial_mode": "preview"}
    stopped = shared_api.request("team_lead", "POST", f"/campaigns/{campaign['id']}/stop")
    assert _settings_of(stopped.json()) == {**EXPECTED, "dial_mode": "preview"}


@pytest.mark.parametrize(
    ("field", "value", "error_id"),
    [
        ("caller_id", "<script>", "api.invalid_request"),
        ("caller_id", "12", "api.phone_invalid"),
        ("caller_id", "123456789012345", "api.phone_invalid"),
        ("callback_number", "abc", "api.invalid_request"),
        ("callback_number", "0000", "api.phone_invalid"),
    ],
)
def test_given_a_company_number_that_is_no_phone_number_when_creating_then_422(
    shared_api: Api, field: str, value: str, error_id: str
) -> None:
    answer = _create(shared_api, **{field: value})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error_id"] == error_id
    if error_id == "api.phone_invalid":
        assert answer.json()["details"] == {"field": field}


@pytest.mark.parametrize(
    ("caller_id", "callback_number"),
    [("+86 138 0013 8000", "95588"), ("051081234567", "400-800-1234"), ("10086", "0510 8123 4567")],
)
def test_valid_company_numbers_are_kept_as_given(shared_api: Api, caller_id: str, callback_number: str) -> None:
    answer = _create(shared_api, caller_id=caller_id, callback_number=callback_number)
    assert answer.status_code == 201, answer.text
    assert (answer.json()["caller_id"], answer.json()["callback_number"]) == (caller_id, callback_number)


@pytest.mark.parametrize(("rate", "status"), [(1, 422), (0.5, 422), (0.11, 422), (0, 422), (0.1, 201), (0.001, 201)])
def test_the_abandon_cap_is_a_fraction_of_at_most_ten_percent(shared_api: Api, rate: float, status: int) -> None:
    answer = _create(shared_api, max_abandon_rate=rate)
    assert answer.status_code == status, answer.text
    if status == 201:
        assert answer.json()["max_abandon_rate"] == rate


@pytest.mark.parametrize("background", [False, True])
def test_an_empty_upload_is_named_by_the_clients_file_name(shared_api: Api, background: bool) -> None:
    campaign = _create(shared_api).json()["id"]
    answer = shared_api.request(
        "team_lead",
        "POST",
        f"/campaigns/{campaign}/leads",
        params={"background": str(background).lower()},
        files={"file": ("l.csv", b"", "text/csv")},
    )
    if background:
        assert answer.status_code == 202, answer.text
        job_id = answer.json()["import_id"]
        for _ in range(200):
            job = shared_api.request("team_lead", "GET", f"/campaigns/{campaign}/imports/{job_id}").json()
            if job["state"] != "running":
                break
            shared_api.run(_pause)
        message = job["error"]["message"]
    else:
        assert answer.status_code == 422, answer.text
        message = answer.json()["message"]
    assert message.startswith("l.csv is empty"), message
    assert "leads.csv" not in message


async def _pause() -> None:
    await asyncio.sleep(0.02)


def test_a_windows_path_is_cut_to_its_last_part(shared_api: Api) -> None:
    campaign = _create(shared_api).json()["id"]
    answer = shared_api.request(
        "team_lead",
        "POST",
        f"/campaigns/{campaign}/leads",
        files={"file": ("C:\\Users\\tl\\../名单 11月.csv", b"", "text/csv")},
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["message"].startswith("名单 11月.csv is empty")


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        (None, "leads.csv"),
        ("", "leads.csv"),
        ("..", "leads.csv"),
        ("../../etc/passwd", "passwd"),
        (".hidden.csv", "hidden.csv"),
        ("a\x00b;rm -rf.csv", "a_b_rm -rf.csv"),
        ("x" * 200 + ".csv", "x" * (MAX_NAME - 5) + "….csv"),
    ],
)
def test_upload_names_are_sanitised(given: str | None, kept: str) -> None:
    name = upload_name(given)
    assert name == kept
    assert len(name) <= MAX_NAME
    assert len(name.encode()) < 255
