"""The real app under uvicorn on 127.0.0.1 and Debian's Chromium driven by Playwright.

``live`` (one per module): a temp SQLite database, migrated and seeded with the fast hasher (a vendor,
a team lead, agents, one running-ready campaign per script with its leads), then ``api.app.create_app``
served by uvicorn in a background thread on a free port. Calls come from the app's own dialer pool
(``api.dialing.DialerPool``): the test's team lead starts each campaign with ``POST /campaigns/{id}/start``
and an agent who presses 示闲 gets the simulator's customers, exactly as in production on the simulator.

``browser``: ``/usr/bin/chromium`` (``apt-get install chromium``; ``scripts/ensure-services.sh`` installs it),
headless with ``--no-sandbox --disable-gpu --disable-background-networking``. Playwright never downloads a
browser here. Screenshots go to the test's temp dir; with ``WAIHU_SCREENSHOTS=1`` they are also copied to
``docs/screenshots/`` (so an ordinary test run never changes the work tree).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import threading
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Page, expect
from sqlalchemy import select

from agents.models import Vendor
from api.app import build_state, create_app
from api.deps import AppState
from dialer.backends.sim import SimProfile
from dialer.campaigns import create_campaign
from dialer.leads import import_leads
from tests.api.conftest import FAST_HASHER, PASSWORD, _new_user
from tests.conftest import free_port
from waihu.db import create_engine, utcnow
from waihu.migrate import upgrade
from waihu.settings import Settings, load_settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
#: simulated customers who always answer, quickly, and stay on the line until the agent ends the call
CUSTOMERS = SimProfile(
    p_live=1.0,
    answer_delay=(0.3, 0.6),
    busy_delay=(0.3, 0.6),
    talk_mean=1800.0,
    talk_cv=0.1,
    ring_after=0.1,
    playback_seconds=0.5,
)
ALL_DAY = (("00:00", "23:59"),)
#: the agents of the test world: who they are, which script they work, and whether they must change the password
AGENTS: dict[str, dict[str, Any]] = {
    "AG1": {"flow": "mobile-newspaper-trial@2", "must_change": False},
    "AG2": {"flow": "edu-survey-invite@2", "must_change": False},
    "AG9": {"flow": None, "must_change": True},
}
LEADS = {
    "mobile-newspaper-trial@2": "phone,name\n13812345678,王先生\n13912345679,李女士\n",
    "edu-survey-invite@2": (
        "phone,student_name,agent_name,lead_school,lead_grade\n"
        "13712345670,张小明,李,实验小学,四年级\n13612345671,陈小红,李,实验小学,三年级\n"
    ),
}


async def _add_agent_campaign(
    settings: Settings, csv_path: Path, work_id: str, *, name: str, flow: str, leads: str, **options: Any
) -> int:
    engine = create_engine(settings)
    try:
        state = build_state(settings, engine, hasher=FAST_HASHER)
        async with state.sessions() as session, session.begin():
            vendor_id = await session.scalar(select(Vendor.id).where(Vendor.code == "va"))
            assert vendor_id is not None
            session.add(_new_user(state, work_id, "agent", vendor_id))
            await session.flush()
            campaign = await create_campaign(
                session,
                registry=state.flows,
                audit=state.audit,
                name=name,
                vendor_id=vendor_id,
                flow=flow,
                created_by="TL1",
                agents=[work_id],
                calling_windows=ALL_DAY,
                **options,
            )
            campaign_id = campaign.id
        report = await import_leads(state.sessions, state.vault, campaign_id, csv_path, workers=0)
        assert report.imported == leads.count("\n") - 1, report
        return campaign_id
    finally:
        await engine.dispose()


def add_agent_campaign(
    settings: Settings, csv_path: Path, work_id: str, *, name: str, flow: str, leads: str, **options: Any
) -> int:
    """A new agent of vendor ``va`` with a campaign of its own (created, not started) and the leads of the CSV
    text ``leads`` (written to ``csv_path``): a test gets a floor no other test's calls reach. The campaign's id."""
    csv_path.write_text(leads, encoding="utf-8")
    with ThreadPoolExecutor(1) as pool:  # its own event loop, beside the app's
        made = _add_agent_campaign(settings, csv_path, work_id, name=name, flow=flow, leads=leads, **options)
        campaign_id: int = pool.submit(asyncio.run, made).result()
    return campaign_id


@dataclass
class Live:
    """The running app: its URL, the settings, and the seeded campaigns (flow ref -> campaign id)."""

    base_url: str
    settings: Settings
    campaigns: dict[str, int]
    shots: Path
    tokens: dict[str, str] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return self.base_url + path

    def call_api(self, method: str, path: str, *, token: str | None = None, body: Any = None) -> Any:
        """A JSON request as an API client (bearer token, so no CSRF)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url(path), data=data, method=method)
        request.add_header("content-type", "application/json")
        if token:
            request.add_header("authorization", f"Bearer {token}")
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")

    def login(self, work_id: str, password: str = PASSWORD) -> str:
        if work_id not in self.tokens:
            answer = self.call_api("POST", "/auth/login", body={"work_id": work_id, "password": password})
            self.tokens[work_id] = answer["token"]
        return self.tokens[work_id]

    def start_campaign(self, flow: str) -> None:
        self.call_api("POST", f"/campaigns/{self.campaigns[flow]}/start", token=self.login("TL1"))

    def screenshot_path(self, name: str) -> Path:
        return self.shots / name

    def keep_screenshot(self, name: str) -> None:
        """Copy a screenshot into docs/screenshots/ when WAIHU_SCREENSHOTS=1 (the README shows them)."""
        if os.environ.get("WAIHU_SCREENSHOTS") == "1":
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.shots / name, SCREENSHOTS / name)


async def _seed(settings: Settings, tmp: Path) -> dict[str, int]:
    engine = create_engine(settings)
    try:
        await upgrade(engine)
        state = build_state(settings, engine, hasher=FAST_HASHER)
        now = utcnow()
        campaigns: dict[str, int] = {}
        async with state.sessions() as session, session.begin():
            vendor = Vendor(code="va", name="甲公司", id_quota=500, created_at=now)
            session.add(vendor)
            await session.flush()
            session.add(_new_user(state, "TL1", "team_lead", vendor.id))  # starts campaigns through the API
            session.add(_new_user(state, "TL2", "team_lead", vendor.id))  # logs in in the browser
            for work_id, info in AGENTS.items():
                user = _new_user(state, work_id, "agent", vendor.id)
                user.must_change_password = bool(info["must_change"])
                session.add(user)
            await session.flush()
            for flow in LEADS:
                agents = [w for w, info in AGENTS.items() if info["flow"] == flow]
                campaign = await create_campaign(
                    session,
                    registry=state.flows,
                    audit=state.audit,
                    name=f"浏览器测试 {flow}",
                    vendor_id=vendor.id,
                    flow=flow,
                    created_by="TL1",
                    agents=agents,
                    calling_windows=ALL_DAY,
                    wrap_up_limit_seconds=30,
                    now=now,
                )
                campaigns[flow] = campaign.id
        for flow, rows in LEADS.items():
            path = tmp / f"{campaigns[flow]}.csv"
            path.write_text(rows, encoding="utf-8")
            report = await import_leads(state.sessions, state.vault, campaigns[flow], path, workers=0)
            assert not report.errors, report.errors
        return campaigns
    finally:
        await engine.dispose()


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # a background thread cannot install them
        pass


def browser_settings(tmp: Path) -> Settings:
    return load_settings(
        database_url=f"sqlite+aiosqlite:///{tmp / 'waihu.db'}",
        key_file=tmp / "waihu.key",
        timezone="Asia/Shanghai",
        recordings_dir=tmp / "recordings",
        telephony="sim",
    )


def serve_live(
    tmp: Path,
    settings: Settings,
    campaigns: dict[str, int],
    *,
    dialer: dict[str, Any] | None = None,
    on_start: Callable[[AppState], Awaitable[None]] | None = None,
) -> Iterator[Live]:
    """The real app under uvicorn in a background thread on a free port, until the generator is closed."""
    app = create_app(
        settings,
        hasher=FAST_HASHER,
        dialer_options={"customers": CUSTOMERS, "tick": 0.1, "record": False, "seed": 8, **(dialer or {})},
        on_start=on_start,
    )
    port = free_port()
    server = _Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="websockets-sansio", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="waihu-browser-app", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), "the app did not start (see the log above)"
        assert time.monotonic() < deadline, "the app did not start within 20 s"
        time.sleep(0.02)
    shots = tmp / "screenshots"
    shots.mkdir()
    try:
        yield Live(f"http://127.0.0.1:{port}", settings, campaigns, shots)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("browser")
    settings = browser_settings(tmp)
    yield from serve_live(tmp, settings, asyncio.run(_seed(settings, tmp)))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-services.sh (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def open_page(browser: Any, width: int = 1440, height: int = 960) -> Iterator[Any]:
    """A fresh browser context and page (zh-CN); at the end, no script error and no CSP refusal may have
    happened on it (a CSP refusal, an inline style or script, is a console error, not a page error)."""
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None)
    try:
        yield page
        assert errors == [], f"script errors on the page: {errors}"
    finally:
        context.close()


@pytest.fixture
def page(live: Live, browser: Any) -> Iterator[Any]:
    """A page on the module's live app (a module with another app overrides this fixture)."""
    yield from open_page(browser)


def log_in(page: Page, live: Live, work_id: str, password: str = PASSWORD) -> None:
    """Fill the login page and press Enter; the caller checks where it lands (or the error it shows)."""
    page.goto(live.url("/login"))
    page.locator("#work-id").fill(work_id)
    page.locator("#password").fill(password)
    page.keyboard.press("Enter")


def log_in_to_desk(page: Page, live: Live, work_id: str) -> None:
    """Log in as a team lead and wait until the desk's module runs (it shows the work ID)."""
    log_in(page, live, work_id)
    expect(page).to_have_url(re.compile(re.escape(live.url("/desk"))))
    expect(page.locator("#work-id")).to_have_text(work_id)
