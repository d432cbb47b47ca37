"""Logins through the API: cookie flags, CSRF on cookie-authenticated changes, bearer tokens, lockout, logout."""

from __future__ import annotations

from tests.api.conftest import PASSWORD, Api


def _set_cookies(api: Api, work_id: str) -> tuple[list[str], dict[str, str]]:
    response = api.client.post("/auth/login", json={"work_id": work_id, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return response.headers.get_list("set-cookie"), response.json()


def test_login_sets_an_httponly_strict_session_cookie_and_a_readable_csrf_cookie(api: Api) -> None:
    headers, body = _set_cookies(api, "TL1")
    session = next(h for h in headers if h.startswith("waihu_session="))
    csrf = next(h for h in headers if h.startswith("waihu_csrf="))
    assert "HttpOnly" in session
    assert "SameSite=strict" in session or "SameSite=Strict" in session
    assert "HttpOnly" not in csrf
    assert "samesite=strict" in csrf.lower()
    assert body["token"] in session
    assert f"waihu_csrf={body['csrf_token']}" in csrf
    assert body["role"] == "team_lead"
    assert "campaign.launch" in body["permissions"]


def test_a_cookie_session_reads_without_a_csrf_header(api: Api) -> None:
    _set_cookies(api, "TL1")
    assert api.client.get("/campaigns").status_code == 200


def test_a_cookie_session_cannot_change_anything_without_the_csrf_header(api: Api) -> None:
    _set_cookies(api, "TL1")
    path = f"/campaigns/{api.seed.campaign_a}/start"
    refused = api.client.post(path)
    wrong = api.client.post(path, headers={"X-CSRF-Token": "0" * 64})
    assert refused.status_code == wrong.status_code == 403
    assert refused.json()["error_id"] == "api.csrf_failed"
    assert api.client.get(f"/campaigns/{api.seed.campaign_a}").json()["state"] == "draft"
    csrf = api.client.cookies["waihu_csrf"]
    accepted = api.client.post(path, headers={"X-CSRF-Token": csrf})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["state"] == "running"


def test_a_bearer_token_needs_no_csrf_header(api: Api) -> None:
    response = api.request("team_lead", "POST", f"/campaigns/{api.seed.campaign_a}/start")
    assert response.status_code == 200, response.text


def test_no_credentials_and_bad_tokens_answer_401_in_the_error_shape(api: Api) -> None:
    anonymous = api.client.get("/campaigns")
    forged = api.client.get("/campaigns", headers={"Authorization": "Bearer not-a-token"})
    assert anonymous.status_code == forged.status_code == 401
    assert anonymous.json()["error_id"] == "api.not_authenticated"
    assert forged.json() == {
        "error_id": "agents.session_invalid",
        "message": forged.json()["message"],
        "details": {},
    }
    assert anonymous.headers["www-authenticate"] == "Bearer"


def test_wrong_passwords_lock_the_work_id_and_the_right_one_is_then_refused(api: Api) -> None:
    failures = [api.login("AG1", "wrong-password-1").status_code for _ in range(api.state.settings.login_max_failures)]
    assert failures[:-1] == [401] * (len(failures) - 1)
    assert failures[-1] == 423
    locked = api.login("AG1", PASSWORD)
    assert locked.status_code == 423
    assert locked.json()["error_id"] == "agents.locked"
    assert "locked_until" in locked.json()["details"]
    assert PASSWORD not in locked.text


def test_an_unknown_work_id_and_a_wrong_password_look_the_same(api: Api) -> None:
    unknown = api.login("NOBODY", PASSWORD)
    wrong = api.login("AG1", "wrong-password-1")
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()


def test_one_session_per_work_id(api: Api) -> None:
    assert api.login("AG1").status_code == 200
    second = api.login("AG1")
    assert second.status_code == 409
    assert second.json()["error_id"] == "agents.session_conflict"


def test_logout_ends_the_token(api: Api) -> None:
    token = api.token("agent")
    assert api.request("agent", "POST", "/auth/logout").status_code == 200
    after = api.client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert after.status_code == 401


def test_a_force_logout_ends_the_agents_token(api: Api) -> None:
    token = api.token("agent")
    assert api.request("team_lead", "POST", "/sessions/AG1/force-logout").status_code == 200
    assert api.client.get("/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_password_change_checks_the_old_password_and_the_policy(api: Api) -> None:
    weak = api.client.post("/auth/password", json={"work_id": "AG1", "old_password": PASSWORD, "new_password": "short"})
    assert weak.status_code == 409
    assert weak.json()["error_id"] == "agents.password_policy"
    wrong = api.client.post(
        "/auth/password", json={"work_id": "AG1", "old_password": "nope-123456", "new_password": "Better-pass-42"}
    )
    assert wrong.status_code == 401
    changed = api.client.post(
        "/auth/password", json={"work_id": "AG1", "old_password": PASSWORD, "new_password": "Better-pass-42"}
    )
    assert changed.status_code == 200
    assert api.login("AG1", PASSWORD).status_code == 401
    assert api.login("AG1", "Better-pass-42").status_code == 200
