"""The role × route matrix: every route, every role (and another vendor's team lead), the exact status.

The expected status comes from the permission table (agents.permissions.PERMISSIONS) and the
permission each route declares through ``require_permission``: a role without it gets 403; another
vendor's team lead asking for vendor A's object gets 404; everyone else gets the route's success
status (or, where a rule of the service refuses that role on that object, the status the rule gives:
listed per case in ``refused``). A route without a case fails the completeness test, so the matrix
grows with the API.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute

from agents.models import User
from agents.permissions import role_permissions
from api.app import ROUTERS
from api.deps import AppState
from api.imports import imports_of
from api.routes import pages
from recordings import reviews
from tests.api.conftest import (
    ACTORS,
    ROLE_OF,
    Api,
    new_campaign,
    new_fault,
    new_logged_in_agent,
    new_request,
    new_review,
)
from tests.api.test_assets_routes import (
    matrix_asset,
    matrix_asset_body,
    matrix_check_back,
    matrix_damage,
    matrix_damage_body,
    matrix_inspection_body,
    matrix_issue_list,
    matrix_issue_list_body,
    matrix_rates,
)
from waihu.db import utcnow

#: routes anyone may call: no permission (login, health, docs)
PUBLIC = {
    ("GET", "/status"),
    ("GET", "/metrics"),
    ("POST", "/auth/login"),
    ("POST", "/auth/password"),
}
#: routes that need a login but no permission; logout ends the token, so it has its own test
LOGIN_ONLY = {("GET", "/auth/me"), ("POST", "/auth/logout")}

OTHER = "other_vendor_team_lead"
CSV = "phone,name\n13900001111,赵一\n12345,坏号码\n".encode()
SCRIPT = b"id: tiny\nversion: 1\ntitle: t\nbrand: b\nstart: a\noutcomes:\n  ok: {label: OK, category: success}\n"


@dataclass
class Case:
    """How to call one route for one actor: ``make(api, actor)`` returns the path and request keywords."""

    make: Callable[[Api, str], tuple[str, dict[str, Any]]]
    ok: int = 200
    #: True when the route acts on vendor A's object (another vendor's team lead: 404)
    scoped: bool = False
    #: actor -> status, where a rule of the service (not the permission) refuses that actor
    refused: dict[str, int] = field(default_factory=dict)


def fixed(path: str, **kwargs: Any) -> Callable[[Api, str], tuple[str, dict[str, Any]]]:
    return lambda api, actor: (path.format(s=api.seed), kwargs)


def _campaign_body(api: Api, actor: str) -> tuple[str, dict[str, Any]]:
    body = {"name": api.seed.unique("新活动"), "flow": "mobile-newspaper-trial@1", "vendor_id": api.seed.vendor_a}
    return "/campaigns", {"json": body}


def _campaign_in(verb: str, *path: str) -> Callable[[Api, str], tuple[str, dict[str, Any]]]:
    """A fresh campaign of vendor A moved along ``path`` (from draft), then ``verb``."""

    def make(api: Api, actor: str) -> tuple[str, dict[str, Any]]:
        cid = api.run(new_campaign, api.state, api.seed.vendor_a, api.seed.unique("活动"), path)
        return f"/campaigns/{cid}/{verb}", {}

    return make


def _request_body(api: Api, actor: str) -> tuple[str, dict[str, Any]]:
    body = {
        "kind": "create_trainee",
        "work_id": api.seed.unique("NEW"),
        "name": "新学员",
        "vendor_id": api.seed.vendor_a,
        "effective_at": (utcnow() + timedelta(hours=2)).isoformat(),
        "reason": "入职",
    }
    return "/user-requests", {"json": body}


def _decision(api: Api, actor: str) -> tuple[str, dict[str, Any]]:
    rid = api.run(new_request, api.state, api.seed.unique("REQ"))
    return f"/user-requests/{rid}/decision", {"json": {"approve": True, "note": "同意"}}


def _force_logout(api: Api, actor: str) -> tuple[str, dict[str, Any]]:
    work_id = api.seed.unique("LOG")
    api.run(new_logged_in_agent, api.state, work_id, api.seed.vendor_a)
    return f"/sessions/{work_id}/force-logout", {}


def _fault(acknowledged: bool, verb: str, **kwargs: Any) -> Callable[[Api, str], tuple[str, dict[str, Any]]]:
    def make(api: Api, actor: str) -> tuple[str, dict[str, Any]]:
        fid = api.run(new_fault, api.state, acknowledged=acknowledged)
        return f"/faults/{fid}/{verb}", kwargs

    return make


def _own_review(stage: str, verb: str, **kwargs: Any) -> Callable[[Api, str], tuple[str, dict[str, Any]]]:
    """A fresh review of vendor A's call, by the acting reviewer when it may review (else by QA1)."""

    def make(api: Api, actor: str) -> tuple[str, dict[str, Any]]:
        reviewer = ACTORS[actor] if "qa.review" in role_permissions(ROLE_OF[actor]) and actor != OTHER else "QA1"
        rid = api.run(new_review, api.state, reviewer, api.seed.call_a, stage=stage)
        return f"/qa/reviews/{rid}/{verb}", kwargs

    return make


def _ack(api: Api, actor: str) -> tuple[str, dict[str, Any]]:
    rid = api.run(new_review, api.state, "QA1", api.seed.call_a, stage="submitted")
    return f"/qa/reviews/{rid}/ack", {"json": {"accept": True, "comment": "已阅"}}


async def _finished_import(state: AppState, campaign_id: int) -> str:
    job = await imports_of(state).start(campaign_id, CSV, "TL1")
    assert job.task is not None
    await job.task
    return job.id


async def _new_list(state: AppState, campaign_id: int) -> int:
    job = await imports_of(state).start(campaign_id, CSV, "TL1", list_name=f"名单 {uuid.uuid4().hex[:8]}")
    assert job.task is not None
    await job.task
    assert job.report is not None
    return job.report.list_id


def _list_patch(api: Api, actor: str) -> tuple[str, dict[str, Any]]:
    list_id = api.run(_new_list, api.state, api.seed.campaign_a)
    return f"/campaigns/{api.seed.campaign_a}/lists/{list_id}", {"json": {"active": False}}


def _import(api: Api, actor: str) -> tuple[str, dict[str, Any]]:
    job_id = api.run(_finished_import, api.state, api.seed.campaign_a)
    return f"/campaigns/{api.seed.campaign_a}/imports/{job_id}", {}


async def _acknowledged_review(state: AppState, call_id: str) -> int:
    from api.deps import Caller

    rid = await new_review(state, "QA1", call_id, stage="submitted")
    async with state.sessions() as session:
        agent = Caller(
            user=await session.get_one(User, "AG1"), session=session, state=state, token="", via_cookie=False
        )
        await reviews.respond(session, state.audit, rid, agent=agent.viewer, accept=True, comment="已阅", now=utcnow())
        await session.commit()
    return rid


def _close(api: Api, actor: str) -> tuple[str, dict[str, Any]]:
    rid = api.run(_acknowledged_review, api.state, api.seed.call_a)
    return f"/qa/reviews/{rid}/close", {"json": {"note": "已结案"}}


SINCE = {"since": "2020-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"}

CASES: dict[tuple[str, str], Case] = {
    ("GET", "/auth/me"): Case(fixed("/auth/me")),
    # campaigns
    ("GET", "/campaigns"): Case(fixed("/campaigns")),
    ("POST", "/campaigns"): Case(_campaign_body, ok=201, scoped=True),
    ("GET", "/campaigns/{campaign_id}"): Case(fixed("/campaigns/{s.campaign_a}"), scoped=True),
    ("GET", "/campaigns/{campaign_id}/live"): Case(fixed("/campaigns/{s.campaign_a}/live"), scoped=True),
    ("GET", "/campaigns/{campaign_id}/funnel"): Case(fixed("/campaigns/{s.campaign_a}/funnel"), scoped=True),
    ("POST", "/campaigns/{campaign_id}/leads"): Case(
        fixed("/campaigns/{s.campaign_a}/leads", files={"file": ("leads.csv", CSV, "text/csv")}), scoped=True
    ),
    ("GET", "/campaigns/{campaign_id}/imports/{import_id}"): Case(_import, scoped=True),
    ("GET", "/campaigns/{campaign_id}/lists"): Case(fixed("/campaigns/{s.campaign_a}/lists"), scoped=True),
    ("PATCH", "/campaigns/{campaign_id}/lists/{list_id}"): Case(_list_patch, scoped=True),
    ("POST", "/campaigns/{campaign_id}/start"): Case(_campaign_in("start"), scoped=True),
    ("POST", "/campaigns/{campaign_id}/pause"): Case(_campaign_in("pause", "running"), scoped=True),
    ("POST", "/campaigns/{campaign_id}/resume"): Case(_campaign_in("resume", "running", "paused"), scoped=True),
    ("POST", "/campaigns/{campaign_id}/stop"): Case(_campaign_in("stop", "running"), scoped=True),
    ("POST", "/campaigns/{campaign_id}/webhooks"): Case(
        fixed("/campaigns/{s.campaign_a}/webhooks", json={"url": "http://127.0.0.1:9/hook"}), ok=201, scoped=True
    ),
    ("GET", "/campaigns/{campaign_id}/webhooks"): Case(fixed("/campaigns/{s.campaign_a}/webhooks"), scoped=True),
    ("GET", "/campaigns/{campaign_id}/webhooks/{webhook_id}/deliveries"): Case(
        fixed("/campaigns/{s.campaign_a}/webhooks/{s.webhook_a}/deliveries"), scoped=True
    ),
    ("POST", "/dnc"): Case(fixed("/dnc", json={"phone": "13700001111", "reason": "客户要求"})),
    # flows
    ("GET", "/flows"): Case(fixed("/flows")),
    ("GET", "/flows/{ref}"): Case(fixed("/flows/mobile-newspaper-trial@1")),
    ("GET", "/flows/{ref}/diagram"): Case(fixed("/flows/edu-survey-invite/diagram")),
    ("POST", "/flows/validate"): Case(fixed("/flows/validate", files={"file": ("tiny.v1.yaml", SCRIPT, "text/yaml")})),
    # work IDs and sessions
    ("GET", "/users"): Case(fixed("/users")),
    ("GET", "/users/{work_id}"): Case(fixed("/users/AG1"), scoped=True),
    ("GET", "/user-requests"): Case(fixed("/user-requests")),
    ("POST", "/user-requests"): Case(_request_body, ok=201, scoped=True),
    ("POST", "/user-requests/{request_id}/decision"): Case(_decision, scoped=True),
    ("GET", "/sessions"): Case(fixed("/sessions")),
    ("POST", "/sessions/{work_id}/force-logout"): Case(_force_logout, scoped=True),
    # calls and recordings
    ("GET", "/calls"): Case(fixed("/calls")),
    ("GET", "/calls/{call_id}"): Case(fixed("/calls/{s.call_a}"), scoped=True),
    ("GET", "/calls/{call_id}/recording"): Case(
        fixed("/calls/{s.call_a}/recording", params={"reason": "质检抽查"}), scoped=True
    ),
    # QA
    ("GET", "/qa/calls/{call_id}/replay"): Case(fixed("/qa/calls/{s.call_a}/replay"), scoped=True),
    ("GET", "/qa/sheets"): Case(fixed("/qa/sheets")),
    ("POST", "/qa/reviews"): Case(
        fixed("/qa/reviews", json={"call_id": "call-a-1", "sheet": "discipline"}), ok=201, scoped=True
    ),
    ("GET", "/qa/reviews"): Case(fixed("/qa/reviews", params={"call_id": "call-a-1"})),
    ("POST", "/qa/reviews/{review_id}/close"): Case(_close, scoped=True),
    ("GET", "/qa/reviews/{review_id}"): Case(fixed("/qa/reviews/{s.review_a}"), scoped=True),
    ("POST", "/qa/reviews/{review_id}/scores"): Case(
        _own_review("draft", "scores", json={"item_id": "no_private_calls", "points": 0, "comment": "聊天"}),
        scoped=True,
    ),
    ("POST", "/qa/reviews/{review_id}/submit"): Case(_own_review("scored", "submit"), scoped=True),
    # only the call's agent (AG1) acknowledges; the trainee and the admin may take calls but not this one's review
    ("POST", "/qa/reviews/{review_id}/ack"): Case(_ack, scoped=True, refused={"trainee": 409, "admin": 409}),
    ("GET", "/qa/my-reviews"): Case(fixed("/qa/my-reviews")),
    ("GET", "/qa/reports/scores"): Case(fixed("/qa/reports/scores", params=SINCE)),
    ("GET", "/qa/reports/missed"): Case(fixed("/qa/reports/missed", params=SINCE)),
    ("GET", "/qa/sample"): Case(
        lambda api, actor: ("/qa/sample", {"params": {"week": "2026-W48", "campaign_id": api.seed.campaign_a}}),
        scoped=True,
    ),
    # attendance, audit, faults
    ("GET", "/attendance/report"): Case(fixed("/attendance/report", params={"month": "2026-11"})),
    ("GET", "/audit"): Case(fixed("/audit")),
    ("GET", "/audit/verify"): Case(fixed("/audit/verify")),
    ("GET", "/faults"): Case(fixed("/faults")),
    ("POST", "/faults"): Case(fixed("/faults", json={"description": "系统卡顿"}), ok=201),
    ("GET", "/faults/{fault_id}"): Case(fixed("/faults/{s.fault_a}"), scoped=True),
    ("POST", "/faults/{fault_id}/ack"): Case(_fault(False, "ack"), scoped=True),
    ("POST", "/faults/{fault_id}/fix"): Case(_fault(True, "fix", json={"resolution": "更换耳机"}), scoped=True),
    # site operations: assets, issue lists, inspections, damage, rates, off-boarding (tests/api/test_assets_routes.py)
    ("GET", "/assets"): Case(fixed("/assets")),
    ("POST", "/assets"): Case(matrix_asset_body, ok=201),
    ("GET", "/assets/{asset_id}"): Case(matrix_asset(""), scoped=True),
    ("POST", "/assets/{asset_id}/place"): Case(matrix_asset("/place", json={"holder_work_id": "AG1"}), scoped=True),
    ("POST", "/assets/{asset_id}/unplace"): Case(matrix_asset("/unplace", placed=True, json={}), scoped=True),
    ("POST", "/assets/{asset_id}/repair"): Case(matrix_asset("/repair", json={"note": "送修"}), scoped=True),
    ("POST", "/assets/{asset_id}/repaired"): Case(matrix_asset("/repaired", repair=True, json={}), scoped=True),
    ("POST", "/assets/{asset_id}/scrap"): Case(matrix_asset("/scrap", issued=False, json={"note": "报废"})),
    ("POST", "/assets/{asset_id}/lost"): Case(matrix_asset("/lost", json={"description": "丢失"}), ok=201, scoped=True),
    ("GET", "/issue-lists"): Case(fixed("/issue-lists")),
    ("POST", "/issue-lists"): Case(matrix_issue_list_body, ok=201),
    ("GET", "/issue-lists/{list_id}"): Case(matrix_issue_list(""), scoped=True),
    # the client cannot sign for the vendor (16.1)
    ("POST", "/issue-lists/{list_id}/confirm"): Case(
        matrix_issue_list("/confirm", json={"document_ref": "盖章-1"}), scoped=True, refused={"admin": 409}
    ),
    ("POST", "/issue-lists/{list_id}/returns"): Case(matrix_issue_list("/returns", confirmed=True), scoped=True),
    ("GET", "/inspections"): Case(fixed("/inspections")),
    ("POST", "/inspections"): Case(matrix_inspection_body, ok=201, scoped=True),
    ("GET", "/inspections/missing"): Case(fixed("/inspections/missing")),
    ("GET", "/damage"): Case(fixed("/damage")),
    ("POST", "/damage"): Case(matrix_damage_body, ok=201, scoped=True),
    ("GET", "/damage/{damage_id}"): Case(matrix_damage(""), scoped=True),
    ("POST", "/damage/{damage_id}/decision"): Case(matrix_damage("/decision", json={"charge": True}), scoped=True),
    ("GET", "/asset-rates"): Case(matrix_rates, scoped=True),
    ("GET", "/offboarding/{work_id}"): Case(fixed("/offboarding/AG1"), scoped=True),
    ("POST", "/offboarding/{work_id}/documents"): Case(
        fixed("/offboarding/AG1/documents", json={"title": "话术手册"}), ok=201, scoped=True
    ),
    ("POST", "/offboarding/{work_id}/check-back"): Case(matrix_check_back, scoped=True),
}


def route_permissions() -> dict[tuple[str, str], str | None]:
    """(method, path) -> the permission its dependency checks (None: login only), for every API route."""
    found: dict[tuple[str, str], str | None] = {}
    # the pages (HTML, no permission of their own: they call these routes) are tested in tests/api/test_pages.py
    for route in (r for router in ROUTERS if router is not pages.router for r in router.routes):
        if isinstance(route, APIWebSocketRoute):
            continue  # the agent console: call.take, checked in the socket handler (tests/api/test_ws.py)
        assert isinstance(route, APIRoute)
        marks = [getattr(d.call, "permission", "-") for d in route.dependant.dependencies]
        declared = [m for m in marks if m != "-"]
        for method in route.methods:
            key = (method, route.path)
            if key in PUBLIC:
                assert not declared, f"{key} is public but checks {declared}"
                continue
            assert len(declared) == 1, f"{key} must check exactly one permission, checks {declared}"
            found[key] = declared[0]
    return found


PERMISSION_OF = route_permissions()


def expected(key: tuple[str, str], actor: str) -> int:
    case = CASES[key]
    permission = PERMISSION_OF[key]
    if permission is not None and permission not in role_permissions(ROLE_OF[actor]):
        return 403
    if actor == OTHER and case.scoped:
        return 404
    return case.refused.get(actor, case.ok)


def test_every_route_has_a_matrix_case_and_one_permission() -> None:
    assert set(PERMISSION_OF) == set(CASES) | LOGIN_ONLY
    assert all(PERMISSION_OF[key] is None for key in LOGIN_ONLY)


@pytest.mark.parametrize("key", sorted(CASES), ids=lambda k: f"{k[0]} {k[1]}")
def test_role_route_matrix(shared_api: Api, key: tuple[str, str]) -> None:
    method, _ = key
    got: dict[str, int] = {}
    want: dict[str, int] = {}
    for actor in ACTORS:
        path, kwargs = CASES[key].make(shared_api, actor)
        response = shared_api.request(actor, method, path, **kwargs)
        got[actor], want[actor] = response.status_code, expected(key, actor)
        if response.headers.get("content-type", "").startswith("application/json") and response.status_code >= 400:
            assert set(response.json()) == {"error_id", "message", "details"}, response.text
    assert got == want


def test_another_vendors_object_is_not_found_not_forbidden(shared_api: Api) -> None:
    # vendor B's team lead holds campaign.view, but vendor A's campaign does not exist for it
    response = shared_api.request(OTHER, "GET", f"/campaigns/{shared_api.seed.campaign_a}")
    missing = shared_api.request(OTHER, "GET", "/campaigns/999999")
    assert response.status_code == missing.status_code == 404
    assert response.json()["error_id"] == "api.not_found"
    # and its lists hold only its own vendor's objects
    listed = shared_api.request(OTHER, "GET", "/campaigns").json()
    assert [c["vendor_id"] for c in listed] == [shared_api.seed.vendor_b]
    calls = shared_api.request(OTHER, "GET", "/calls").json()
    assert [c["call_id"] for c in calls] == [shared_api.seed.call_b]
    report = shared_api.request(OTHER, "GET", "/attendance/report", params={"month": "2026-11", "vendor": "va"})
    assert report.status_code == 404
