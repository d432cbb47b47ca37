"""QA in a real browser: a reviewer searches the calls, opens one, plays its recording with the script steps on
a timeline (a click on a step seeks the audio; the step being played lights up), scores every item of the
discipline sheet and submits; then the call's agent reads the review on ``/reviews`` and acknowledges it.

The call is seeded as the simulator's dialer leaves one: the mobile-newspaper script walked by its runtime
(a real transcript), telephony events, and a real WAV recording made by ``recordings.synth`` (espeak-ng +
sox) with the script's lines spoken at their step times, stored with its size and SHA-256.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import wave
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from agents.models import Vendor
from api.app import build_state
from dialer.models import CallAttempt, CallEventRow, Lead
from flows.runtime import FlowEngine
from recordings.models import RecordingFile
from recordings.synth import lines_from_transcript, synthesize, tools_missing
from tests.api.conftest import FAST_HASHER, PASSWORD, _new_user
from tests.browser.conftest import Live
from tests.browser.conftest import log_in as log_in_form
from waihu.db import create_engine, utcnow
from waihu.settings import Settings

pytestmark = pytest.mark.browser
FLOW = "mobile-newspaper-trial@2"
CALL_ID = "qa-browser-1"
PHONE = "13500001234"  # shown as 135****1234; QA searches by its last digits
#: the customer's answer (option index) and the second it came, step by step: the agent reads each screen first
ANSWERS = ((0, 11.5), (0, 37.5), (0, 58.5), (0, 96.0))  # 是的 · 生活 · 好的 · 好的 -> trial_opened


@dataclass(frozen=True)
class SeededCall:
    call_id: str
    campaign_id: int
    #: when each script screen was entered, in seconds into the recording (answer_offset 0)
    steps: list[tuple[str, float]]


async def _seed_call(settings: Settings, campaign_id: int) -> SeededCall:
    engine = create_engine(settings)
    try:
        state = build_state(settings, engine, hasher=FAST_HASHER)
        flow = state.flows.get("mobile-newspaper-trial", 1)
        clock = [0.0]
        variables = {"phone": PHONE, "name": "周先生"}
        run = FlowEngine(flow).new_run(variables, call_id=CALL_ID, clock=lambda: clock[0], started_at=0.0)
        await run.start()
        for option, at in ANSWERS:
            clock[0] = at
            await run.choose(option)
        assert run.outcome == "trial_opened", run.outcome
        path = Path(settings.recordings_dir) / f"{CALL_ID}.wav"
        await synthesize(lines_from_transcript(flow, run.transcript, run.render), path)
        data = await asyncio.to_thread(path.read_bytes)
        with wave.open(str(path)) as wav:
            duration = wav.getnframes() / wav.getframerate()
        now = utcnow()
        started, answered = now - timedelta(minutes=30), now - timedelta(minutes=30) + timedelta(seconds=6)
        ended = answered + timedelta(seconds=ANSWERS[-1][1] + 1)
        async with state.sessions() as session, session.begin():
            vendor = await session.scalar(select(Vendor).where(Vendor.code == "va"))
            assert vendor is not None
            session.add(_new_user(state, "QA1", "qa", vendor.id))
            e164 = "+86" + PHONE
            lead = Lead(
                campaign_id=campaign_id,
                phone_enc=state.vault.encrypt(e164),
                phone_hash=state.vault.lookup_hash(e164, "phone"),
                phone_masked="135****1234",
                name_enc=state.vault.encrypt(variables["name"]),
                variables_enc=state.vault.encrypt(json.dumps({})),
                status="done",
                attempts=1,
                next_attempt_at=now,
                created_at=now,
            )
            session.add(lead)
            await session.flush()
            session.add(
                CallAttempt(
                    lead_id=lead.id,
                    campaign_id=campaign_id,
                    phone_hash=lead.phone_hash,
                    started_at=started,
                    ended_at=ended,
                    result="answered",
                    outcome=run.outcome,
                    outcome_category="success",
                    abandoned=False,
                    call_id=CALL_ID,
                    work_id="AG1",
                    answered_at=answered,
                    bridged_at=answered,
                    wrap_up_seconds=5.0,
                    flow_ref=FLOW,
                    flow_started_at=answered,
                    transcript=[entry.to_dict() for entry in run.transcript],
                    tags=[],
                    captured_enc=state.vault.encrypt(json.dumps(run.captured)),
                    recording_path=str(path),
                )
            )
            for moment, kind in ((started, "originated"), (started + timedelta(seconds=2), "ringing")):
                session.add(CallEventRow(call_id=CALL_ID, at=moment, kind=kind, details={}))
            session.add(CallEventRow(call_id=CALL_ID, at=answered, kind="answered", details={}))
            session.add(CallEventRow(call_id=CALL_ID, at=ended, kind="hungup", details={"cause": "normal"}))
            session.add(
                RecordingFile(
                    call_id=CALL_ID,
                    vendor_id=vendor.id,
                    work_id="AG1",
                    path=str(path),
                    duration_seconds=round(duration, 3),
                    size_bytes=len(data),
                    sha256=hashlib.sha256(data).hexdigest(),
                    answer_offset=0.0,
                    created_at=ended,
                    expires_at=ended + timedelta(days=settings.recording_retention_days),
                )
            )
        steps = [(flow.states[e.state].title, e.at) for e in run.transcript if e.kind == "enter"]
        return SeededCall(CALL_ID, campaign_id, steps)
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def seeded(live: Live) -> SeededCall:
    if tools_missing():
        pytest.fail(f"{', '.join(tools_missing())} missing: apt-get install espeak-ng sox (scripts/ensure-services.sh)")
    # in a thread of its own: Playwright's sync API may already run an event loop in this one
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, _seed_call(live.settings, live.campaigns[FLOW])).result()


@pytest.fixture
def context(live: Live, browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    context.set_default_timeout(10_000)
    try:
        yield context
    finally:
        context.close()


def new_page(context: Any) -> tuple[Page, list[str]]:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page, errors


def log_in(page: Page, live: Live, work_id: str, password: str = PASSWORD) -> None:
    """Log in and wait until the page has left the login."""
    log_in_form(page, live, work_id, password)
    page.wait_for_url(lambda url: "/login" not in url)


def audio_time(page: Page) -> float:
    return float(page.locator("#player").evaluate("a => a.currentTime"))


def test_qa_replays_a_call_scores_it_and_the_agent_acknowledges(
    live: Live, context: Any, browser: Any, seeded: SeededCall
) -> None:
    page, errors = new_page(context)
    recording_answers: list[int] = []
    page.on("response", lambda r: recording_answers.append(r.status) if "/recording?" in r.url else None)
    log_in(page, live, "QA1")
    page.goto(live.url("/qa"))
    expect(page.locator("#work-id")).to_have_text("QA1")

    # search: a time range (the site's wall time), campaign, outcome and the number's last digits
    local = utcnow().astimezone(ZoneInfo(live.settings.timezone))
    # 本周抽检: this week's sample for a reviewer; the seeded call (30 minutes ago) is in it if that was this week
    expect(page.locator("#sample")).to_be_visible()
    if (local - timedelta(minutes=30)).isocalendar()[:2] == local.isocalendar()[:2]:
        expect(page.locator("#sample-list li")).to_have_count(1)
        expect(page.locator("#sample-list li").first).to_contain_text("135****1234")
        expect(page.locator("#sample-list li").first).to_contain_text("待评分")
    else:  # early on a Monday: the call was last week's, so it is not in this week's sample
        expect(page.locator("#sample-list")).not_to_contain_text("135****1234")
    page.locator("#f-since").fill((local - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"))
    page.locator("#f-until").fill((local - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    page.locator("#btn-search").click()
    expect(page.locator("#search-count")).to_have_text("没有符合条件的通话")
    page.locator("#f-since").fill((local - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    page.locator("#f-until").fill((local + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M"))
    page.locator("#f-campaign").select_option(str(seeded.campaign_id))
    page.locator("#f-outcome").select_option("trial_opened")
    page.locator("#f-suffix").fill("1234")
    page.keyboard.press("Enter")
    results = page.locator("#results li")
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text("135****1234")
    expect(results.first).to_contain_text("坐席 AG1")
    page.locator("#f-suffix").fill("9999")
    page.keyboard.press("Enter")
    expect(page.locator("#search-count")).to_have_text("没有符合条件的通话")
    page.locator("#f-suffix").fill("1234")
    page.keyboard.press("Enter")
    results.first.locator("button").click()

    # the replay: the call, the recording, the script steps on a timeline
    expect(page.locator("#call-id")).to_have_text(seeded.call_id)
    expect(page.locator("#call-facts")).to_contain_text("手机报")
    player = page.locator("#player")
    player.evaluate("a => { a.muted = true; }")
    page.wait_for_function("() => document.querySelector('#player').readyState >= 1")
    assert abs(float(player.evaluate("a => a.duration")) - 98.3) < 1.0
    steps = page.locator("#timeline li.tl-step")
    expect(steps).to_have_count(len(seeded.steps))
    for i, (title, _) in enumerate(seeded.steps):
        expect(steps.nth(i)).to_contain_text(title)
    expect(page.locator("#track .track-step")).to_have_count(len(seeded.steps))
    # the telephony events in Chinese, not the dialer's event names
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("客户接听")
    expect(timeline).to_contain_text("挂机（正常）")
    for english in ("Answered", "HungUp", "Recording", "normal"):
        expect(timeline).not_to_contain_text(english)
    expect(page.locator("#checkpoints")).to_contain_text("达成")

    # a click on a step seeks the audio there and lights the step up
    third_at = seeded.steps[2][1]
    steps.nth(2).locator("button").click()
    expect(steps.nth(2)).to_have_class(re.compile(r"\bcurrent\b"))
    assert third_at <= audio_time(page) < third_at + 5
    expect(page.locator("#track .track-step").nth(2)).to_have_class(re.compile(r"\bcurrent\b"))
    # while playing, the light moves on by itself (the audio's timeupdate events) into the next step
    fourth_at = seeded.steps[3][1]
    player.evaluate(f"a => {{ a.currentTime = {fourth_at - 1.2}; return a.play(); }}")
    expect(steps.nth(2)).to_have_class(re.compile(r"\bcurrent\b"))
    expect(steps.nth(3)).to_have_class(re.compile(r"\bcurrent\b"), timeout=15_000)
    expect(steps.nth(2)).not_to_have_class(re.compile(r"\bcurrent\b"))
    assert audio_time(page) >= fourth_at
    assert 206 in recording_answers, recording_answers  # the player reads the recording in byte ranges
    # the track bar under the player seeks too
    page.locator("#track .track-step").nth(1).click()
    expect(steps.nth(1)).to_have_class(re.compile(r"\bcurrent\b"))
    page.keyboard.press(" ")  # pause
    expect(player).to_have_js_property("paused", True)
    page.keyboard.press("]")  # the next step, from the keyboard
    expect(steps.nth(2)).to_have_class(re.compile(r"\bcurrent\b"))
    assert third_at <= audio_time(page) < third_at + 1

    # the scoring sheet: automatic items come pre-scored, the rest is scored by hand
    page.locator("#btn-start").click()
    expect(page.locator("#review-state")).to_have_text("评分中（草稿）")
    items = page.locator("#items li.sheet-item")
    expect(items).to_have_count(14)
    expect(page.locator('#items li[data-item="opening_15s"]')).to_contain_text("自动检查：通过")
    expect(page.locator("#btn-submit")).to_be_disabled()
    # overruling an automatic check needs a comment
    auto = page.locator('#items li[data-item="opening_15s"]')
    auto.locator('button[data-points="0"]').click()
    expect(auto.locator(".item-error")).to_have_text("与自动检查结果不同：请先在说明中写明原因")
    expect(auto.locator('button[data-points="1"]')).to_have_attribute("aria-pressed", "true")
    # one deduction with a comment and the second of the recording it is about
    eating = page.locator('#items li[data-item="no_eating"]')
    eating.locator(".item-comment").fill("通话中能听到吃东西的声音")
    eating.locator('button[data-points="0"]').click()
    expect(eating.locator('button[data-points="0"]')).to_have_attribute("aria-pressed", "true")
    eating.locator(".mark-at").click()
    expect(eating.locator(".at-link")).to_be_visible()
    unscored = page.locator('#items li[data-scored="no"]')
    while unscored.count():
        before = unscored.count()
        unscored.first.locator('button[data-points="1"]').click()
        expect(unscored).to_have_count(before - 1)
    expect(page.locator("#review-total")).to_have_text("13")
    expect(page.locator("#review-max")).to_have_text("14")
    expect(page.locator("#btn-submit")).to_be_enabled()
    steps.nth(2).locator("button").click()  # the screenshot shows a step lit up
    player.evaluate("a => a.pause()")
    expect(steps.nth(2)).to_have_class(re.compile(r"\bcurrent\b"))
    page.locator(".qa-sheet").evaluate("el => { el.scrollTop = 0; }")  # the sheet's head: state and total
    expect(page.locator("#toasts .toast")).to_have_count(0)
    page.screenshot(path=str(live.screenshot_path("qa.png")))
    live.keep_screenshot("qa.png")
    page.locator("#btn-submit").click()
    expect(page.locator("#review-state")).to_have_text("已提交 · 待坐席确认")
    expect(page.locator("#btn-submit")).to_be_hidden()
    expect(eating.locator('button[data-points="1"]')).to_be_disabled()
    review_id = int(page.evaluate(f"localStorage.getItem('waihu.qa.review.{seeded.call_id}')"))
    assert errors == [], f"script errors on the QA page: {errors}"
    page.locator("#btn-logout").click()
    page.wait_for_url(live.url("/login"))

    # the agent reads the review and acknowledges it
    agent_context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="zh-CN")
    agent_context.set_default_timeout(10_000)
    try:
        agent, agent_errors = new_page(agent_context)
        agent.goto(live.url("/reviews"))
        expect(agent).to_have_url(live.url("/login"))
        log_in(agent, live, "AG1")
        agent.goto(live.url("/reviews"))
        card = agent.locator(f'article.review-card[data-id="{review_id}"]')
        expect(card).to_contain_text("得分 13 / 14")
        expect(card.locator(".review-state")).to_have_text("已提交 · 待坐席确认")
        expect(agent.locator("#summary")).to_have_text("共 1 条，1 条待你确认")
        deducted = card.locator("tr.deducted")
        expect(deducted).to_have_count(1)
        expect(deducted).to_contain_text("不得在机房用餐")
        expect(deducted).to_contain_text("通话中能听到吃东西的声音")
        card.locator(".btn-dispute").click()  # a dispute needs a reason
        expect(card.locator(".form-error")).to_have_text("申诉需要写明理由")
        card.locator(".reply").fill("已阅，今后注意")
        card.locator(".btn-ack").click()
        expect(card.locator(".review-state")).to_have_text("坐席已确认")
        expect(card).to_contain_text("已阅，今后注意")
        expect(agent.locator("#summary")).to_have_text("共 1 条，均已处理")
        agent.screenshot(path=str(live.screenshot_path("reviews.png")))  # for a look; not kept in docs/
        assert agent_errors == [], f"script errors on the reviews page: {agent_errors}"
    finally:
        agent_context.close()
    review = live.call_api("GET", f"/qa/reviews/{review_id}", token=live.login("TL1"))
    assert (review["state"], review["agent_comment"], review["total"]) == ("acknowledged", "已阅，今后注意", 13)
    assert review["items"]["no_eating"]["at"] is not None


def test_the_pages_need_a_login_and_send_each_role_to_its_own(live: Live, context: Any, seeded: SeededCall) -> None:
    page, errors = new_page(context)
    page.goto(live.url("/qa"))
    expect(page).to_have_url(live.url("/login"))
    # a team lead may replay and listen, not score; /reviews is for people who take calls
    log_in(page, live, "TL2")
    page.goto(live.url("/reviews"))
    expect(page).to_have_url(live.url("/qa"))
    page.goto(live.url(f"/qa?call={seeded.call_id}"))
    expect(page.locator("#call-id")).to_have_text(seeded.call_id)
    expect(page.locator("#sheet-note")).to_have_text("只读：你的角色可以回放通话，但不能评分")
    expect(page.locator("#btn-start")).to_be_hidden()
    expect(page.locator("#player")).to_be_visible()
    assert errors == [], f"script errors on the page: {errors}"
    page.locator("#btn-logout").click()
    page.wait_for_url(live.url("/login"))
    # an agent asking for /qa gets their own reviews
    log_in(page, live, "AG2")
    page.goto(live.url("/qa"))
    expect(page).to_have_url(live.url("/reviews"))
    expect(page.locator("#summary")).to_have_text("暂无质检结果")
