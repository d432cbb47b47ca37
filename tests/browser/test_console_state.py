"""The console's state badge (#agent-state) after a call agrees with what the server holds for the agent: the
session record (what the agent chose: 示闲 / 示忙 / 未示闲) and the dialer's floor (ready / paused).

The page's first state comes from the session record when the page loads; everything after that comes over the
websocket. A console that was away (a dropped socket that comes back late, a tab that was replaced by another
and takes the console back, a reload during a call) must show what the server says, not what it last knew or
what it guesses after wrap-up."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, WebSocketRoute, expect

from agents.sessions import current_state, open_session_of
from api.app import build_state
from tests.api.conftest import FAST_HASHER
from tests.browser.conftest import Live, add_agent_campaign, log_in
from tests.browser.test_agent_console import CALL_WAIT, expect_step, press
from waihu.db import create_engine, utcnow
from waihu.settings import Settings

pytestmark = pytest.mark.browser
EDU = "edu-survey-invite@2"
_numbers = itertools.count(1)
_agents = itertools.count(1)


def _run(coro: Any) -> Any:
    with ThreadPoolExecutor(1) as pool:  # its own event loop, beside the app's
        return pool.submit(asyncio.run, coro).result()


async def _record(settings: Settings, work_id: str) -> tuple[str, str | None]:
    engine = create_engine(settings)
    try:
        state = build_state(settings, engine, hasher=FAST_HASHER)
        async with state.sessions() as session:
            now = await current_state(session, work_id, now=state.now())
        return now.state.value, now.reason
    finally:
        await engine.dispose()


class World:
    """One agent, its campaign (running), and what the server holds for the agent."""

    def __init__(self, live: Live, tmp: Path, work_id: str) -> None:
        self.live = live
        self.work_id = work_id
        n = next(_numbers)
        # an education campaign of its own with one lead: after its one call the agent waits (a second
        # call cannot come and change the badge under the test)
        self.campaign_id = add_agent_campaign(
            live.settings,
            tmp / f"{work_id}.csv",
            work_id,
            name=f"状态测试 {work_id}",
            flow=EDU,
            leads=f"phone,student_name,agent_name,lead_school,lead_grade\n1370{n:03d}0001,张小明,李,实验小学,四年级\n",
            wrap_up_limit_seconds=30,
        )

    def start(self) -> None:
        self.live.call_api("POST", f"/campaigns/{self.campaign_id}/start", token=self.live.login("TL1"))

    def record(self) -> tuple[str, str | None]:
        """The agent's session record: (state, pause reason)."""
        result: tuple[str, str | None] = _run(_record(self.live.settings, self.work_id))
        return result

    def floor(self, expected: str | None) -> str | None:
        """The agent's state on the campaign's floor (None: not on it), once it is ``expected`` or after 5 s (the
        dialer moves the agent on the floor just after it told the console that the wrap-up is done)."""
        deadline = time.monotonic() + 5
        while True:
            state = self._floor()
            if state == expected or time.monotonic() > deadline:
                return state
            time.sleep(0.05)

    def _floor(self) -> str | None:
        snap = self.live.call_api("GET", f"/campaigns/{self.campaign_id}/live", token=self.live.login("TL1"))
        for agent in snap["agents"]:
            if agent["work_id"] == self.work_id:
                state: str = agent["state"]
                return state
        return None


class Link:
    """A page's console sockets, through Playwright's websocket routing: the test can drop them and keep them
    down (the page retries, as on a lost network), then let them through again."""

    def __init__(self, page: Page) -> None:
        self.up = True
        #: a message type from the server that is lost with the connection it comes on (the network drops then)
        self.lose: str | None = None
        self.lost: list[str] = []
        #: a message type from the server that is held back until :meth:`release` (a slow network)
        self.hold: str | None = None
        self.held: list[Callable[[], None]] = []
        self.routes: list[tuple[WebSocketRoute, WebSocketRoute]] = []
        page.route_web_socket("**/ws/agent", self._route)

    def _route(self, ws: WebSocketRoute) -> None:
        if not self.up:
            ws.close(code=1011, reason="network down")
            return
        server = ws.connect_to_server()
        self.routes.append((ws, server))

        def from_server(message: str | bytes) -> None:
            text = message if isinstance(message, str) else message.decode()
            if self.hold is not None and json.loads(text).get("type") == self.hold:
                self.held.append(lambda: ws.send(message))  # delivered late, on release()
                return
            if self.lose is not None and json.loads(text).get("type") == self.lose:
                self.lost.append(text)
                self.lose = None
                server.close()
                ws.close(code=1011, reason="network down")
                return
            ws.send(message)

        server.on_message(from_server)

    def release(self) -> None:
        self.hold = None
        for deliver in self.held:
            deliver()
        self.held.clear()

    def drop(self) -> None:
        self.up = False
        for ws, server in self.routes:
            server.close()
            ws.close(code=1011, reason="network down")
        self.routes.clear()


@pytest.fixture
def world(live: Live, tmp_path: Path) -> World:
    work_id = f"S{next(_agents):05d}"  # one agent per test
    return World(live, tmp_path, work_id)


def second_page(page: Page) -> Page:
    """Another tab of the same browser (the same login cookie)."""
    other: Page = page.context.new_page()
    other.set_default_timeout(10_000)
    return other


def badge(page: Page) -> Any:
    return page.locator("#agent-state")


def take_a_call(page: Page) -> None:
    expect(page.locator("#link")).to_have_text("已连接")
    page.keyboard.press("r")
    expect(badge(page)).to_have_text("示闲")
    expect(page.locator("#call")).to_be_visible(timeout=CALL_WAIT)
    expect(badge(page)).to_have_text("通话中")
    expect_step(page, "电话接通")


def objection_tag_and_capture(page: Page, wrapping: str = "整理中") -> None:
    """The call of the report: an objection and back, a customer type, and a captured field; ends as a callback."""
    press(page, "2")  # 妈妈接听
    expect_step(page, "自我介绍（家长）")
    press(page, "1")  # 家长回应
    expect_step(page, "15秒开场白")
    press(page, "0")
    page.locator("#objection-list button", has_text="以后再说吧").click()
    expect_step(page, "问清原因")
    press(page, "1")  # back
    expect_step(page, "15秒开场白")
    press(page, "t", "1")
    expect(page.locator("#tags li.tag")).to_have_count(1)
    press(page, "2")  # 不方便，下次再说
    expect_step(page, "不方便，约回电")
    page.locator('.field[data-name="callback_at"] .quick button', has_text="明天 10:00").click()
    press(page, "1")  # 约好回电时间
    expect(page.locator("#wrapup")).to_be_visible()
    expect(badge(page)).to_have_text(wrapping)
    expect(page.locator("#btn-done")).to_be_enabled()


def finish(page: Page) -> None:
    page.keyboard.press("Enter")
    expect(page.locator("#idle")).to_be_visible()


def ready_everywhere(page: Page, world: World) -> None:
    """The badge, the session record and the dialer's floor all say ready."""
    expect(badge(page)).to_have_text("示闲")
    assert world.record() == ("ready", None)
    assert world.floor("ready") == "ready"


# -- the sequences -----------------------------------------------------------------------------------


def test_a_plain_wrap_up_shows_what_the_server_holds(page: Page, live: Live, world: World) -> None:
    world.start()
    log_in(page, live, world.work_id)
    expect(badge(page)).to_have_text("未示闲")
    take_a_call(page)
    objection_tag_and_capture(page)
    finish(page)
    ready_everywhere(page, world)


def test_a_stale_tab_taking_the_console_back_after_wrap_up_shows_the_real_state(
    page: Page, live: Live, world: World
) -> None:
    """Tab B opened at login (未示闲) loses its socket; the agent works in tab A; B's socket comes back after the
    wrap-up and takes the console over: it must show 示闲 (the server's state), not what it knew at its load."""
    world.start()
    log_in(page, live, world.work_id)
    expect(page.locator("#link")).to_have_text("已连接")
    other = second_page(page)
    link = Link(other)
    other.goto(live.url("/console"))
    expect(other.locator("#link")).to_have_text("已连接")
    expect(badge(other)).to_have_text("未示闲")
    expect(page.locator("#link")).to_have_text("已在其他窗口打开")
    link.drop()  # B's network is down; it keeps retrying
    expect(other.locator("#link")).not_to_have_text("已连接")
    page.reload()  # A takes the console back
    take_a_call(page)
    objection_tag_and_capture(page)
    finish(page)
    expect(badge(page)).to_have_text("示闲")
    link.up = True
    other.evaluate("window.dispatchEvent(new Event('online'))")
    expect(other.locator("#link")).to_have_text("已连接")
    expect(page.locator("#link")).to_have_text("已在其他窗口打开")
    assert world.record() == ("ready", None)
    assert world.floor("ready") == "ready"
    expect(badge(other)).to_have_text("示闲")
    expect(other.locator("#idle-text")).to_have_text("示闲中，等待来电…")


def test_a_reload_during_the_call_keeps_a_pause_asked_for_during_it(page: Page, live: Live, world: World) -> None:
    """示忙 during the call, then the page reloads: after wrap-up the agent is paused (the record, the floor), and
    the console says so instead of 示闲."""
    world.start()
    log_in(page, live, world.work_id)
    take_a_call(page)
    press(page, "p", "1")  # 小休, after the call
    expect(badge(page)).to_have_text("通话后示忙（小休）")
    page.reload()
    expect(page.locator("#call")).to_be_visible()
    expect(badge(page)).to_have_text("通话后示忙（小休）")
    objection_tag_and_capture(page, wrapping="通话后示忙（小休）")
    finish(page)
    assert world.record() == ("paused", "小休")
    assert world.floor("paused") == "paused"
    expect(badge(page)).to_have_text("示忙（小休）")


def test_a_wrap_up_done_lost_with_the_socket_does_not_leave_the_console_in_wrap_up(
    page: Page, live: Live, world: World
) -> None:
    """The agent presses Enter; the server ends the wrap-up, but its wrap_up.done is lost with the socket. On the
    reconnect the server has no call on the agent's screen: the console leaves the wrap-up and shows 示闲."""
    world.start()
    link = Link(page)
    log_in(page, live, world.work_id)
    take_a_call(page)
    objection_tag_and_capture(page)
    link.lose = "wrap_up.done"
    page.keyboard.press("Enter")
    expect(page.locator("#idle")).to_be_visible()
    assert len(link.lost) == 1
    expect(page.locator("#link")).to_have_text("已连接")
    assert world.record() == ("ready", None)
    assert world.floor("ready") == "ready"
    expect(badge(page)).to_have_text("示闲")


def _expire_login(settings: Settings, work_id: str) -> None:
    async def expire() -> None:
        engine = create_engine(settings)
        try:
            state = build_state(settings, engine, hasher=FAST_HASHER)
            async with state.sessions() as session, session.begin():
                auth_session = await open_session_of(session, work_id)
                assert auth_session is not None
                auth_session.expires_at = utcnow() - timedelta(seconds=1)
        finally:
            await engine.dispose()

    _run(expire())


def test_a_new_login_after_a_lost_one_is_not_ready_on_the_floor(page: Page, live: Live, world: World) -> None:
    """示闲, then the console's network goes and the login runs out; the agent logs in again (未示闲, the record)
    and the campaign starts: the dialer must not put the agent on its floor and pop a call on a console that says
    未示闲 (the dialer still had the agent as ready from the lost login)."""
    link = Link(page)
    log_in(page, live, world.work_id)
    expect(page.locator("#link")).to_have_text("已连接")
    page.keyboard.press("r")
    expect(badge(page)).to_have_text("示闲")
    link.drop()
    expect(page.locator("#link")).not_to_have_text("已连接")
    _expire_login(live.settings, world.work_id)
    link.up = True
    log_in(page, live, world.work_id)
    expect(page).to_have_url(live.url("/console"))
    expect(page.locator("#link")).to_have_text("已连接")
    expect(badge(page)).to_have_text("未示闲")
    assert world.record() == ("logged_in", None)
    world.start()
    page.wait_for_timeout(2500)  # a ready agent gets the customer well within this (answers in under a second)
    expect(page.locator("#idle")).to_be_visible()
    expect(badge(page)).to_have_text("未示闲")
    assert world.floor(None) is None
    take_a_call(page)  # 示闲 puts the agent on the floor again
    objection_tag_and_capture(page)
    finish(page)
    ready_everywhere(page, world)


def test_enter_pressed_before_the_wrap_up_opens_ends_it_as_soon_as_it_opens(
    page: Page, live: Live, world: World
) -> None:
    """The agent presses Enter the moment the call ends; the server's wrap-up message is still on its way (a
    slow network, a busy server). The key is not lost: the wrap-up ends as soon as it opens."""
    link = Link(page)
    world.start()
    log_in(page, live, world.work_id)
    take_a_call(page)
    link.hold = "wrap_up"
    press(page, "2")  # 妈妈接听
    expect_step(page, "自我介绍（家长）")
    press(page, "1")  # 家长回应
    expect_step(page, "15秒开场白")
    press(page, "2")  # 不方便，下次再说
    page.locator('.field[data-name="callback_at"] .quick button', has_text="明天 10:00").click()
    press(page, "1")  # 约好回电时间: the call ends
    expect(page.locator("#wrapup")).to_be_visible()
    expect(page.locator("#btn-done")).to_be_disabled()  # the server has not opened the wrap-up yet
    page.keyboard.press("Enter")
    page.wait_for_timeout(300)
    expect(page.locator("#wrapup")).to_be_visible()
    link.release()
    expect(page.locator("#idle")).to_be_visible()
    expect(badge(page)).to_have_text("示闲")
    assert world.floor("ready") == "ready"
