"""Time-driven rules inside the API (api/housekeeping.py), logins ended from outside reaching the console, and
validation answers that name the field and the fix."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from starlette.websockets import WebSocketDisconnect

from agents.models import AttendanceRecord, AuthSession
from api.deps import AppState
from api.housekeeping import Housekeeper
from api.ws import console_of
from tests.api.conftest import Api, new_request, wait_connected
from waihu.db import utcnow


async def _round_at(state: AppState, at: datetime) -> list[str]:
    return await Housekeeper(state, interval=60.0, now=lambda: at).round()


async def _shift_around_now(state: AppState, work_id: str) -> datetime:
    """A shift for ``work_id`` from an hour ago to half an hour from now (before its login idles out); its end."""
    now = utcnow()
    async with state.sessions() as session, session.begin():
        session.add(
            AttendanceRecord(
                work_id=work_id, kind="shift", start=now - timedelta(hours=1), end=now + timedelta(minutes=30)
            )
        )
    return now + timedelta(minutes=30)


async def _open_session(state: AppState, work_id: str) -> AuthSession | None:
    async with state.sessions() as session:
        row = await session.scalars(
            select(AuthSession).where(AuthSession.work_id == work_id, AuthSession.ended_at.is_(None))
        )
        return row.first()


def test_an_approved_work_id_request_is_applied_at_its_time_with_nobody_acting(api: Api) -> None:
    request_id = api.run(new_request, api.state, "TRN1")  # effective in an hour
    decided = api.request("admin", "POST", f"/user-requests/{request_id}/decision", json={"approve": True})
    assert decided.status_code == 200, decided.text
    assert api.run(_round_at, api.state, utcnow()) == []
    assert api.request("admin", "GET", "/users/TRN1").status_code == 404  # not yet: its time has not come

    ended = api.run(_round_at, api.state, utcnow() + timedelta(hours=2))

    assert "AD1" in ended  # two hours later the admin's login had idled out too: log in again
    api.tokens.clear()
    assert api.request("admin", "GET", "/users/TRN1").status_code == 200
    listed = api.request("admin", "GET", "/user-requests").json()
    assert next(r for r in listed if r["id"] == request_id)["status"] == "applied"


def test_at_shift_end_the_login_ends_and_the_console_is_told_and_closed(api: Api) -> None:
    shift_end = api.run(_shift_around_now, api.state, "AG1")
    headers = {"Authorization": f"Bearer {api.token('agent')}"}
    with api.client.websocket_connect("/ws/agent", headers=headers) as ws:
        wait_connected(api, "AG1")
        assert api.run(_round_at, api.state, shift_end - timedelta(minutes=1)) == []  # still on shift
        assert api.run(_round_at, api.state, shift_end + timedelta(seconds=1)) == ["AG1"]
        assert ws.receive_json() == {"type": "signed_out", "reason": "shift_end"}
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 4003  # the page goes to the login
    assert api.run(_open_session, api.state, "AG1") is None
    assert not console_of(api.state).connected("AG1")
    assert api.request("agent", "GET", "/auth/me").status_code == 401


def test_a_forced_logout_closes_the_agents_console(api: Api) -> None:
    headers = {"Authorization": f"Bearer {api.token('agent')}"}
    with api.client.websocket_connect("/ws/agent", headers=headers) as ws:
        wait_connected(api, "AG1")
        forced = api.request("team_lead", "POST", "/sessions/AG1/force-logout")
        assert forced.status_code == 200, forced.text
        assert ws.receive_json() == {"type": "signed_out", "reason": "forced"}
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 4003


def test_a_connected_console_keeps_its_login_from_expiring(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("api.ws._RENEW_SHARE", 0.05 / 3600.0)  # renew every 0.05 s (idle time: 60 min)
    headers = {"Authorization": f"Bearer {api.token('agent')}"}
    before = api.run(_open_session, api.state, "AG1")
    assert before is not None
    with api.client.websocket_connect("/ws/agent", headers=headers):
        wait_connected(api, "AG1")
        deadline = datetime.now() + timedelta(seconds=5)
        while True:
            now = api.run(_open_session, api.state, "AG1")
            assert now is not None
            if now.expires_at > before.expires_at:
                break
            assert datetime.now() < deadline, "the login was never renewed"


def test_a_time_without_its_zone_is_refused_with_the_field_and_the_fix(api: Api) -> None:
    body = {
        "kind": "change_skills",
        "work_id": "AG1",
        "skills": ["x"],
        "effective_at": "2030-01-01T09:00:00",
        "reason": "r",
    }
    answer = api.request("team_lead", "POST", "/user-requests", json=body)
    assert answer.status_code == 422, answer.text
    error = answer.json()
    assert error["error_id"] == "api.invalid_request"
    assert "effective_at" in error["message"]
    assert "+08:00" in error["message"]  # how to fix it


def test_a_missing_body_is_named_in_the_message(api: Api) -> None:
    answer = api.request("admin", "POST", f"/faults/{api.seed.fault_a}/fix")
    assert answer.status_code == 422, answer.text
    assert "the body: Field required (add it)" in answer.json()["message"]
