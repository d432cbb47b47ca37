"""决定赔偿 on the desk's site tab in a real browser: the client's admin (``damage.decide``) decides a damage record
a team lead reported, and the row and the API show the decision; a team lead sees the decision read-only; the
API's refusals (the admin decides their own report: ``agents.sod``; a zero amount: ``agents.damage_amount``)
appear in the dialog with their error_id, and the page keeps working.

The world is the conftest's (``_seed``) plus three admins and three damaged assets of vendor ``va``. One login
per work ID (a second one is refused), so every test logs in with its own work ID: AD1 reports one record and
is refused deciding it, AD2 decides in the browser, AD3 reads the result through the API, TL4 only looks.
"""

from __future__ import annotations

import asyncio
import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import select

from agents.models import Vendor
from api.app import build_state
from tests.api.conftest import FAST_HASHER, _new_user
from tests.api.test_assets_routes import new_asset, new_damage
from tests.browser.conftest import Live, _seed, browser_settings, log_in_to_desk, serve_live
from waihu.db import create_engine
from waihu.settings import Settings

pytestmark = pytest.mark.browser

LEAD = "TL4"  # a team lead at the desk: asset.view, no damage.decide
DECIDER = "AD2"  # decides in the browser
REPORTER = "AD1"  # the admin who reported PC-S1 (and acts for the asset helpers)
READER = "AD3"  # reads the outcome through the API


async def _add_damage(settings: Settings) -> dict[str, int]:
    """The admins, the lead, and three damage records (tag -> record id): two reported by TL1, one by AD1."""
    engine = create_engine(settings)
    try:
        state = build_state(settings, engine, hasher=FAST_HASHER)
        async with state.sessions() as session, session.begin():
            vendor_id = (await session.scalars(select(Vendor.id).where(Vendor.code == "va"))).one()
            for work_id in (REPORTER, DECIDER, READER):
                session.add(_new_user(state, work_id, "admin", None))
            session.add(_new_user(state, LEAD, "team_lead", vendor_id))
        headset = await new_asset(state, "HS-K1", kind="headset", value="120.00", issue_to=vendor_id, holder="AG1")
        computer = await new_asset(state, "PC-K2", value="4000.00", issue_to=vendor_id)
        own = await new_asset(state, "PC-S1", value="3000.00", issue_to=vendor_id)
        return {
            "HS-K1": await new_damage(state, headset),  # reported by the team lead TL1
            "PC-K2": await new_damage(state, computer),
            "PC-S1": await new_damage(state, own, reporter=REPORTER),
        }
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Live, dict[str, int]]]:
    tmp = tmp_path_factory.mktemp("damage")
    settings = browser_settings(tmp)
    campaigns = asyncio.run(_seed(settings, tmp))
    records = asyncio.run(_add_damage(settings))
    for live in serve_live(tmp, settings, campaigns):
        yield live, records


@pytest.fixture
def live(world: tuple[Live, dict[str, int]]) -> Live:
    return world[0]


@pytest.fixture
def records(world: tuple[Live, dict[str, int]]) -> dict[str, int]:
    return world[1]


def open_site(page: Page, live: Live, work_id: str) -> None:
    """Logs in and opens the 现场管理 tab (Alt+4)."""
    log_in_to_desk(page, live, work_id)
    page.keyboard.press("Alt+4")
    expect(page.locator("#tab-site")).to_have_attribute("aria-selected", "true")


def damage_row(page: Page, record_id: int) -> Locator:
    return page.locator(f'#st-damage tr[data-id="{record_id}"]')


def api_error(live: Live, method: str, path: str, token: str, body: Any) -> tuple[int, dict[str, Any]]:
    """The status and error body of a request the API refuses."""
    with pytest.raises(urllib.error.HTTPError) as refused:
        live.call_api(method, path, token=token, body=body)
    error: dict[str, Any] = json.loads(refused.value.read())
    return refused.value.code, error


def test_a_team_lead_sees_the_decision_read_only(page: Page, live: Live, records: dict[str, int]) -> None:
    open_site(page, live, LEAD)
    row = damage_row(page, records["HS-K1"])
    expect(row).to_contain_text("待裁定")
    expect(page.locator("#st-damage tr")).to_have_count(3)
    expect(page.locator("#st-damage .decide-btn")).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("决定赔偿"))).to_have_count(0)
    expect(page.locator("#st-decide")).to_be_hidden()


def test_the_api_refuses_a_team_lead_the_decision(live: Live, records: dict[str, int]) -> None:
    status, error = api_error(live, "POST", f"/damage/{records['PC-K2']}/decision", live.login("TL1"), {"charge": True})
    assert (status, error["error_id"]) == (403, "agents.permission_denied")
    pending = live.call_api("GET", f"/damage/{records['PC-K2']}", token=live.login("TL1"))
    assert pending["compensation"] == "pending"


def test_an_admin_decides_a_team_leads_report_from_the_keyboard(
    page: Page, live: Live, records: dict[str, int]
) -> None:
    open_site(page, live, DECIDER)
    row = damage_row(page, records["HS-K1"])
    expect(row).to_contain_text("待裁定")
    expect(row).to_contain_text("AG1")  # the holder is the last user
    button = row.get_by_role("button", name="决定赔偿：HS-K1")
    expect(button).to_be_visible()
    dialog = page.locator("#st-decide")

    # Enter opens the dialog on the first choice, Esc closes it and focus goes back to the button
    button.focus()
    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    expect(page.locator("#st-decide-asset")).to_contain_text("HS-K1")
    expect(page.locator("#st-decide-summary")).to_contain_text("上报人 TL1")
    expect(page.locator("#st-decide-charge")).to_be_focused()
    expect(page.locator("#st-decide-amount-hint")).to_contain_text("¥120.00")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(button).to_be_focused()

    # again, filled in with the keyboard only: 照价赔偿 ¥99.50, cause 人为, a note, Enter submits
    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    page.keyboard.press("Tab")
    expect(page.locator("#st-decide-amount")).to_be_focused()
    page.keyboard.insert_text("99.50")
    page.keyboard.press("Tab")
    expect(page.locator("#st-decide-cause")).to_be_focused()
    page.locator("#st-decide-cause").select_option("human")
    page.keyboard.press("Tab")
    expect(page.locator("#st-decide-note")).to_be_focused()
    page.keyboard.insert_text("耳麦线被扯断，按价赔偿")
    page.keyboard.press("Tab")
    expect(page.locator("#st-decide-submit")).to_be_focused()
    page.keyboard.press("Enter")

    expect(dialog).to_be_hidden()
    row = damage_row(page, records["HS-K1"])
    expect(row).to_have_attribute("data-compensation", "charged")
    expect(row).to_contain_text("照价赔偿 ¥99.50")
    expect(row).to_contain_text(f"{DECIDER} 裁定")
    expect(row).to_contain_text("耳麦线被扯断，按价赔偿")
    expect(row).to_contain_text("人为")
    expect(row.locator(".decide-btn")).to_have_count(0)
    expect(row.locator(".comp-cell")).to_be_focused()
    page.screenshot(path=str(live.screenshot_path("desk-damage-decided.png")), full_page=True)

    # the decision is the API's: another admin reads it back, and it cannot be decided twice
    token = live.login(READER)
    decided = live.call_api("GET", f"/damage/{records['HS-K1']}", token=token)
    assert (decided["compensation"], decided["amount"], decided["cause"], decided["decided_by"]) == (
        "charged",
        "99.50",
        "human",
        DECIDER,
    )
    assert decided["decision_note"] == "耳麦线被扯断，按价赔偿"
    status, error = api_error(live, "POST", f"/damage/{records['HS-K1']}/decision", token, {"charge": True})
    assert (status, error["error_id"]) == (409, "agents.already_decided")

    # after a reload the row still shows the decision, without the button
    page.reload()
    expect(page.locator("#tab-site")).to_have_attribute("aria-selected", "true")
    row = damage_row(page, records["HS-K1"])
    expect(row).to_contain_text("照价赔偿 ¥99.50")
    expect(row.locator(".decide-btn")).to_have_count(0)
    expect(damage_row(page, records["PC-K2"]).locator(".decide-btn")).to_have_count(1)


def test_the_dialog_shows_the_apis_refusals_and_the_admin_waives(
    page: Page, live: Live, records: dict[str, int]
) -> None:
    open_site(page, live, REPORTER)
    dialog = page.locator("#st-decide")
    error = page.locator("#st-decide-error")

    # the reporter cannot decide their own report: the API's agents.sod, shown with its message
    own = damage_row(page, records["PC-S1"])
    own.get_by_role("button", name="决定赔偿：PC-S1").click()
    expect(dialog).to_be_visible()
    page.locator("#st-decide-submit").click()
    expect(error).to_be_visible()
    expect(error).to_contain_text("不能裁定自己上报的损坏记录")
    expect(error).to_contain_text("agents.sod")
    expect(error).to_contain_text("the reporter cannot decide their own damage report")
    expect(dialog).to_be_visible()
    page.screenshot(path=str(live.screenshot_path("desk-damage-refused.png")))
    page.locator("#st-decide-cancel").click()
    expect(dialog).to_be_hidden()
    expect(own).to_have_attribute("data-compensation", "pending")
    expect(own.locator(".decide-btn")).to_have_count(1)

    # a record another lead reported: the amount is checked on the page, then by the API
    row = damage_row(page, records["PC-K2"])
    row.get_by_role("button", name="决定赔偿：PC-K2").click()
    expect(error).to_be_hidden()  # the last record's error is gone
    expect(page.locator("#st-decide-amount-hint")).to_contain_text("¥4000.00")
    page.locator("#st-decide-amount").fill("12.345")
    page.locator("#st-decide-submit").click()
    expect(error).to_contain_text("金额格式不对")
    expect(page.locator("#st-decide-amount")).to_be_focused()
    page.locator("#st-decide-amount").fill("0")
    page.locator("#st-decide-submit").click()
    expect(error).to_contain_text("赔偿金额须大于 0")
    expect(error).to_contain_text("agents.damage_amount")

    # waiving needs a note (asked on the page before the API is)
    page.locator("#st-decide-waive").check()
    expect(page.locator("#st-decide-amount")).to_be_disabled()
    expect(page.locator("#st-decide-note-need")).to_have_text("（免赔必填）")
    page.locator("#st-decide-submit").click()
    expect(error).to_contain_text("免赔须填写说明")
    expect(page.locator("#st-decide-note")).to_be_focused()
    page.keyboard.insert_text("正常老化，免赔")
    page.locator("#st-decide-submit").click()
    expect(dialog).to_be_hidden()
    row = damage_row(page, records["PC-K2"])
    expect(row).to_have_attribute("data-compensation", "waived")
    expect(row).to_contain_text("免赔")
    expect(row).to_contain_text(f"{REPORTER} 裁定")
    expect(row).to_contain_text("正常老化，免赔")
    expect(row.locator(".decide-btn")).to_have_count(0)

    waived = live.call_api("GET", f"/damage/{records['PC-K2']}", token=live.login(READER))
    assert (waived["compensation"], waived["amount"], waived["decided_by"]) == ("waived", None, REPORTER)
    assert waived["decision_note"] == "正常老化，免赔"
    refused = live.call_api("GET", f"/damage/{records['PC-S1']}", token=live.login(READER))
    assert (refused["compensation"], refused["decided_by"]) == ("pending", None)
