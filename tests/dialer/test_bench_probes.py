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


def test_ringcut_that_never_cuts_is_the_predictive_pacer(config: Config) -> None:
    result = probe_run(config, "ringcut", cut_risk=1.0)
    assert (result["cuts"], result["imputed"]) == (0, 0)
    baseline = _without_timings(run(config))
    assert {k: result[k] for k in baseline} == baseline


def test_ringcut_cuts_only_calls_that_rang_long_enough_and_counts_the_contacts_lost(config: Config) -> None:
    result = probe_run(config, "ringcut", min_ring=15.0, cut_risk=0.02)
    cuts, lost = result["cuts"], result["cut_live"]
    assert isinstance(cuts, int)
    assert isinstance(lost, int)
    assert cuts > 0
    assert 0 <= lost <= cuts
    assert result["cut_ring_mean_s"] >= 15.0  # type: ignore[operator]
    assert result["contacts_lost_per_hour"] == round(lost / config.hours, 2)
    assert result["imputed"] > 0  # the pacer's statistics get a stand-in for each cut call it can match
