"""QA use cases that read the dialer's call records: script funnels and the weekly review sample.

The calculations live in ``recordings`` (pure); this module only feeds them the dialer's rows,
which only ``api`` may read together with QA's.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.models import CallAttempt, Campaign
from flows import FlowRegistry
from flows.runtime import TranscriptEntry, checkpoint_statuses, reached_from_transcript
from recordings.errors import NotVisible
from recordings.funnel import Funnel, funnel
from recordings.sampling import CallSummary, sample
from recordings.viewer import Viewer


async def _attempts(
    session: AsyncSession, viewer: Viewer, *, campaign_id: int | None, since: datetime, until: datetime
) -> list[tuple[CallAttempt, Campaign]]:
    query = (
        select(CallAttempt, Campaign)
        .join(Campaign, Campaign.id == CallAttempt.campaign_id)
        .where(CallAttempt.started_at >= since, CallAttempt.started_at < until, CallAttempt.transcript.is_not(None))
        .order_by(CallAttempt.id)
    )
    if campaign_id is not None:
        query = query.where(CallAttempt.campaign_id == campaign_id)
    if viewer.vendor_id is not None:
        query = query.where(Campaign.vendor_id == viewer.vendor_id)
    return [(a, c) for a, c in (await session.execute(query)).all()]


def _transcript(attempt: CallAttempt) -> list[TranscriptEntry]:
    return [TranscriptEntry.from_dict(e) for e in attempt.transcript or []]


async def campaign_funnel(
    session: AsyncSession,
    registry: FlowRegistry,
    viewer: Viewer,
    campaign_id: int,
    *,
    since: datetime,
    until: datetime,
) -> tuple[Funnel, list[dict[str, object]]]:
    """How many of a campaign's conversations reached each screen and which answers customers chose."""
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotVisible(f"no campaign {campaign_id}", details={"campaign": campaign_id})
    viewer.check(campaign.vendor_id, f"campaign {campaign_id}")
    rows = await _attempts(session, viewer, campaign_id=campaign_id, since=since, until=until)
    flow = registry.get(campaign.flow_id, campaign.flow_version)
    result = funnel(flow, [(_transcript(a), a.outcome) for a, _ in rows])
    return result, result.rows(flow)


async def sample_for_review(
    session: AsyncSession,
    registry: FlowRegistry,
    viewer: Viewer,
    *,
    per_agent_per_week: int,
    since: datetime,
    until: datetime,
    seed: int = 0,
) -> list[CallSummary]:
    """The calls QA should review this period: a few per agent per week, weighted to the risky ones."""
    calls = []
    for attempt, campaign in await _attempts(session, viewer, campaign_id=None, since=since, until=until):
        if attempt.work_id is None or attempt.call_id is None:
            continue
        flow = registry.get(campaign.flow_id, campaign.flow_version)
        transcript = _transcript(attempt)
        elapsed = transcript[-1].at if transcript else 0.0
        statuses = checkpoint_statuses(flow, reached_from_transcript(flow, transcript), elapsed=elapsed, ended=True)
        talk = (
            (attempt.ended_at - attempt.bridged_at).total_seconds()
            if attempt.ended_at is not None and attempt.bridged_at is not None
            else 0.0
        )
        calls.append(
            CallSummary(
                call_id=attempt.call_id,
                work_id=attempt.work_id,
                started_at=attempt.started_at,
                talk_seconds=talk,
                outcome_category=attempt.outcome_category,
                missed_checkpoints=sum(1 for s in statuses if s.status != "met"),
            )
        )
    return sample(calls, per_agent_per_week, seed=seed)
