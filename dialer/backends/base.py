"""The telephony backend protocol and the clock it runs on.

The dialer talks to every PBX through :class:`TelephonyBackend` and learns what happened only
from its event stream, so the Asterisk adapter and the in-process simulator are interchangeable.
Methods start actions and return; their effects arrive later as events.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Protocol, runtime_checkable

from dialer.events import CallEvent, HangupCause

__all__ = ["Clock", "EventStream", "TelephonyBackend"]


@runtime_checkable
class Clock(Protocol):
    """Time as the dialer sees it: real for production, virtual for simulations and tests."""

    def now(self) -> float:
        """Seconds on this clock (monotonic; only differences mean anything)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` on this clock."""
        ...


@runtime_checkable
class TelephonyBackend(Protocol):
    """What the dialer needs from a PBX. Call ids are ours; the backend maps them to its channels."""

    async def originate(
        self,
        call_id: str,
        number: str,
        *,
        caller_id: str | None = None,
        variables: Mapping[str, str] | None = None,
        timeout: float = 25.0,  # noqa: ASYNC109  (the ring time, not a wait of ours)
    ) -> None:
        """Place a call to ``number``; ring for at most ``timeout`` seconds before giving up (no answer)."""
        ...

    async def hangup(self, call_id: str, cause: HangupCause = HangupCause.NORMAL) -> None:
        """End the call; a :class:`~dialer.events.HungUp` with ``cause`` follows."""
        ...

    async def bridge(self, call_id: str, endpoint: str) -> None:
        """Connect an answered call to an agent's endpoint."""
        ...

    async def play(self, call_id: str, message: str) -> None:
        """Play a message to the customer; :class:`~dialer.events.PlaybackFinished` follows."""
        ...

    async def start_recording(self, call_id: str, path: str) -> None:
        """Record the call into ``path``."""
        ...

    async def stop_recording(self, call_id: str) -> None:
        """Stop recording the call."""
        ...

    def events(self) -> AsyncIterator[CallEvent]:
        """The stream of call events in time order; it ends after :meth:`aclose`. One consumer."""
        ...

    async def aclose(self) -> None:
        """Stop: pending calls are dropped, the event stream ends."""
        ...


class EventStream:
    """A backend's single-consumer event iterator over its queue; ``None`` on the queue ends it."""

    def __init__(self, queue: asyncio.Queue[CallEvent | None]) -> None:
        self._queue = queue
        self._done = False

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> CallEvent:
        if self._done:
            raise StopAsyncIteration
        event = await self._queue.get()
        if event is None:
            self._done = True
            raise StopAsyncIteration
        return event
