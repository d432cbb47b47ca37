"""Probes of the predictive pacer on the pacing benchmark's workloads (docs/benchmarks.md, issue 4).

    .venv/bin/python bench/pacing_probes.py calibration [workload options of bench/pacing.py]
    .venv/bin/python bench/pacing_probes.py urgency --factor 0.7 [...]
    .venv/bin/python bench/pacing_probes.py feedforward --weight 0.7 [...]
    .venv/bin/python bench/pacing_probes.py ringcut --min-ring 15 --cut-risk 0.2 [--pacing risk=0.08 ...]

Each runs the benchmark's driver with the predictive pacer and prints one JSON line: the benchmark's
result plus ``probe``.

- ``calibration``: every call gets the abandon risk the pacer gave it when it placed it. The live
  answers are grouped by that risk, and each group shows how many were abandoned against the mean
  predicted risk. Calls placed as progressive ones (for a ready agent no call in flight covers) form
  the group ``progressive``.
- ``urgency``: the allowance is multiplied by ``factor`` ** (agents idle at the decision, at most 3), at
  most 0.5. Below 1 it spends less when agents wait now; above 1 it spends more.
- ``feedforward``: the measured abandon rate that the controller holds under the cap also counts
  ``weight`` x the expected abandons of the calls still ringing. That is the risk each call was placed
  with, times its chance to be answered live from here on.
- ``ringcut``: the dialer may hang up a call that is still ringing once it has rung ``min_ring`` s
  (from its Ringing event; the US FCC rule asks for 15 s before disconnecting an unanswered call).
  At each decision, before placing calls, every such call gets the chance that, if it answers live,
  no agent is free for it: the pacer's slack model (busy agents done by t + 2 s, wrap-ups ending,
  the other ringing calls answered live by t, the calls later decisions will add, by three cumulants)
  averaged over the call's own remaining answer delay (the live delays beyond its age). The riskiest
  call over ``cut_risk`` is hung up, the slack updated, and so on. Then predictive decides as usual;
  a larger allowance (``--pacing risk=... --pacing risk_max=...``) spends the recourse. A cut call's
  outcome is unknown to the pacer: it is not recorded as a non-live attempt. With ``cut_stats`` =
  ``impute`` (default) it is recorded as a copy of a random recent attempt that lasted longer than
  the cut call's age (the outcome distribution given the call still ringing at that age, since a cut
  does not depend on the call's own outcome: Kaplan-Meier's redistribution to the right); with
  ``drop`` it is left out (which under-counts long rings: p_live and the answer delays come out
  biased). The JSON line adds ``cuts``, ``cut_live`` (cut calls the simulator would have answered
  live: contacts lost), ``contacts_lost_per_hour``, ``cut_answered`` (cut after the customer had in
  fact answered in the same instant: counted as abandoned), ``cut_ring_mean_s`` and the mean p_live
  the pacer saw.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from bisect import bisect_right
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path

if __name__ == "__main__":
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench.pacing import Agent, Config, Driver, Timer, config_from, run, workload_arguments
from dialer.backends.clock import VirtualClock
from dialer.backends.sim import OutcomeKind, SimBackend
from dialer.events import Answered, CallEvent, HangupCause, HungUp, MachineDetected, Ringing
from dialer.pacing import (
    AbandonCounts,
    PacingSettings,
    PacingSnapshot,
    RecentCalls,
    allowance,
    calls_within_risk,
    dials_ahead,
    marginal_risks,
    predictive,
    progressive,
)

PROBES = ("calibration", "urgency", "feedforward", "ringcut")
GRACE = 2.0  # as in bench/pacing.py and dialer/pacing.py
#: upper edges of the calibration groups (predicted risk)
EDGES = (0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 1.0)


class LoggedCalls(RecentCalls):
    """:class:`RecentCalls` that also keeps its recent attempts readable (the donors of ``ringcut``'s imputation)."""

    def __init__(self, attempts: int = 600, talks: int = 300) -> None:
        super().__init__(attempts, talks)
        self.log: deque[tuple[float, bool]] = deque(maxlen=attempts)

    def attempt(self, seconds: float, *, live: bool) -> None:
        super().attempt(seconds, live=live)
        self.log.append((seconds, live))


@dataclass
class ProbeDriver(Driver):
    probe: str = "calibration"
    factor: float = 1.0
    weight: float = 0.0
    min_ring: float = 15.0  # ringcut: seconds of ringing before a call may be cut
    cut_risk: float = 0.2  # ringcut: cut a call whose live answer would be abandoned with more than this chance
    cut_stats: str = "impute"  # ringcut: what the pacer's statistics get for a cut call (impute | drop)
    risk_of: dict[str, float] = field(default_factory=dict)  # call -> risk when placed (-1: progressive)
    abandoned: dict[str, bool] = field(default_factory=dict)  # live answer -> abandoned?
    ringing: dict[str, float] = field(default_factory=dict)  # call still dialing -> its Ringing event at
    cut_ids: set[str] = field(default_factory=set)  # cut calls whose events may still arrive
    cuts: int = 0
    cut_live: int = 0
    cut_answered: int = 0
    cut_ring_s: float = 0.0  # total ringing time of the cut calls when cut
    imputed: int = 0
    p_live_seen: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.log = LoggedCalls()
        self.recent = self.log
        super().__post_init__()
        self.rng = random.Random(self.cfg.seed)

    async def pace(self) -> None:
        now = self.clock.now()
        if now >= self.end:
            return
        if self.probe == "ringcut":
            await self.pace_ringcut(now)
            return
        snapshot = self.snapshot(now)
        count = self.decide(snapshot, now)
        fallback = progressive(snapshot)
        risks = marginal_risks(snapshot, count, self.cfg.settings) if count > fallback else []
        for i in range(count):
            self.risk_of[f"c{self.calls:07d}"] = risks[i] if fallback <= i < len(risks) else -1.0
            await self.originate(now)

    # -- ringcut ------------------------------------------------------------------------------------

    async def pace_ringcut(self, now: float) -> None:
        settings = self.cfg.settings
        t0 = time.perf_counter()
        snapshot = self.snapshot(now)
        if dials_ahead(snapshot, settings):
            chosen = self.calls_to_cut(snapshot, now)
            for call_id in chosen:
                await self.cut(call_id, now)
            if chosen:
                snapshot = self.snapshot(now)
        count = predictive(snapshot, settings)
        self.decide_s.append(time.perf_counter() - t0)
        for _ in range(count):
            await self.originate(now)

    def calls_to_cut(self, snapshot: PacingSnapshot, now: float) -> list[str]:
        """The ringing calls (rung ``min_ring`` s or more) to hang up now, riskiest first."""
        ages = {c: now - t for c, t in self.dialing.items()}
        candidates = [c for c, since in self.ringing.items() if now - since >= self.min_ring and c in ages]
        if not candidates:
            return []
        slack = RingSlack(snapshot, ages, min(ages[c] for c in candidates), self.cfg.settings)
        chosen: list[str] = []
        while candidates:
            risk, worst = max((slack.risk(c), c) for c in candidates)
            if risk <= self.cut_risk:
                break
            chosen.append(worst)
            candidates.remove(worst)
            slack.remove(worst)
        return chosen

    async def cut(self, call_id: str, now: float) -> None:
        placed_at = self.dialing.pop(call_id)
        self.cut_ring_s += now - self.ringing.pop(call_id)
        outcome = self.backend.outcome_of(call_id)
        self.cuts += 1
        # still ringing now, so a live outcome answers later, if before the ring timeout
        self.cut_live += outcome.kind is OutcomeKind.LIVE and outcome.after < self.cfg.ring_timeout
        self.cut_ids.add(call_id)
        if self.cut_stats == "impute":
            age = now - placed_at
            donors = [x for x in self.log.log if x[0] > age]
            if donors:
                seconds, live = self.rng.choice(donors)
                self.recent.attempt(seconds, live=live)
                self.imputed += 1
        await self.backend.hangup(call_id, HangupCause.NORMAL)

    async def handle(self, item: CallEvent | Timer) -> None:
        if isinstance(item, CallEvent):
            if item.call_id in self.cut_ids:
                await self.after_cut(item)
                return
            if isinstance(item, Ringing):
                if item.call_id in self.dialing:
                    self.ringing[item.call_id] = self.clock.now()
                return
            if isinstance(item, Answered | HungUp | MachineDetected):
                self.ringing.pop(item.call_id, None)
        await super().handle(item)

    async def after_cut(self, event: CallEvent) -> None:
        """An event of a call already cut: its HungUp, or an answer that came in the instant of the cut."""
        if isinstance(event, HungUp):
            self.cut_ids.discard(event.call_id)
        elif isinstance(event, Answered):
            # the customer picked up and the line went dead: an abandon, and worse than the message
            now = self.clock.now()
            self.cut_answered += 1
            self.ledger.answered(now)
            self.ledger.abandoned(now)
            self.answers.append((now, True))

    async def on_timer(self, timer: Timer, now: float) -> None:
        if timer.kind == "deadline" and timer.ref in self.waiting:
            self.abandoned[timer.ref] = True
        await super().on_timer(timer, now)
        if timer.kind == "stats":
            self.p_live_seen.append(self.stats.p_live)

    def result(self, wall_s: float) -> dict[str, object]:
        out = super().result(wall_s)
        if self.probe != "ringcut":
            return out
        seen = self.p_live_seen
        return out | {
            "cuts": self.cuts,
            "cut_live": self.cut_live,
            "contacts_lost_per_hour": round(self.cut_live / self.cfg.hours, 2),
            "cut_answered": self.cut_answered,
            "cut_ring_mean_s": round(self.cut_ring_s / self.cuts, 2) if self.cuts else 0.0,
            "imputed": self.imputed,
            "p_live_seen_mean": round(sum(seen) / len(seen), 4) if seen else 0.0,
        }

    def decide(self, snapshot: PacingSnapshot, now: float) -> int:
        settings = self.cfg.settings
        if self.probe == "calibration":
            return predictive(snapshot, settings)
        fallback = progressive(snapshot)
        if not dials_ahead(snapshot, settings):
            return fallback
        counts = snapshot.abandons
        if self.probe == "feedforward":
            counts = self.with_calls_in_flight(counts, snapshot, now)
        limit = allowance(counts, settings)
        if limit <= 0.0:
            return fallback
        if self.probe == "urgency":
            limit = min(0.5, limit * self.factor ** min(snapshot.ready_agents - snapshot.waiting, 3))
        return max(fallback, calls_within_risk(snapshot, limit, settings))

    def with_calls_in_flight(self, counts: AbandonCounts, snapshot: PacingSnapshot, now: float) -> AbandonCounts:
        stats = snapshot.stats
        delays, others, p = stats.live_delays, stats.other_durations, stats.p_live
        expected = 0.0
        for call_id, placed_at in self.dialing.items():
            elapsed = now - placed_at
            live_left = p * _share_above(delays, elapsed)
            total = live_left + (1.0 - p) * _share_above(others, elapsed)
            if total > 0.0:
                expected += max(self.risk_of.get(call_id, 0.0), 0.0) * live_left / total
        extra = self.weight * expected
        # the counts are whole numbers in the product; a probe may carry a fraction
        return replace(counts, abandons=counts.abandons + extra, hour_abandons=counts.hour_abandons + extra)  # type: ignore[arg-type]

    async def connect(self, call_id: str, agent: Agent, now: float, answered_at: float | None = None) -> None:
        self.abandoned[call_id] = False
        await super().connect(call_id, agent, now, answered_at)

    def calibration(self) -> list[dict[str, object]]:
        groups: dict[str, list[float]] = {}  # group -> [live, abandoned, sum of predicted risk]
        for call_id, lost in self.abandoned.items():
            risk = self.risk_of.get(call_id)
            if risk is None:
                continue
            name = "progressive" if risk < 0.0 else f"<={next(e for e in EDGES if risk <= e)}"
            group = groups.setdefault(name, [0.0, 0.0, 0.0])
            group[0] += 1
            group[1] += lost
            group[2] += max(risk, 0.0)
        order = ["progressive", *(f"<={e}" for e in EDGES)]
        return [
            {
                "risk": name,
                "live": int(g[0]),
                "abandoned": int(g[1]),
                "observed": round(g[1] / g[0], 4),
                "predicted": round(g[2] / g[0], 4),
            }
            for name in order
            if (g := groups.get(name))
        ]


class RingSlack:
    """The pacer's slack S(t) = (agents free by t + 2 s) - (live answers before t) at look-ahead instants t.

    As in :func:`dialer.pacing.predictive`, by its first three cumulants: ready agents less those
    waiting, wrap-ups ending (mean wrap-up), talking agents done (lognormal talk conditioned on the talk
    so far) and through the mean wrap-up, each ringing call answered live by t (the empirical answer
    delays conditioned on the call still ringing at its age), and a Poisson count for the calls later
    decisions will place. Each ringing call's term is kept, so that a candidate for a cut can be judged
    against the slack without itself, and a cut call taken out.
    """

    def __init__(self, snapshot: PacingSnapshot, ages: dict[str, float], youngest: float, settings: PacingSettings):
        stats = snapshot.stats
        step = settings.step
        p = stats.p_live
        self.delays = delays = stats.live_delays
        others = stats.other_durations
        self.step = step
        count = max(0, math.ceil((delays[-1] - youngest) / step))
        mids = [step * (k - 0.5) for k in range(1, count + 1)]
        wrap = stats.wrap_mean
        sigma2 = math.log1p(stats.talk_cv**2)
        sigma = math.sqrt(sigma2) or 1e-9
        mu = math.log(max(stats.talk_mean, 1e-9)) - sigma2 / 2.0

        def talk_done(x: float) -> float:
            return 0.0 if x <= 0.0 else 0.5 * math.erfc((mu - math.log(x)) / (sigma * math.sqrt(2.0)))

        self.ages = ages
        self.terms: dict[str, list[float]] = {}  # ringing call -> chance it has answered live by each instant
        for call_id, age in ages.items():
            live_left = p * _share_above(delays, age)
            total = live_left + (1.0 - p) * _share_above(others, age)
            if live_left > 0.0 and total > 0.0:
                self.terms[call_id] = [
                    p * (_share_above(delays, age) - _share_above(delays, age + mid)) / total for mid in mids
                ]
        rate = settings.future * snapshot.agents / max(stats.talk_mean + wrap, 1e-9)
        self.mean: list[float] = []
        self.var: list[float] = []
        self.k3: list[float] = []
        for k, mid in enumerate(mids):
            horizon = mid + GRACE
            mean = float(
                snapshot.ready_agents - snapshot.waiting + sum(1 for e in snapshot.wrapping if wrap - e <= horizon)
            )
            var = k3 = 0.0
            budget = horizon - wrap
            if budget > 0.0:
                for elapsed in snapshot.talking:
                    done = talk_done(elapsed)
                    q = 1.0 if done >= 1.0 - 1e-12 else (talk_done(elapsed + budget) - done) / (1.0 - done)
                    v = q * (1.0 - q)
                    mean, var, k3 = mean + q, var + v, k3 + v * (1.0 - 2.0 * q)
            for qs in self.terms.values():
                q = qs[k]
                v = q * (1.0 - q)
                mean, var, k3 = mean - q, var + v, k3 - v * (1.0 - 2.0 * q)
            # the answers later decisions' calls bring by mid: rate x integral of the delay CDF up to mid
            future = rate * sum(mid - d for d in delays if d < mid) / len(delays)
            self.mean.append(mean - future)
            self.var.append(var + future)
            self.k3.append(k3 - future)

    def risk(self, call_id: str) -> float:
        """The chance that this ringing call, if it answers live, finds no agent within 2 s."""
        age = self.ages[call_id]
        delays, step = self.delays, self.step
        still = _share_above(delays, age)
        qs = self.terms.get(call_id)
        if still <= 0.0 or qs is None:
            return 0.0
        risk = 0.0
        for k, q in enumerate(qs):
            weight = (_share_above(delays, age + step * k) - _share_above(delays, age + step * (k + 1))) / still
            if weight <= 0.0:
                continue
            v = q * (1.0 - q)  # the slack without the call itself
            risk += weight * _gone(self.mean[k] + q, self.var[k] - v, self.k3[k] + v * (1.0 - 2.0 * q))
        return risk

    def remove(self, call_id: str) -> None:
        for k, q in enumerate(self.terms.pop(call_id, [])):
            v = q * (1.0 - q)
            self.mean[k] += q
            self.var[k] -= v
            self.k3[k] += v * (1.0 - 2.0 * q)


def _gone(mean: float, var: float, k3: float) -> float:
    """P(S <= 0) for an integer count S with these cumulants (skew-corrected normal, as the pacer)."""
    if var <= 1e-12:
        return 1.0 if mean <= 0.0 else 0.0
    sd = math.sqrt(var)
    z = (0.5 - mean) / sd
    skew = k3 / (var * sd)
    cdf = 0.5 * math.erfc(-z / math.sqrt(2.0)) + skew * (1.0 - z * z) * math.exp(-z * z / 2.0) / (
        6.0 * math.sqrt(2.0 * math.pi)
    )
    return min(1.0, max(0.0, cdf))


def _share_above(sorted_values: tuple[float, ...], x: float) -> float:
    if not sorted_values:
        return 0.0
    return (len(sorted_values) - bisect_right(sorted_values, x)) / len(sorted_values)


def probe_run(
    cfg: Config,
    probe: str,
    *,
    factor: float = 1.0,
    weight: float = 0.0,
    min_ring: float = 15.0,
    cut_risk: float = 0.2,
    cut_stats: str = "impute",
) -> dict[str, object]:
    drivers: list[ProbeDriver] = []

    def make(c: Config, backend: SimBackend, clock: VirtualClock) -> Driver:
        driver = ProbeDriver(
            c,
            backend,
            clock,
            probe=probe,
            factor=factor,
            weight=weight,
            min_ring=min_ring,
            cut_risk=cut_risk,
            cut_stats=cut_stats,
        )
        drivers.append(driver)
        return driver

    result = run(cfg, make)
    details: dict[str, object] = {"name": probe}
    if probe == "calibration":
        details["groups"] = drivers[0].calibration()
    elif probe == "urgency":
        details["factor"] = factor
    elif probe == "ringcut":
        details |= {"min_ring": min_ring, "cut_risk": cut_risk, "cut_stats": cut_stats}
    else:
        details["weight"] = weight
    return result | {"probe": details}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("probe", choices=PROBES)
    p.add_argument("--factor", type=float, default=0.7, help="urgency: allowance x factor ** idle agents")
    p.add_argument("--weight", type=float, default=0.7, help="feedforward: weight of the calls in flight")
    p.add_argument("--min-ring", type=float, default=15.0, help="ringcut: seconds of ringing before a cut")
    p.add_argument(
        "--cut-risk", type=float, default=0.2, help="ringcut: cut a call whose live answer risk exceeds this"
    )
    p.add_argument("--cut-stats", choices=("impute", "drop"), default="impute", help="ringcut: a cut call in the stats")
    workload_arguments(p)
    a = p.parse_args(argv)
    cfg = config_from(a, "predictive")
    options = {"min_ring": a.min_ring, "cut_risk": a.cut_risk, "cut_stats": a.cut_stats}
    print(json.dumps(probe_run(cfg, a.probe, factor=a.factor, weight=a.weight, **options)))


if __name__ == "__main__":
    main()
