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
from dialer.models import Campaign
from dialer.runner import PreviewLead
from flows import FlowRun
from tests.api.conftest import PHONE, Api, wait_connected
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
    call = SimpleNamespace(
        call_id="ws-1", slot=SimpleNamespace(work_id=work_id), variables={"phone": PHONE}, wrap_up_limit=None
    )
    return api.start(_call_and_wrap_up, console_of(api.state), call, run), run


def test_pop_choice_next_step_and_a_dropped_socket_mid_call(api: Api) -> None:
    headers = {"Authorization": f"Bearer {api.token('agent')}"}
    with api.client.websocket_connect("/ws/agent", headers=headers) as ws:
        wait_connected(api, "AG1")
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


# --- what the console needs beside the step ---------------------------------------------------------


async def _wrap_up_limit_of(state: AppState, campaign_id: int) -> int:
    """What the dialer puts on each call of the campaign (``LiveCall.wrap_up_limit``)."""
    async with state.sessions() as session:
        campaign = await session.get(Campaign, campaign_id)
        assert campaign is not None
        return campaign.wrap_up_limit_seconds


def _start_call_of(
    api: Api, work_id: str, call_id: str, *, wrap_up_limit: int | None = None
) -> tuple[Future[Any], FlowRun]:
    async def start() -> FlowRun:
        run = api.state.flows.engine("mobile-newspaper-trial", 1).new_run({"phone": PHONE}, call_id=call_id, mask=mask)
        await run.start()
        return run

    run = api.run(start)
    call = SimpleNamespace(
        call_id=call_id,
        slot=SimpleNamespace(work_id=work_id),
        variables={"phone": PHONE},
        wrap_up_limit=wrap_up_limit,
    )
    return api.start(_call_and_wrap_up, console_of(api.state), call, run), run


def test_the_pop_carries_the_script_aids_the_checkpoints_and_the_wrap_up_limit(api: Api) -> None:
    headers = {"Authorization": f"Bearer {api.token('agent')}"}
    limit = api.run(_wrap_up_limit_of, api.state, api.seed.campaign_a)
    with api.client.websocket_connect("/ws/agent", headers=headers) as ws:
        wait_connected(api, "AG1")
        done, run = _start_call_of(api, "AG1", "ws-aids", wrap_up_limit=limit)
        pop = ws.receive_json()
        assert pop["type"] == "call.pop"
        assert pop["phone_masked"] == "138****5678"
        assert pop["wrap_up_limit"] == 60  # the campaign's (the default)
        assert pop["lead_labels"]["phone"] == "机主号码"
        script = pop["script"]
        assert script["ref"] == "mobile-newspaper-trial@1"
        assert {"id": "too_expensive", "label": "太贵了", "principle": "故事大于道理"} in script["objections"]
        assert len(script["customer_types"]) == 7
        assert script["customer_types"][0]["tip"]
        assert script["outcomes"]["trial_opened"] == {"label": "同意开通手机报体验", "category": "success"}
        assert [(c["id"], c["within"], c["status"]) for c in pop["checkpoints"]] == [
            ("opening_15s", 15, "pending"),
            ("benefit_45s", 45, "pending"),
            ("trust_90s", 90, "pending"),
        ]
        assert pop["checkpoints"][0]["states"] == ["offer_category"]
        assert 0 <= pop["elapsed"] < 5
        assert pop["return_to"] is None
        assert pop["tags"] == []
        option = pop["step"]["options"][1]
        assert (option["kind"], option["outcome"], option["skip_capture"]) == ("outcome", "wrong_party", False)
        assert PHONE not in str(pop)

        ws.send_json({"type": "choose", "call_id": "ws-aids", "option": 0})
        step = ws.receive_json()
        assert step["type"] == "call.step"
        assert step["step"]["state"] == "offer_category"
        assert step["checkpoints"][0]["status"] == "met"
        fields = {f["name"]: f for f in step["step"]["capture"]}
        assert fields["category"] == {
            "name": "category",
            "label": "感兴趣的类别",
            "type": "text",
            "required": False,
            "choices": None,
            "min": None,
            "max": None,
            "max_length": 20,
            "pii": None,
        }
        assert step["step"]["options"][0]["sets"] == ["category", "column"]

        # a customer type, and an objection that returns to the step
        ws.send_json({"type": "tag", "call_id": "ws-aids", "code": "silent"})
        assert ws.receive_json() == {"type": "call.tags", "call_id": "ws-aids", "tags": ["silent"]}
        ws.send_json({"type": "tag", "call_id": "ws-aids", "code": "nobody"})
        assert ws.receive_json()["error_id"] == "flow.invalid_choice"
        ws.send_json({"type": "objection", "call_id": "ws-aids", "id": "too_expensive"})
        handler = ws.receive_json()
        assert handler["step"]["objection_label"] == "太贵了"
        assert handler["step"]["depth"] == 1
        assert handler["return_to"] == {"state": "offer_category", "title": "邀请体验，问感兴趣的类别"}
        assert handler["step"]["options"][0]["kind"] == "return"
        ws.send_json({"type": "choose", "call_id": "ws-aids", "option": 0})
        back = ws.receive_json()
        assert (back["step"]["state"], back["return_to"], back["tags"]) == ("offer_category", None, ["silent"])

        ws.send_json({"type": "choose", "call_id": "ws-aids", "option": 5})  # 不同意/犹豫 -> q2_recommend
        assert ws.receive_json()["step"]["state"] == "q2_recommend"
        ws.send_json({"type": "choose", "call_id": "ws-aids", "option": 1})  # 不同意 -> goodbye
        assert ws.receive_json()["step"]["state"] == "goodbye"
        ws.send_json({"type": "choose", "call_id": "ws-aids", "option": 0})
        ended = ws.receive_json()
        assert (ended["type"], ended["outcome"]) == ("call.ended", "refused")
        assert {c["status"] for c in ended["checkpoints"]} == {"met"}  # q2_recommend meets trust_90s
        assert ws.receive_json() == {"type": "wrap_up", "call_id": "ws-aids", "limit": 60}
        ws.send_json({"type": "ready", "call_id": "ws-aids"})
        assert ws.receive_json() == {"type": "wrap_up.done", "call_id": "ws-aids"}
        assert done.result(timeout=5) == "refused"
        assert run.tags == ["silent"]


def test_a_late_message_for_another_call_or_before_the_pop_never_acts_on_this_call(api: Api) -> None:
    headers = {"Authorization": f"Bearer {api.token('agent')}"}
    with api.client.websocket_connect("/ws/agent", headers=headers) as ws:
        wait_connected(api, "AG1")
        ws.send_json({"type": "choose", "option": 1})  # pressed while idle: forgotten when the call pops
        ws.send_json({"type": "ready"})
        time.sleep(0.2)
        done, run = _start_call_of(api, "AG1", "ws-late")
        pop = ws.receive_json()
        assert (pop["type"], pop["step"]["state"], pop["wrap_up_limit"]) == ("call.pop", "connect", None)
        ws.send_json({"type": "choose", "call_id": "ws-older", "option": 1})  # meant for the previous call
        ws.send_json({"type": "choose", "call_id": "ws-late", "option": 1})  # 不是机主
        ended = ws.receive_json()
        assert (ended["type"], ended["outcome"]) == ("call.ended", "wrong_party")
        assert ws.receive_json()["limit"] is None
        ws.send_json({"type": "ready", "call_id": "ws-older"})
        ws.send_json({"type": "ready", "call_id": "ws-late"})
        assert ws.receive_json()["type"] == "wrap_up.done"
        assert done.result(timeout=5) == "wrong_party"
        assert [e.kind for e in run.transcript] == ["enter", "choose", "outcome"]


def test_a_reconnect_in_wrap_up_resumes_the_wrap_up(api: Api) -> None:
    headers = {"Authorization": f"Bearer {api.token('agent')}"}
    with api.client.websocket_connect("/ws/agent", headers=headers) as ws:
        wait_connected(api, "AG1")
        done, _ = _start_call_of(api, "AG1", "ws-wrap")
        assert ws.receive_json()["type"] == "call.pop"
        ws.send_json({"type": "choose", "option": 1})
        assert ws.receive_json()["type"] == "call.ended"
        assert ws.receive_json()["type"] == "wrap_up"
    with api.client.websocket_connect("/ws/agent", headers=headers) as ws:
        again = ws.receive_json()
        assert (again["type"], again["resumed"], again["ended"], again["wrap_up"]) == ("call.pop", True, True, True)
        assert again["outcome"] == "wrong_party"
        ws.send_json({"type": "ready", "call_id": "ws-wrap"})
        assert ws.receive_json()["type"] == "wrap_up.done"
        assert done.result(timeout=5) == "wrong_party"


def test_preview_shows_the_masked_lead_again_after_a_reconnect_and_takes_the_answer(api: Api) -> None:
    headers = {"Authorization": f"Bearer {api.token('agent')}"}
    hub = console_of(api.state)
    lead = PreviewLead(lead_id=41, phone_masked="138****5678", variables={"phone": "138****5678", "city": "无锡"})
    with api.client.websocket_connect("/ws/agent", headers=headers) as ws:
        wait_connected(api, "AG1")
        decision = api.start(hub.preview, SimpleNamespace(work_id="AG1"), lead)
        shown = ws.receive_json()
        assert shown == {
            "type": "preview",
            "lead": {
                "lead_id": 41,
                "phone_masked": "138****5678",
                "variables": {"phone": "138****5678", "city": "无锡"},
            },
        }
    with api.client.websocket_connect("/ws/agent", headers=headers) as ws:
        again = ws.receive_json()
        assert (again["type"], again["resumed"], again["lead"]["lead_id"]) == ("preview", True, 41)
        ws.send_json({"type": "preview", "dial": True, "lead_id": 40})  # an older preview: ignored
        ws.send_json({"type": "preview", "dial": False, "lead_id": 41})
        assert decision.result(timeout=5) is False
