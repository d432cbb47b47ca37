"""Live campaigns in the API: POST /campaigns/{id}/start runs a dialer on the simulator; the agent's console
going ready puts the agent on the campaign's floor; calls pop on the console; pause and logout wait for the
call in progress; the wallboard's live view follows."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession

from api.app import create_app
from api.dialing import dialers_of
from dialer.backends.asterisk import AmiState
from dialer.backends.base import TelephonyBackend
from dialer.backends.sim import SimBackend, SimProfile
from dialer.models import Campaign
from tests.api.conftest import FAST_HASHER, Api, seed
from tests.conftest import pg_schema, pg_url
from waihu.settings import load_settings

#: customers who answer at once and stay on the line until the agent ends the call
QUICK = SimProfile(p_live=1.0, answer_delay=(0.05, 0.1), ring_after=0.02, talk_mean=600.0, talk_cv=0.1)
ALL_DAY = [["00:00", "23:59"]]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def live_api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    """The API with its dialers, on a fresh SQLite file or a fresh PostgreSQL schema."""
    engine_kwargs: dict[str, Any] = {}
    url = f"sqlite+aiosqlite:///{tmp_path / 'api.db'}"
    schema = f"waihu_live_{uuid.uuid4().hex[:8]}"
    if request.param == "postgres":
        url = pg_url()
        asyncio.run(pg_schema(url, f'CREATE SCHEMA "{schema}"'))
        engine_kwargs = {"connect_args": {"server_settings": {"search_path": schema}, "timeout": 10}}
    settings = load_settings(database_url=url, key_file=tmp_path / "api.key", recordings_dir=tmp_path / "recordings")
    options = {"tick": 0.05, "customers": QUICK, "ring_timeout": 5.0}
    app = create_app(
        settings, hasher=FAST_HASHER, run_migrations=True, dialer_options=options, engine_kwargs=engine_kwargs
    )
    try:
        with TestClient(app) as client:
            portal = client.portal
            assert portal is not None
            seeded = portal.call(seed, client.app.state.waihu, tmp_path)  # type: ignore[attr-defined]
            yield Api(client, seeded)
    finally:
        if request.param == "postgres":
            asyncio.run(pg_schema(url, f'DROP SCHEMA "{schema}" CASCADE'))


def _campaign(api: Api, leads: int, *, training: bool = False) -> int:
    body = {"name": f"live-{time.monotonic_ns()}", "flow": "mobile-newspaper-trial@1", "agents": ["AG1"]}
    body |= {"calling_windows": ALL_DAY, "training": training}
    created = api.request("team_lead", "POST", "/campaigns", json=body)
    assert created.status_code == 201, created.text
    campaign_id = int(created.json()["id"])
    rows = "".join(f"1390000{i:04d},客户{i}\n" for i in range(leads))
    upload = api.request(
        "team_lead",
        "POST",
        f"/campaigns/{campaign_id}/leads",
        files={"file": ("leads.csv", f"phone,name\n{rows}".encode(), "text/csv")},
    )
    assert upload.status_code == 200, upload.text
    assert upload.json()["imported"] == leads
    return campaign_id


def _live(api: Api, campaign_id: int) -> dict[str, Any]:
    response = api.request("team_lead", "GET", f"/campaigns/{campaign_id}/live")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _wait(predicate: Callable[[], bool], what: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _agent(api: Api, campaign_id: int, work_id: str = "AG1") -> dict[str, Any] | None:
    for agent in _live(api, campaign_id)["agents"]:
        if agent["work_id"] == work_id:
            found: dict[str, Any] = agent
            return found
    return None


def _next(ws: WebSocketTestSession, kind: str) -> dict[str, Any]:
    for _ in range(50):
        message: dict[str, Any] = ws.receive_json()
        if message["type"] == kind:
            return message
        assert message["type"] != "error", message
    raise AssertionError(f"no {kind} message")


def _end_call(ws: WebSocketTestSession, pop: dict[str, Any]) -> dict[str, Any]:
    """Walk the script by the last option of each step (the path that ends soonest) until the call ends."""
    step = pop["step"]
    for _ in range(30):
        option = step["options"][-1]["index"]
        values = {field["name"]: "13900001111" for field in step["capture"] if field["required"]}
        ws.send_json({"type": "choose", "option": option, "values": values})
        message: dict[str, Any] = ws.receive_json()
        while message["type"] not in ("call.step", "call.ended", "error"):
            message = ws.receive_json()
        assert message["type"] != "error", message
        if message["type"] == "call.ended":
            return message
        step = message["step"]
    raise AssertionError("the script did not end")


def test_started_campaign_pops_calls_on_a_ready_console_and_stores_them(live_api: Api) -> None:
    api = live_api
    campaign_id = _campaign(api, leads=3)
    assert _live(api, campaign_id)["running"] is False
    started = api.request("team_lead", "POST", f"/campaigns/{campaign_id}/start")
    assert started.status_code == 200, started.text
    assert _live(api, campaign_id)["running"] is True
    assert _live(api, campaign_id)["agents"] == []  # nobody is ready yet: nothing is dialed
    assert _live(api, campaign_id)["placed"] == 0

    headers = {"Authorization": f"Bearer {api.token('agent')}"}
    with api.client.websocket_connect("/ws/agent", headers=headers) as ws:
        ws.send_json({"type": "state", "state": "ready"})
        assert _next(ws, "state")["state"] == "ready"
        pop = _next(ws, "call.pop")
        assert pop["lead"]["phone"].count("*") >= 4  # masked
        agent = _agent(api, campaign_id)
        assert agent is not None
        assert agent["state"] == "on_call"
        assert agent["call_id"] == pop["call_id"]
        ended = _end_call(ws, pop)
        assert ended["outcome"]
        _next(ws, "wrap_up")
        ws.send_json({"type": "ready"})
        second = _next(ws, "call.pop")  # ready again: the next lead comes to this console
        assert second["call_id"] != pop["call_id"]

        # 示忙 during a call: the call goes on; after it the agent is paused and gets no third call
        ws.send_json({"type": "state", "state": "paused", "reason": "小休"})
        assert _next(ws, "state")["state"] == "paused"
        _end_call(ws, second)
        _next(ws, "wrap_up")
        ws.send_json({"type": "ready"})
        _wait(lambda: (_agent(api, campaign_id) or {}).get("state") == "paused", "the agent to be paused")
        time.sleep(0.3)  # several dialer ticks
        live = _live(api, campaign_id)
        assert live["placed"] == 2
        assert live["answered"] == 2
        assert live["abandoned"] == 0

    metrics = api.client.get("/metrics").text
    assert f'waihu_dialer_agents{{campaign="{campaign_id}",state="paused"}} 1.0' in metrics
    calls = api.request("team_lead", "GET", "/calls", params={"campaign_id": campaign_id})
    assert calls.status_code == 200, calls.text
    stored = {c["call_id"]: c for c in calls.json()}
    assert set(stored) == {pop["call_id"], second["call_id"]}
    assert all(c["work_id"] == "AG1" and c["outcome"] for c in stored.values())


def test_stop_ends_the_dialer_and_logout_leaves_the_floor(live_api: Api) -> None:
    api = live_api
    campaign_id = _campaign(api, leads=2)
    assert api.request("team_lead", "POST", f"/campaigns/{campaign_id}/start").status_code == 200
    pool = dialers_of(api.state)
    headers = {"Authorization": f"Bearer {api.token('agent')}"}
    with api.client.websocket_connect("/ws/agent", headers=headers) as ws:
        ws.send_json({"type": "state", "state": "ready"})
        pop = _next(ws, "call.pop")
        # the console drops mid-call and comes back: the call is shown again, the agent stays on it
    with api.client.websocket_connect("/ws/agent", headers=headers) as ws:
        again = _next(ws, "call.pop")
        assert again["call_id"] == pop["call_id"]
        assert again["resumed"] is True
        assert (_agent(api, campaign_id) or {}).get("state") == "on_call"
        logout = api.request("agent", "POST", "/auth/logout")
        assert logout.status_code == 200
        assert (_agent(api, campaign_id) or {}).get("state") == "on_call"  # logout waits for the call
        _end_call(ws, again)
        _next(ws, "wrap_up")
        ws.send_json({"type": "ready"})
    _wait(lambda: _agent(api, campaign_id) is None, "the agent to leave the floor")
    assert api.request("team_lead", "POST", f"/campaigns/{campaign_id}/stop").status_code == 200
    _wait(lambda: campaign_id not in pool.live, "the dialer to stop")
    assert _live(api, campaign_id)["running"] is False


def test_a_background_upload_reports_progress_then_its_row_errors(live_api: Api) -> None:
    api = live_api
    campaign_id = _campaign(api, leads=0)
    rows = "".join(f"1370000{i:04d},客户{i}\n" for i in range(500)) + "12345,坏号码\n"
    answer = api.request(
        "team_lead",
        "POST",
        f"/campaigns/{campaign_id}/leads",
        params={"background": "true"},
        files={"file": ("leads.csv", f"phone,name\n{rows}".encode(), "text/csv")},
    )
    assert answer.status_code == 202, answer.text
    job = answer.json()
    assert job["state"] == "running"
    assert job["total"] == 501
    assert job["report"] is None
    path = f"/campaigns/{campaign_id}/imports/{job['import_id']}"
    _wait(lambda: api.request("team_lead", "GET", path).json()["state"] != "running", "the import to finish")
    done = api.request("team_lead", "GET", path).json()
    assert done["state"] == "done"
    assert done["done"] == done["total"] == 501
    assert done["report"]["imported"] == 500
    assert [(e["row"], e["column"]) for e in done["report"]["errors"]] == [(502, "phone")]
    other = api.request("other_vendor_team_lead", "GET", path)
    assert other.status_code == 404
    assert api.request("team_lead", "GET", f"/campaigns/{campaign_id}/imports/abc123").status_code == 404


class AmiSim(SimBackend):
    """The simulator with an AMI connection state, as an AsteriskBackend reports one (``state``)."""

    state = AmiState.CONNECTING


def test_metrics_report_the_ami_connection_of_a_live_campaign(live_api: Api) -> None:
    api = live_api
    pool = dialers_of(api.state)
    backends: list[AmiSim] = []

    async def factory(campaign: Campaign) -> tuple[TelephonyBackend, str]:
        backends.append(AmiSim(QUICK))
        return backends[-1], "asterisk"

    pool.backend_factory = factory
    campaign_id = _campaign(api, leads=0)
    assert api.request("team_lead", "POST", f"/campaigns/{campaign_id}/start").status_code == 200
    backends[0].state = AmiState.CONNECTED
    assert f'waihu_ami_connected{{campaign="{campaign_id}",state="connected"}} 1.0' in api.client.get("/metrics").text
    backends[0].state = AmiState.RECONNECTING
    text = api.client.get("/metrics").text
    assert f'waihu_ami_connected{{campaign="{campaign_id}",state="reconnecting"}} 0.0' in text
    assert _live(api, campaign_id)["ami_state"] == "reconnecting"
