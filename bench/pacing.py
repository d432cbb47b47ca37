"""Benchmark: the real pacer against the simulator, on virtual time.

    .venv/bin/python bench/pacing.py --policy progressive|predictive|oracle --agents 20 --p-live 0.33 \
        --answer-delay 5 25 --talk-mean 90 --talk-cv 0.8 --wrap 10 --hours 4 --seed 1

A small driver stands in for the campaign runner: every agent is logged in for the whole run and
ready after wrap-up; after each event (and every second) it asks the policy how many calls to place
and originates them; an answered call goes to the longest-ready agent, or waits up to 2 s for one,
else it hears the safe-harbor message, is hung up and counts as abandoned. Prints one JSON line.

``occupancy`` = (talk + wrap-up) / logged-in time; ``abandon_pct`` = abandoned / live answers (whole
run); ``worst_hour_abandon_pct`` = the worst window of one hour (by answer time; the whole run if
shorter); ``wait_over_2s_pct`` = live answers that found no agent within 2 s (under the 2 s rule these
are exactly the abandoned ones); ``wait_mean_s`` = mean wait of the customers who were connected;
``decisions``, ``decide_ms_mean``, ``decide_ms_p99`` = how often the policy was asked and its wall time
per call (the only figures that vary between two runs of one seed). ``--pacing KEY=VALUE``
(repeatable) overrides a :class:`~dialer.pacing.PacingSettings` field, e.g. ``--pacing risk=0.05``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

# run as a script, bench/ would be first on sys.path; the packages live at the repository root
if __name__ == "__main__":
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from dialer.backends.clock import VirtualClock
from dialer.backends.sim import OutcomeKind, SimBackend, SimProfile
from dialer.events import Answered, CallEvent, HangupCause, HungUp, MachineDetected, PlaybackFinished
from dialer.pacing import (
    HOUR,
    AbandonLedger,
    PacingSettings,
    PacingSnapshot,
    RecentCalls,
    oracle_delay,
    predictive,
    progressive,
)

POLICIES = ("progressive", "predictive", "oracle")
GRACE = 2.0  # seconds an answered customer may wait for an agent
TICK = 1.0
STATS_EVERY = 10.0  # seconds between refreshes of the pacer's statistics
SAFE_HARBOR = "safe-harbor"


@dataclass(frozen=True, slots=True)
class Config:
    policy: str = "predictive"
    agents: int = 20
    p_live: float = 0.33
    answer_delay: tuple[float, float] = (5.0, 25.0)
    talk_mean: float = 90.0
    talk_cv: float = 0.8
    wrap: float = 10.0
    hours: float = 4.0
    seed: int = 1
    ring_timeout: float = 25.0
    settings: PacingSettings = field(default_factory=PacingSettings)


@dataclass(slots=True)
class Agent:
    name: str
    state: str = "ready"  # ready | talking | wrapping
    since: float = 0.0
    call: str | None = None
    busy_s: float = 0.0  # talk + wrap-up, clipped to the run
    talk_s: float = 0.0


@dataclass(slots=True)
class Timer:
    kind: str  # tick | wrap_end | deadline | wake | stats | end
    ref: str = ""


@dataclass
class Driver:
    cfg: Config
    backend: SimBackend
    clock: VirtualClock
    agents: list[Agent] = field(default_factory=list)
    inbox: asyncio.Queue[CallEvent | Timer] = field(default_factory=asyncio.Queue)
    dialing: dict[str, float] = field(default_factory=dict)  # call -> originated at
    waiting: dict[str, float] = field(default_factory=dict)  # answered call -> answered at
    bridged: dict[str, str] = field(default_factory=dict)  # call -> agent name
    abandoning: set[str] = field(default_factory=set)
    recent: RecentCalls = field(default_factory=RecentCalls)
    answers: list[tuple[float, bool]] = field(default_factory=list)  # (answered at, abandoned)
    waits: list[float] = field(default_factory=list)
    decide_s: list[float] = field(default_factory=list)  # wall time of each policy call
    calls: int = 0
    wake_at: float | None = None
    end: float = 0.0

    def __post_init__(self) -> None:
        self.agents = [Agent(f"agent{i:03d}") for i in range(self.cfg.agents)]
        self.ledger = AbandonLedger(start=0.0)
        self.stats = self.recent.stats()
        self.by_name = {a.name: a for a in self.agents}
        self.end = self.cfg.hours * HOUR

    # -- timers ------------------------------------------------------------------------------------

    def after(self, seconds: float, timer: Timer) -> None:
        asyncio.get_running_loop().call_later(seconds, self.inbox.put_nowait, timer)

    # -- agent time accounting (clipped at the end of the run) ----------------------------------------

    def leave_state(self, agent: Agent, now: float) -> None:
        spent = min(now, self.end) - min(agent.since, self.end)
        if agent.state in ("talking", "wrapping"):
            agent.busy_s += spent
        if agent.state == "talking":
            agent.talk_s += spent

    def set_state(self, agent: Agent, state: str, now: float) -> None:
        self.leave_state(agent, now)
        agent.state, agent.since = state, now

    # -- the run ------------------------------------------------------------------------------------

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.pump())
            self.after(0.0, Timer("tick"))
            self.after(STATS_EVERY, Timer("stats"))
            self.after(self.end, Timer("end"))
            try:
                while True:
                    item = await self.inbox.get()
                    if isinstance(item, Timer) and item.kind == "end":
                        break
                    await self.handle(item)
                    if self.inbox.empty():
                        await self.pace()
            finally:
                await self.backend.aclose()

    async def pump(self) -> None:
        async for event in self.backend.events():
            self.inbox.put_nowait(event)

    async def handle(self, item: CallEvent | Timer) -> None:
        now = self.clock.now()
        if isinstance(item, Timer):
            await self.on_timer(item, now)
        elif isinstance(item, Answered):
            await self.on_answer(item.call_id, now)
        elif isinstance(item, MachineDetected):
            self.recent.attempt(now - self.dialing.pop(item.call_id), live=False)
            await self.backend.hangup(item.call_id, HangupCause.MACHINE)
        elif isinstance(item, HungUp):
            await self.on_hangup(item.call_id, now)
        elif isinstance(item, PlaybackFinished) and item.call_id in self.abandoning:
            await self.backend.hangup(item.call_id, HangupCause.ABANDONED)

    async def on_timer(self, timer: Timer, now: float) -> None:
        if timer.kind == "tick":
            self.after(TICK, Timer("tick"))
        elif timer.kind == "stats":
            self.stats = self.recent.stats()
            self.after(STATS_EVERY, Timer("stats"))
        elif timer.kind == "wrap_end":
            agent = self.by_name[timer.ref]
            self.recent.wrap(now - agent.since)
            self.set_state(agent, "ready", now)
            if self.waiting:
                call_id = next(iter(self.waiting))
                await self.connect(call_id, agent, now)
        elif timer.kind == "deadline" and timer.ref in self.waiting:
            answered_at = self.waiting.pop(timer.ref)
            self.ledger.abandoned(answered_at)
            self.answers.append((answered_at, True))
            self.abandoning.add(timer.ref)
            await self.backend.play(timer.ref, SAFE_HARBOR)
        elif timer.kind == "wake":
            self.wake_at = None

    async def on_answer(self, call_id: str, now: float) -> None:
        self.recent.attempt(now - self.dialing.pop(call_id), live=True)
        self.ledger.answered(now)
        ready = [a for a in self.agents if a.state == "ready"]
        if ready:
            await self.connect(call_id, min(ready, key=lambda a: a.since), now, answered_at=now)
        else:
            self.waiting[call_id] = now
            self.after(GRACE, Timer("deadline", call_id))

    async def connect(self, call_id: str, agent: Agent, now: float, answered_at: float | None = None) -> None:
        start = self.waiting.pop(call_id, answered_at if answered_at is not None else now)
        self.waits.append(now - start)
        self.answers.append((start, False))
        await self.backend.bridge(call_id, agent.name)
        self.bridged[call_id] = agent.name
        agent.call = call_id
        self.set_state(agent, "talking", now)

    async def on_hangup(self, call_id: str, now: float) -> None:
        if call_id in self.dialing:
            self.recent.attempt(now - self.dialing.pop(call_id), live=False)
        elif call_id in self.bridged:
            agent = self.by_name[self.bridged.pop(call_id)]
            self.recent.talk(now - agent.since)
            agent.call = None
            self.set_state(agent, "wrapping", now)
            self.after(self.cfg.wrap, Timer("wrap_end", agent.name))
        self.abandoning.discard(call_id)

    # -- pacing ------------------------------------------------------------------------------------

    def snapshot(self, now: float) -> PacingSnapshot:
        return PacingSnapshot(
            ready_agents=sum(1 for a in self.agents if a.state == "ready"),
            talking=tuple(now - a.since for a in self.agents if a.state == "talking"),
            wrapping=tuple(now - a.since for a in self.agents if a.state == "wrapping"),
            dialing=tuple(now - t for t in self.dialing.values()),
            waiting=len(self.waiting),
            stats=self.stats,
            abandons=self.ledger.counts(now),
        )

    async def originate(self, now: float) -> None:
        call_id = f"c{self.calls:07d}"
        self.calls += 1
        self.dialing[call_id] = now
        await self.backend.originate(call_id, "+8613800000000", timeout=self.cfg.ring_timeout)

    async def pace(self) -> None:
        now = self.clock.now()
        if now >= self.end:
            return
        if self.cfg.policy == "oracle":
            await self.pace_oracle(now)
            return
        policy = predictive if self.cfg.policy == "predictive" else progressive
        snapshot = self.snapshot(now)
        t0 = time.perf_counter()
        count = policy(snapshot, self.cfg.settings)
        self.decide_s.append(time.perf_counter() - t0)
        for _ in range(count):
            await self.originate(now)

    async def pace_oracle(self, now: float) -> None:
        """Dial the known-not-live customers at once; time each live one to answer as an agent frees."""
        wrap = self.cfg.wrap
        free_at: list[float] = []
        for a in self.agents:
            if a.state == "ready":
                free_at.append(now)
            elif a.state == "wrapping":
                free_at.append(a.since + wrap)
            else:
                assert a.call is not None
                free_at.append(a.since + self.backend.outcome_of(a.call).talk + wrap)
        pending = []
        for call_id, t0 in self.dialing.items():
            o = self.backend.outcome_of(call_id)
            if o.kind is OutcomeKind.LIVE and o.after < self.cfg.ring_timeout:
                pending.append((t0 + o.after, o.talk + wrap))
        pending.extend((t, self.backend.outcome_of(c).talk + wrap) for c, t in self.waiting.items())
        for _ in range(10_000):
            nxt = self.backend.peek_outcome()
            if nxt.kind is OutcomeKind.LIVE and nxt.after < self.cfg.ring_timeout:
                delay = oracle_delay(now, free_at, pending, nxt.after)
                if delay > 1e-9:
                    if self.wake_at is None or self.wake_at > now + delay:
                        self.wake_at = now + delay
                        self.after(delay, Timer("wake"))
                    return
                pending.append((now + nxt.after, nxt.talk + wrap))
            await self.originate(now)

    # -- results -----------------------------------------------------------------------------------

    def result(self, wall_s: float) -> dict[str, object]:
        for a in self.agents:
            self.leave_state(a, self.end)
            a.since = self.end
        logged_in = self.cfg.agents * self.end
        busy = sum(a.busy_s for a in self.agents)
        talk = sum(a.talk_s for a in self.agents)
        decided = [x for x in self.answers if x[0] <= self.end]
        abandons = sum(1 for _, ab in decided if ab)
        served_waits = self.waits
        return {
            "policy": self.cfg.policy,
            "agents": self.cfg.agents,
            "hours": self.cfg.hours,
            "seed": self.cfg.seed,
            "occupancy": round(busy / logged_in, 4),
            "talk_min_per_agent_hour": round(talk / 60.0 / (logged_in / HOUR), 2),
            "abandon_pct": round(100.0 * abandons / len(decided), 3) if decided else 0.0,
            "worst_hour_abandon_pct": round(worst_hour_pct(decided, self.end), 3),
            "wait_over_2s_pct": round(100.0 * abandons / len(decided), 3) if decided else 0.0,
            "wait_mean_s": round(sum(served_waits) / len(served_waits), 3) if served_waits else 0.0,
            "calls": self.calls,
            "decisions": len(self.decide_s),
            "decide_ms_mean": round(1e3 * sum(self.decide_s) / len(self.decide_s), 3) if self.decide_s else 0.0,
            "decide_ms_p99": round(1e3 * percentile(self.decide_s, 0.99), 3),
            "live_answers": len(decided),
            "abandoned": abandons,
            "wall_s": round(wall_s, 2),
        }


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def worst_hour_pct(answers: list[tuple[float, bool]], end: float) -> float:
    """Worst abandon rate over every window of one hour (by answer time) inside the run."""
    if not answers:
        return 0.0
    answers = sorted(answers)
    if end <= HOUR:
        return 100.0 * sum(1 for _, ab in answers if ab) / len(answers)
    times = [t for t, _ in answers]
    starts = sorted(
        {min(max(t, 0.0), end - HOUR) for t in times} | {max(0.0, min(t - HOUR, end - HOUR)) for t in times}
    )
    worst = 0.0
    window: deque[tuple[float, bool]] = deque()
    i = 0
    aband = 0
    for s in starts:  # ascending: slide [s, s + HOUR]
        while i < len(answers) and answers[i][0] <= s + HOUR:
            window.append(answers[i])
            aband += answers[i][1]
            i += 1
        while window and window[0][0] < s:
            aband -= window.popleft()[1]
        if window:
            worst = max(worst, 100.0 * aband / len(window))
    return worst


DriverFactory = Callable[[Config, SimBackend, VirtualClock], "Driver"]


async def simulate(cfg: Config, clock: VirtualClock, make_driver: DriverFactory | None = None) -> dict[str, object]:
    profile = SimProfile(
        p_live=cfg.p_live,
        answer_delay=cfg.answer_delay,
        talk_mean=cfg.talk_mean,
        talk_cv=cfg.talk_cv,
    )
    backend = SimBackend(profile, seed=cfg.seed, clock=clock)
    driver = (make_driver or Driver)(cfg, backend, clock)
    t0 = time.perf_counter()
    await driver.run()
    return driver.result(time.perf_counter() - t0)


def run(cfg: Config, make_driver: DriverFactory | None = None) -> dict[str, object]:
    """One benchmark run on a fresh virtual clock (importable by tests; probes pass their own driver)."""
    clock = VirtualClock()
    return clock.run(simulate(cfg, clock, make_driver))


def workload_arguments(p: argparse.ArgumentParser) -> None:
    """The workload and pacing options (shared with bench/pacing_probes.py)."""
    p.add_argument("--agents", type=int, default=20)
    p.add_argument("--p-live", type=float, default=0.33)
    p.add_argument("--answer-delay", type=float, nargs=2, default=(5.0, 25.0), metavar=("A0", "A1"))
    p.add_argument("--talk-mean", type=float, default=90.0)
    p.add_argument("--talk-cv", type=float, default=0.8)
    p.add_argument("--wrap", type=float, default=10.0)
    p.add_argument("--hours", type=float, default=4.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--pacing",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a PacingSettings field (repeatable), e.g. --pacing risk=0.2",
    )


def config_from(a: argparse.Namespace, policy: str) -> Config:
    return Config(
        policy=policy,
        agents=a.agents,
        p_live=a.p_live,
        answer_delay=(a.answer_delay[0], a.answer_delay[1]),
        talk_mean=a.talk_mean,
        talk_cv=a.talk_cv,
        wrap=a.wrap,
        hours=a.hours,
        seed=a.seed,
        settings=pacing_settings(a.pacing),
    )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--policy", choices=POLICIES, default="predictive")
    workload_arguments(p)
    a = p.parse_args(argv)
    print(json.dumps(run(config_from(a, a.policy))))


def pacing_settings(overrides: list[str]) -> PacingSettings:
    """Default :class:`PacingSettings` with ``KEY=VALUE`` overrides (each value cast to the default's type)."""
    defaults = PacingSettings()
    changes: dict[str, Any] = {}
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not hasattr(defaults, key):
            raise SystemExit(f"--pacing expects KEY=VALUE with a PacingSettings field, got {item!r}")
        default = getattr(defaults, key)
        if isinstance(default, bool):
            changes[key] = value.lower() in ("1", "true", "yes")
        else:
            changes[key] = type(default)(value)
    return replace(defaults, **changes)


if __name__ == "__main__":
    main()
