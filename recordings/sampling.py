"""Which calls QA reviews: a few per agent per week, weighted towards the calls most worth a look.

Short calls, refused outcomes and calls that missed a golden-opening checkpoint weigh more, so a
small sample still finds the problems; every call keeps some chance so good work is seen too.

The draw is reproducible: each call's random key comes from a hash of the seed (the week, for QA's
weekly sample) and its call id, not from a generator shared by all the calls, so asking again gives
the same calls, and one agent's pick does not change with who asks (vendor scope), with a campaign
filter or with the other agents' calls. Calls made later in the week join the draw without
reshuffling it: a new call is picked only if its key beats the picked ones'.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class CallSummary:
    call_id: str
    work_id: str
    started_at: datetime
    talk_seconds: float
    outcome_category: str | None
    missed_checkpoints: int = 0


@dataclass(frozen=True)
class Weights:
    base: float = 1.0
    short_call: float = 2.0
    short_call_seconds: float = 30.0
    refused: float = 2.0
    missed_checkpoint: float = 3.0


def weight(call: CallSummary, w: Weights = Weights()) -> float:
    value = w.base
    if call.talk_seconds < w.short_call_seconds:
        value += w.short_call
    if call.outcome_category in ("refused", "do_not_call"):
        value += w.refused
    if call.missed_checkpoints:
        value += w.missed_checkpoint
    return value


def week_of(moment: datetime) -> date:
    """The Monday of the ISO week (in the timestamps' own timezone)."""
    iso = moment.isocalendar()
    return date.fromisocalendar(iso.year, iso.week, 1)


_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


def week_label(moment: datetime) -> str:
    """The ISO week of ``moment`` (in its own timezone), as ``2026-W48``."""
    iso = moment.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def week_bounds(week: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The ISO week ``2026-W48`` as a UTC range: Monday 00:00 to the next Monday 00:00 in ``zone``.

    Raises ``ValueError`` for anything else (a malformed label, week 54)."""
    found = _WEEK.match(week)
    if found is None:
        raise ValueError(f"a week is written like 2026-W48, not {week!r}")
    try:
        monday = date.fromisocalendar(int(found[1]), int(found[2]), 1)
    except ValueError as exc:  # week 0, or week 53 of a year with 52
        raise ValueError(f"{week} is not a week of {found[1]}: {exc}") from None
    start = datetime.combine(monday, time(), zone)
    end = datetime.combine(monday + timedelta(days=7), time(), zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def _uniform(seed: int | str, call_id: str) -> float:
    """A number in (0, 1) fixed by the seed and the call."""
    digest = hashlib.sha256(f"{seed}\x00{call_id}".encode()).digest()
    return (int.from_bytes(digest[:8], "big") + 1) / (2**64 + 2)


def sample(
    calls: Iterable[CallSummary], per_agent_per_week: int, *, seed: int | str = 0, weights: Weights = Weights()
) -> list[CallSummary]:
    """Up to ``per_agent_per_week`` calls per agent and week (of ``started_at`` in its own timezone), drawn
    without replacement by weight; agents and weeks in order, each group's picks most-wanted first."""
    groups: dict[tuple[str, date], list[CallSummary]] = defaultdict(list)
    for call in calls:
        groups[(call.work_id, week_of(call.started_at))].append(call)
    picked: list[CallSummary] = []
    if per_agent_per_week <= 0:
        return picked
    for key in sorted(groups):
        # Efraimidis–Spirakis: keys u^(1/w), take the largest; exact weighted sampling without replacement.
        keyed = sorted(
            groups[key],
            key=lambda c: (_uniform(seed, c.call_id) ** (1.0 / weight(c, weights)), c.call_id),
            reverse=True,
        )
        picked.extend(keyed[:per_agent_per_week])
    return picked
