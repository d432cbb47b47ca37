"""The pacing benchmark's driver, run short: behaviour only, never timings."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "pacing.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_pacing", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def test_the_cli_prints_one_json_line_with_the_metrics(bench: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    bench.main(["--policy", "progressive", "--agents", "5", "--hours", "0.1", "--seed", "2"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    for key in ("occupancy", "talk_min_per_agent_hour", "abandon_pct", "worst_hour_abandon_pct", "wait_over_2s_pct"):
        assert key in result
    assert result["decisions"] > 0
    assert 0.0 < result["occupancy"] <= 1.0


def test_given_ten_agents_for_an_hour_then_predictive_beats_progressive_within_the_cap(bench: ModuleType) -> None:
    results = {
        policy: bench.run(bench.Config(policy=policy, agents=10, hours=1.0, seed=3))
        for policy in ("progressive", "predictive", "oracle")
    }
    progressive, predictive, oracle = results["progressive"], results["predictive"], results["oracle"]
    assert progressive["abandoned"] == 0
    assert predictive["worst_hour_abandon_pct"] <= 3.0
    assert predictive["occupancy"] > progressive["occupancy"] + 0.05
    assert oracle["abandoned"] == 0
    assert oracle["occupancy"] > predictive["occupancy"]


def test_one_seed_gives_one_result(bench: ModuleType) -> None:
    config = bench.Config(policy="predictive", agents=6, hours=0.25, seed=5)
    first, again = bench.run(config), bench.run(config)
    for result in (first, again):
        for timing in ("wall_s", "decide_ms_mean", "decide_ms_p99"):  # wall-clock times vary; all else must not
            result.pop(timing)
    assert first == again


def test_worst_hour_is_the_worst_window_of_one_hour(bench: ModuleType) -> None:
    # 100 answers an hour for three hours; 6 abandons bunched at 1.5 h, one at 0.1 h
    answers = [(36.0 * i, False) for i in range(300)]
    answers += [(5400.0 + i, True) for i in range(6)] + [(360.0, True)]
    worst = bench.worst_hour_pct(answers, 3 * 3600.0)
    assert worst == pytest.approx(100.0 * 6 / 106, rel=0.02)


def test_pacing_overrides_reach_the_settings(bench: ModuleType) -> None:
    settings = bench.pacing_settings(["risk=0.05", "later=0.5", "exact=1"])
    assert (settings.risk, settings.later, settings.exact) == (0.05, 0.5, True)
    with pytest.raises(SystemExit):
        bench.pacing_settings(["no_such_knob=1"])
