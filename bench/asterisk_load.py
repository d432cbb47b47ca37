"""Benchmark: many concurrent calls through the real Asterisk, driven by the dialer's AsteriskBackend.

    .venv/bin/python bench/asterisk_load.py [--concurrent 200] [--calls 400] [--rate 50] [--talk 20]
                                            [--via local|loopback]

Starts Asterisk with ``deploy/asterisk/asterisk.sh start`` if it is not running (settings from
var/asterisk/asterisk.env), then originates ``--calls`` calls at up to ``--rate`` per second while
keeping at most ``--concurrent`` in flight. Every call rings test customer ``100TT`` (answers at
once, says hello, talks ``--talk`` seconds, hangs up): through Local channels into the test
``[customers]`` context (``--via local``, no SIP: what the dialer and Asterisk's core cost), or as
real SIP through the loopback trunk (``--via loopback``: two SIP channels and RTP per call). The
answered call waits in ``[waihu-outbound]`` as a dialer call waits for an agent.

Measured: originates per second (sustained over the placing phase), the peak of calls in flight,
latency from our originate to the Answered event, the lag from an AMI event leaving Asterisk (its
``Timestamp`` header, ``timestampevents = yes``) to the event reaching the dialer's consumer (p50 /
p99), and CPU seconds of Asterisk (/proc of its pid) and of this process over the same run. Prints
one JSON line. Goal (issue 5): at 200 concurrent calls the dialer uses at most a quarter of
Asterisk's CPU, and event lag p99 ≤ 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

# run as a script, bench/ would be first on sys.path
sys.path[0] = str(Path(__file__).resolve().parents[1])

from dialer.backends.asterisk import AsteriskBackend, AsteriskSettings  # noqa: E402
from dialer.events import Answered, CallEvent, HungUp  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "deploy" / "asterisk" / "asterisk.sh"
TICKS = os.sysconf("SC_CLK_TCK")


def read_env(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip()
    return values


def asterisk_pid(env: dict[str, str]) -> int:
    if env.get("WAIHU_ASTERISK_MODE", "chroot") == "chroot":
        root = Path(os.environ.get("WAIHU_ASTERISK_ROOT", "/var/cache/waihu/asterisk-sid"))
        pidfile = root / "run" / "asterisk" / "asterisk.pid"
    else:
        pidfile = REPO / "var" / "asterisk" / "instance" / "run" / "asterisk.pid"
    return int(pidfile.read_text().strip())


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class Run:
    originated_at: dict[str, float] = field(default_factory=dict)
    answer_latency: list[float] = field(default_factory=list)
    event_lag: list[float] = field(default_factory=list)
    in_flight: int = 0
    peak: int = 0
    ended: int = 0
    failed: int = 0
    events: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)


async def consume(backend: AsteriskBackend, run: Run) -> None:
    async for event in backend.events():
        now = time.monotonic()
        received = datetime.now(UTC)
        run.events += 1
        record(run, event, now, received)
        run.changed.set()


def record(run: Run, event: CallEvent, now: float, received: datetime) -> None:
    if event.wall is not None:
        run.event_lag.append((received - event.wall).total_seconds())
    if isinstance(event, Answered):
        run.answer_latency.append(now - run.originated_at[event.call_id])
    elif isinstance(event, HungUp):
        run.in_flight -= 1
        run.ended += 1
        if event.q850 != 16:
            run.failed += 1


def ensure_asterisk() -> None:
    if subprocess.run(["bash", str(SCRIPT), "status"], capture_output=True, check=False).returncode != 0:
        subprocess.run(["bash", str(SCRIPT), "start"], check=True)


async def main(args: argparse.Namespace) -> dict[str, object]:
    env = read_env(Path(os.environ.get("WAIHU_ASTERISK_ENV", REPO / "var" / "asterisk" / "asterisk.env")))
    template = "Local/{number}@customers/n" if args.via == "local" else "PJSIP/{number}@{trunk}"
    backend = AsteriskBackend(
        AsteriskSettings(
            host=env["WAIHU_AMI_HOST"],
            port=int(env["WAIHU_AMI_PORT"]),
            username=env["WAIHU_AMI_USER"],
            secret=env["WAIHU_AMI_SECRET"],
            trunk=env["WAIHU_ASTERISK_TRUNK"],
            dial_template=template,
        )
    )
    await backend.start()
    run = Run()
    consumer = asyncio.create_task(consume(backend, run))
    number = f"100{args.talk:02d}"
    pid = asterisk_pid(env)
    ast_cpu0, own_cpu0, t0 = cpu_seconds(pid), own_cpu_seconds(), time.monotonic()
    placed = 0
    try:
        interval = 1.0 / args.rate
        next_at = time.monotonic()
        while placed < args.calls:
            while run.in_flight >= args.concurrent:
                run.changed.clear()
                await run.changed.wait()
            delay = next_at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)  # pacing the originates, not waiting for a result
            next_at = max(next_at + interval, time.monotonic() - interval)
            call_id = f"load-{uuid.uuid4().hex[:12]}"
            run.originated_at[call_id] = time.monotonic()
            run.in_flight += 1
            run.peak = max(run.peak, run.in_flight)
            await backend.originate(
                call_id, number, variables={"WAIHU_PARK_TIMEOUT": str(args.talk + 30)}, timeout=10.0
            )
            placed += 1
        placing = time.monotonic() - t0
        async with asyncio.timeout(args.talk + 60):
            while run.ended < placed:
                run.changed.clear()
                await run.changed.wait()
        elapsed = time.monotonic() - t0
        ast_cpu, own_cpu = cpu_seconds(pid) - ast_cpu0, own_cpu_seconds() - own_cpu0
    finally:
        await backend.aclose()
        await consumer
    lag_ms = [x * 1000 for x in run.event_lag]
    return {
        "bench": "asterisk_load",
        "via": args.via,
        "calls": placed,
        "concurrent_target": args.concurrent,
        "peak_in_flight": run.peak,
        "talk_s": args.talk,
        "rate_target": args.rate,
        "originates_per_s": round(placed / placing, 1),
        "answered": len(run.answer_latency),
        "not_normal_clearing": run.failed,
        "events": run.events,
        "answer_latency_ms_p50": round(statistics.median(run.answer_latency) * 1000, 1),
        "answer_latency_ms_p99": round(percentile(run.answer_latency, 0.99) * 1000, 1),
        "event_lag_ms_p50": round(percentile(lag_ms, 0.5), 2),
        "event_lag_ms_p99": round(percentile(lag_ms, 0.99), 2),
        "event_lag_ms_max": round(max(lag_ms), 2),
        "asterisk_cpu_s": round(ast_cpu, 2),
        "dialer_cpu_s": round(own_cpu, 2),
        "dialer_to_asterisk_cpu": round(own_cpu / ast_cpu, 3) if ast_cpu else None,
        "elapsed_s": round(elapsed, 1),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrent", type=int, default=200, help="most calls in flight at once")
    parser.add_argument("--calls", type=int, default=400, help="calls in all")
    parser.add_argument("--rate", type=float, default=50.0, help="originates per second at most")
    parser.add_argument("--talk", type=int, default=20, help="seconds each customer talks (0-99)")
    parser.add_argument("--via", choices=("local", "loopback"), default="local")
    return parser.parse_args(argv)


if __name__ == "__main__":
    ensure_asterisk()
    print(json.dumps(asyncio.run(main(parse()))))
