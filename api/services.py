"""Use cases of the API that no domain package offers as one call: vendor-scoped lookups, live campaign
stats, call search, call detail/replay. Routes call one function here or one domain service.

Vendor scoping: another vendor's object raises ``PermissionDenied(other_vendor)``, which the error
handler answers 404, so its existence does not leak.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from agents.permissions import Role, require
from api.demo import call_record
from api.deps import Caller
from api.errors import ApiError, ObjectNotFound
from dialer.campaigns import get_campaign
from dialer.models import CallAttempt, Campaign, Lead
from recordings import reviews
from recordings.autochecks import CallFacts
from recordings.calllog import replay
from recordings.models import QaReview, RecordingFile
from waihu.pii import mask

__all__ = [
    "CampaignStats",
    "call_detail",
    "campaign_for",
    "campaign_stats",
    "get_review",
    "list_campaigns",
    "search_calls",
    "start_review",
]


@dataclass(frozen=True)
class CampaignStats:
    leads: dict[str, int]
    calls: dict[str, int]
    outcomes: dict[str, int]
    attempts: int
    answered: int
    abandoned: int

    @property
    def abandon_rate(self) -> float:
        return round(self.abandoned / self.answered, 4) if self.answered else 0.0


async def campaign_for(caller: Caller, campaign_id: int, permission: str) -> Campaign:
    """A campaign the caller may act on with ``permission`` (another vendor's: 404)."""
    campaign = await get_campaign(caller.session, campaign_id)
    require(caller.user, permission, vendor_id=campaign.vendor_id)
    return campaign


async def list_campaigns(caller: Caller) -> list[Campaign]:
    stmt = select(Campaign).order_by(Campaign.id)
    if caller.user.role != Role.ADMIN:
        stmt = stmt.where(Campaign.vendor_id == caller.user.vendor_id)
    return list((await caller.session.scalars(stmt)).all())


async def campaign_stats(session: AsyncSession, campaign_ids: Sequence[int]) -> dict[int, CampaignStats]:
    """Live stats from the leads and call_attempts tables, for several campaigns in three queries."""
    ids = list(campaign_ids)
    leads: dict[int, dict[str, int]] = {i: {} for i in ids}
    calls: dict[int, dict[str, int]] = {i: {} for i in ids}
    outcomes: dict[int, dict[str, int]] = {i: {} for i in ids}
    abandoned: dict[int, int] = dict.fromkeys(ids, 0)
    answered: dict[int, int] = dict.fromkeys(ids, 0)
    if ids:
        for cid, status, n in await session.execute(
            select(Lead.campaign_id, Lead.status, func.count())
            .where(Lead.campaign_id.in_(ids))
            .group_by(Lead.campaign_id, Lead.status)
        ):
            leads[cid][status] = n
        for cid, result, n, n_abandoned, n_answered in await session.execute(
            select(
                CallAttempt.campaign_id,
                CallAttempt.result,
                func.count(),
                func.count().filter(CallAttempt.abandoned.is_(True)),
                func.count().filter(CallAttempt.answered_at.is_not(None)),
            )
            .where(CallAttempt.campaign_id.in_(ids))
            .group_by(CallAttempt.campaign_id, CallAttempt.result)
        ):
            calls[cid][result] = n
            abandoned[cid] += n_abandoned
            answered[cid] += n_answered
        for cid, outcome, n in await session.execute(
            select(CallAttempt.campaign_id, CallAttempt.outcome, func.count())
            .where(CallAttempt.campaign_id.in_(ids), CallAttempt.outcome.is_not(None))
            .group_by(CallAttempt.campaign_id, CallAttempt.outcome)
        ):
            outcomes[cid][str(outcome)] = n
    return {
        i: CampaignStats(leads[i], calls[i], outcomes[i], sum(calls[i].values()), answered[i], abandoned[i])
        for i in ids
    }


async def search_calls(
    caller: Caller,
    *,
    since: datetime | None,
    until: datetime | None,
    campaign_id: int | None,
    work_id: str | None,
    outcome: str | None,
    phone_suffix: str | None,
    limit: int,
    offset: int,
) -> list[tuple[CallAttempt, str | None, int]]:
    """Calls the caller may see, newest first: (attempt, the lead's masked phone, the campaign's vendor)."""
    stmt = (
        select(CallAttempt, Lead.phone_masked, Campaign.vendor_id)
        .join(Campaign, Campaign.id == CallAttempt.campaign_id)
        .outerjoin(Lead, Lead.id == CallAttempt.lead_id)
        .order_by(CallAttempt.started_at.desc(), CallAttempt.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if caller.user.role != Role.ADMIN:
        stmt = stmt.where(Campaign.vendor_id == caller.user.vendor_id)
    if since is not None:
        stmt = stmt.where(CallAttempt.started_at >= since)
    if until is not None:
        stmt = stmt.where(CallAttempt.started_at < until)
    if campaign_id is not None:
        stmt = stmt.where(CallAttempt.campaign_id == campaign_id)
    if work_id is not None:
        stmt = stmt.where(CallAttempt.work_id == work_id)
    if outcome is not None:
        stmt = stmt.where(CallAttempt.outcome == outcome)
    if phone_suffix is not None:
        stmt = stmt.where(Lead.phone_masked.endswith(phone_suffix, autoescape=True))
    return [(a, m, v) for a, m, v in (await caller.session.execute(stmt)).all()]


async def _attempt(caller: Caller, call_id: str, permission: str) -> tuple[CallAttempt, Campaign]:
    attempt = await caller.session.scalar(select(CallAttempt).where(CallAttempt.call_id == call_id))
    if attempt is None:
        raise ObjectNotFound(f"no call {call_id}", details={"call_id": call_id})
    campaign = await get_campaign(caller.session, attempt.campaign_id)
    require(caller.user, permission, vendor_id=campaign.vendor_id)
    return attempt, campaign


async def call_detail(
    caller: Caller, call_id: str, *, permission: str, unmask: bool, reason: str | None
) -> dict[str, Any]:
    """A call's replay JSON (events, script steps, outcome, checks), masked unless ``unmask`` (audited)."""
    attempt, campaign = await _attempt(caller, call_id, permission)
    if unmask:
        require(caller.user, "pii.unmask")
        if not (reason and reason.strip()):
            raise ApiError("say why you unmask this call: ?reason=...", error_id="api.reason_required")
    state = caller.state
    record = await call_record(caller.session, state.vault, attempt, campaign)
    flow = state.flows.get(campaign.flow_id, campaign.flow_version)
    recording = await caller.session.scalar(select(RecordingFile).where(RecordingFile.call_id == call_id))
    log = await replay(
        caller.session,
        state.audit,
        viewer=caller.viewer,
        flow=flow,
        record=record,
        recording=recording,
        mask=mask,
        unmask=unmask,
        reason=reason,
    )
    await caller.session.commit()
    log["result"] = attempt.result
    log["cause"] = attempt.cause
    return log


async def start_review(caller: Caller, call_id: str, sheet_ref: str) -> QaReview:
    """A draft QA review of a call, its automatic items scored from the transcript."""
    attempt, campaign = await _attempt(caller, call_id, "qa.review")
    if attempt.work_id is None:
        raise ApiError(f"call {call_id} never reached an agent: nothing to review", error_id="api.call_unreviewable")
    state = caller.state
    sheet_id, _, version = sheet_ref.partition("@")
    sheet = state.sheets.get(sheet_id, int(version) if version else None).sheet
    record = await call_record(caller.session, state.vault, attempt, campaign)
    flow = state.flows.get(campaign.flow_id, campaign.flow_version)
    facts = CallFacts(flow, record.transcript, record.outcome, record.wrap_up_seconds, record.wrap_up_limit_seconds)
    call = reviews.CallRef(call_id, campaign.vendor_id, attempt.work_id, campaign.id, flow.ref)
    review = await reviews.start_review(
        caller.session, state.audit, viewer=caller.viewer, call=call, sheet=sheet, facts=facts, now=caller.now()
    )
    await caller.session.commit()
    return review


async def get_review(caller: Caller, review_id: int) -> QaReview:
    """A review the caller may see (another vendor's: 404)."""
    review = await caller.session.get(QaReview, review_id)
    if review is None or not caller.viewer.may_see(review.vendor_id):
        raise ObjectNotFound(f"no review {review_id}", details={"review": review_id})
    return review
