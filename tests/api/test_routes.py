"""What the routes do, beyond who may call them: campaigns, leads, DNC, flows, calls, recordings, QA, the rest."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import os
import re
import warnings
from pathlib import Path

import anyio
import pytest
from sqlalchemy import select

from api.deps import AppState
from recordings.models import RecordingFile
from tests.api.conftest import PHONE, RECORDING_BYTES, Api

BROKEN_SCRIPT = """id: broken
version: 1
title: 坏脚本
brand: 示例
start: greet
outcomes:
  ok: {label: 好, category: success}
states:
  greet:
    say: 您好
    options:
      - {label: 是, to: nowhere}
"""


def test_status_reports_the_database_at_the_latest_migration(api: Api) -> None:
    body = api.client.get("/status").json()
    assert body["ok"] is True
    assert body["database"] == "ok"
    assert body["migrations"]["at_head"] is True
    assert body["migrations"]["current"] == body["migrations"]["head"]


def test_metrics_count_calls_by_result_and_request_latencies_by_route_template(api: Api) -> None:
    api.request("team_lead", "GET", f"/campaigns/{api.seed.campaign_a}")
    text = api.client.get("/metrics").text
    assert 'waihu_calls_total_by_result{result="answered"} 2.0' in text
    latency = r'waihu_http_request_duration_seconds_count\{method="GET",route="/campaigns/\{campaign_id\}"'
    assert re.search(latency, text)
    assert f"/campaigns/{api.seed.campaign_a}" not in text


def test_errors_have_one_shape_and_do_not_echo_input(api: Api) -> None:
    unknown = api.client.get("/no/such/route")
    assert unknown.status_code == 404
    assert set(unknown.json()) == {"error_id", "message", "details"}
    invalid = api.request("ops_manager", "POST", "/dnc", json={"phone": 13812345678, "reason": "x"})
    assert invalid.status_code == 422
    assert invalid.json()["error_id"] == "api.invalid_request"
    assert PHONE not in invalid.text
    wrong_method = api.client.delete("/status")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error_id"] == "api.method_not_allowed"


def test_a_campaign_goes_through_its_states_and_refuses_a_wrong_move(api: Api) -> None:
    created = api.request(
        "team_lead",
        "POST",
        "/campaigns",
        json={"name": "十一月活动", "flow": "edu-survey-invite", "calling_windows": [["09:00", "18:00"]]},
    )
    assert created.status_code == 201, created.text
    campaign = created.json()
    assert (campaign["vendor_id"], campaign["state"], campaign["flow"]) == (
        api.seed.vendor_a,
        "draft",
        "edu-survey-invite@2",  # no version given: the newest
    )
    cid = campaign["id"]
    assert api.request("team_lead", "POST", f"/campaigns/{cid}/resume").status_code == 409
    for verb, state in (("start", "running"), ("pause", "paused"), ("resume", "running"), ("stop", "stopped")):
        response = api.request("team_lead", "POST", f"/campaigns/{cid}/{verb}")
        assert response.status_code == 200, response.text
        assert response.json()["state"] == state
    refused = api.request("team_lead", "POST", f"/campaigns/{cid}/start")
    assert refused.status_code == 409
    assert refused.json()["error_id"] == "dialer.campaign_state"
    actions = [e["action"] for e in api.request("admin", "GET", "/audit", params={"limit": 1000}).json()]
    assert actions.count("campaign.running") == 2
    assert "campaign.stopped" in actions


def test_a_campaign_with_an_unknown_script_is_refused_with_the_field(api: Api) -> None:
    response = api.request("team_lead", "POST", "/campaigns", json={"name": "x", "flow": "no-such-flow@3"})
    assert response.status_code == 422
    assert response.json()["error_id"] == "dialer.flow_not_found"


def test_a_lead_upload_lands_the_good_rows_and_reports_the_bad_ones_masked(api: Api) -> None:
    csv = "phone,name,city\n13900001111,赵一,无锡\n13900001111,赵一,无锡\n12345,坏号码,苏州\n13700002222,钱二,苏州\n"
    response = api.request(
        "team_lead",
        "POST",
        f"/campaigns/{api.seed.campaign_a}/leads",
        files={"file": ("leads.csv", csv.encode(), "text/csv")},
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["rows"], report["imported"]) == (4, 2)
    assert [(e["row"], e["column"]) for e in report["errors"]] == [(4, "phone")]
    assert [d["row"] for d in report["duplicates"]] == [3]
    assert "13900001111" not in response.text
    stats = api.request("team_lead", "GET", f"/campaigns/{api.seed.campaign_a}").json()["stats"]
    assert stats["leads"] == {"done": 1, "dialable": 2}


def test_lead_lists_are_made_by_uploads_counted_and_paused(api: Api) -> None:
    campaign = api.seed.campaign_a

    def upload(name: str, csv: str, **params: str) -> dict[str, object]:
        response = api.request(
            "team_lead",
            "POST",
            f"/campaigns/{campaign}/leads",
            params=params,
            files={"file": (name, csv.encode(), "text/csv")},
        )
        assert response.status_code == 200, response.text
        report: dict[str, object] = response.json()
        return report

    first = upload("十一月13912345678.csv", "phone\n13900001111\n13700002222\n")
    joined = upload("more.csv", "phone\n13600003333\n", list="回访 名单")
    assert first["list_name"] == "十一月139****5678.csv", "a name that looks like a phone number is masked"
    assert joined["list_name"] == "回访 名单"
    lists = api.request("team_lead", "GET", f"/campaigns/{campaign}/lists").json()
    mine = {item["id"]: item for item in lists}
    assert {(item["name"], item["active"], item["total"], item["leads"]["dialable"]) for item in mine.values()} >= {
        ("十一月139****5678.csv", True, 2, 2),
        ("回访 名单", True, 1, 1),
    }
    assert "13912345678" not in str(lists)
    assert mine[joined["list_id"]]["created_by"] == "TL1"

    path = f"/campaigns/{campaign}/lists/{joined['list_id']}"
    paused = api.request("team_lead", "PATCH", path, json={"active": False})
    assert paused.status_code == 200, paused.text
    assert (paused.json()["active"], paused.json()["total"]) == (False, 1)
    listed = api.request("team_lead", "GET", f"/campaigns/{campaign}/lists").json()
    again = {item["id"]: item["active"] for item in listed}
    assert again[joined["list_id"]] is False
    assert again[first["list_id"]] is True

    missing = api.request("team_lead", "PATCH", f"/campaigns/{campaign}/lists/999999", json={"active": False})
    assert (missing.status_code, missing.json()["error_id"]) == (404, "dialer.list_not_found")
    other = api.request(
        "team_lead", "PATCH", f"/campaigns/{api.seed.campaign_b}/lists/{first['list_id']}", json={"active": False}
    )
    assert other.status_code == 404, "another vendor's campaign is not there for this team lead"
    unpaused = {
        item["id"]: item["active"] for item in api.request("team_lead", "GET", f"/campaigns/{campaign}/lists").json()
    }
    assert unpaused[first["list_id"]] is True
    bad = api.request(
        "team_lead",
        "POST",
        f"/campaigns/{campaign}/leads",
        params={"list": "\u0007"},
        files={"file": ("x.csv", b"phone\n13500004444\n", "text/csv")},
    )
    assert (bad.status_code, bad.json()["error_id"]) == (422, "dialer.list_name")
    stats = api.request("team_lead", "GET", f"/campaigns/{campaign}").json()["stats"]
    assert stats["leads"]["dialable"] == 3, "the refused upload landed nothing"


def test_dnc_add_keeps_only_the_mask(api: Api) -> None:
    first = api.request("ops_manager", "POST", "/dnc", json={"phone": "13811112222", "reason": "客户要求"})
    again = api.request("ops_manager", "POST", "/dnc", json={"phone": "+86 138 1111 2222"})
    bad = api.request("ops_manager", "POST", "/dnc", json={"phone": "12"})
    assert first.json() == {"phone_masked": "138****2222", "added": True}
    assert again.json()["added"] is False
    assert bad.status_code == 422
    assert bad.json()["error_id"] == "api.phone_invalid"


def test_flow_validation_names_line_and_column(api: Api) -> None:
    response = api.request(
        "agent", "POST", "/flows/validate", files={"file": ("broken.v1.yaml", BROKEN_SCRIPT.encode(), "text/yaml")}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is False
    problem = next(p for p in body["problems"] if "nowhere" in p["message"])
    assert (problem["line"], problem["severity"]) == (12, "error")
    assert problem["column"] > 1
    garbage = api.request("agent", "POST", "/flows/validate", files={"file": ("x.yaml", b"id: a\n\x07", "text/yaml")})
    assert garbage.status_code == 200
    assert garbage.json()["problems"][0]["line"] == 2


def test_flows_list_read_and_diagram(api: Api) -> None:
    refs = {f["ref"] for f in api.request("agent", "GET", "/flows").json()}
    assert {"mobile-newspaper-trial@1", "edu-survey-invite@1"} <= refs
    flow = api.request("agent", "GET", "/flows/mobile-newspaper-trial@1").json()
    assert flow["start"] == "connect"
    assert any(s["key"] == "connect" for s in flow["states"])
    diagram = api.request("agent", "GET", "/flows/mobile-newspaper-trial/diagram").json()["mermaid"]
    assert diagram.startswith("stateDiagram-v2")
    assert api.request("agent", "GET", "/flows/nope@1").status_code == 404


def test_call_search_filters(api: Api) -> None:
    def ids(**params: str) -> list[str]:
        response = api.request("admin", "GET", "/calls", params=params)
        assert response.status_code == 200, response.text
        return [c["call_id"] for c in response.json()]

    assert sorted(ids()) == ["call-a-1", "call-b-1"]
    assert ids(campaign_id=str(api.seed.campaign_a)) == ["call-a-1"]
    assert ids(work_id="AGB") == ["call-b-1"]
    assert ids(phone_suffix="0000") == []
    assert sorted(ids(phone_suffix="5678", outcome="wrong_party")) == ["call-a-1", "call-b-1"]
    assert ids(since="2100-01-01T00:00:00Z") == []


def test_a_recording_streams_whole_or_by_range_and_every_play_is_audited(api: Api) -> None:
    path = f"/calls/{api.seed.call_a}/recording"
    whole = api.request("qa", "GET", path, params={"reason": "抽查"})
    assert whole.status_code == 200
    assert whole.content == RECORDING_BYTES
    assert whole.headers["accept-ranges"] == "bytes"
    part = api.request("qa", "GET", path, params={"reason": "抽查"}, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.content == RECORDING_BYTES[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(RECORDING_BYTES)}"
    tail = api.request("qa", "GET", path, params={"reason": "抽查"}, headers={"Range": "bytes=-10"})
    assert tail.content == RECORDING_BYTES[-10:]
    beyond = api.request("qa", "GET", path, params={"reason": "抽查"}, headers={"Range": "bytes=999999-"})
    assert beyond.status_code == 416
    assert beyond.json()["error_id"] == "api.range_invalid"
    assert api.request("qa", "GET", path).status_code == 422  # no reason, no play
    plays = api.request("admin", "GET", "/audit", params={"action": "recording.play"}).json()
    assert [(p["actor"], p["details"]["reason"]) for p in plays] == [("QA1", "抽查")] * 3


async def _stamp_recording(state: AppState, call_id: str, size: int, sha256: str) -> None:
    async with state.sessions() as session, session.begin():
        row = await session.scalar(select(RecordingFile).where(RecordingFile.call_id == call_id))
        assert row is not None
        row.size_bytes, row.sha256 = size, sha256


def test_a_recording_whose_file_changed_is_refused_not_played(api: Api) -> None:
    path = f"/calls/{api.seed.call_a}/recording"
    good = hashlib.sha256(RECORDING_BYTES).hexdigest()
    api.run(_stamp_recording, api.state, api.seed.call_a, len(RECORDING_BYTES), good)
    assert api.request("qa", "GET", path, params={"reason": "抽查"}).content == RECORDING_BYTES
    api.run(_stamp_recording, api.state, api.seed.call_a, len(RECORDING_BYTES), "0" * 64)  # as if edited since
    refused = api.request("qa", "GET", path, params={"reason": "抽查"})
    assert refused.status_code == 409
    assert refused.json()["error_id"] == "recording.corrupt"


def test_a_qa_review_goes_from_draft_to_the_agents_acknowledgement(api: Api) -> None:
    started = api.request("qa", "POST", "/qa/reviews", json={"call_id": api.seed.call_a})
    assert started.status_code == 201, started.text
    review = started.json()
    assert review["state"] == "draft"
    missing = [item for item, v in review["items"].items() if v["points"] is None]
    early = api.request("qa", "POST", f"/qa/reviews/{review['id']}/submit")
    assert early.status_code == 422
    for item in missing:
        scored = api.request("qa", "POST", f"/qa/reviews/{review['id']}/scores", json={"item_id": item, "points": 1})
        assert scored.status_code == 200, scored.text
    submitted = api.request("qa", "POST", f"/qa/reviews/{review['id']}/submit")
    assert submitted.json()["state"] == "submitted"
    acked = api.request("agent", "POST", f"/qa/reviews/{review['id']}/ack", json={"accept": True, "comment": "已阅"})
    assert acked.status_code == 200, acked.text
    assert acked.json()["state"] == "acknowledged"
    scores = api.request(
        "team_lead",
        "GET",
        "/qa/reports/scores",
        params={"since": "2020-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z", "group_by": "agent"},
    ).json()
    assert [(r["key"], r["reviews"]) for r in scores] == [("AG1", 1)]
    replay = api.request("qa", "GET", f"/qa/calls/{api.seed.call_a}/replay").json()
    assert replay["timeline"][0]["source"] == "telephony"
    assert "138****5678" in str(replay)


def test_a_disputed_review_is_listed_by_call_and_settled_only_with_a_note(api: Api) -> None:
    started = api.request("qa", "POST", "/qa/reviews", json={"call_id": api.seed.call_a}).json()
    for item, value in started["items"].items():
        if value["points"] is None:
            api.request("qa", "POST", f"/qa/reviews/{started['id']}/scores", json={"item_id": item, "points": 0})
    api.request("qa", "POST", f"/qa/reviews/{started['id']}/submit")
    disputed = api.request(
        "agent", "POST", f"/qa/reviews/{started['id']}/ack", json={"accept": False, "comment": "开场白说了"}
    )
    assert disputed.json()["state"] == "disputed"
    listed = api.request("qa", "GET", "/qa/reviews", params={"call_id": api.seed.call_a, "state": "disputed"})
    assert [r["id"] for r in listed.json()] == [started["id"]]
    other = api.request("other_vendor_team_lead", "GET", "/qa/reviews", params={"call_id": api.seed.call_a})
    assert other.json() == []
    bare = api.request("qa", "POST", f"/qa/reviews/{started['id']}/close", json={})
    assert bare.status_code == 409
    assert bare.json()["error_id"] == "qa.review_refused"
    settled = api.request("qa", "POST", f"/qa/reviews/{started['id']}/close", json={"note": "复听后维持原评分"})
    assert settled.status_code == 200, settled.text
    assert settled.json()["state"] == "closed"


def test_work_id_request_and_its_approval(api: Api) -> None:
    filed = api.request(
        "team_lead",
        "POST",
        "/user-requests",
        json={
            "kind": "create_trainee",
            "work_id": "T9001",
            "name": "孙三",
            "effective_at": "2100-01-01T00:00:00Z",
            "reason": "入职",
        },
    )
    assert filed.status_code == 201, filed.text
    assert "name_enc" not in filed.json()["payload"]
    rid = filed.json()["id"]
    own = api.request("team_lead", "POST", f"/user-requests/{rid}/decision", json={"approve": True})
    assert own.status_code == 403
    decided = api.request("admin", "POST", f"/user-requests/{rid}/decision", json={"approve": True})
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "approved"
    listed = api.request("team_lead", "GET", "/user-requests", params={"status": "approved"}).json()
    assert [r["id"] for r in listed] == [rid]


def test_users_are_listed_with_masked_names(api: Api) -> None:
    users = api.request("team_lead", "GET", "/users").json()
    assert {u["work_id"] for u in users} == {"TR1", "AG1", "TL1", "OM1", "QA1"}
    assert all(u["name_masked"].endswith("*") for u in users)


def test_attendance_report_as_csv(api: Api) -> None:
    response = api.request("team_lead", "GET", "/attendance/report", params={"month": "2026-11", "format": "csv"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.text.splitlines()[0].startswith("work_id,")
    assert api.request("team_lead", "GET", "/attendance/report", params={"month": "2026-13"}).status_code == 422


def test_audit_chain_verifies_through_the_api(api: Api) -> None:
    body = api.request("admin", "GET", "/audit/verify").json()
    assert body["ok"] is True
    assert body["rows"] == body["head_seq"] > 0
    anchored = api.request(
        "admin", "GET", "/audit/verify", params={"expect_seq": body["head_seq"] + 5, "expect_hash": "a" * 64}
    ).json()
    assert anchored["ok"] is False
    assert anchored["problems"][0]["kind"] == "tail_truncated"


def test_fault_reports_move_from_open_to_fixed(api: Api) -> None:
    filed = api.request("agent", "POST", "/faults", json={"description": "电脑蓝屏"})
    assert filed.status_code == 201
    fid = filed.json()["id"]
    assert api.request("admin", "POST", f"/faults/{fid}/fix", json={"resolution": "重装"}).status_code == 409
    assert api.request("admin", "POST", f"/faults/{fid}/ack").json()["status"] == "acknowledged"
    fixed = api.request("admin", "POST", f"/faults/{fid}/fix", json={"resolution": "重装系统"}).json()
    assert (fixed["status"], fixed["fixed_by"], fixed["resolution"]) == ("fixed", "AD1", "重装系统")
    assert [f["id"] for f in api.request("agent", "GET", "/faults", params={"status": "fixed"}).json()] == [fid]


def test_the_agent_lists_their_own_submitted_reviews_with_the_sheet_labels(api: Api) -> None:
    started = api.request("qa", "POST", "/qa/reviews", json={"call_id": api.seed.call_a}).json()
    assert api.request("agent", "GET", "/qa/my-reviews").json() == []  # a draft is the reviewer's own
    for item, value in started["items"].items():
        if value["points"] is None:
            eating = item == "no_eating"
            body = {"item_id": item, "points": 0 if eating else 1, "comment": "吃零食" if eating else None}
            assert api.request("qa", "POST", f"/qa/reviews/{started['id']}/scores", json=body).status_code == 200
    assert api.request("qa", "POST", f"/qa/reviews/{started['id']}/submit").status_code == 200
    [mine] = api.request("agent", "GET", "/qa/my-reviews").json()
    assert (mine["id"], mine["state"], mine["work_id"]) == (started["id"], "submitted", "AG1")
    assert mine["items"]["no_eating"]["label"].startswith("不得在机房用餐")
    assert mine["items"]["no_eating"]["source"] == "第三篇 第二条"
    assert (mine["items"]["no_eating"]["points"], mine["items"]["no_eating"]["comment"]) == (0, "吃零食")
    assert api.request("qa", "GET", "/qa/my-reviews").status_code == 403  # QA takes no calls


def _open_fds(path: Path) -> list[str]:
    fds = Path("/proc/self/fd")
    return [fd.name for fd in fds.iterdir() if os.path.realpath(fd) == str(path.resolve())]


async def test_a_recording_request_dropped_while_opening_the_file_leaves_no_file_open(tmp_path: Path) -> None:
    # a browser's player drops range requests as it seeks: the stream is cancelled at its first await
    from api.routes.calls import _chunks

    recording = tmp_path / "call.wav"
    recording.write_bytes(RECORDING_BYTES)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        task = asyncio.ensure_future(anext(_chunks(recording, 0, len(RECORDING_BYTES))))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.05)
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


async def test_a_recording_stream_cancelled_while_reading_closes_its_file_at_once(tmp_path: Path) -> None:
    # Starlette cancels a dropped response's stream in an anyio cancel scope: every later await is cancelled too
    from api.routes.calls import _chunks

    recording = tmp_path / "call.wav"
    recording.write_bytes(bytes(300_000))
    stream = _chunks(recording, 0, 300_000)
    with anyio.CancelScope() as scope:
        assert len(await anext(stream)) == 64 * 1024
        assert _open_fds(recording) != []
        scope.cancel()
        await anext(stream)
    assert _open_fds(recording) == []
