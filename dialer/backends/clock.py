"""Clocks for the dialer: the real one, and a virtual one that runs a 4-hour campaign in seconds.

:class:`VirtualClock` is a discrete-event clock built into an asyncio loop: its loop's ``time()``
is virtual, and whenever every task is waiting, the loop jumps straight to the next timer instead
of sleeping. ``asyncio.sleep``, timeouts and ``call_later`` all run on virtual time, timers fire
in time order, and a run is deterministic (timers due at the same instant fire in an order that is
fixed but not the order they were set: asyncio's timer heap is not stable).
"""

from __future__ import annotations

import asyncio
import selectors
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["RealClock", "VirtualClock"]

T = TypeVar("T")


class RealClock:
    """Wall-clock seconds (the running loop's monotonic time); for production and demos."""

    def now(self) -> float:
        try:
            return asyncio.get_running_loop().time()
        except RuntimeError:
            return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class _VirtualSelector(selectors.DefaultSelector):
    """Polls real file descriptors without blocking; a wait for a timer advances virtual time instead."""

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__()
        self._clock = clock

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = super().select(0)
        if ready or timeout is None:
            # None: no timer at all, so only outside input (another thread) can wake the loop.
            return ready or super().select(timeout)
        if timeout > 0:
            self._clock._advance(timeout)
        return ready


class _VirtualLoop(asyncio.SelectorEventLoop):
    def __init__(self, clock: VirtualClock) -> None:
        self._virtual_clock = clock
        super().__init__(_VirtualSelector(clock))

    def time(self) -> float:
        return self._virtual_clock.now()


class VirtualClock:
    """Virtual seconds from ``start``; only meaningful inside :meth:`run` (or a loop from :meth:`new_loop`)."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._loop: asyncio.AbstractEventLoop | None = None

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        self.check_running()
        await asyncio.sleep(seconds)

    def _advance(self, seconds: float) -> None:
        self._now += seconds

    def new_loop(self) -> asyncio.AbstractEventLoop:
        """An event loop whose time is this clock (a ``loop_factory`` for :class:`asyncio.Runner`)."""
        loop = _VirtualLoop(self)
        self._loop = loop
        return loop

    def run(self, main: Coroutine[Any, Any, T]) -> T:
        """Run ``main`` to completion on virtual time (like :func:`asyncio.run`)."""
        with asyncio.Runner(loop_factory=self.new_loop) as runner:
            return runner.run(main)

    def check_running(self) -> None:
        """Raise unless called inside this clock's loop: elsewhere sleeps and timers would be real."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is None or running is not self._loop:
            raise RuntimeError("VirtualClock used outside its own event loop; run the code with VirtualClock.run()")
