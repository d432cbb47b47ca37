"""The pages' routes: HTML and static files outside the OpenAPI document; the console checks the login."""

from __future__ import annotations

import json
import re

from tests.api.conftest import PASSWORD, Api


def _login_cookie(api: Api, work_id: str) -> None:
    response = api.client.post("/auth/login", json={"work_id": work_id, "password": PASSWORD})
    assert response.status_code == 200, response.text


def test_the_pages_are_not_in_the_openapi_document(api: Api) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    assert not {"/", "/login", "/console", "/static/{path}"} & set(paths)
    assert "/auth/login" in paths


def test_root_and_login_need_no_login(api: Api) -> None:
    root = api.client.get("/", follow_redirects=False)
    assert (root.status_code, root.headers["location"]) == (303, "/login")
    page = api.client.get("/login")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "工号登录" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_the_console_sends_strangers_to_login_and_team_leads_to_the_desk(api: Api) -> None:
    away = api.client.get("/console", follow_redirects=False)
    assert (away.status_code, away.headers["location"]) == (303, "/login")
    api.client.cookies.set("waihu_session", "not-a-token")
    assert api.client.get("/console", follow_redirects=False).headers["location"] == "/login"
    api.client.cookies.clear()
    _login_cookie(api, "TL1")
    desk = api.client.get("/console", follow_redirects=False)
    assert (desk.status_code, desk.headers["location"]) == (303, "/desk")


def test_the_console_page_carries_the_agent_and_the_pause_reasons(api: Api) -> None:
    _login_cookie(api, "AG1")
    page = api.client.get("/console")
    assert page.status_code == 200
    found = re.search(r'<script type="application/json" id="waihu-config">(.*?)</script>', page.text, re.S)
    assert found is not None
    config = json.loads(found.group(1))
    assert config == {
        "work_id": "AG1",
        "role": "agent",
        "state": "logged_in",
        "reason": None,
        "pause_reasons": ["小休", "培训", "会议", "如厕", "故障"],
    }
    assert "坐席工作台" in page.text


def test_static_files_are_served_with_their_types_and_nothing_outside(api: Api) -> None:
    js = api.client.get("/static/js/api.js")
    assert js.status_code == 200
    assert js.headers["content-type"].startswith("text/javascript")
    assert "X-CSRF-Token" in js.text
    css = api.client.get("/static/css/waihu.css")
    assert css.headers["content-type"].startswith("text/css")
    for path in ("/static/../routes/pages.py", "/static/%2e%2e/%2e%2e/app.py", "/static/js/nothing.js", "/static/"):
        response = api.client.get(path)
        assert response.status_code == 404, path
        assert response.json()["error_id"] == "api.not_found"
