"""How many calls to place now: pure functions of a snapshot of the floor, no I/O.

Policies:

- ``preview``: never dials by itself; the agent sees the masked lead and dials or skips.
- ``progressive``: one call per ready agent not already covered by a call in flight.
- ``predictive``: dials ahead. From recent completed calls it estimates the live-answer probability,
  the distributions of answer delay and of non-live durations, talk (lognormal, mean and cv) and
  wrap-up times. For every instant of the next ~25 s it estimates the agents free by then (ready,
  ending wrap-up, ending a call given its elapsed talk) and the live answers due by then (calls in
  flight given their elapsed ring time, plus the calls later decisions will add), with the variance of
  both; a new call is placed while its own chance of finding no agent within 2 s of answering stays
  under an allowance. The allowance is what holds the campaign's abandon cap (default 3%) over the
  whole campaign and over every rolling hour: it shrinks as the rate nears the cap, shrinks for small
  teams (an hour of 5 agents allows 4 abandons), and at ``hard_share`` of the cap predictive dials
  progressively, which abandons nobody. It falls back to progressive with fewer than ``min_agents``
  logged-in agents (3: with fewer, an early answer has no second agent to go to) or fewer samples than
  ``min_attempts`` / ``min_live`` / ``min_talks``.
- ``oracle_delay``: the benchmark's upper bound; it knows every customer's behaviour in advance.

:class:`RecentCalls` and :class:`AbandonLedger` are the small accumulators a runner feeds to build
a snapshot's statistics; they do no I/O either. The defaults were tuned with ``bench/pacing.py``
(see docs/benchmarks.md).
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_right
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from dialer.errors import PacingError

__all__ = [
    "HOUR",
    "AbandonCounts",
    "AbandonLedger",
    "DialMode",
    "PacingSettings",
    "PacingSnapshot",
    "PacingStats",
    "RecentCalls",
    "abandon_pressure",
    "calls_to_place",
    "oracle_delay",
    "predictive",
    "preview",
    "progressive",
    "projected_hour_answers",
]

HOUR = 3600.0
GRACE = 2.0  # seconds an answered customer may wait for an agent before the safe-harbor message


class DialMode(StrEnum):
    PREVIEW = "preview"
    PROGRESSIVE = "progressive"
    PREDICTIVE = "predictive"


@dataclass(frozen=True, slots=True)
class PacingSettings:
    """A campaign's pacing knobs; the defaults are the ones the benchmark was tuned with."""

    max_abandon_rate: float = 0.03
    min_agents: int = 3
    min_attempts: int = 50
    min_live: int = 15
    min_talks: int = 10
    #: at this share of the cap (rolling hour or campaign), predictive dials progressively
    hard_share: float = 0.9
    #: the most a new call may risk being abandoned; from ``knee`` x the hard limit (``hard_share`` x the
    #: cap) on, the allowance falls linearly to ``risk_min`` at the hard limit
    risk: float = 0.15
    risk_min: float = 0.05
    knee: float = 0.7
    #: below this many abandons allowed per hour (cap x answers), the allowance shrinks in proportion
    budget_floor: float = 7.0
    #: weight of the answers that later decisions' calls will bring within the look-ahead
    future: float = 1.5
    #: look-ahead resolution, seconds
    step: float = 2.0
    max_calls_per_decision: int = 50

    def __post_init__(self) -> None:
        if not 0.0 < self.max_abandon_rate <= 1.0:
            raise PacingError("max_abandon_rate must be in (0, 1]", details={"value": self.max_abandon_rate})
        if self.min_agents < 1 or self.min_attempts < 1 or self.min_live < 1 or self.min_talks < 1:
            raise PacingError("minimum agent and sample counts must be positive")
        if not 0.0 < self.hard_share <= 1.0 or not 0.0 <= self.knee < 1.0 or not 0.0 <= self.risk_min <= self.risk:
            raise PacingError("hard_share must be in (0, 1], knee in [0, 1), 0 <= risk_min <= risk")


@dataclass(frozen=True, slots=True)
class PacingStats:
    """What recent completed calls tell about the customers and the agents."""

    attempts: int = 0  # resolved attempts in the window (live answers + not live)
    p_live: float = 0.0
    live_delays: tuple[float, ...] = ()  # sorted: originate -> answer, live answers
    other_durations: tuple[float, ...] = ()  # sorted: originate -> end, attempts that were not live
    talks: int = 0
    talk_mean: float = 0.0
    talk_cv: float = 0.0
    wrap_mean: float = 0.0

    def sufficient(self, settings: PacingSettings) -> bool:
        return (
            self.attempts >= settings.min_attempts
            and len(self.live_delays) >= settings.min_live
            and self.talks >= settings.min_talks
        )


@dataclass(frozen=True, slots=True)
class AbandonCounts:
    """Live answers and abandons, whole campaign and the trailing hour (``window`` s of it elapsed so far)."""

    answers: int = 0
    abandons: int = 0
    hour_answers: int = 0
    hour_abandons: int = 0
    window: float = HOUR


@dataclass(frozen=True, slots=True)
class PacingSnapshot:
    """The floor right now. Elapsed times are seconds since the state began (talk, wrap-up, dialing)."""

    ready_agents: int
    talking: tuple[float, ...] = ()
    wrapping: tuple[float, ...] = ()
    dialing: tuple[float, ...] = ()  # calls placed, not yet answered or ended
    waiting: int = 0  # answered calls waiting for an agent (at most 2 s)
    stats: PacingStats = field(default_factory=PacingStats)
    abandons: AbandonCounts = field(default_factory=AbandonCounts)

    @property
    def agents(self) -> int:
        return self.ready_agents + len(self.talking) + len(self.wrapping)


# -- policies ---------------------------------------------------------------------------------------


def preview(snapshot: PacingSnapshot, settings: PacingSettings | None = None) -> int:
    """Preview places no call by itself: the agent dials."""
    return 0


def progressive(snapshot: PacingSnapshot, settings: PacingSettings | None = None) -> int:
    """One call per ready agent that no call in flight (or answered and waiting) is already meant for."""
    return max(0, snapshot.ready_agents - len(snapshot.dialing) - snapshot.waiting)


def calls_to_place(mode: DialMode, snapshot: PacingSnapshot, settings: PacingSettings | None = None) -> int:
    """The runner's single entry point: the campaign's dial mode picks the policy."""
    if mode is DialMode.PREVIEW:
        return preview(snapshot)
    if mode is DialMode.PROGRESSIVE:
        return progressive(snapshot)
    return predictive(snapshot, settings)


def projected_hour_answers(counts: AbandonCounts) -> float:
    """Live answers the current rolling hour will hold: in the first hour, the pace so far over a full hour."""
    answers = float(counts.hour_answers)
    if 0.0 < counts.window < HOUR:
        answers *= HOUR / counts.window
    return answers


def abandon_pressure(counts: AbandonCounts, settings: PacingSettings) -> float:
    """How close the abandon rate is to the hard limit (``hard_share`` x the cap): 0 .. 1 and beyond.

    The rolling hour counts one abandon more than it holds (the next one must still fit under the cap,
    which matters for small teams), over the answers projected for a full hour, so that the first
    minutes of a campaign neither panic on one abandon nor over-dial on none.
    """
    limit = settings.max_abandon_rate * settings.hard_share
    answers = projected_hour_answers(counts)
    hour_rate = (counts.hour_abandons + 1) / answers if answers else 0.0
    # the whole-campaign rate counts only once it rests on enough answers to mean something
    campaign_rate = counts.abandons / counts.answers if counts.answers >= 100 else 0.0
    return max(hour_rate, campaign_rate) / limit


def predictive(snapshot: PacingSnapshot, settings: PacingSettings | None = None) -> int:
    """Dial while the next call's chance of being abandoned stays under a threshold.

    For each look-ahead instant t the free agents are estimated as (agents free by t + 2 s) minus
    (live answers expected by t, from the calls in flight and the ones this decision adds), with the
    variance of both sums of Bernoullis; a new call answers live at t with the live-delay distribution,
    and is abandoned when no agent is free then. Averaging over t gives the marginal abandon chance.
    The threshold shrinks as the measured abandon rate nears the cap.
    """
    settings = settings or PacingSettings()
    fallback = progressive(snapshot)
    stats = snapshot.stats
    if snapshot.agents < settings.min_agents or not stats.sufficient(settings) or stats.p_live <= 0.0:
        return fallback
    pressure = abandon_pressure(snapshot.abandons, settings)
    if pressure >= 1.0:
        return fallback
    # full risk up to the knee, then linearly down to none at the hard limit: the trailing hour's rate
    # integrates the past, so this settles the rate just under the knee
    slope = min(1.0, (1.0 - pressure) / (1.0 - settings.knee))
    threshold = settings.risk_min + (settings.risk - settings.risk_min) * slope
    # a small team's hour allows only a few abandons; one burst must not spend them all
    budget = settings.max_abandon_rate * projected_hour_answers(snapshot.abandons)
    threshold *= min(1.0, budget / settings.budget_floor)
    p = stats.p_live
    grid = _grid(stats, settings.step)
    supply, supply_var = _supply(snapshot, stats, [t + GRACE for t in grid])
    demand, demand_var = _demand(snapshot, stats, grid)
    cdf = [1.0 - _survival(stats.live_delays, t) for t in grid]
    weights = [c - prev for c, prev in zip(cdf, [0.0, *cdf[:-1]], strict=True)]
    # calls dialed in later decisions answer too, some before this one: at the pace that keeps every
    # agent busy they add (answer rate) x integral of the delay CDF answers by t, Poisson-like
    rate = settings.future * snapshot.agents / max(stats.talk_mean + stats.wrap_mean, 1e-9)
    acc = 0.0
    for k, t in enumerate(grid):
        acc += cdf[k] * (t - (grid[k - 1] if k else 0.0))
        demand[k] += rate * acc
        demand_var[k] += rate * acc
    best = 0
    for n in range(settings.max_calls_per_decision):
        risk = 0.0
        for k, w in enumerate(weights):
            if w <= 0.0:
                continue
            q = p * cdf[k]
            gap = supply[k] - demand[k] - n * q
            spread = math.sqrt(supply_var[k] + demand_var[k] + n * q * (1.0 - q)) + 1e-9
            risk += w * _normal_cdf((0.5 - gap) / spread)
        if risk > threshold:
            break
        best = n + 1
    return max(fallback, best)


def _normal_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _grid(stats: PacingStats, step: float) -> list[float]:
    """Look-ahead instants: every ``step`` s up to the longest live answer delay seen."""
    last = stats.live_delays[-1] if stats.live_delays else step
    count = max(1, math.ceil(last / step))
    return [step * (k + 1) for k in range(count)]


def _supply(snapshot: PacingSnapshot, stats: PacingStats, grid: Sequence[float]) -> tuple[list[float], list[float]]:
    """Expected agents free by each instant (ready, finishing wrap-up, finishing a call plus wrap-up), and variance."""
    wrap = stats.wrap_mean
    base = float(snapshot.ready_agents)
    mean = [base] * len(grid)
    var = [0.0] * len(grid)
    for elapsed in snapshot.wrapping:
        left = wrap - elapsed
        for k, t in enumerate(grid):
            if left <= t:
                mean[k] += 1.0
    if not snapshot.talking:
        return mean, var
    sigma2 = math.log1p(stats.talk_cv**2)
    sigma = math.sqrt(sigma2) or 1e-9
    mu = math.log(max(stats.talk_mean, 1e-9)) - sigma2 / 2.0
    for elapsed in snapshot.talking:
        done_now = _lognormal_cdf(elapsed, mu, sigma)
        alive = 1.0 - done_now
        for k, t in enumerate(grid):
            budget = t - wrap
            if budget <= 0.0:
                continue
            q = 1.0 if alive <= 1e-12 else (_lognormal_cdf(elapsed + budget, mu, sigma) - done_now) / alive
            mean[k] += q
            var[k] += q * (1.0 - q)
    return mean, var


def _demand(snapshot: PacingSnapshot, stats: PacingStats, grid: Sequence[float]) -> tuple[list[float], list[float]]:
    """Expected live answers by each instant from the calls in flight (plus those waiting now), and variance."""
    mean = [float(snapshot.waiting)] * len(grid)
    var = [0.0] * len(grid)
    p = stats.p_live
    delays = stats.live_delays
    for elapsed in snapshot.dialing:
        live_left = p * _survival(delays, elapsed)
        total = live_left + (1.0 - p) * _survival(stats.other_durations, elapsed)
        if live_left <= 0.0 or total <= 0.0:
            continue
        for k, t in enumerate(grid):
            q = (live_left - p * _survival(delays, elapsed + t)) / total
            mean[k] += q
            var[k] += q * (1.0 - q)
    return mean, var


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _lognormal_cdf(x: float, mu: float, sigma: float) -> float:
    if x <= 0.0:
        return 0.0
    return 0.5 * (1.0 + math.erf((math.log(x) - mu) / (sigma * math.sqrt(2.0))))


def _survival(sorted_values: Sequence[float], x: float) -> float:
    if not sorted_values:
        return 0.0
    return (len(sorted_values) - bisect_right(sorted_values, x)) / len(sorted_values)


def _p_live_given(stats: PacingStats, elapsed: float) -> float:
    """P(the call will be answered live | it has been dialing for ``elapsed`` s without an outcome)."""
    live = stats.p_live * _survival(stats.live_delays, elapsed)
    other = (1.0 - stats.p_live) * _survival(stats.other_durations, elapsed)
    total = live + other
    return live / total if total > 0.0 else 0.0


# -- the benchmark's upper bound --------------------------------------------------------------------


def oracle_delay(
    now: float,
    free_at: Sequence[float],
    pending: Sequence[tuple[float, float]],
    answer_after: float,
) -> float:
    """Seconds to wait before dialing a customer known to answer ``answer_after`` s after the dial.

    ``free_at``: when each agent is next free (now or earlier if ready); ``pending``: (answer time,
    how long the call will keep its agent: talk + wrap-up) of the live calls already dialed. The
    pending calls take agents in answer order; the new call is timed to answer when the next agent
    frees, never earlier, so no customer ever waits and no agent waits longer than it must.
    """
    heap = [max(f, now) for f in free_at]
    if not heap:
        raise PacingError("the oracle needs at least one agent")
    heapq.heapify(heap)
    for answer_at, busy_for in sorted(pending):
        start = max(heapq.heappop(heap), answer_at)
        heapq.heappush(heap, start + busy_for)
    return max(0.0, heap[0] - answer_after - now)


# -- accumulators -----------------------------------------------------------------------------------


class RecentCalls:
    """The last few hundred attempts, talks and wrap-ups, summarised into :class:`PacingStats`."""

    def __init__(self, attempts: int = 600, talks: int = 300) -> None:
        self._attempts: deque[tuple[float, bool]] = deque(maxlen=attempts)
        self._talks: deque[float] = deque(maxlen=talks)
        self._wraps: deque[float] = deque(maxlen=talks)

    def attempt(self, seconds: float, *, live: bool) -> None:
        """An attempt resolved: answered live after ``seconds``, or ended not live after ``seconds``."""
        self._attempts.append((seconds, live))

    def talk(self, seconds: float) -> None:
        self._talks.append(seconds)

    def wrap(self, seconds: float) -> None:
        self._wraps.append(seconds)

    def stats(self) -> PacingStats:
        live = sorted(s for s, is_live in self._attempts if is_live)
        other = sorted(s for s, is_live in self._attempts if not is_live)
        n = len(self._attempts)
        talks = list(self._talks)
        mean = _mean(talks)
        var = _mean([(t - mean) ** 2 for t in talks])
        return PacingStats(
            attempts=n,
            p_live=len(live) / n if n else 0.0,
            live_delays=tuple(live),
            other_durations=tuple(other),
            talks=len(talks),
            talk_mean=mean,
            talk_cv=math.sqrt(var) / mean if mean > 0 else 0.0,
            wrap_mean=_mean(list(self._wraps)),
        )


class AbandonLedger:
    """Live answers and abandons by answer time: totals and the trailing hour, for the cap checks."""

    def __init__(self, start: float) -> None:
        self._start = start
        self._answers: deque[float] = deque()
        self._abandons: deque[float] = deque()
        self.answers = 0
        self.abandons = 0

    def answered(self, at: float) -> None:
        self._answers.append(at)
        self.answers += 1

    def abandoned(self, answered_at: float) -> None:
        self._abandons.append(answered_at)
        self.abandons += 1

    def counts(self, now: float) -> AbandonCounts:
        cutoff = now - HOUR
        for q in (self._answers, self._abandons):
            while q and q[0] < cutoff:
                q.popleft()
        return AbandonCounts(
            answers=self.answers,
            abandons=self.abandons,
            hour_answers=len(self._answers),
            hour_abandons=len(self._abandons),
            window=min(HOUR, max(now - self._start, 1e-9)),
        )
