"""No response carries a customer's mobile number or ID number in clear text to a role without pii.unmask.

Vendor A's call has a real-looking mobile and ID number (lead, variables, a fault report typed with
both); every GET route of the matrix is read by every role and scanned.
"""

from __future__ import annotations

import re

import pytest

from agents.permissions import role_permissions
from tests.api.conftest import ACTORS, ID_NUMBER, PHONE, ROLE_OF, Api
from tests.api.test_matrix import CASES

MOBILE = re.compile(r"(?<![0-9A-Za-z])(?:\+?86)?1[3-9]\d{9}(?![0-9A-Za-z])")
ID_18 = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
GETS = sorted(key for key in CASES if key[0] == "GET")
BLIND = [actor for actor in ACTORS if "pii.unmask" not in role_permissions(ROLE_OF[actor])]


def leaks(text: str) -> list[str]:
    found = MOBILE.findall(text) + ID_18.findall(text)
    return found + [value for value in (PHONE, ID_NUMBER) if value in text]


def test_the_scanner_finds_what_it_looks_for() -> None:
    assert leaks(f'{{"a": "请问您是{PHONE}的机主吗", "b": "{ID_NUMBER}"}}')
    assert not leaks('{"a": "138****5678", "b": "110***********1234", "digest": "ab13900001111cd"}')


@pytest.mark.parametrize("actor", BLIND)
def test_no_clear_pii_in_any_json_answer(shared_api: Api, actor: str) -> None:
    scanned = 0
    for key in GETS:
        path, kwargs = CASES[key].make(shared_api, actor)
        response = shared_api.request(actor, "GET", path, **kwargs)
        if not response.headers.get("content-type", "").startswith(("application/json", "text/")):
            continue
        scanned += response.status_code == 200
        assert leaks(response.text) == [], f"{key[1]} leaks PII to {actor}"
    assert scanned >= 3  # every role reads some routes (flows, faults, its own profile)


def test_unmasking_needs_a_reason_and_is_audited(api: Api) -> None:
    path = f"/calls/{api.seed.call_a}"
    masked = api.request("admin", "GET", path)
    assert masked.status_code == 200
    assert leaks(masked.text) == []
    assert "138****5678" in masked.text
    no_reason = api.request("admin", "GET", path, params={"unmask": "true"})
    assert no_reason.status_code == 422
    assert no_reason.json()["error_id"] == "api.reason_required"
    clear = api.request("admin", "GET", path, params={"unmask": "true", "reason": "客户投诉核查"})
    assert clear.status_code == 200
    assert PHONE in clear.text
    entries = api.request("admin", "GET", "/audit", params={"action": "pii.unmask"}).json()
    assert [(e["actor"], e["target"], e["details"]["reason"]) for e in entries] == [
        ("AD1", f"call:{api.seed.call_a}", "客户投诉核查")
    ]


def test_a_role_without_pii_unmask_is_refused_unmasking(api: Api) -> None:
    response = api.request("team_lead", "GET", f"/calls/{api.seed.call_a}", params={"unmask": "true", "reason": "x"})
    assert response.status_code == 403
    assert leaks(response.text) == []
