"""QA reviews: score a call against a sheet, then draft -> submitted -> acknowledged / disputed -> closed.

The automatic items are pre-filled from the call's transcript; the reviewer may overrule them with
a comment. Only reviewers who may see the call's vendor score it; only the call's agent
acknowledges or disputes. Every transition is written to the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from recordings.autochecks import CallFacts, run_checks
from recordings.errors import ReviewRefused, ScoreInvalid
from recordings.models import QaReview
from recordings.sheets import QaSheet
from recordings.viewer import Viewer
from waihu.audit import AuditLog


@dataclass(frozen=True)
class CallRef:
    """The call being reviewed, as the dialer recorded it."""

    call_id: str
    vendor_id: int | None
    work_id: str
    campaign_id: int | None = None
    flow_ref: str | None = None


async def _get(session: AsyncSession, review_id: int, viewer: Viewer) -> QaReview:
    review = await session.get(QaReview, review_id)
    if review is None:
        raise ReviewRefused(f"no review {review_id}", error_id="qa.review_not_found", details={"review": review_id})
    viewer.check(review.vendor_id, f"review {review_id}")
    return review


def _require_state(review: QaReview, *allowed: str) -> None:
    if review.state not in allowed:
        raise ReviewRefused(
            f"review {review.id} is {review.state}; this needs it {' or '.join(allowed)}",
            details={"state": review.state, "allowed": list(allowed)},
        )


def _total(review: QaReview) -> int:
    return sum(int(str(item.get("points") or 0)) for item in review.items.values())


async def start_review(
    session: AsyncSession,
    audit: AuditLog,
    *,
    viewer: Viewer,
    call: CallRef,
    sheet: QaSheet,
    facts: CallFacts | None,
    now: datetime,
) -> QaReview:
    """A draft review with the automatic items scored from the transcript (when there is one)."""
    viewer.check(call.vendor_id, f"call {call.call_id}")
    if viewer.work_id == call.work_id:
        raise ReviewRefused("nobody reviews their own call", details={"call": call.call_id})
    results = run_checks(facts) if facts is not None else {}
    items: dict[str, dict[str, object]] = {}
    for item in sheet.items:
        entry: dict[str, object] = {"points": None, "max": item.points, "comment": None, "at": None, "auto": None}
        result = results.get(item.auto) if item.auto else None
        if result is not None:
            entry["auto"] = {"passed": result.passed, "reason": result.reason}
            entry["at"] = result.at
            if result.passed is not None:
                entry["points"] = item.points if result.passed else 0
            else:  # not applicable: full points, said so
                entry["points"] = item.points
                entry["comment"] = result.reason
        items[item.id] = entry
    review = QaReview(
        call_id=call.call_id,
        vendor_id=call.vendor_id,
        work_id=call.work_id,
        campaign_id=call.campaign_id,
        flow_ref=call.flow_ref,
        reviewer=viewer.work_id,
        sheet_id=sheet.id,
        sheet_version=sheet.version,
        items=items,
        total=0,
        max_total=sheet.max_points,
        state="draft",
        created_at=now,
    )
    review.total = _total(review)
    session.add(review)
    await session.flush()
    await audit.append(
        session,
        actor=viewer.work_id,
        action="qa.review_start",
        target=f"call:{call.call_id}",
        details={"review": review.id},
    )
    return review


async def score_item(
    session: AsyncSession,
    review_id: int,
    *,
    viewer: Viewer,
    item_id: str,
    points: int,
    comment: str | None = None,
    at: float | None = None,
) -> QaReview:
    """Set one item's points (0..max) with a comment and an offset into the recording."""
    review = await _get(session, review_id, viewer)
    _require_state(review, "draft")
    if review.reviewer != viewer.work_id:
        raise ReviewRefused("only the reviewer edits a draft", details={"reviewer": review.reviewer})
    item = review.items.get(item_id)
    if item is None:
        raise ScoreInvalid(f"sheet has no item `{item_id}`", details={"items": sorted(review.items)})
    maximum = int(str(item["max"]))
    if not 0 <= points <= maximum:
        raise ScoreInvalid(f"`{item_id}` takes 0 to {maximum} points, not {points}", details={"item": item_id})
    if at is not None and at < 0:
        raise ScoreInvalid("the offset into the recording cannot be negative", details={"at": at})
    auto = item.get("auto")
    overrules = isinstance(auto, dict) and auto.get("passed") is not None and points != item.get("points")
    if overrules and not comment:
        raise ScoreInvalid(f"overruling the automatic check of `{item_id}` needs a comment", details={"item": item_id})
    review.items = {**review.items, item_id: {**item, "points": points, "comment": comment, "at": at}}
    review.total = _total(review)
    await session.flush()
    return review


async def submit(session: AsyncSession, audit: AuditLog, review_id: int, *, viewer: Viewer, now: datetime) -> QaReview:
    review = await _get(session, review_id, viewer)
    _require_state(review, "draft")
    if review.reviewer != viewer.work_id:
        raise ReviewRefused("only the reviewer submits", details={"reviewer": review.reviewer})
    missing = sorted(k for k, v in review.items.items() if v.get("points") is None)
    if missing:
        raise ScoreInvalid(f"score every item first: {', '.join(missing)}", details={"missing": missing})
    review.state, review.submitted_at = "submitted", now
    await session.flush()
    await audit.append(
        session,
        actor=viewer.work_id,
        action="qa.review_submit",
        target=f"call:{review.call_id}",
        details={"review": review.id, "total": review.total, "max": review.max_total},
    )
    return review


async def respond(
    session: AsyncSession,
    audit: AuditLog,
    review_id: int,
    *,
    agent: Viewer,
    accept: bool,
    comment: str | None,
    now: datetime,
) -> QaReview:
    """The reviewed agent acknowledges the review, or disputes it with a reason."""
    review = await _get(session, review_id, agent)
    _require_state(review, "submitted")
    if agent.work_id != review.work_id:
        raise ReviewRefused("only the agent of the call acknowledges or disputes", details={"agent": review.work_id})
    if not accept and not comment:
        raise ReviewRefused("a dispute needs a reason", details={"review": review.id})
    review.state = "acknowledged" if accept else "disputed"
    review.acknowledged_at = now
    review.agent_comment = comment
    await session.flush()
    await audit.append(
        session,
        actor=agent.work_id,
        action="qa.review_acknowledge" if accept else "qa.review_dispute",
        target=f"call:{review.call_id}",
        details={"review": review.id},
    )
    return review


async def close(
    session: AsyncSession, audit: AuditLog, review_id: int, *, viewer: Viewer, note: str | None, now: datetime
) -> QaReview:
    """Close an acknowledged review, or settle a disputed one (the note says how)."""
    review = await _get(session, review_id, viewer)
    _require_state(review, "acknowledged", "disputed")
    if review.state == "disputed" and not note:
        raise ReviewRefused("settling a dispute needs a note", details={"review": review.id})
    if viewer.work_id == review.work_id:
        raise ReviewRefused("the reviewed agent does not close their own review", details={"review": review.id})
    review.state, review.closed_at = "closed", now
    await session.flush()
    await audit.append(
        session,
        actor=viewer.work_id,
        action="qa.review_close",
        target=f"call:{review.call_id}",
        details={"review": review.id, "note": note},
    )
    return review


async def reviews_of_agent(session: AsyncSession, viewer: Viewer, work_id: str) -> list[QaReview]:
    """Every review of ``work_id`` the viewer may see, oldest first."""
    return list(reversed(await list_reviews(session, viewer, work_id=work_id, limit=None)))


async def list_reviews(
    session: AsyncSession,
    viewer: Viewer,
    *,
    call_id: str | None = None,
    work_id: str | None = None,
    state: str | None = None,
    limit: int | None = 200,
) -> list[QaReview]:
    """Reviews the viewer may see (their vendor's; the client: all), newest first; ``limit=None``: all."""
    query = select(QaReview).order_by(QaReview.created_at.desc(), QaReview.id.desc()).limit(limit)
    if viewer.vendor_id is not None:
        query = query.where(QaReview.vendor_id == viewer.vendor_id)
    if call_id is not None:
        query = query.where(QaReview.call_id == call_id)
    if work_id is not None:
        query = query.where(QaReview.work_id == work_id)
    if state is not None:
        query = query.where(QaReview.state == state)
    return list((await session.scalars(query)).all())
