"""QA use cases that read the dialer's call records: script funnels and the weekly review sample.

The calculations live in ``recordings`` (pure); this module only feeds them the dialer's rows,
which only ``api`` may read together with QA's.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.models import CallAttempt, Campaign, Lead
from flows import FlowRegistry
from flows.runtime import TranscriptEntry, checkpoint_statuses, reached_from_transcript
from recordings.errors import NotVisible
from recordings.funnel import Funnel, funnel
from recordings.models import QaReview
from recordings.sampling import CallSummary, sample, week_bounds, weight
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


async def _summaries(
    session: AsyncSession,
    registry: FlowRegistry,
    viewer: Viewer,
    *,
    since: datetime,
    until: datetime,
    campaign_id: int | None = None,
    zone: tzinfo | None = None,
) -> list[tuple[CallSummary, CallAttempt]]:
    """The reviewable calls of the period: conversations that reached an agent (``review start`` refuses the
    others), never the viewer's own (nobody reviews their own call); times in ``zone`` (weeks are the site's)."""
    out = []
    for attempt, campaign in await _attempts(session, viewer, campaign_id=campaign_id, since=since, until=until):
        if attempt.work_id is None or attempt.call_id is None or attempt.work_id == viewer.work_id:
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
        started = attempt.started_at.astimezone(zone) if zone is not None else attempt.started_at
        summary = CallSummary(
            call_id=attempt.call_id,
            work_id=attempt.work_id,
            started_at=started,
            talk_seconds=talk,
            outcome_category=attempt.outcome_category,
            missed_checkpoints=sum(1 for s in statuses if s.status != "met"),
        )
        out.append((summary, attempt))
    return out


async def sample_for_review(
    session: AsyncSession,
    registry: FlowRegistry,
    viewer: Viewer,
    *,
    per_agent_per_week: int,
    since: datetime,
    until: datetime,
    seed: int | str = 0,
    campaign_id: int | None = None,
    zone: tzinfo | None = None,
) -> list[CallSummary]:
    """The calls QA should review this period: a few per agent per week, weighted to the risky ones."""
    rows = await _summaries(session, registry, viewer, since=since, until=until, campaign_id=campaign_id, zone=zone)
    return sample([summary for summary, _ in rows], per_agent_per_week, seed=seed)


@dataclass(frozen=True)
class PickedCall:
    summary: CallSummary
    campaign_id: int
    outcome: str | None
    #: the lead's number as every call list shows it (138****5678)
    phone_masked: str | None
    weight: float
    #: the newest review of this call the viewer may see, if any
    review_id: int | None
    review_state: str | None


@dataclass(frozen=True)
class AgentSample:
    work_id: str
    #: reviewable calls of the agent that week
    calls: int
    picked: list[PickedCall]


@dataclass(frozen=True)
class WeeklySample:
    week: str
    since: datetime
    until: datetime
    per_agent: int
    agents: list[AgentSample]


async def weekly_sample(
    session: AsyncSession,
    registry: FlowRegistry,
    viewer: Viewer,
    *,
    week: str,
    zone: ZoneInfo,
    per_agent: int,
    campaign_id: int | None = None,
) -> WeeklySample:
    """The calls to review in ISO ``week`` (the site's ``zone``), per agent: the setting
    ``qa_samples_per_agent_week`` unless ``per_agent`` says otherwise. Seeded by the week, so asking again
    gives the same calls. Raises ``ValueError`` for a malformed week."""
    since, until = week_bounds(week, zone)
    rows = await _summaries(session, registry, viewer, since=since, until=until, campaign_id=campaign_id, zone=zone)
    picked = sample([summary for summary, _ in rows], per_agent, seed=week)
    attempts = {summary.call_id: attempt for summary, attempt in rows}
    counts = Counter(summary.work_id for summary, _ in rows)
    ids = [p.call_id for p in picked]
    lead_ids = {attempts[i].lead_id for i in ids if attempts[i].lead_id is not None}
    phones: dict[int, str | None] = {}
    if lead_ids:
        phones = dict((await session.execute(select(Lead.id, Lead.phone_masked).where(Lead.id.in_(lead_ids)))).all())
    latest: dict[str, QaReview] = {}
    if ids:
        query = select(QaReview).where(QaReview.call_id.in_(ids)).order_by(QaReview.id)
        if viewer.vendor_id is not None:
            query = query.where(QaReview.vendor_id == viewer.vendor_id)
        for review in (await session.scalars(query)).all():
            latest[review.call_id] = review
    by_agent: dict[str, list[PickedCall]] = {}
    for summary in picked:
        attempt = attempts[summary.call_id]
        found = latest.get(summary.call_id)
        by_agent.setdefault(summary.work_id, []).append(
            PickedCall(
                summary=summary,
                campaign_id=attempt.campaign_id,
                outcome=attempt.outcome,
                phone_masked=phones.get(attempt.lead_id) if attempt.lead_id is not None else None,
                weight=weight(summary),
                review_id=found.id if found is not None else None,
                review_state=found.state if found is not None else None,
            )
        )
    agents = [AgentSample(work_id, counts[work_id], by_agent.get(work_id, [])) for work_id in sorted(counts)]
    return WeeklySample(week, since, until, per_agent, agents)
