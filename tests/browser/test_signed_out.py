"""A login ended from outside the console (here: a team lead forces it out) takes the agent's page to the login,
which says why, in a real browser."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Live, log_in

pytestmark = pytest.mark.browser


def test_a_forced_logout_sends_the_console_to_the_login_with_the_reason(page: Page, live: Live) -> None:
    log_in(page, live, "AG1")
    expect(page).to_have_url(live.url("/console"))
    expect(page.locator("#link")).to_have_attribute("data-link", "up")  # the console's socket is connected

    live.call_api("POST", "/sessions/AG1/force-logout", token=live.login("TL1"))

    page.wait_for_url(live.url("/login?signed_out=forced"))
    expect(page.locator("#login-notice")).to_be_visible()
    expect(page.locator("#login-notice")).to_have_text("组长已将您的工号签出；如有疑问请联系组长。")
    # and the login form works as usual afterwards
    expect(page.locator("#work-id")).to_be_visible()
