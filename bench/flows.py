"""Benchmark: many concurrent script runs on one shared machine.

    .venv/bin/python bench/flows.py [--runs 10000] [--flow edu-survey-invite]

Phase 1 (timing, no tracing): start N runs of the script, then advance them round-robin, one
step per run per round, the way concurrent calls interleave, until every run has ended; each
``choose`` / ``enter_objection`` is timed. Phase 2 (memory): with tracemalloc on, start N runs
and advance each a few steps (mid-call), then measure what they hold. Targets (issue 2):
≤ 16 KB per active run, ≤ 0.3 ms per transition.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import platform
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

# run as a script, bench/ would be first on sys.path and this file would shadow the flows package
sys.path[0] = str(Path(__file__).resolve().parents[1])

from flows import PACKAGE_SCRIPTS, FlowEngine, FlowRegistry, FlowRun  # noqa: E402
from flows.coverage import Action, plan_walks, sample_value  # noqa: E402


async def _step(engine: FlowEngine, run: FlowRun, action: Action) -> None:
    if action.kind == "objection":
        await run.enter_objection(str(action.value))
        return
    state = engine.flow.states[run.state]
    values = {f.name: sample_value(f) for f in state.capture if f.required}
    await run.choose(int(action.value), values)


def _variables(engine: FlowEngine) -> dict[str, str]:
    return {n: v.example or v.default or "" for n, v in engine.flow.variables.items()}


async def timing(engine: FlowEngine, runs_n: int) -> dict[str, float]:
    walks = plan_walks(engine.flow)
    variables = _variables(engine)
    runs = [engine.new_run(variables, call_id=f"b{i}") for i in range(runs_n)]
    t0 = time.perf_counter()
    for run in runs:
        await run.start()
    start_s = time.perf_counter() - t0
    plans = [walks[i % len(walks)] for i in range(runs_n)]
    samples: list[int] = []
    depth = 0
    active = list(range(runs_n))
    while active:
        still = []
        for i in active:
            plan = plans[i]
            t = time.perf_counter_ns()
            await _step(engine, runs[i], plan[depth])
            samples.append(time.perf_counter_ns() - t)
            if depth + 1 < len(plan):
                still.append(i)
        active = still
        depth += 1
    assert all(r.ended for r in runs), "every walk ends the call"
    for run in runs:
        await run.close()
    samples.sort()
    return {
        "runs": runs_n,
        "transitions": len(samples),
        "start_ms_per_run": start_s * 1000 / runs_n,
        "transition_ms_mean": statistics.fmean(samples) / 1e6,
        "transition_ms_p50": samples[len(samples) // 2] / 1e6,
        "transition_ms_p99": samples[int(len(samples) * 0.99)] / 1e6,
    }


async def memory(engine: FlowEngine, runs_n: int, steps: int = 3) -> dict[str, float]:
    walks = [w for w in plan_walks(engine.flow) if len(w) > steps]
    variables = _variables(engine)
    gc.collect()
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    runs = []
    for i in range(runs_n):
        run = engine.new_run(dict(variables), call_id=f"m{i}")
        await run.start()
        for action in walks[i % len(walks)][:steps]:
            await _step(engine, run, action)
        runs.append(run)
    gc.collect()
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert not any(r.ended for r in runs), "runs are measured mid-call"
    per_run = (held - base) / runs_n
    for run in runs:
        await run.close()
    return {"runs": runs_n, "steps_taken": steps, "bytes_per_active_run": per_run}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--flow", default="edu-survey-invite")
    parser.add_argument("--dir", type=Path, action="append", default=[], help="another scripts directory")
    args = parser.parse_args()
    engine = FlowRegistry([*args.dir, PACKAGE_SCRIPTS]).engine(args.flow)
    result = {
        "flow": engine.flow.ref,
        "states": len(engine.flow.states),
        "python": platform.python_version(),
        "machine": platform.machine(),
        **{f"timing_{k}": v for k, v in asyncio.run(timing(engine, args.runs)).items()},
        **{f"memory_{k}": v for k, v in asyncio.run(memory(engine, args.runs)).items()},
    }
    print(json.dumps(result, indent=2))
    kb = result["memory_bytes_per_active_run"] / 1024
    ms = result["timing_transition_ms_mean"]
    print(
        f"\n{args.runs} concurrent runs of {engine.flow.ref}: {kb:.1f} KB per active run (target ≤ 16), "
        f"{ms:.3f} ms per transition mean, p99 {result['timing_transition_ms_p99']:.3f} (target ≤ 0.3)"
    )


if __name__ == "__main__":
    main()
