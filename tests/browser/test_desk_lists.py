"""A team lead steers a campaign's lead lists at the desk in a real browser: uploads a CSV into a named list through
the import dialog (the report says which list), opens the campaign's 名单 panel and sees each list with its counts,
pauses one (the page and ``GET /campaigns/{id}/lists`` agree it is paused), sees a refusal of the server as a toast,
and resumes it; an upload without a name makes a new list named after the file.

The app is the conftest's ``live`` world plus a campaign of this module's own (``add_agent_campaign``), whose first
list is the seeding import's file. The browser logs in as TL2; the API checks use TL1's token (one session per work
ID).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect

from tests.browser.conftest import Live, add_agent_campaign, log_in_to_desk

pytestmark = pytest.mark.browser

FLOW = "mobile-newspaper-trial@2"
CAMPAIGN = "名单测试活动"
#: the campaign's first list (the seeding import): two leads
FIRST_CSV = "phone,name\n13812345601,王先生\n13912345602,李女士\n"
#: the upload through the dialog: three good rows and one bad phone
UPLOAD_CSV = "phone,name\n13712345603,赵先生\n12345,钱先生\n13612345604,孙先生\n15012345605,周女士\n"
#: a name the URL must encode (& and # would cut the query) and the page must show as text, not as markup
LIST_NAME = "<i>回访</i> #1 & 老客户"
#: an upload without a list name: a new list named after this file
EXTRA_CSV = "phone,name\n18612345606,吴先生\n"
#: ms: the panel shows a PATCH's answer at once, sooner than the campaign table's 4 s poll would refresh it
SOON = 2_500
PHONES = ["13812345601", "13912345602", "13712345603", "13612345604", "15012345605", "18612345606"]


def lists_of(live: Live, campaign_id: int) -> list[dict[str, Any]]:
    """The campaign's lead lists as the API has them (as TL1, not the browser's lead)."""
    lists: list[dict[str, Any]] = live.call_api("GET", f"/campaigns/{campaign_id}/lists", token=live.login("TL1"))
    return lists


def upload(page: Page, csv: Path, list_name: str) -> None:
    page.locator("#import-file").set_input_files(str(csv))
    page.locator("#import-list").fill(list_name)
    page.locator("#btn-upload").click()


def test_a_team_lead_imports_into_a_named_list_pauses_it_and_resumes_it(page: Page, live: Live, tmp_path: Path) -> None:
    campaign_id = add_agent_campaign(
        live.settings, tmp_path / "首批.csv", "AG7", name=CAMPAIGN, flow=FLOW, leads=FIRST_CSV
    )
    log_in_to_desk(page, live, "TL2")
    row = page.locator(f'#campaign-rows tr[data-id="{campaign_id}"]')
    expect(row).to_contain_text(CAMPAIGN)

    # the upload into a named list: the URL carries the name, the report says where the rows went
    row.locator('button[data-action="import"]').click()
    expect(page.locator("#import-panel")).to_be_visible()
    expect(page.locator("#import-list")).to_have_value("")
    expect(page.locator("#import-list")).to_have_attribute("placeholder", re.compile("留空则新建名单"))
    csv = tmp_path / "upload.csv"
    csv.write_text(UPLOAD_CSV, encoding="utf-8")
    with page.expect_request(re.compile(r"/leads\?")) as sent:
        upload(page, csv, f"  {LIST_NAME} ")
    assert re.search(r"[?&]list=%3Ci%3E", sent.value.url), sent.value.url  # encoded, and trimmed
    expect(page.locator("#rows-text")).to_have_text("完成 4 / 4 行")
    expect(page.locator("#import-summary")).to_contain_text("共 4 行：导入 3 行，错误 1 行")
    expect(page.locator("#import-list-result")).to_have_text(f"已加入名单「{LIST_NAME}」。 查看名单")
    expect(page.locator("#import-summary i")).to_have_count(0)  # the name is text, not markup

    by_name = {item["name"]: item for item in lists_of(live, campaign_id)}
    assert set(by_name) == {"首批.csv", LIST_NAME}, by_name
    named = by_name[LIST_NAME]
    assert named["active"] is True, named
    assert named["total"] == 3, named

    # the campaign's 名单: both lists, oldest first, with their counts
    row.locator('button[data-action="lists"]').click()
    panel = page.locator("#lists-panel")
    expect(panel).to_be_visible()
    expect(page.locator("#lists-campaign")).to_contain_text(CAMPAIGN)
    rows = page.locator("#list-rows tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0).locator("td.list-name")).to_have_text("首批.csv")
    expect(rows.nth(1).locator("td.list-name")).to_have_text(LIST_NAME)
    expect(page.locator("#list-rows i")).to_have_count(0)
    first = page.locator(f'#list-rows tr[data-id="{by_name["首批.csv"]["id"]}"]')
    mine = page.locator(f'#list-rows tr[data-id="{named["id"]}"]')
    expect(first.locator('td[data-status="total"]')).to_have_text("2")
    expect(first.locator('td[data-status="dialable"]')).to_have_text("2")
    expect(mine.locator('td[data-status="total"]')).to_have_text("3")
    expect(mine.locator('td[data-status="dialable"]')).to_have_text("3")
    for status in ("done", "dnc", "refused", "exhausted"):
        expect(mine.locator(f'td[data-status="{status}"]')).to_have_text("0")
    expect(mine).to_contain_text("TL2")  # who made it
    expect(mine.locator(".badge")).to_have_text("进行中")
    text = page.locator("body").inner_text()
    assert not [p for p in PHONES if p in text]  # no phone unmasked anywhere on the page
    assert "12345" not in page.locator("#import-issue-rows").inner_text()  # the bad row's value, masked

    # pause it: the page and the API agree; the other list is still worked
    mine.locator('button[data-action="pause"]').click()
    expect(mine.locator(".badge")).to_have_text("已暂停", timeout=SOON)
    expect(mine).to_have_attribute("data-active", "false")
    expect(mine.locator('button[data-action="resume"]')).to_have_text("恢复")
    expect(page.locator("#toasts")).to_contain_text(f"名单「{LIST_NAME}」已暂停")
    expect(page.locator("#lists-summary")).to_contain_text("其中 1 个已暂停")
    api_lists = {item["id"]: item for item in lists_of(live, campaign_id)}
    assert api_lists[named["id"]]["active"] is False
    assert api_lists[by_name["首批.csv"]["id"]]["active"] is True
    expect(first.locator(".badge")).to_have_text("进行中")
    page.screenshot(path=str(live.screenshot_path("desk-lists.png")), full_page=True)
    live.keep_screenshot("desk-lists.png")

    # a refusal of the server is shown, and the list stays as the server has it
    refusal = {"error_id": "dialer.list_not_found", "message": "no such lead list", "details": {}}

    def refuse(route: Route) -> None:
        route.fulfill(status=404, content_type="application/json", body=json.dumps(refusal))

    page.route(f"**/campaigns/{campaign_id}/lists/{named['id']}", refuse)
    mine.locator('button[data-action="resume"]').click()
    expect(page.locator("#toasts .toast-error")).to_contain_text("找不到该名单")
    expect(mine.locator(".badge")).to_have_text("已暂停")
    expect(mine.locator('button[data-action="resume"]')).to_be_enabled()
    page.unroute(f"**/campaigns/{campaign_id}/lists/{named['id']}")

    # resume it
    mine.locator('button[data-action="resume"]').click()
    expect(mine.locator(".badge")).to_have_text("进行中", timeout=SOON)
    expect(mine).to_have_attribute("data-active", "true")
    expect(mine.locator('button[data-action="pause"]')).to_be_visible()
    assert {item["id"]: item["active"] for item in lists_of(live, campaign_id)}[named["id"]] is True

    # an upload without a name: a new list named after the file, and the open panel shows it
    row.locator('button[data-action="import"]').click()
    extra = tmp_path / "extra.csv"
    extra.write_text(EXTRA_CSV, encoding="utf-8")
    with page.expect_request(re.compile(r"/leads\?")) as sent:
        upload(page, extra, "")
    assert "list=" not in sent.value.url, sent.value.url
    expect(page.locator("#import-list-result")).to_contain_text("已新建名单「extra.csv」")
    expect(rows).to_have_count(3)
    expect(rows.nth(2).locator("td.list-name")).to_have_text("extra.csv")
    expect(rows.nth(2).locator('td[data-status="dialable"]')).to_have_text("1")
    expect(mine.locator('td[data-status="total"]')).to_have_text("3")  # the named list did not grow
    assert sorted(item["name"] for item in lists_of(live, campaign_id)) == sorted(["首批.csv", LIST_NAME, "extra.csv"])

    # opened again it takes the focus; closed with Esc, the focus goes back to the campaign's 名单 button
    row.locator('button[data-action="lists"]').click()
    expect(page.locator("#lists-title")).to_be_focused()
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(row.locator('button[data-action="lists"]')).to_be_focused()
