from __future__ import annotations

import pytest

from dialer.errors import PacingError
from dialer.pacing import (
    HOUR,
    AbandonCounts,
    AbandonLedger,
    DialMode,
    PacingSettings,
    PacingSnapshot,
    PacingStats,
    RecentCalls,
    abandon_pressure,
    allowance,
    calls_to_place,
    marginal_risks,
    oracle_delay,
    predictive,
    preview,
    progressive,
)


def rich_stats(p_live: float = 0.33) -> PacingStats:
    """Statistics as a long-running campaign like the benchmark's workload (a) would have them."""
    recent = RecentCalls()
    n = 600
    live = round(n * p_live)
    for i in range(n):
        if i < live:
            recent.attempt(5.0 + 20.0 * (i + 0.5) / live, live=True)
        elif i % 5 < 2:
            recent.attempt(3.0 + 5.0 * (i % 7) / 6, live=False)
        else:
            recent.attempt(25.0, live=False)
    for i in range(300):
        recent.talk(30.0 + 120.0 * (i % 10) / 9)
        recent.wrap(10.0)
    return recent.stats()


CALM = AbandonCounts(answers=600, abandons=0, hour_answers=600, hour_abandons=0, window=HOUR)


def floor(**kw: object) -> PacingSnapshot:
    base: dict[str, object] = {
        "ready_agents": 4,
        "talking": tuple(20.0 + 7.0 * i for i in range(14)),
        "wrapping": (3.0, 8.0),
        "dialing": (),
        "waiting": 0,
        "stats": rich_stats(),
        "abandons": CALM,
    }
    base.update(kw)
    return PacingSnapshot(**base)  # type: ignore[arg-type]


def test_preview_never_dials() -> None:
    assert preview(floor(ready_agents=10)) == 0
    assert calls_to_place(DialMode.PREVIEW, floor(ready_agents=10)) == 0


@pytest.mark.parametrize(
    ("ready", "dialing", "waiting", "expected"),
    [(0, 0, 0, 0), (3, 0, 0, 3), (3, 2, 0, 1), (3, 2, 1, 0), (2, 5, 0, 0)],
)
def test_progressive_dials_one_call_per_ready_agent_not_covered(
    ready: int, dialing: int, waiting: int, expected: int
) -> None:
    snapshot = floor(ready_agents=ready, dialing=(4.0,) * dialing, waiting=waiting)
    assert progressive(snapshot) == expected
    assert calls_to_place(DialMode.PROGRESSIVE, snapshot) == expected


def test_given_a_calm_floor_when_predictive_then_it_dials_ahead_of_progressive() -> None:
    snapshot = floor()
    assert predictive(snapshot) > progressive(snapshot)
    assert calls_to_place(DialMode.PREDICTIVE, snapshot) == predictive(snapshot)


def test_predictive_dials_less_when_more_calls_are_already_in_flight() -> None:
    few = predictive(floor(dialing=(1.0, 2.0)))
    many = predictive(floor(dialing=tuple(float(i % 10) for i in range(20))))
    assert many < few


def test_predictive_dials_more_when_agents_are_about_to_free_up() -> None:
    busy = {"ready_agents": 0, "talking": (30.0,) * 16, "dialing": (2.0, 4.0, 6.0)}
    # four agents in wrap-up: ending within 1 s, or just started (10 s to go)
    ending = predictive(floor(wrapping=(9.0,) * 4, **busy))
    starting = predictive(floor(wrapping=(0.0,) * 4, **busy))
    assert ending > starting
    # talks that have gone on long are likelier to end soon than ones just begun (lognormal hazard)
    long_talks = floor(ready_agents=0, talking=(200.0,) * 20, wrapping=())
    new_talks = floor(ready_agents=0, talking=(1.0,) * 20, wrapping=())
    assert marginal_risks(long_talks, 1)[0] < marginal_risks(new_talks, 1)[0]
    assert predictive(long_talks) >= predictive(new_talks)


def test_each_further_call_carries_more_risk() -> None:
    risks = marginal_risks(floor(dialing=(1.0, 3.0, 6.0, 12.0)), 10)
    assert len(risks) == 10
    assert all(0.0 <= r <= 1.0 for r in risks)
    assert risks == sorted(risks)
    assert risks[-1] > risks[0]


def test_given_the_rolling_hour_at_the_cap_when_predictive_then_it_throttles_to_progressive() -> None:
    at_cap = AbandonCounts(answers=600, abandons=10, hour_answers=600, hour_abandons=18, window=HOUR)
    snapshot = floor(abandons=at_cap)
    assert abandon_pressure(at_cap, PacingSettings()) >= PacingSettings().hard_share
    assert allowance(at_cap, PacingSettings()) == 0.0
    assert predictive(snapshot) == progressive(snapshot)


def test_given_the_campaign_rate_at_the_cap_when_predictive_then_it_throttles_even_in_a_clean_hour() -> None:
    campaign_at_cap = AbandonCounts(answers=2000, abandons=60, hour_answers=600, hour_abandons=0, window=HOUR)
    snapshot = floor(abandons=campaign_at_cap)
    assert predictive(snapshot) == progressive(snapshot)


def test_abandons_near_the_cap_make_predictive_dial_less() -> None:
    near = AbandonCounts(answers=600, abandons=14, hour_answers=600, hour_abandons=14, window=HOUR)
    assert 0.7 < abandon_pressure(near, PacingSettings()) < PacingSettings().hard_share
    assert 0.0 < allowance(near, PacingSettings()) < allowance(CALM, PacingSettings())
    assert progressive(floor()) <= predictive(floor(abandons=near)) < predictive(floor())


def test_a_small_teams_hour_allows_a_smaller_risk() -> None:
    small = AbandonCounts(answers=100, abandons=0, hour_answers=100, hour_abandons=0, window=HOUR)
    large = AbandonCounts(answers=1000, abandons=0, hour_answers=1000, hour_abandons=0, window=HOUR)
    assert allowance(small, PacingSettings()) < allowance(large, PacingSettings())


def test_predictive_falls_back_to_progressive_with_too_few_agents() -> None:
    snapshot = floor(ready_agents=2, talking=(), wrapping=())
    assert predictive(snapshot) == progressive(snapshot) == 2


def test_predictive_falls_back_to_progressive_with_too_few_samples() -> None:
    recent = RecentCalls()
    for i in range(20):
        recent.attempt(10.0, live=i % 3 == 0)
        recent.talk(90.0)
    snapshot = floor(stats=recent.stats())
    assert predictive(snapshot) == progressive(snapshot) == 4


def test_pacing_settings_are_validated() -> None:
    with pytest.raises(PacingError):
        PacingSettings(max_abandon_rate=0.0)
    with pytest.raises(PacingError):
        PacingSettings(risk=0.2, risk_max=0.1)
    with pytest.raises(PacingError):
        PacingSettings(target_share=0.99, hard_share=0.9)


def test_recent_calls_summarise_probability_and_talk() -> None:
    stats = rich_stats(p_live=0.25)
    assert stats.attempts == 600
    assert stats.p_live == pytest.approx(0.25)
    assert stats.live_delays == tuple(sorted(stats.live_delays))
    assert stats.talk_mean == pytest.approx(90.0)
    assert stats.wrap_mean == pytest.approx(10.0)


def test_abandon_ledger_keeps_the_trailing_hour() -> None:
    ledger = AbandonLedger(start=0.0)
    for t in range(0, 7200, 60):
        ledger.answered(float(t))
    ledger.abandoned(100.0)
    ledger.abandoned(5000.0)
    counts = ledger.counts(7200.0)
    assert (counts.answers, counts.abandons) == (120, 2)
    assert (counts.hour_answers, counts.hour_abandons) == (60, 1)
    assert ledger.counts(1800.0).window == pytest.approx(1800.0)


def test_oracle_times_a_live_call_to_answer_as_the_next_agent_frees() -> None:
    # one agent, free in 40 s; the customer answers 15 s after the dial -> dial in 25 s
    assert oracle_delay(100.0, [140.0], [], 15.0) == pytest.approx(25.0)
    # a ready agent: dial now
    assert oracle_delay(100.0, [90.0], [], 15.0) == 0.0
    # the ready agent is already promised to a call answering at 110 for 100 s; the other frees at 130
    assert oracle_delay(100.0, [100.0, 130.0], [(110.0, 100.0)], 20.0) == pytest.approx(10.0)
    with pytest.raises(PacingError):
        oracle_delay(0.0, [], [], 5.0)


def test_the_cumulant_approximation_agrees_with_the_exact_distribution() -> None:
    snapshot = floor(ready_agents=1, dialing=tuple(2.5 * i for i in range(10)))
    approx = marginal_risks(snapshot, 8)
    exact = marginal_risks(snapshot, 8, PacingSettings(exact=True))
    assert max(abs(a - e) for a, e in zip(approx, exact, strict=True)) < 0.02
    calm = floor(dialing=(1.0, 2.0))
    assert predictive(calm) > progressive(calm)
    assert abs(predictive(calm, PacingSettings(exact=True)) - predictive(calm)) <= 1


def test_no_samples_no_risks() -> None:
    assert marginal_risks(floor(stats=PacingStats()), 5) == []
