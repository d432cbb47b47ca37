"""Probes of the predictive pacer on the pacing benchmark's workloads (docs/benchmarks.md, issue 4).

    .venv/bin/python bench/pacing_probes.py calibration [workload options of bench/pacing.py]
    .venv/bin/python bench/pacing_probes.py urgency --factor 0.7 [...]
    .venv/bin/python bench/pacing_probes.py feedforward --weight 0.7 [...]

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
"""

from __future__ import annotations

import argparse
import json
import sys
from bisect import bisect_right
from dataclasses import dataclass, field, replace
from pathlib import Path

if __name__ == "__main__":
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench.pacing import Agent, Config, Driver, Timer, config_from, run, workload_arguments
from dialer.backends.clock import VirtualClock
from dialer.backends.sim import SimBackend
from dialer.pacing import (
    AbandonCounts,
    PacingSnapshot,
    allowance,
    calls_within_risk,
    dials_ahead,
    marginal_risks,
    predictive,
    progressive,
)

PROBES = ("calibration", "urgency", "feedforward")
#: upper edges of the calibration groups (predicted risk)
EDGES = (0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 1.0)


@dataclass
class ProbeDriver(Driver):
    probe: str = "calibration"
    factor: float = 1.0
    weight: float = 0.0
    risk_of: dict[str, float] = field(default_factory=dict)  # call -> risk when placed (-1: progressive)
    abandoned: dict[str, bool] = field(default_factory=dict)  # live answer -> abandoned?

    async def pace(self) -> None:
        now = self.clock.now()
        if now >= self.end:
            return
        snapshot = self.snapshot(now)
        count = self.decide(snapshot, now)
        fallback = progressive(snapshot)
        risks = marginal_risks(snapshot, count, self.cfg.settings) if count > fallback else []
        for i in range(count):
            self.risk_of[f"c{self.calls:07d}"] = risks[i] if fallback <= i < len(risks) else -1.0
            await self.originate(now)

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

    async def on_timer(self, timer: Timer, now: float) -> None:
        if timer.kind == "deadline" and timer.ref in self.waiting:
            self.abandoned[timer.ref] = True
        await super().on_timer(timer, now)

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


def _share_above(sorted_values: tuple[float, ...], x: float) -> float:
    if not sorted_values:
        return 0.0
    return (len(sorted_values) - bisect_right(sorted_values, x)) / len(sorted_values)


def probe_run(cfg: Config, probe: str, *, factor: float = 1.0, weight: float = 0.0) -> dict[str, object]:
    drivers: list[ProbeDriver] = []

    def make(c: Config, backend: SimBackend, clock: VirtualClock) -> Driver:
        driver = ProbeDriver(c, backend, clock, probe=probe, factor=factor, weight=weight)
        drivers.append(driver)
        return driver

    result = run(cfg, make)
    details: dict[str, object] = {"name": probe}
    if probe == "calibration":
        details["groups"] = drivers[0].calibration()
    elif probe == "urgency":
        details["factor"] = factor
    else:
        details["weight"] = weight
    return result | {"probe": details}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("probe", choices=PROBES)
    p.add_argument("--factor", type=float, default=0.7, help="urgency: allowance x factor ** idle agents")
    p.add_argument("--weight", type=float, default=0.7, help="feedforward: weight of the calls in flight")
    workload_arguments(p)
    a = p.parse_args(argv)
    print(json.dumps(probe_run(config_from(a, "predictive"), a.probe, factor=a.factor, weight=a.weight)))


if __name__ == "__main__":
    main()
