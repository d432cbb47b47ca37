from __future__ import annotations

import asyncio
import time

import pytest

from dialer.backends.base import Clock
from dialer.backends.clock import RealClock, VirtualClock


def test_given_virtual_clock_when_tasks_sleep_then_they_wake_in_time_order_without_real_waiting() -> None:
    clock = VirtualClock()
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.now()))

    async def main() -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(sleeper("late", 4 * 3600.0))
            tg.create_task(sleeper("early", 5.0))
            tg.create_task(sleeper("middle", 90.0))

    started = time.perf_counter()
    clock.run(main())
    assert woke == [("early", 5.0), ("middle", 90.0), ("late", 14400.0)]
    assert time.perf_counter() - started < 10  # four virtual hours, not four real ones


def test_virtual_clock_timers_fire_in_time_order_and_the_same_way_every_run() -> None:
    def once() -> list[tuple[int, float]]:
        clock = VirtualClock()
        fired: list[tuple[int, float]] = []

        def note(i: int) -> None:
            fired.append((i, clock.now()))

        async def main() -> None:
            loop = asyncio.get_running_loop()
            for i in range(50):
                loop.call_later(float(i % 7), note, i)
            await clock.sleep(10.0)

        clock.run(main())
        return fired

    first = once()
    assert len(first) == 50
    assert [t for _, t in first] == sorted(t for _, t in first)
    assert all(t == float(i % 7) for i, t in first)
    assert once() == first


def test_virtual_clock_refuses_to_sleep_outside_its_loop() -> None:
    clock = VirtualClock()
    with pytest.raises(RuntimeError, match="outside its own event loop"):
        asyncio.run(clock.sleep(1.0))


async def test_real_clock_follows_the_loop() -> None:
    clock = RealClock()
    before = clock.now()
    await clock.sleep(0.01)
    assert clock.now() > before
    assert isinstance(clock, Clock)
