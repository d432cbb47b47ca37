"""The pacing probes (bench/pacing_probes.py), run short: what each probe reports must add up."""

from __future__ import annotations

from typing import Any

import pytest

from bench.pacing import Config, run
from bench.pacing_probes import probe_run

TIMINGS = ("wall_s", "decide_ms_mean", "decide_ms_p99", "decisions")


def _without_timings(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k not in (*TIMINGS, "probe")}


@pytest.fixture(scope="module")
def config() -> Config:
    return Config(policy="predictive", agents=10, hours=0.75, seed=4)


def test_calibration_groups_hold_every_live_answer_and_every_abandon(config: Config) -> None:
    result = probe_run(config, "calibration")
    groups = result["probe"]["groups"]  # type: ignore[index]
    assert sum(g["live"] for g in groups) == result["live_answers"]
    assert sum(g["abandoned"] for g in groups) == result["abandoned"]
    assert result["abandoned"] > 0  # the run is long enough to say something
    progressive = [g for g in groups if g["risk"] == "progressive"]
    assert progressive
    assert progressive[0]["predicted"] == 0.0
    for group in groups:
        assert 0.0 <= group["observed"] <= 1.0
    # the probe only watches: the run is the benchmark's own
    assert _without_timings(result) == _without_timings(run(config))


@pytest.mark.parametrize(("probe", "knob"), [("urgency", {"factor": 1.0}), ("feedforward", {"weight": 0.0})])
def test_a_probe_at_its_neutral_setting_is_the_predictive_pacer(
    config: Config, probe: str, knob: dict[str, float]
) -> None:
    assert _without_timings(probe_run(config, probe, **knob)) == _without_timings(run(config))


def test_a_probe_that_changes_the_limit_changes_the_run(config: Config) -> None:
    cautious = probe_run(config, "urgency", factor=0.5)
    baseline = run(config)
    assert cautious["calls"] != baseline["calls"]
    assert cautious["abandoned"] <= baseline["abandoned"]
