"""The replay of one call: every source on one timeline from the answer, masked unless unmasked (audited)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from flows import FlowRegistry
from recordings.calllog import CallRecord, TelephonyEvent, replay
from recordings.errors import NotVisible
from recordings.models import RecordingFile
from recordings.viewer import Viewer
from tests.flows.conftest import FakeClock
from waihu.audit import AuditLog
from waihu.db import session_factory
from waihu.migrate import upgrade
from waihu.models import AuditEntry
from waihu.pii import mask

DIALED = datetime(2026, 11, 27, 2, 0, 0, tzinfo=UTC)
ANSWERED = DIALED + timedelta(seconds=12)


@pytest.fixture
async def session(sqlite_engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    await upgrade(sqlite_engine)
    async with session_factory(sqlite_engine)() as s:
        yield s


async def _record() -> CallRecord:
    engine = FlowRegistry().engine("mobile-newspaper-trial")
    clock = FakeClock(ANSWERED.timestamp() + 1)  # the script starts 1 s after the answer
    run = engine.new_run({"phone": "13812345678"}, clock=clock, mask=mask)
    await run.start()
    run.tag_customer_type("busy_impatient")
    for label in ["是的", "新闻", "好的", "好的"]:
        clock.advance(8)
        await run.choose(label)
    await run.close()
    return CallRecord(
        call_id="call-0042",
        vendor_id=1,
        work_id="A001",
        campaign_id=3,
        started_at=DIALED,
        answered_at=ANSWERED,
        ended_at=ANSWERED + timedelta(seconds=40),
        outcome=run.outcome,
        flow_started_at=datetime.fromtimestamp(run.started_at, UTC),
        transcript=run.transcript,
        events=[
            TelephonyEvent(DIALED, "originated"),
            TelephonyEvent(DIALED + timedelta(seconds=2), "ringing"),
            TelephonyEvent(ANSWERED, "answered"),
            TelephonyEvent(ANSWERED + timedelta(seconds=40), "hung_up", {"cause": "normal"}),
        ],
        variables={"phone": "13812345678"},
        captured=run.captured,
        tags=run.tags,
        wrap_up_seconds=12,
        wrap_up_limit_seconds=60,
    )


def _recording() -> RecordingFile:
    return RecordingFile(
        call_id="call-0042",
        vendor_id=1,
        path="/var/spool/x.wav",
        duration_seconds=55,
        answer_offset=12.0,
        created_at=DIALED,
        expires_at=DIALED + timedelta(days=90),
    )


async def test_the_replay_puts_every_step_on_the_answer_timeline(session: AsyncSession) -> None:
    record = await _record()
    flow = FlowRegistry().get("mobile-newspaper-trial")
    log = await replay(
        session,
        AuditLog(b"k" * 32),
        viewer=Viewer("Q1", 1),
        flow=flow,
        record=record,
        recording=_recording(),
        mask=mask,
    )
    json.dumps(log, ensure_ascii=False)
    timeline = log["timeline"]
    assert [i["at"] for i in timeline] == sorted(i["at"] for i in timeline)
    assert timeline[0] == {"at": -12.0, "source": "telephony", "kind": "originated"}
    first_screen = next(i for i in timeline if i["source"] == "script" and i["kind"] == "enter")
    assert first_screen["at"] == 1.0
    assert first_screen["audio_at"] == 13.0
    assert "138****5678" in first_screen["text"]
    chosen = [i["label"] for i in timeline if i["kind"] == "choose"]
    assert chosen == ["是的", "新闻", "好的", "好的"]
    assert log["outcome"] == {"code": "trial_opened", "label": "同意开通手机报体验", "category": "success"}
    assert log["captured"]["column"] == "内蒙古新华手机报"
    assert log["customer_types"][0]["code"] == "busy_impatient"
    assert {c["status"] for c in log["checkpoints"]} == {"met"}
    assert log["checks"]["outcome_matches_last_step"]["passed"] is True
    assert log["checks"]["wrap_up_in_time"]["passed"] is True
    assert "13812345678" not in json.dumps(log, ensure_ascii=False)
    assert (await session.scalars(select(AuditEntry))).all() == []


async def test_unmasking_shows_the_number_and_is_audited(session: AsyncSession) -> None:
    record = await _record()
    flow = FlowRegistry().get("mobile-newspaper-trial")
    audit = AuditLog(b"k" * 32)
    log = await replay(
        session,
        audit,
        viewer=Viewer("ADMIN1", None),
        flow=flow,
        record=record,
        recording=None,
        mask=mask,
        unmask=True,
        reason="客户投诉核实",
    )
    assert "13812345678" in json.dumps(log, ensure_ascii=False)
    entry = (await session.scalars(select(AuditEntry))).one()
    assert (entry.actor, entry.action, entry.target) == ("ADMIN1", "pii.unmask", "call:call-0042")
    assert "客户投诉核实" in entry.details
    with pytest.raises(NotVisible):
        await replay(session, audit, viewer=Viewer("Q9", 2), flow=flow, record=record, recording=None, mask=mask)
