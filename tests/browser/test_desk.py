"""A team lead at the desk in a real browser: creates a campaign, uploads a CSV with a bad row and sees the
upload's progress and the row's error, starts the campaign and watches the wallboard move (a bot agent of the
app's dialer pool takes the simulator's calls); then the reports and site-operations tabs.

The app is the conftest's world (``_seed``) plus a bot work ID, served like ``live`` but with an ``on_start``
that puts the bot on the floor (``api.dialing.DialerPool.bot_ids`` + ``agent_state("ready")``, in the
server's own event loop): it joins the campaign the moment the campaign lists it and starts.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from agents.models import Vendor
from api.app import build_state
from api.deps import AppState
from api.dialing import dialers_of
from dialer.bots import BotProfile
from tests.api.conftest import FAST_HASHER, _new_user
from tests.api.test_assets_routes import new_asset, new_damage, new_document, new_seat
from tests.browser.conftest import Live, _seed, browser_settings, log_in, open_page, serve_live
from waihu.db import create_engine

pytestmark = pytest.mark.browser

BOT = "BOT1"
LEAD = "TL3"
#: a bot that walks each screen in a fraction of a second, so the wallboard moves within a few seconds
QUICK_BOT = BotProfile(seconds_per_screen=(0.2, 0.4), wrap_up_seconds=(0.2, 0.4), objection_chance=0.0)
#: three rows; the second's phone is not a number
LEADS_CSV = "phone,name\n13812340001,赵先生\n12345,钱先生\n13812340002,孙先生\n"


async def _add_people(live_settings: Any) -> None:
    """The desk's lead, the bot, and the site's objects: a seat nobody inspected yesterday, a headset held by
    AG1 and reported damaged (AG1 is its last user), and a document AG9 still holds."""
    engine = create_engine(live_settings)
    try:
        state = build_state(live_settings, engine, hasher=FAST_HASHER)
        async with state.sessions() as session, session.begin():
            vendor = (await session.scalars(select(Vendor).where(Vendor.code == "va"))).one()
            vendor_id = vendor.id
            session.add(_new_user(state, LEAD, "team_lead", vendor_id))
            session.add(_new_user(state, BOT, "agent", vendor_id))
            session.add(_new_user(state, "AD1", "admin", None))  # the client's admin the asset helpers act as
        await new_seat(state, "D-01", vendor_id)
        headset = await new_asset(state, "HS-D1", kind="headset", value="120.00", issue_to=vendor_id, holder="AG1")
        await new_damage(state, headset)
        await new_document(state, "AG9", "话术手册 v3")
    finally:
        await engine.dispose()


async def _bot_ready(state: AppState) -> None:
    pool = dialers_of(state)
    pool.bot_ids.add(BOT)
    await pool.agent_state(BOT, "ready")


@pytest.fixture(scope="module")
def desk_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("desk")
    settings = browser_settings(tmp)
    campaigns = asyncio.run(_seed(settings, tmp))
    asyncio.run(_add_people(settings))
    yield from serve_live(tmp, settings, campaigns, dialer={"bots": QUICK_BOT}, on_start=_bot_ready)


@pytest.fixture
def page(desk_live: Live, browser: Any) -> Iterator[Page]:
    yield from open_page(browser)


def test_the_desk_needs_a_login_and_a_lead(page: Page, desk_live: Live) -> None:
    page.goto(desk_live.url("/desk"))
    expect(page).to_have_url(desk_live.url("/login"))
    log_in(page, desk_live, "AG1")
    expect(page).to_have_url(desk_live.url("/console"))
    page.goto(desk_live.url("/desk"))
    expect(page).to_have_url(desk_live.url("/console"))


def test_a_team_lead_creates_a_campaign_uploads_leads_starts_it_and_watches_it(
    page: Page, desk_live: Live, tmp_path: Path
) -> None:
    log_in(page, desk_live, LEAD)
    expect(page).to_have_url(re.compile(re.escape(desk_live.url("/desk"))))
    expect(page.locator("#work-id")).to_have_text(LEAD)
    expect(page.locator("#tab-campaigns")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#campaign-rows tr")).to_have_count(2)  # the conftest's campaigns

    # a new campaign, from the keyboard's N
    page.keyboard.press("n")
    expect(page.locator("#create-form")).to_be_visible()
    expect(page.locator("#c-name")).to_be_focused()
    page.keyboard.insert_text("组长桌面测试")
    page.locator("#c-flow").select_option("mobile-newspaper-trial@2")
    page.locator("#c-windows").fill("09:00-25:00")
    page.locator(f'#c-agents input[value="{BOT}"]').check()
    page.locator("#btn-create").click()
    expect(page.locator("#create-error")).to_contain_text("呼叫时段格式")
    page.locator("#c-windows").fill("00:00-23:59")
    page.locator("#c-abandon").fill("5")
    page.locator("#btn-create").click()
    row = page.locator("#campaign-rows tr", has_text="组长桌面测试")
    expect(row).to_contain_text("草稿")
    expect(row).to_contain_text("0.0% / 5.0%")

    # the upload: bytes, then rows, then the bad row in the table
    expect(page.locator("#import-panel")).to_be_visible()
    expect(page.locator("#import-campaign")).to_contain_text("组长桌面测试")
    csv = tmp_path / "leads.csv"
    csv.write_text(LEADS_CSV, encoding="utf-8")
    page.locator("#import-file").set_input_files(str(csv))
    page.locator("#btn-upload").click()
    expect(page.locator("#import-progress")).to_be_visible()
    expect(page.locator("#upload-text")).to_have_text("100%")
    expect(page.locator("#rows-text")).to_have_text("完成 3 / 3 行")
    expect(page.locator("#import-summary")).to_contain_text("共 3 行：导入 2 行，错误 1 行")
    issues = page.locator("#import-issue-rows tr")
    expect(issues).to_have_count(1)
    expect(issues.first).to_contain_text("phone")
    expect(issues.first).to_contain_text("号码无效")
    assert "12345" not in (issues.first.text_content() or "")  # masked
    expect(row.locator("td.progress-cell")).to_contain_text("0 / 2")
    page.screenshot(path=str(desk_live.screenshot_path("desk-import.png")), full_page=True)

    # start it and watch: the bot takes the simulator's calls
    row.locator('button[data-action="start"]').click()
    expect(row).to_contain_text("进行中")
    row.locator('button[data-action="watch"]').click()
    expect(page.locator("#tab-wallboard")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#wb-campaign option:checked")).to_contain_text("组长桌面测试")
    expect(page.locator(f'#wb-agents tr[data-work-id="{BOT}"]')).to_be_visible()
    expect(page.locator("#wb-placed")).not_to_have_text("0", timeout=15_000)
    expect(page.locator("#wb-answered")).not_to_have_text("0", timeout=15_000)
    expect(page.locator("#wb-abandon-max")).to_have_text("5.0%")
    expect(page.locator("#wb-abandon-tile")).to_have_attribute("data-over", "false")
    # both leads worked: list progress, outcomes and the script funnel fill in
    expect(page.locator("#wb-leads-total")).to_contain_text("已处理 2 / 2", timeout=20_000)
    expect(page.locator("#wb-outcomes .bar-row").first).to_be_visible()
    expect(page.locator("#wb-funnel .bar-row").first).to_be_visible(timeout=20_000)
    expect(page.locator("#wb-funnel .bar-row").first).to_contain_text("核实机主")
    page.screenshot(path=str(desk_live.screenshot_path("desk.png")))
    desk_live.keep_screenshot("desk.png")

    # pause from the list (keyboard: Alt+1 back to the campaigns)
    page.keyboard.press("Alt+1")
    expect(page.locator("#tab-campaigns")).to_have_attribute("aria-selected", "true")
    row.locator('button[data-action="pause"]').click()
    expect(row).to_contain_text("已暂停")
    expect(row.locator('button[data-action="resume"]')).to_be_visible()


def test_the_reports_and_site_tabs_show_the_month(page: Page, desk_live: Live) -> None:
    log_in(page, desk_live, "TL2")  # one login per work ID: another lead than the test above
    expect(page).to_have_url(re.compile(re.escape(desk_live.url("/desk"))))
    expect(page.locator("#work-id")).to_have_text("TL2")  # the page's module runs
    page.keyboard.press("Alt+3")
    expect(page.locator("#tab-reports")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#rp-att-chart")).not_to_be_empty()
    expect(page.locator("#rp-qa-chart")).to_contain_text("本月没有提交的质检")
    page.keyboard.press("Alt+4")
    expect(page.locator("#tab-site")).to_have_attribute("aria-selected", "true")
    # this morning's view: the vendor recorded no inspection yesterday
    expect(page.locator('#st-missing-rows tr[data-vendor="va"]')).to_contain_text("D-01")
    # the damaged headset names its last user; the month's loss rate shows the asset behind it
    damage = page.locator("#st-damage tr", has_text="HS-D1")
    expect(damage).to_contain_text("耳麦")
    expect(damage).to_contain_text("AG1")
    expect(damage).to_contain_text("领用人")
    expect(damage).to_contain_text("待裁定")
    expect(page.locator("#st-rates .rate-card")).to_have_count(3)
    loss = page.locator('#st-rates .rate-card[data-key="it_loss_rate"]')
    expect(loss).to_contain_text("IT 资产月丢失率")
    expect(loss).to_have_attribute("data-met", "false")
    expect(loss).to_contain_text("HS-D1")
    expect(page.locator('#st-rates .rate-card[data-key="fixed_damage_rate"]')).to_have_attribute("data-met", "true")
    page.screenshot(path=str(desk_live.screenshot_path("desk-site.png")), full_page=True)
    # off-boarding: AG9 still holds a document; checked back, nothing is out
    expect(page.locator("#st-offboarding")).to_contain_text("没有待离职的工号")
    page.locator("#st-off-work-id").fill("AG9")
    page.keyboard.press("Enter")
    card = page.locator('#st-offboarding .off-card[data-work-id="AG9"]')
    expect(card).to_contain_text("未归还 1 项")
    expect(card).to_contain_text("话术手册 v3")
    page.once("dialog", lambda dialog: dialog.accept())
    card.locator("button", has_text="收回").click()
    expect(card).to_have_attribute("data-complete", "true")
    expect(card).to_contain_text("已交接完毕")


def test_the_wallboard_turns_red_when_the_abandon_rate_is_over_its_limit(page: Page, desk_live: Live) -> None:
    """The dialer's answer is stubbed here (abandons cannot be ordered from the simulator): 2 of 20 answers
    abandoned against a 3% limit."""
    over = {
        "campaign_id": desk_live.campaigns["edu-survey-invite@2"],
        "running": True,
        "telephony": "sim",
        "dial_mode": "predictive",
        "uptime_seconds": 60.0,
        "agents": [{"work_id": "AG2", "state": "on_call", "seconds_in_state": 75.0, "call_id": "c-1", "bot": False}],
        "calls_in_progress": {"ringing": 2, "bridged": 1},
        "talking": 1,
        "placed": 40,
        "answered": 20,
        "abandoned": 2,
        "abandon_rate": 0.1,
        "hour_abandon_rate": 0.1,
        "max_abandon_rate": 0.03,
        "outcomes": {},
    }
    page.route("**/campaigns/*/live", lambda route: route.fulfill(json=over))
    log_in(page, desk_live, "TL1")
    expect(page.locator("#work-id")).to_have_text("TL1")
    page.keyboard.press("Alt+2")
    page.locator("#wb-campaign").select_option(str(over["campaign_id"]))
    tile = page.locator("#wb-abandon-tile")
    expect(tile).to_have_attribute("data-over", "true")
    expect(page.locator("#wb-abandon-rate")).to_have_text("10.00%")
    expect(page.locator("#wb-abandon-max")).to_have_text("3.0%")
    expect(page.locator("#wb-abandon-alert")).to_be_visible()
    assert tile.evaluate("el => getComputedStyle(el).borderColor") == "rgb(198, 40, 40)"  # var(--danger)
    expect(page.locator("#wb-inflight")).to_have_text("3")
    expect(page.locator('#wb-agents tr[data-work-id="AG2"]')).to_contain_text("通话中")
    expect(page.locator('#wb-agents tr[data-work-id="AG2"]')).to_contain_text("01:15")
