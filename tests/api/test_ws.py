"""The agent console's websocket: the call pop, the next step after a choice, state changes, a dropped socket."""

from __future__ import annotations

import time
from concurrent.futures import Future
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.websockets import WebSocketDisconnect

from api.deps import AppState
from api.ws import ConsoleHub, console_of
from flows import FlowRun
from tests.api.conftest import PHONE, Api
from waihu.pii import mask


async def _start_run(state: AppState) -> FlowRun:
    run = state.flows.engine("mobile-newspaper-trial", 1).new_run({"phone": PHONE}, call_id="ws-1", mask=mask)
    await run.start()
    return run


async def _call_and_wrap_up(hub: ConsoleHub, call: Any, run: FlowRun) -> str | None:
    await hub.work(call, run)
    await hub.wrap_up(call)
    return run.outcome


def _start_call(api: Api, work_id: str) -> tuple[Future[str | None], FlowRun]:
    run = api.run(_start_run, api.state)
    call = SimpleNamespace(call_id="ws-1", slot=SimpleNamespace(work_id=work_id), variables={"phone": PHONE})
    hub = console_of(api.state)
    portal = api.client.portal
    assert portal is not None
    return portal.start_task_soon(_call_and_wrap_up, hub, call, run), run


def _wait_connected(api: Api, work_id: str) -> None:
    hub = console_of(api.state)
    deadline = time.monotonic() + 5
    while not hub.connected(work_id):
        assert time.monotonic() < deadline, "the console never connected"
        time.sleep(0.01)


def test_pop_choice_next_step_and_a_dropped_socket_mid_call(api: Api) -> None:
    headers = {"Authorization": f"Bearer {api.token('agent')}"}
    with api.client.websocket_connect("/ws/agent", headers=headers) as ws:
        _wait_connected(api, "AG1")
        started = time.perf_counter()
        done, run = _start_call(api, "AG1")
        pop = ws.receive_json()
        assert time.perf_counter() - started < 0.3
        assert pop["type"] == "call.pop"
        assert pop["lead"] == {"phone": "138****5678"}
        assert pop["step"]["state"] == "connect"
        assert "138****5678" in pop["step"]["text"]
        assert PHONE not in str(pop)
        ws.send_json({"type": "choose", "option": 0})
        step = ws.receive_json()
        assert (step["type"], step["step"]["state"]) == ("call.step", "offer_category")
    # the socket dropped mid-call; the agent reconnects and gets the call at the same step
    with api.client.websocket_connect("/ws/agent", headers=headers) as ws:
        again = ws.receive_json()
        assert (again["type"], again["resumed"], again["step"]["state"]) == ("call.pop", True, "offer_category")
        ws.send_json({"type": "choose", "option": 99})
        assert ws.receive_json()["type"] == "error"
        ws.send_json({"type": "choose", "option": 5})  # 不同意/犹豫 -> q2_recommend
        assert ws.receive_json()["step"]["state"] == "q2_recommend"
        while True:
            ws.send_json({"type": "choose", "option": len(run.step.options) - 1})
            message = ws.receive_json()
            if message["type"] == "call.ended":
                break
            assert message["type"] == "call.step"
        assert message["outcome"] == run.outcome is not None
        assert ws.receive_json()["type"] == "wrap_up"
        ws.send_json({"type": "ready"})
        assert done.result(timeout=5) == run.outcome


def test_state_changes_go_both_ways(api: Api) -> None:
    headers = {"Authorization": f"Bearer {api.token('agent')}"}
    with api.client.websocket_connect("/ws/agent", headers=headers) as ws:
        ws.send_json({"type": "state", "state": "paused", "reason": "小休"})
        assert ws.receive_json() == {"type": "state", "state": "paused", "reason": "小休"}
        ws.send_json({"type": "state", "state": "paused"})
        assert ws.receive_json()["error_id"] == "agents.pause_reason"
        ws.send_json({"type": "state", "state": "ready"})
        assert ws.receive_json()["state"] == "ready"
    sessions = api.request("team_lead", "GET", "/sessions").json()
    assert [s["work_id"] for s in sessions] == ["AG1", "TL1"]


def test_only_a_work_id_that_takes_calls_gets_a_console(api: Api) -> None:
    refused = {"Authorization": f"Bearer {api.token('team_lead')}"}
    with api.client.websocket_connect("/ws/agent", headers=refused) as ws:
        assert ws.receive_json()["error_id"] == "api.not_authenticated"
        with pytest.raises(WebSocketDisconnect):
            ws.receive_json()
    with api.client.websocket_connect("/ws/agent") as ws:
        ws.send_json({"type": "auth", "token": api.token("agent")})
        ws.send_json({"type": "state", "state": "ready"})
        assert ws.receive_json()["state"] == "ready"
