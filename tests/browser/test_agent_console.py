"""An agent in a real browser: logs in (and changes an expired password), goes ready, takes a simulated
call from the app's dialer, walks a path of each script with the keyboard, opens an objection and comes
back, tags the customer, sets the outcome, and finishes wrap-up; in preview mode skips a lead and dials one."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Live, add_agent_campaign, log_in

pytestmark = pytest.mark.browser
CALL_WAIT = 15_000  # ms: the pop comes when the simulator's customer answers (under a second here)


def press(page: Page, *keys: str) -> None:
    for key in keys:
        page.keyboard.press(key)


def expect_step(page: Page, title: str) -> None:
    expect(page.locator("#step-title")).to_have_text(title)
    expect(page.locator("#options button").first).to_be_enabled()


def go_ready_and_take_a_call(page: Page, live: Live, work_id: str) -> None:
    expect(page).to_have_url(live.url("/console"))
    expect(page.locator("#work-id")).to_have_text(work_id)
    expect(page.locator("#link")).to_have_text("已连接")
    expect(page.locator("#agent-state")).to_have_text("未示闲")
    page.keyboard.press("r")
    expect(page.locator("#agent-state")).to_have_text("示闲")
    expect(page.locator("#call")).to_be_visible(timeout=CALL_WAIT)
    expect(page.locator("#agent-state")).to_have_text("通话中")


def finish_wrap_up(page: Page, outcome: str) -> None:
    expect(page.locator("#wrapup")).to_be_visible()
    expect(page.locator("#outcome")).to_have_text(outcome)
    expect(page.locator("#btn-done")).to_be_enabled()
    expect(page.locator("#countdown")).to_contain_text("剩")
    page.keyboard.press("Enter")
    expect(page.locator("#idle")).to_be_visible()
    expect(page.locator("#agent-state")).to_have_text("示闲")


def test_login_shows_errors_in_chinese_and_forces_a_password_change(page: Page, live: Live) -> None:
    page.goto(live.url("/"))
    expect(page).to_have_url(live.url("/login"))
    expect(page.locator("h2").first).to_have_text("工号登录")
    page.screenshot(path=str(live.screenshot_path("login.png")))
    live.keep_screenshot("login.png")
    log_in(page, live, "AG9", "wrong-password-1")
    expect(page.locator("#login-error")).to_have_text("工号或密码错误")
    # the right (initial) password: the API says it must be changed first
    log_in(page, live, "AG9")
    expect(page.locator("#change-form")).to_be_visible()
    expect(page.locator("#change-work-id")).to_have_text("AG9")
    page.locator("#new-password").fill("short1")
    page.locator("#new-password-again").fill("short2")
    page.keyboard.press("Enter")
    expect(page.locator("#change-error")).to_have_text("两次输入的新密码不一致")
    page.locator("#new-password").fill("abc")
    page.locator("#new-password-again").fill("abc")
    page.keyboard.press("Enter")
    expect(page.locator("#change-error")).to_contain_text("新密码不符合要求")
    page.locator("#new-password").fill("Xinmima-2026")
    page.locator("#new-password-again").fill("Xinmima-2026")
    page.keyboard.press("Enter")
    expect(page).to_have_url(live.url("/console"))
    expect(page.locator("#work-id")).to_have_text("AG9")
    # logged in: the login page sends the agent straight back to the console
    page.goto(live.url("/login"))
    expect(page).to_have_url(live.url("/console"))


def test_a_team_lead_is_sent_to_the_desk_and_the_console_needs_a_login(page: Page, live: Live) -> None:
    page.goto(live.url("/console"))
    expect(page).to_have_url(live.url("/login"))
    log_in(page, live, "TL2")
    page.wait_for_url(live.url("/desk"))


def test_an_agent_walks_the_mobile_newspaper_script_with_the_keyboard(page: Page, live: Live) -> None:
    live.start_campaign("mobile-newspaper-trial@2")
    log_in(page, live, "AG1")
    go_ready_and_take_a_call(page, live, "AG1")
    expect(page.locator("#lead-phone")).to_have_text("138****5678")
    expect_step(page, "核实机主")
    expect(page.locator("#step-text")).to_contain_text("138****5678")
    expect(page.locator("#script-title")).to_contain_text("手机报免费体验")
    press(page, "1")  # 是的
    expect_step(page, "邀请体验，问感兴趣的类别")
    expect(page.locator('#checkpoints li[data-id="opening_15s"]')).to_have_attribute("data-status", "met")
    # an objection from the list, one key away, and back to the step
    press(page, "o")
    expect(page.locator("#dlg-objections")).to_be_visible()
    expect(page.locator("#objection-list")).to_contain_text("顾客说：太贵了")
    press(page, "2")  # 太贵了
    expect_step(page, "讲个例子")
    expect(page.locator("#objection-banner")).to_contain_text("异议处理：太贵了")
    expect(page.locator("#objection-banner")).to_contain_text("邀请体验，问感兴趣的类别")
    expect(page.locator("#options button").first).to_contain_text("返回原步骤")
    press(page, "1")  # 愿意先体验 -> back
    expect_step(page, "邀请体验，问感兴趣的类别")
    expect(page.locator("#objection-banner")).to_be_hidden()
    # the customer type, with its tip
    press(page, "t")
    expect(page.locator("#dlg-types")).to_be_visible()
    press(page, "1")  # 滔滔不绝的客户
    expect(page.locator("#tags")).to_contain_text("滔滔不绝的客户")
    expect(page.locator("#tags")).to_contain_text("耐心倾听")
    press(page, "1")  # 生活
    expect_step(page, "Q1 推荐对应栏目")
    expect(page.locator("#step-text")).to_contain_text("掌握生活")
    press(page, "1")  # 好的
    expect_step(page, "确认开通（Q1）")
    expect(page.locator("#step-hint")).to_contain_text("确认语速放慢")
    page.screenshot(path=str(live.screenshot_path("console.png")))
    live.keep_screenshot("console.png")
    # 示忙 during the call: it waits for the call to end
    press(page, "p")
    expect(page.locator("#pause-note")).to_be_visible()
    press(page, "1")  # 小休
    expect(page.locator("#agent-state")).to_have_text("通话后示忙（小休）")
    expect(page.locator("#call")).to_be_visible()
    press(page, "1")  # 好的: trial_opened
    expect(page.locator("#wrapup")).to_be_visible()
    expect(page.locator("#outcome")).to_have_text("同意开通手机报体验")
    page.keyboard.press("Enter")
    expect(page.locator("#idle")).to_be_visible()
    expect(page.locator("#agent-state")).to_have_text("示忙（小休）")
    expect(page.locator("#idle-text")).to_contain_text("按 R 示闲")


#: browsers throttle timers in background tabs; here they never fire at all, so the call cannot depend on one
NO_TIMERS = "window.setTimeout = () => 0; window.setInterval = () => 0;"


def test_an_agent_walks_the_education_script_with_captures_and_a_callback_time(page: Page, live: Live) -> None:
    page.add_init_script(NO_TIMERS)  # the whole call below runs on pushed messages and keypresses alone
    live.start_campaign("edu-survey-invite@2")
    log_in(page, live, "AG2")
    go_ready_and_take_a_call(page, live, "AG2")
    expect_step(page, "电话接通")
    expect(page.locator("#step-text")).to_contain_text("张*")
    press(page, "2")  # 妈妈接听
    expect_step(page, "自我介绍（家长）")
    expect(page.locator("#step-text")).to_contain_text("妈妈，您好！我是赣州新概念教育的李老师")
    press(page, "1")  # 家长回应
    expect_step(page, "15秒开场白")
    expect(page.locator('#checkpoints li[data-id="opening_15s"]')).to_have_attribute("data-status", "met")
    press(page, "1")  # 方便
    expect_step(page, "学校和年级")
    # the required fields are checked before the choice is sent
    press(page, "1")
    expect(page.locator('.field[data-name="school"] .field-error')).to_have_text("必填")
    expect(page.locator('.field[data-name="grade"] .field-error')).to_have_text("必填")
    expect_step(page, "学校和年级")
    press(page, "c")
    expect(page.locator("#cap-school")).to_be_focused()
    page.keyboard.insert_text("实验小学")
    press(page, "Tab")
    expect(page.locator("#cap-grade")).to_be_focused()
    page.locator("#cap-grade").select_option("四年级")
    press(page, "Escape", "1")  # 小学
    expect_step(page, "学习问题（小学）")
    # an objection ("以后再说吧") and back
    press(page, "0")
    page.locator("#objection-list button", has_text="以后再说吧").click()
    expect_step(page, "问清原因")
    press(page, "1")  # 有顾虑，愿意现在谈 -> back
    expect_step(page, "学习问题（小学）")
    press(page, "1")  # 有
    expect_step(page, "安抚家长")
    press(page, "3")  # 想直接了解怎么改善
    expect_step(page, "全面了解孩子")
    press(page, "1")  # 家长在听
    expect_step(page, "邀约免费测评")
    press(page, "1")  # 有意向
    expect_step(page, "约测评时间")
    # an appointment time: typed wrong, then picked
    press(page, "c")
    page.locator("#cap-assessment_at").fill("2020-01-01T10:00")
    expect(page.locator('.field[data-name="assessment_at"] .field-error')).to_have_text("时间不能早于现在")
    page.locator('.field[data-name="assessment_at"] .quick button', has_text="明天 10:00").click()
    expect(page.locator('.field[data-name="assessment_at"] .field-error')).to_be_hidden()
    press(page, "Escape", "1")  # 约好测评时间
    finish_wrap_up(page, "预约免费测评")


def test_preview_mode_shows_the_lead_to_skip_or_dial(page: Page, live: Live, tmp_path: Path) -> None:
    campaign_id = add_agent_campaign(  # a preview campaign on the mobile script, its own agent AG3, two leads
        live.settings,
        tmp_path / "preview.csv",
        "AG3",
        name="浏览器测试 预览外呼",
        flow="mobile-newspaper-trial@2",
        leads="phone,name\n13500001111,周先生\n13600002222,吴女士\n",
        dial_mode="preview",
    )
    live.call_api("POST", f"/campaigns/{campaign_id}/start", token=live.login("TL1"))
    log_in(page, live, "AG3")
    expect(page).to_have_url(live.url("/console"))
    expect(page.locator("#link")).to_have_text("已连接")
    page.keyboard.press("r")
    expect(page.locator("#preview")).to_be_visible(timeout=CALL_WAIT)
    first = page.locator("#preview-phone").inner_text()
    assert first in ("135****1111", "136****2222")
    press(page, "s")  # 跳过
    expect(page.locator("#preview-phone")).not_to_have_text(first, timeout=CALL_WAIT)
    expect(page.locator("#preview")).to_be_visible()
    second = page.locator("#preview-phone").inner_text()
    assert {first, second} == {"135****1111", "136****2222"}
    press(page, "Enter")  # 拨打
    expect(page.locator("#call")).to_be_visible(timeout=CALL_WAIT)
    expect(page.locator("#lead-phone")).to_have_text(second)
    expect_step(page, "核实机主")
    press(page, "2")  # 不是机主
    finish_wrap_up(page, "非机主")
