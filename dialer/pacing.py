"""How many calls to place now: pure functions of a snapshot of the floor, no I/O.

Policies:

- ``preview``: never dials by itself; the agent sees the masked lead and dials or skips.
- ``progressive``: one call per ready agent not already covered by a call in flight.
- ``predictive``: dials ahead. From recent completed calls it knows the live-answer probability, the
  empirical distributions of answer delay and of non-live durations, talk time (lognormal, mean and
  cv) and wrap-up. A customer answering t s after a dial is abandoned when every agent free by
  t + 2 s is taken by customers who answered before; the pacer computes that chance for each new call
  from the slack (agents free by t + 2 s) - (answers before t) on a grid of look-ahead instants, a sum
  of independent counts: each talking agent's chance to be done (its remaining talk conditioned on the
  talk so far) plus wrap-up, each ringing call's chance to have answered live (the answer delays
  conditioned on the call still ringing after its elapsed time), the calls later decisions will add,
  and the other new calls of the decision. It dials while each new call's risk stays under an
  allowance, and the allowance is a controller on the measured abandon rate that holds the campaign's
  cap (default 3%) over the whole campaign and over every rolling hour: it aims at ``target_share`` of
  the cap, shrinks for small teams (an hour of 5 agents allows about 5 abandons), and from
  ``hard_share`` of the cap predictive dials progressively, which abandons nobody. It falls back to
  progressive with fewer than ``min_agents`` logged-in agents (3: with fewer, an early answer has no
  second agent to go to) or fewer samples than ``min_attempts`` / ``min_live`` / ``min_talks``.
- ``oracle_delay``: the benchmark's upper bound; it knows every customer's behaviour in advance.

:class:`RecentCalls` and :class:`AbandonLedger` are the small accumulators a runner feeds to build
a snapshot's statistics; they do no I/O either. The defaults were tuned with ``bench/pacing.py``
(see docs/benchmarks.md).
"""

from __future__ import annotations

import heapq
import itertools
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
    "allowance",
    "calls_to_place",
    "calls_within_risk",
    "dials_ahead",
    "marginal_risks",
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
    #: the controller aims the measured abandon rate (rolling hour or campaign) at this share of the cap
    target_share: float = 0.85
    #: from this share of the cap on, predictive dials progressively
    hard_share: float = 0.97
    #: the abandon risk a new call may carry when the rate sits at the target ...
    risk: float = 0.055
    #: ... e^gain times more (less) per cap's worth of rate below (above) the target, at most ``risk_max``
    gain: float = 2.0
    risk_max: float = 0.07
    #: below this many abandons allowed per hour (cap x answers), the allowance shrinks in proportion
    budget_floor: float = 7.0
    #: weight of the answers that later decisions' calls will bring within the look-ahead
    future: float = 1.0
    #: share of a new call's risk taken as the worst slack after its answer rather than at it
    later: float = 0.0
    #: the slack's distribution exactly (Poisson-binomial) instead of by three cumulants: slower, to check
    exact: bool = False
    #: look-ahead resolution, seconds
    step: float = 2.0
    max_calls_per_decision: int = 50

    def __post_init__(self) -> None:
        if not 0.0 < self.max_abandon_rate <= 1.0:
            raise PacingError("max_abandon_rate must be in (0, 1]", details={"value": self.max_abandon_rate})
        if self.min_agents < 1 or self.min_attempts < 1 or self.min_live < 1 or self.min_talks < 1:
            raise PacingError("minimum agent and sample counts must be positive")
        if not 0.0 < self.target_share < self.hard_share <= 1.0:
            raise PacingError("0 < target_share < hard_share <= 1 must hold")
        if not 0.0 < self.risk <= self.risk_max <= 1.0 or self.gain < 0.0 or self.future < 0.0 or self.step <= 0.0:
            raise PacingError("0 < risk <= risk_max <= 1, gain >= 0, future >= 0 and step > 0 must hold")


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
    """The measured abandon rate as a share of the cap: the worse of the rolling hour and the campaign.

    The rolling hour counts one abandon more than it holds (the next one must still fit under the cap,
    which matters for small teams), over the answers projected for a full hour, so that the first
    minutes of a campaign neither panic on one abandon nor over-dial on none. The whole-campaign rate
    counts once it rests on enough answers (100) to mean something.
    """
    answers = projected_hour_answers(counts)
    hour_rate = (counts.hour_abandons + 1) / answers if answers else 0.0
    campaign_rate = counts.abandons / counts.answers if counts.answers >= 100 else 0.0
    return max(hour_rate, campaign_rate) / settings.max_abandon_rate


def allowance(counts: AbandonCounts, settings: PacingSettings) -> float:
    """The abandon risk the next call may carry; 0 means dial progressively.

    A proportional controller on the measured rate, whose rolling hour already integrates the past (so
    it acts like a PI controller on the momentary rate): ``risk`` when the rate sits at
    ``target_share`` of the cap, e^``gain`` times more (less) per cap's worth below (above) it, at most
    ``risk_max``, and nothing from ``hard_share`` of the cap on. A team whose hour allows only a few
    abandons (cap x answers under ``budget_floor``) gets a proportionally smaller allowance, so that one
    burst cannot spend them all.
    """
    pressure = abandon_pressure(counts, settings)
    if pressure >= settings.hard_share:
        return 0.0
    allowed = settings.risk * math.exp(settings.gain * (settings.target_share - pressure))
    if pressure > settings.target_share:
        # and down to nothing at the hard limit
        allowed *= (settings.hard_share - pressure) / (settings.hard_share - settings.target_share)
    budget = settings.max_abandon_rate * projected_hour_answers(counts)
    if 0.0 < budget < settings.budget_floor:
        allowed *= budget / settings.budget_floor
    return min(settings.risk_max, allowed)


def predictive(snapshot: PacingSnapshot, settings: PacingSettings | None = None) -> int:
    """Dial while one more call's chance of being abandoned stays under the :func:`allowance`.

    A customer answering t s after the dial is abandoned when every agent free by t + 2 s is taken by
    a customer who answered before: when the slack S(t) = (agents free by t + 2) - (answers before t)
    is <= 0. S(t) is a sum of independent counts, evaluated on a grid of look-ahead instants by its
    first three cumulants (a skew-corrected normal; ``exact`` computes the Poisson-binomial
    distribution itself): each busy agent is free with its own chance (lognormal talk conditioned on
    the talk so far, then the mean wrap-up), each call in flight has answered live with its own chance
    (the empirical answer delays, conditioned on the call still ringing after its elapsed time), the
    customers already waiting count in full, the calls later decisions will place answer as a Poisson
    count (``future`` x the pace that keeps every agent busy), and each other new call of this decision
    answers before with the chance its delay is shorter. The n-th new call's risk is P(S(t) <= 0)
    averaged over its own answer delay t; it rises with n.
    """
    settings = settings or PacingSettings()
    fallback = progressive(snapshot)
    if not dials_ahead(snapshot, settings):
        return fallback
    return max(fallback, calls_within_risk(snapshot, allowance(snapshot.abandons, settings), settings))


def dials_ahead(snapshot: PacingSnapshot, settings: PacingSettings) -> bool:
    """Whether predictive may dial ahead at all: enough agents and enough recent calls to estimate from
    (else it dials progressively)."""
    stats = snapshot.stats
    return snapshot.agents >= settings.min_agents and stats.sufficient(settings) and stats.p_live > 0.0


def calls_within_risk(snapshot: PacingSnapshot, limit: float, settings: PacingSettings | None = None) -> int:
    """How many new calls keep each one's abandon risk within ``limit`` (no fallback, no controller).

    :func:`predictive` is this with the :func:`allowance` as the limit; the benchmark's probes use it
    to try other limits.
    """
    settings = settings or PacingSettings()
    stats = snapshot.stats
    if not stats.live_delays or stats.p_live <= 0.0 or limit <= 0.0:
        return 0
    return _calls_within(snapshot, stats, settings, limit)


def marginal_risks(snapshot: PacingSnapshot, calls: int, settings: PacingSettings | None = None) -> list[float]:
    """The abandon risk of the 1st, 2nd, ... ``calls``-th new call placed now (for tests and tuning)."""
    settings = settings or PacingSettings()
    risks: list[float] = []
    if not snapshot.stats.live_delays or snapshot.stats.p_live <= 0.0:
        return risks
    _calls_within(snapshot, snapshot.stats, settings, 1.0, calls, risks)
    return risks


def _calls_within(
    snapshot: PacingSnapshot,
    stats: PacingStats,
    settings: PacingSettings,
    limit: float,
    most: int | None = None,
    trace: list[float] | None = None,
) -> int:
    """How many new calls keep each one's abandon risk within ``limit``."""
    most = settings.max_calls_per_decision if most is None else most
    step = settings.step
    delays = stats.live_delays
    count = max(1, math.ceil(delays[-1] / step))
    size = len(delays)
    cdf = [bisect_right(delays, step * k) / size for k in range(count + 1)]
    p = stats.p_live
    wrap = stats.wrap_mean
    sigma2 = math.log1p(stats.talk_cv**2)
    sigma = math.sqrt(sigma2) or 1e-9
    mu = math.log(max(stats.talk_mean, 1e-9)) - sigma2 / 2.0
    scale = 1.0 / (sigma * _SQRT2)
    erfc, log = math.erfc, math.log
    # busy agents still likely to be talking: (elapsed, P(done by now), 1 / P(still talking))
    talks: list[tuple[float, float, float]] = []
    certain = 0  # talks as good as certainly over (far in the tail)
    for elapsed in snapshot.talking:
        done = _erfc_cdf(elapsed, mu, scale)
        if done >= 1.0 - 1e-12:
            certain += 1
        else:
            talks.append((elapsed, done, 1.0 / (1.0 - done)))
    # calls in flight: (elapsed, live-answer mass still to come, 1 / mass still to resolve)
    flight: list[tuple[float, float, float]] = []
    for elapsed in snapshot.dialing:
        live_left = p * _survival(delays, elapsed)
        total = live_left + (1.0 - p) * _survival(stats.other_durations, elapsed)
        if live_left > 0.0 and total > 0.0:
            flight.append((elapsed, live_left, 1.0 / total))
    # the answers calls placed by later decisions bring by t: rate x integral of the delay CDF
    rate = settings.future * snapshot.agents / max(stats.talk_mean + wrap, 1e-9)
    curves: list[_NormalSlack | _ExactSlack] = []
    integral = 0.0  # of the delay CDF from 0 to (k - 1) x step
    live_share = p / size
    for k in range(1, count + 1):
        future = rate * (integral + step / 2.0 * cdf[k - 1])
        integral += step * cdf[k - 1]
        weight = cdf[k] - cdf[k - 1]
        if weight <= 0.0 and not curves:
            continue
        mid = step * (k - 0.5)
        horizon = mid + GRACE
        # supply: ready agents, wrap-ups ending, calls ending (then wrap-up) by mid + 2 s; less those waiting
        base = snapshot.ready_agents - snapshot.waiting + sum(1 for e in snapshot.wrapping if wrap - e <= horizon)
        budget = horizon - wrap
        plus: list[float] = []
        if budget > 0.0:
            base += certain
            plus = [(0.5 * erfc((mu - log(e + budget)) * scale) - d) * inv for e, d, inv in talks]
        # demand: each call in flight answered live by mid
        minus = [(left - live_share * (size - bisect_right(delays, e + mid))) * inv for e, left, inv in flight]
        other = p * (cdf[k - 1] + cdf[k]) / 2.0
        if settings.exact:
            curves.append(_ExactSlack(weight, other, base, plus, minus, future, most))
        else:
            curves.append(_NormalSlack(weight, other, base, plus, minus, future))
    later = settings.later

    def risk_of(placed: int) -> float:
        """The risk of one more call once ``placed`` new calls are placed.

        A call answering at t is lost if the slack is gone at t, or later: it then takes the agent a
        later customer needed (the max over later instants is a lower bound of that chance).
        """
        risk = 0.0
        worst = 0.0
        for curve in reversed(curves):
            gone = curve.gone(placed)
            worst = max(worst, gone)
            risk += curve.weight * ((1.0 - later) * gone + later * worst)
        return risk

    if trace is not None:
        trace.extend(risk_of(n) for n in range(most))
    # the risk rises with every call placed: find the last call within the limit by galloping, then
    # bisecting (a handful of evaluations even when a calm floor takes dozens of calls)
    if most <= 0 or risk_of(0) > limit:
        return 0
    good, bad = 0, 1  # the (good+1)-th call is within the limit; test the (bad+1)-th
    while bad < most and risk_of(bad) <= limit:
        good, bad = bad, min(most, 2 * bad)
    if bad >= most and risk_of(most - 1) <= limit:
        return most
    while bad - good > 1:
        mid = (good + bad) // 2
        if risk_of(mid) <= limit:
            good = mid
        else:
            bad = mid
    return good + 1


class _NormalSlack:
    """The slack at one look-ahead instant by its first three cumulants (a skew-corrected normal)."""

    __slots__ = ("k3", "mean", "other", "var", "weight")

    def __init__(
        self, weight: float, other: float, base: int, plus: Sequence[float], minus: Sequence[float], future: float
    ) -> None:
        self.weight, self.other = weight, other
        mean, var, k3 = float(base) - future, future, -future
        for q in plus:
            v = q * (1.0 - q)
            mean += q
            var += v
            k3 += v * (1.0 - 2.0 * q)
        for q in minus:
            v = q * (1.0 - q)
            mean -= q
            var += v
            k3 -= v * (1.0 - 2.0 * q)
        self.mean, self.var, self.k3 = mean, var, k3

    def gone(self, placed: int) -> float:
        """P(slack <= 0) once ``placed`` other new calls (each answered before with chance ``other``) are added."""
        c = self.other
        v = c * (1.0 - c)
        mean = self.mean - placed * c
        var = self.var + placed * v
        if var <= 1e-12:
            return 1.0 if mean <= 0.0 else 0.0
        sd = math.sqrt(var)
        z = (0.5 - mean) / sd
        skew = (self.k3 - placed * v * (1.0 - 2.0 * c)) / (var * sd)
        cdf = 0.5 * math.erfc(-z / _SQRT2) + skew * (1.0 - z * z) * math.exp(-z * z / 2.0) / (6.0 * _SQRT2PI)
        return min(1.0, max(0.0, cdf))


class _ExactSlack:
    """The slack at one look-ahead instant, its distribution computed exactly (slower; to check the above)."""

    __slots__ = ("cum", "other", "placed", "start", "weight")

    def __init__(
        self,
        weight: float,
        other: float,
        base: int,
        plus: Sequence[float],
        minus: Sequence[float],
        future: float,
        most: int,
    ) -> None:
        self.weight, self.other = weight, other
        dist, low = _slack(base, plus, minus, future)
        # P(S <= j) for j = 0 .. most
        cum = [0.0] * (most + 1)
        running = sum(dist[: max(0, min(len(dist), 1 - low))])
        cum[0] = running
        for j in range(1, most + 1):
            idx = j - low
            if 0 <= idx < len(dist):
                running += dist[idx]
            cum[j] = min(1.0, running)
        self.start = self.cum = cum
        self.placed = 0

    def gone(self, placed: int) -> float:
        keep = 1.0 - self.other
        if placed < self.placed:
            self.cum, self.placed = self.start, 0
        while self.placed < placed:  # one more new call: P(S - B <= j) = (1 - c) P(S <= j) + c P(S <= j + 1)
            self.cum = [keep * a + self.other * b for a, b in itertools.pairwise(self.cum)]
            self.placed += 1
        return self.cum[0]


_SQRT2 = math.sqrt(2.0)
_SQRT2PI = math.sqrt(2.0 * math.pi)


def _erfc_cdf(x: float, mu: float, scale: float) -> float:
    """Lognormal CDF at ``x`` (``scale`` = 1 / (sigma sqrt 2))."""
    if x <= 0.0:
        return 0.0
    return 0.5 * math.erfc((mu - math.log(x)) * scale)


def _trim(dist: list[float], low: int, eps: float = 1e-12) -> tuple[list[float], int]:
    """Drop the negligible ends of a distribution (``low``: the value of its first entry)."""
    first = 0
    while first < len(dist) - 1 and dist[first] < eps:
        first += 1
    last = len(dist)
    while last > first + 1 and dist[last - 1] < eps:
        last -= 1
    return dist[first:last], low + first


def _slack(base: int, plus: Sequence[float], minus: Sequence[float], poisson: float) -> tuple[list[float], int]:
    """The distribution of base + sum(Bernoulli(plus)) - sum(Bernoulli(minus)) - Poisson(poisson), and its low end."""
    dist = [1.0]
    low = base
    for i, q in enumerate(plus, 1):
        r = 1.0 - q
        dist = [a * r + b * q for a, b in zip([*dist, 0.0], [0.0, *dist], strict=True)]
        if i % 8 == 0:
            dist, low = _trim(dist, low)
    for i, q in enumerate(minus, 1):
        r = 1.0 - q
        dist = [a * q + b * r for a, b in zip([*dist, 0.0], [0.0, *dist], strict=True)]
        low -= 1
        if i % 8 == 0:
            dist, low = _trim(dist, low)
    dist, low = _trim(dist, low)
    if poisson > 1e-9:
        top = int(poisson + 8.0 * math.sqrt(poisson) + 8.0)
        pmf = [math.exp(-poisson)]
        for i in range(1, top + 1):
            pmf.append(pmf[-1] * poisson / i)
        # subtracting: the distribution shifts down by up to ``top``
        out = [0.0] * (len(dist) + top)
        for i, pi in enumerate(pmf):
            if pi < 1e-12:
                continue
            off = top - i
            for j, x in enumerate(dist):
                out[off + j] += x * pi
        dist = out
        low -= top
    return dist, low


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _survival(sorted_values: Sequence[float], x: float) -> float:
    if not sorted_values:
        return 0.0
    return (len(sorted_values) - bisect_right(sorted_values, x)) / len(sorted_values)


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
