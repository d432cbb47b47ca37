"""QA: call replay, scoring sheets, reviews (start, score, submit, the agent's acknowledgement), reports."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from api import services
from api.deps import Caller, require_permission
from api.errors import ApiError
from api.qa_service import WeeklySample, weekly_sample
from api.schemas.calls import (
    AckIn,
    CloseIn,
    MissedOut,
    ReplayOut,
    ReviewOut,
    ReviewStartIn,
    SampleAgentOut,
    SampleCallOut,
    SampleOut,
    ScoreIn,
    ScoreRowOut,
    SheetItemOut,
    SheetOut,
)
from api.schemas.common import ERRORS, Id
from recordings import reports, reviews
from recordings.models import QaReview
from recordings.sampling import week_label
from recordings.sheets import QaSheet
from waihu.pii import mask_text

router = APIRouter(tags=["qa"], responses=ERRORS)
QaViewer = Annotated[Caller, Depends(require_permission("qa.view"))]
Reviewer = Annotated[Caller, Depends(require_permission("qa.review"))]


def sheet_out(sheet: QaSheet) -> SheetOut:
    return SheetOut(
        ref=sheet.ref,
        id=sheet.id,
        version=sheet.version,
        title=sheet.title,
        max_points=sheet.max_points,
        items=[
            SheetItemOut(id=i.id, label=i.label, source=i.source, points=i.points, auto=i.auto) for i in sheet.items
        ],
    )


def _masked(text: object) -> str | None:
    return None if text is None else mask_text(str(text))


def review_out(review: QaReview) -> ReviewOut:
    """Comments are free text: masked (a reviewer may quote a number heard on the call)."""
    return ReviewOut(
        id=review.id,
        call_id=review.call_id,
        vendor_id=review.vendor_id,
        work_id=review.work_id,
        campaign_id=review.campaign_id,
        flow_ref=review.flow_ref,
        reviewer=review.reviewer,
        sheet=f"{review.sheet_id}@{review.sheet_version}",
        items={k: {**v, "comment": _masked(v.get("comment"))} for k, v in review.items.items()},
        total=review.total,
        max_total=review.max_total,
        state=review.state,
        agent_comment=_masked(review.agent_comment),
        created_at=review.created_at,
        submitted_at=review.submitted_at,
        acknowledged_at=review.acknowledged_at,
    )


@router.get("/qa/calls/{call_id}/replay", response_model=ReplayOut)
async def get_replay(
    call_id: str,
    caller: QaViewer,
    unmask: bool = False,
    reason: Annotated[str | None, Query(max_length=500)] = None,
) -> dict[str, object]:
    """The replay JSON: telephony events and script steps on one timeline, with recording offsets and checks."""
    return await services.call_detail(caller, call_id, permission="qa.view", unmask=unmask, reason=reason)


def sample_out(found: WeeklySample, campaign_id: int | None) -> SampleOut:
    return SampleOut(
        week=found.week,
        since=found.since,
        until=found.until,
        per_agent=found.per_agent,
        campaign_id=campaign_id,
        agents=[
            SampleAgentOut(
                work_id=agent.work_id,
                calls=agent.calls,
                picked=[
                    SampleCallOut(
                        call_id=p.summary.call_id,
                        campaign_id=p.campaign_id,
                        work_id=p.summary.work_id,
                        phone_masked=p.phone_masked,
                        started_at=p.summary.started_at.astimezone(UTC),
                        talk_seconds=round(p.summary.talk_seconds, 3),
                        outcome=p.outcome,
                        outcome_category=p.summary.outcome_category,
                        missed_checkpoints=p.summary.missed_checkpoints,
                        weight=p.weight,
                        review_id=p.review_id,
                        review_state=p.review_state,
                    )
                    for p in agent.picked
                ],
            )
            for agent in found.agents
        ],
    )


async def review_sample(
    caller: Caller, *, week: str | None, campaign_id: int | None, per_agent: int | None
) -> SampleOut:
    """The week's calls to review per agent (the API's and ``waihu qa sample``'s): vendor-scoped, reproducible."""
    settings = caller.state.settings
    zone = settings.zone
    if campaign_id is not None:
        await services.campaign_for(caller, campaign_id, "qa.review")  # another vendor's: 404
    label = week or week_label(caller.now().astimezone(zone))
    try:
        found = await weekly_sample(
            caller.session,
            caller.state.flows,
            caller.viewer,
            week=label,
            zone=zone,
            per_agent=settings.qa_samples_per_agent_week if per_agent is None else per_agent,
            campaign_id=campaign_id,
        )
    except ValueError as exc:
        raise ApiError(str(exc), error_id="api.week_invalid", details={"week": label}) from None
    return sample_out(found, campaign_id)


@router.get("/qa/sample", response_model=SampleOut)
async def get_sample(
    caller: Reviewer,
    week: Annotated[
        str | None, Query(pattern=r"^\d{4}-W\d{2}$", description="ISO week, e.g. 2026-W48 (default: this week)")
    ] = None,
    campaign_id: Annotated[int | None, Query(ge=1, le=2**62, description="only this campaign's calls")] = None,
    per_agent: Annotated[
        int | None, Query(ge=0, le=100, description="calls per agent (default: the setting qa_samples_per_agent_week)")
    ] = None,
) -> SampleOut:
    """The calls to review this week, per agent, weighted to short calls, refusals and missed checkpoints.

    Weeks are the site's (WAIHU_TIMEZONE); the draw is seeded by the week, so the same question gets the same
    calls. Only calls that reached an agent (and not the caller's own) are drawn; numbers masked."""
    return await review_sample(caller, week=week, campaign_id=campaign_id, per_agent=per_agent)


@router.get("/qa/sheets", response_model=list[SheetOut])
async def get_sheets(caller: QaViewer) -> list[SheetOut]:
    """The scoring sheets (the discipline sheet of 第三篇, …)."""
    return [sheet_out(s.sheet) for s in caller.state.sheets.all()]


@router.post("/qa/reviews", response_model=ReviewOut, status_code=201)
async def post_review(body: ReviewStartIn, caller: Reviewer) -> ReviewOut:
    """Start a draft review of a call against a sheet; automatic items come pre-scored."""
    return review_out(await services.start_review(caller, body.call_id, body.sheet))


@router.get("/qa/reviews", response_model=list[ReviewOut])
async def list_reviews(
    caller: QaViewer,
    call_id: Annotated[str | None, Query(max_length=64, description="reviews of this call")] = None,
    work_id: Annotated[str | None, Query(max_length=32, description="reviews of this agent")] = None,
    state: Annotated[
        Literal["draft", "submitted", "acknowledged", "disputed", "closed"] | None, Query(description="in this state")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> list[ReviewOut]:
    """Reviews of the caller's vendor (admins: all), newest first: a call's reviews, an agent's, the disputed ones."""
    found = await reviews.list_reviews(
        caller.session, caller.viewer, call_id=call_id, work_id=work_id, state=state, limit=limit
    )
    return [review_out(r) for r in found]


@router.get("/qa/reviews/{review_id}", response_model=ReviewOut)
async def get_review(review_id: Id, caller: QaViewer) -> ReviewOut:
    return review_out(await services.get_review(caller, review_id))


@router.post("/qa/reviews/{review_id}/scores", response_model=ReviewOut)
async def post_score(review_id: Id, body: ScoreIn, caller: Reviewer) -> ReviewOut:
    """Score one item (0..max); overruling an automatic check needs a comment."""
    review = await reviews.score_item(
        caller.session,
        review_id,
        viewer=caller.viewer,
        item_id=body.item_id,
        points=body.points,
        comment=body.comment,
        at=body.at,
    )
    await caller.session.commit()
    return review_out(review)


@router.post("/qa/reviews/{review_id}/submit", response_model=ReviewOut)
async def post_submit(review_id: Id, caller: Reviewer) -> ReviewOut:
    review = await reviews.submit(caller.session, caller.state.audit, review_id, viewer=caller.viewer, now=caller.now())
    await caller.session.commit()
    return review_out(review)


@router.post("/qa/reviews/{review_id}/ack", response_model=ReviewOut)
async def post_ack(
    review_id: Id, body: AckIn, caller: Annotated[Caller, Depends(require_permission("call.take"))]
) -> ReviewOut:
    """The reviewed agent acknowledges the review, or disputes it with a reason."""
    review = await reviews.respond(
        caller.session,
        caller.state.audit,
        review_id,
        agent=caller.viewer,
        accept=body.accept,
        comment=body.comment,
        now=caller.now(),
    )
    await caller.session.commit()
    return review_out(review)


@router.post("/qa/reviews/{review_id}/close", response_model=ReviewOut)
async def post_close(review_id: Id, body: CloseIn, caller: Reviewer) -> ReviewOut:
    """Close an acknowledged review, or settle a disputed one with a note (never by the reviewed agent)."""
    review = await reviews.close(
        caller.session, caller.state.audit, review_id, viewer=caller.viewer, note=body.note, now=caller.now()
    )
    await caller.session.commit()
    return review_out(review)


@router.get("/qa/my-reviews", response_model=list[ReviewOut])
async def get_my_reviews(caller: Annotated[Caller, Depends(require_permission("call.take"))]) -> list[ReviewOut]:
    """The caller's own reviewed calls (submitted and later; never a reviewer's draft), newest first, each item
    with its sheet label, so the agent reads what was scored without ``qa.view``."""
    mine = await reviews.reviews_of_agent(caller.session, caller.viewer, caller.work_id)
    out: list[ReviewOut] = []
    for review in reversed(mine):
        if review.state == "draft":
            continue
        row = review_out(review)
        sheet = caller.state.sheets.get(review.sheet_id, review.sheet_version).sheet
        labels = {item.id: (item.label, item.source) for item in sheet.items}
        for item_id, item in row.items.items():
            label, source = labels.get(item_id, (item_id, None))
            item["label"], item["source"] = label, source
        out.append(row)
    return out


@router.get("/qa/reports/scores", response_model=list[ScoreRowOut])
async def get_scores(
    caller: QaViewer,
    since: datetime,
    until: datetime,
    group_by: Literal["agent", "vendor", "campaign"] = "agent",
    period: Literal["week", "month"] = "week",
) -> list[ScoreRowOut]:
    """Points over maximum per group and period (submitted reviews only)."""
    rows = await reports.scores(
        caller.session, caller.viewer, group_by=group_by, period=period, since=_utc(since), until=_utc(until)
    )
    return [
        ScoreRowOut(
            key=r.key, period=r.period, reviews=r.reviews, points=r.points, max_points=r.max_points, percent=r.percent
        )
        for r in rows
    ]


@router.get("/qa/reports/missed", response_model=list[MissedOut])
async def get_missed(
    caller: QaViewer, since: datetime, until: datetime, limit: Annotated[int, Query(ge=1, le=100)] = 10
) -> list[MissedOut]:
    """The sheet items most often scored below their maximum."""
    rows = await reports.most_missed(caller.session, caller.viewer, since=_utc(since), until=_utc(until), limit=limit)
    return [MissedOut(item_id=item, times=n) for item, n in rows]


def _utc(moment: datetime) -> datetime:
    from datetime import UTC

    return moment if moment.tzinfo is not None and moment.utcoffset() is not None else moment.replace(tzinfo=UTC)
