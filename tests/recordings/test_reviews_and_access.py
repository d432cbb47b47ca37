"""QA reviews through their states, vendor scoping, audited recording access, retention, sampling."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from flows import FlowRegistry
from recordings import access, reviews
from recordings.autochecks import CallFacts
from recordings.errors import NotVisible, RecordingDeleted, RecordingNotFound, ReviewRefused, ScoreInvalid
from recordings.models import RecordingFile
from recordings.reports import most_missed, scores
from recordings.sampling import CallSummary, sample
from recordings.sheets import SheetRegistry
from recordings.viewer import Viewer
from tests.flows.conftest import FakeClock
from waihu.audit import AuditLog
from waihu.db import session_factory
from waihu.migrate import upgrade
from waihu.models import AuditEntry

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
QA_A = Viewer("Q001", vendor_id=1)
QA_B = Viewer("Q101", vendor_id=2)
AGENT = Viewer("A001", vendor_id=1)
CLIENT = Viewer("ADMIN1", vendor_id=None)
CALL = reviews.CallRef("call-0001", vendor_id=1, work_id="A001", campaign_id=7, flow_ref="mobile-newspaper-trial@1")


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    await upgrade(engine)
    async with session_factory(engine)() as s:
        yield s


@pytest.fixture
def audit() -> AuditLog:
    return AuditLog(b"k" * 32)


async def _facts(clock: FakeClock, step: float) -> CallFacts:
    engine = FlowRegistry().engine("mobile-newspaper-trial")
    run = engine.new_run({"phone": "13812345678"}, clock=clock)
    await run.start()
    for label in ["是的", "生活", "好的", "好的"]:
        clock.advance(step)
        await run.choose(label)
    await run.close()
    return CallFacts(engine.flow, run.transcript, run.outcome, wrap_up_seconds=10, wrap_up_limit_seconds=30)


async def test_a_review_goes_draft_submitted_acknowledged_closed(session: AsyncSession, audit: AuditLog) -> None:
    sheet = SheetRegistry().get("discipline").sheet
    facts = await _facts(FakeClock(), step=20)  # the opening comes at 20 s: late
    review = await reviews.start_review(session, audit, viewer=QA_A, call=CALL, sheet=sheet, facts=facts, now=NOW)
    assert review.state == "draft"
    assert review.items["opening_15s"]["points"] == 0
    assert review.items["opening_15s"]["at"] == 20
    assert review.items["no_step_skipped"]["points"] == 1
    assert review.items["posture"]["points"] is None
    with pytest.raises(ScoreInvalid, match="score every item first"):
        await reviews.submit(session, audit, review.id, viewer=QA_A, now=NOW)
    for item in sheet.items:
        if item.auto is None:
            await reviews.score_item(session, review.id, viewer=QA_A, item_id=item.id, points=1)
    await reviews.score_item(
        session, review.id, viewer=QA_A, item_id="no_eating", points=0, comment="听到咀嚼声", at=12.5
    )
    with pytest.raises(ScoreInvalid):
        await reviews.score_item(session, review.id, viewer=QA_A, item_id="posture", points=2)
    with pytest.raises(ScoreInvalid, match="needs a comment"):
        await reviews.score_item(session, review.id, viewer=QA_A, item_id="opening_15s", points=1)
    review = await reviews.submit(session, audit, review.id, viewer=QA_A, now=NOW)
    assert (review.state, review.total, review.max_total) == ("submitted", 12, 14)
    with pytest.raises(ReviewRefused):
        await reviews.score_item(session, review.id, viewer=QA_A, item_id="posture", points=0)
    with pytest.raises(ReviewRefused, match="only the agent"):
        await reviews.respond(session, audit, review.id, agent=Viewer("A002", 1), accept=True, comment=None, now=NOW)
    review = await reviews.respond(session, audit, review.id, agent=AGENT, accept=True, comment="收到", now=NOW)
    assert review.state == "acknowledged"
    review = await reviews.close(session, audit, review.id, viewer=QA_A, note=None, now=NOW)
    assert review.state == "closed"
    await session.commit()
    actions = (await session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq))).all()
    assert actions == ["qa.review_start", "qa.review_submit", "qa.review_acknowledge", "qa.review_close"]
    assert (await audit.verify(session)).ok


async def test_a_dispute_needs_a_reason_and_a_settling_note(session: AsyncSession, audit: AuditLog) -> None:
    sheet = SheetRegistry().get("discipline").sheet
    review = await reviews.start_review(session, audit, viewer=QA_A, call=CALL, sheet=sheet, facts=None, now=NOW)
    for item in sheet.items:
        await reviews.score_item(session, review.id, viewer=QA_A, item_id=item.id, points=1)
    await reviews.submit(session, audit, review.id, viewer=QA_A, now=NOW)
    with pytest.raises(ReviewRefused, match="reason"):
        await reviews.respond(session, audit, review.id, agent=AGENT, accept=False, comment=None, now=NOW)
    review = await reviews.respond(session, audit, review.id, agent=AGENT, accept=False, comment="录音断了", now=NOW)
    assert review.state == "disputed"
    with pytest.raises(ReviewRefused, match="note"):
        await reviews.close(session, audit, review.id, viewer=QA_A, note=None, now=NOW)
    review = await reviews.close(session, audit, review.id, viewer=QA_A, note="复听后维持", now=NOW)
    assert review.state == "closed"


async def test_reviewers_see_only_their_vendor_and_never_review_themselves(
    session: AsyncSession, audit: AuditLog
) -> None:
    sheet = SheetRegistry().get("discipline").sheet
    with pytest.raises(NotVisible):
        await reviews.start_review(session, audit, viewer=QA_B, call=CALL, sheet=sheet, facts=None, now=NOW)
    with pytest.raises(ReviewRefused, match="own call"):
        await reviews.start_review(session, audit, viewer=AGENT, call=CALL, sheet=sheet, facts=None, now=NOW)
    review = await reviews.start_review(session, audit, viewer=CLIENT, call=CALL, sheet=sheet, facts=None, now=NOW)
    with pytest.raises(NotVisible):
        await reviews.score_item(session, review.id, viewer=QA_B, item_id="posture", points=1)
    assert await reviews.reviews_of_agent(session, QA_B, "A001") == []
    assert [r.id for r in await reviews.reviews_of_agent(session, QA_A, "A001")] == [review.id]


async def test_every_play_is_audited_and_retention_leaves_a_tombstone(
    session: AsyncSession, audit: AuditLog, tmp_path: Path
) -> None:
    wav = tmp_path / "call-0001.wav"
    wav.write_bytes(b"RIFF....WAVE")
    session.add(
        RecordingFile(
            call_id="call-0001",
            vendor_id=1,
            work_id="A001",
            path=str(wav),
            answer_offset=3.5,
            created_at=NOW,
            expires_at=NOW + timedelta(days=180),
        )
    )
    await session.flush()
    with pytest.raises(ReviewRefused, match="why"):
        await access.open_recording(session, audit, viewer=QA_A, call_id="call-0001", reason=" ", now=NOW)
    with pytest.raises(RecordingNotFound):
        await access.open_recording(session, audit, viewer=QA_B, call_id="call-0001", reason="质检", now=NOW)
    record = await access.open_recording(session, audit, viewer=QA_A, call_id="call-0001", reason="质检抽查", now=NOW)
    assert record.path == str(wav)
    await access.open_recording(
        session, audit, viewer=CLIENT, call_id="call-0001", reason="投诉核实", download=True, now=NOW
    )
    entries = (await session.scalars(select(AuditEntry).order_by(AuditEntry.seq))).all()
    assert [(e.actor, e.action) for e in entries] == [("Q001", "recording.play"), ("ADMIN1", "recording.download")]
    assert "质检抽查" in entries[0].details

    assert await access.purge_expired(session, audit, now=NOW + timedelta(days=179)) == []
    assert await access.purge_expired(session, audit, now=NOW + timedelta(days=180)) == ["call-0001"]
    assert not wav.exists()
    with pytest.raises(RecordingDeleted, match="retention"):
        await access.open_recording(session, audit, viewer=QA_A, call_id="call-0001", reason="再听", now=NOW)
    tombstone = await session.scalar(select(RecordingFile).where(RecordingFile.call_id == "call-0001"))
    assert tombstone is not None
    assert tombstone.deleted_reason == "retention"


def test_sampling_takes_n_per_agent_per_week_weighted_to_the_risky_calls() -> None:
    monday = datetime(2026, 11, 23, 10, tzinfo=UTC)
    calls = []
    for agent in ("A001", "A002"):
        for week in range(2):
            for i in range(40):
                risky = i < 4
                calls.append(
                    CallSummary(
                        call_id=f"{agent}-{week}-{i:02d}",
                        work_id=agent,
                        started_at=monday + timedelta(days=7 * week, hours=i % 8),
                        talk_seconds=20 if risky else 120,
                        outcome_category="refused" if risky else "success",
                        missed_checkpoints=1 if risky else 0,
                    )
                )
    picked = sample(calls, 3, seed=1)
    per_group = Counter((c.work_id, c.call_id.split("-")[1]) for c in picked)
    assert set(per_group.values()) == {3}
    assert len(per_group) == 4
    assert sample(calls, 3, seed=1) == picked  # reproducible
    # 4 risky calls of 40 weigh 8 each against 1: uniform sampling would give them 10% of the picks
    risky_share = sum(c.talk_seconds == 20 for seed in range(50) for c in sample(calls, 3, seed=seed)) / (50 * 12)
    assert 0.3 < risky_share < 0.6


async def test_reports_group_scores_and_find_the_most_missed_items(session: AsyncSession, audit: AuditLog) -> None:
    sheet = SheetRegistry().get("discipline").sheet
    plan = [  # (day offset, agent, items scored 0)
        (0, "A001", ["no_eating"]),
        (1, "A001", ["no_eating", "posture"]),
        (8, "A001", []),
        (2, "A002", ["no_eating"]),
    ]
    for i, (day, agent, zeros) in enumerate(plan):
        call = reviews.CallRef(f"c{i}", vendor_id=1, work_id=agent, campaign_id=5)
        review = await reviews.start_review(
            session, audit, viewer=QA_A, call=call, sheet=sheet, facts=None, now=NOW + timedelta(days=day)
        )
        for item in sheet.items:
            points = 0 if item.id in zeros else 1
            await reviews.score_item(session, review.id, viewer=QA_A, item_id=item.id, points=points)
        await reviews.submit(session, audit, review.id, viewer=QA_A, now=NOW + timedelta(days=day))
    draft = await reviews.start_review(
        session, audit, viewer=QA_A, call=reviews.CallRef("c9", 1, "A001"), sheet=sheet, facts=None, now=NOW
    )
    assert draft.state == "draft"  # drafts do not count

    since, until = NOW - timedelta(days=7), NOW + timedelta(days=30)
    rows = await scores(session, QA_A, group_by="agent", period="week", since=since, until=until)
    assert [(r.key, r.period, r.reviews, r.points, r.max_points) for r in rows] == [
        ("A001", "2026-11-23", 2, 25, 28),
        ("A002", "2026-11-23", 1, 13, 14),
        ("A001", "2026-11-30", 1, 14, 14),
    ]
    assert rows[0].percent == 89.3
    by_campaign = await scores(session, QA_A, group_by="campaign", period="month", since=since, until=until)
    assert [(r.key, r.period, r.reviews) for r in by_campaign] == [("5", "2026-11", 3), ("5", "2026-12", 1)]
    assert await most_missed(session, QA_A, since=since, until=until) == [("no_eating", 3), ("posture", 1)]
    assert await scores(session, QA_B, group_by="agent", period="week", since=since, until=until) == []
