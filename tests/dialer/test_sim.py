from __future__ import annotations

import asyncio
import statistics
from collections import Counter
from collections.abc import Awaitable, Callable

import pytest

from dialer.backends.base import TelephonyBackend
from dialer.backends.clock import VirtualClock
from dialer.backends.sim import SimBackend, SimProfile
from dialer.errors import CallNotFound, CallStateError, DuplicateCallId, PacingError
from dialer.events import (
    Answered,
    Bridged,
    CallEvent,
    HangupCause,
    HungUp,
    MachineDetected,
    Originated,
    PlaybackFinished,
    RecordingStarted,
    RecordingStopped,
    Ringing,
)

Script = Callable[[SimBackend, VirtualClock], Awaitable[None]]


def run_sim(profile: SimProfile, script: Script, *, seed: int = 7, on_event: bool = True) -> list[CallEvent]:
    """Run ``script`` against a simulator on virtual time; answered calls are bridged at once if asked."""
    clock = VirtualClock()
    events: list[CallEvent] = []

    async def main() -> None:
        sim = SimBackend(profile, seed=seed, clock=clock)

        async def consume() -> None:
            async for event in sim.events():
                events.append(event)
                if on_event and isinstance(event, Answered):
                    await sim.bridge(event.call_id, "agent001")
                elif isinstance(event, MachineDetected):
                    await sim.hangup(event.call_id, HangupCause.MACHINE)

        async with asyncio.TaskGroup() as tg:
            tg.create_task(consume())
            try:
                await script(sim, clock)
            finally:
                await sim.aclose()

    clock.run(main())
    return events


def dial(count: int, *, settle: float = 4 * 3600.0) -> Script:
    async def script(sim: SimBackend, clock: VirtualClock) -> None:
        for i in range(count):
            await sim.originate(f"c{i}", "+8613800000000")
            await clock.sleep(1.0)
        await clock.sleep(settle)

    return script


def by_call(events: list[CallEvent]) -> dict[str, list[CallEvent]]:
    calls: dict[str, list[CallEvent]] = {}
    for event in events:
        calls.setdefault(event.call_id, []).append(event)
    return calls


def test_given_one_seed_when_run_twice_then_the_events_are_identical() -> None:
    profile = SimProfile(p_machine=0.05, p_invalid=0.05)
    first = run_sim(profile, dial(300), seed=11)
    again = run_sim(profile, dial(300), seed=11)
    other = run_sim(profile, dial(300), seed=12)
    assert first == again
    assert first != other
    assert len(first) > 600


def test_outcome_proportions_follow_the_profile() -> None:
    n = 6000
    profile = SimProfile(p_live=0.33, p_machine=0.05, p_invalid=0.02)
    events = run_sim(profile, dial(n, settle=600.0))
    calls = by_call(events)
    assert len(calls) == n
    answered = sum(1 for evs in calls.values() if any(isinstance(e, Answered) for e in evs))
    machines = sum(1 for evs in calls.values() if any(isinstance(e, MachineDetected) for e in evs))
    causes = Counter(e.cause for e in events if isinstance(e, HungUp))
    not_live = 1.0 - 0.33 - 0.05 - 0.02
    assert answered / n == pytest.approx(0.33, abs=0.025)
    assert machines / n == pytest.approx(0.05, abs=0.012)
    assert causes[HangupCause.INVALID_NUMBER] / n == pytest.approx(0.02, abs=0.008)
    assert causes[HangupCause.BUSY] / n == pytest.approx(0.4 * not_live, abs=0.025)
    assert causes[HangupCause.NO_ANSWER] / n == pytest.approx(0.6 * not_live, abs=0.025)


def test_busy_no_answer_and_answer_timings() -> None:
    events = run_sim(SimProfile(p_live=0.4, answer_delay=(5.0, 25.0)), dial(1500, settle=600.0))
    busy, no_answer, answer = [], [], []
    for evs in by_call(events).values():
        assert isinstance(evs[0], Originated)
        start = evs[0].at
        for e in evs:
            if isinstance(e, HungUp) and e.cause is HangupCause.BUSY:
                busy.append(e.at - start)
                assert e.q850 == 17
            elif isinstance(e, HungUp) and e.cause is HangupCause.NO_ANSWER:
                no_answer.append(e.at - start)
                assert any(isinstance(x, Ringing) for x in evs)
            elif isinstance(e, Answered):
                answer.append(e.at - start)
    assert busy
    assert no_answer
    assert answer
    assert min(busy) >= 3.0
    assert max(busy) <= 8.0
    assert statistics.mean(busy) == pytest.approx(5.5, abs=0.4)
    assert all(t == pytest.approx(25.0) for t in no_answer)
    assert min(answer) >= 5.0
    assert max(answer) <= 25.0
    assert statistics.mean(answer) == pytest.approx(15.0, abs=1.0)


def test_talk_time_is_lognormal_with_the_given_mean_and_cv_from_the_bridge() -> None:
    events = run_sim(SimProfile(p_live=1.0, talk_mean=90.0, talk_cv=0.8), dial(3000))
    talks = []
    for evs in by_call(events).values():
        bridged = next(e for e in evs if isinstance(e, Bridged))
        ended = evs[-1]
        assert isinstance(ended, HungUp)
        assert ended.cause is HangupCause.NORMAL
        talks.append(ended.at - bridged.at)
    assert statistics.mean(talks) == pytest.approx(90.0, rel=0.06)
    assert statistics.stdev(talks) / statistics.mean(talks) == pytest.approx(0.8, abs=0.1)


def test_given_an_answered_call_nobody_bridges_then_it_stays_up_until_the_dialer_hangs_up() -> None:
    async def script(sim: SimBackend, clock: VirtualClock) -> None:
        await sim.originate("c1", "+8613800000000")
        await clock.sleep(3600.0)
        await sim.play("c1", "safe-harbor")
        await clock.sleep(30.0)
        await sim.hangup("c1", HangupCause.ABANDONED)
        await clock.sleep(1.0)

    events = run_sim(SimProfile(p_live=1.0, playback_seconds=8.0), script, on_event=False)
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["Originated", "Ringing", "Answered", "PlaybackFinished", "HungUp"]
    played, ended = events[3], events[4]
    assert isinstance(played, PlaybackFinished)
    assert played.at == pytest.approx(3608.0)
    assert isinstance(ended, HungUp)
    assert ended.cause is HangupCause.ABANDONED
    assert ended.at == pytest.approx(3630.0)


def test_recording_events_and_the_recording_ends_with_the_call() -> None:
    async def script(sim: SimBackend, clock: VirtualClock) -> None:
        await sim.originate("c1", "+8613800000000")
        await sim.originate("c2", "+8613800000001")
        await clock.sleep(30.0)
        await sim.start_recording("c1", "2026/11/27/c1.wav")
        await sim.stop_recording("c1")
        await sim.start_recording("c2", "2026/11/27/c2.wav")
        await sim.hangup("c2")
        await clock.sleep(1.0)

    events = run_sim(SimProfile(p_live=1.0, answer_delay=(5.0, 5.0)), script, on_event=False)
    c1 = [e for e in events if e.call_id == "c1" and isinstance(e, RecordingStarted | RecordingStopped)]
    c2 = [type(e).__name__ for e in events if e.call_id == "c2"][-3:]
    assert [type(e).__name__ for e in c1] == ["RecordingStarted", "RecordingStopped"]
    assert c2 == ["RecordingStarted", "RecordingStopped", "HungUp"]


def test_misuse_raises_dialer_errors() -> None:
    async def script(sim: SimBackend, clock: VirtualClock) -> None:
        await sim.originate("c1", "+8613800000000")
        with pytest.raises(DuplicateCallId):
            await sim.originate("c1", "+8613800000000")
        with pytest.raises(CallStateError):
            await sim.bridge("c1", "agent001")  # still ringing
        with pytest.raises(CallStateError):
            await sim.play("c1", "hello")
        with pytest.raises(CallNotFound):
            await sim.hangup("nope")
        await clock.sleep(30.0)
        await sim.bridge("c1", "agent001")
        with pytest.raises(CallStateError):
            await sim.bridge("c1", "agent002")
        with pytest.raises(CallStateError):
            await sim.stop_recording("c1")

    run_sim(SimProfile(p_live=1.0), script, on_event=False)


def test_the_event_stream_ends_when_the_backend_closes_and_it_is_a_telephony_backend() -> None:
    clock = VirtualClock()

    async def main() -> list[CallEvent]:
        sim = SimBackend(seed=1, clock=clock)
        assert isinstance(sim, TelephonyBackend)
        await sim.originate("c1", "+8613800000000")
        await sim.aclose()
        return [e async for e in sim.events()]

    assert [type(e) for e in clock.run(main())] == [Originated]


def test_invalid_profiles_are_refused() -> None:
    with pytest.raises(PacingError):
        SimProfile(p_live=0.8, p_machine=0.3)
    with pytest.raises(PacingError):
        SimProfile(answer_delay=(10.0, 5.0))
