"""QA reports: scores by agent, vendor team or campaign over time, and the most-missed sheet items.

Only submitted and later reviews count (a draft is not a score yet), and a viewer sees only their
vendor's reviews.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from recordings.models import QaReview
from recordings.sampling import week_of
from recordings.viewer import Viewer

GroupBy = Literal["agent", "vendor", "campaign"]
Period = Literal["week", "month"]
COUNTED = ("submitted", "acknowledged", "disputed", "closed")


@dataclass(frozen=True)
class ScoreRow:
    key: str
    period: str
    reviews: int
    points: int
    max_points: int

    @property
    def percent(self) -> float:
        return round(100 * self.points / self.max_points, 1) if self.max_points else 0.0


async def _reviews(session: AsyncSession, viewer: Viewer, since: datetime, until: datetime) -> Sequence[QaReview]:
    query = select(QaReview).where(
        QaReview.state.in_(COUNTED), QaReview.created_at >= since, QaReview.created_at < until
    )
    if viewer.vendor_id is not None:
        query = query.where(QaReview.vendor_id == viewer.vendor_id)
    return (await session.scalars(query)).all()


def _period(moment: datetime, period: Period) -> str:
    return week_of(moment).isoformat() if period == "week" else f"{moment:%Y-%m}"


def _key(review: QaReview, group_by: GroupBy) -> str:
    value = {"agent": review.work_id, "vendor": review.vendor_id, "campaign": review.campaign_id}[group_by]
    return str(value) if value is not None else "-"


async def scores(
    session: AsyncSession,
    viewer: Viewer,
    *,
    group_by: GroupBy,
    period: Period,
    since: datetime,
    until: datetime,
) -> list[ScoreRow]:
    """Points over maximum per group and period, in time order."""
    sums: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for review in await _reviews(session, viewer, since, until):
        acc = sums[(_key(review, group_by), _period(review.created_at, period))]
        acc[0] += 1
        acc[1] += review.total
        acc[2] += review.max_total
    return [
        ScoreRow(key, per, n, points, maximum)
        for (key, per), (n, points, maximum) in sorted(sums.items(), key=lambda kv: (kv[0][1], kv[0][0]))
    ]


async def most_missed(
    session: AsyncSession, viewer: Viewer, *, since: datetime, until: datetime, limit: int = 10
) -> list[tuple[str, int]]:
    """Sheet items most often scored below their maximum, with how often."""
    missed: Counter[str] = Counter()
    for review in await _reviews(session, viewer, since, until):
        for item_id, item in review.items.items():
            if item.get("points") is not None and int(str(item["points"])) < int(str(item["max"])):
                missed[item_id] += 1
    return missed.most_common(limit)
