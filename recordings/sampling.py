"""Which calls QA reviews: a few per agent per week, weighted towards the calls most worth a look.

Short calls, refused outcomes and calls that missed a golden-opening checkpoint weigh more, so a
small sample still finds the problems; every call keeps some chance so good work is seen too.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime


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


def sample(
    calls: Iterable[CallSummary], per_agent_per_week: int, *, seed: int = 0, weights: Weights = Weights()
) -> list[CallSummary]:
    """Up to ``per_agent_per_week`` calls per agent and week, drawn without replacement by weight."""
    groups: dict[tuple[str, date], list[CallSummary]] = defaultdict(list)
    for call in calls:
        groups[(call.work_id, week_of(call.started_at))].append(call)
    rng = random.Random(seed)
    picked: list[CallSummary] = []
    for key in sorted(groups):
        pool = sorted(groups[key], key=lambda c: c.call_id)
        # Efraimidis–Spirakis: keys u^(1/w), take the largest; exact weighted sampling without replacement.
        keyed = sorted(pool, key=lambda c: rng.random() ** (1.0 / weight(c, weights)), reverse=True)
        picked.extend(keyed[:per_agent_per_week])
    return picked
