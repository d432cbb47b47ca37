"""A background job of the app: one task that runs a round every few seconds, started and stopped by the
lifespan. A round that fails is logged and the next one runs; nothing ends the loop but :meth:`stop`."""

from __future__ import annotations

import asyncio
import contextlib
import logging

__all__ = ["Periodic"]

log = logging.getLogger(__name__)


class Periodic:
    """A subclass says what one round does (:meth:`round`)."""

    def __init__(self, name: str, interval: float) -> None:
        self.name = name
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    async def round(self) -> object:
        raise NotImplementedError

    async def _loop(self) -> None:
        while True:
            try:
                await self.round()
            except Exception:  # a bad round must not end the loop; the next round retries
                log.exception("%s round failed", self.name)
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=f"waihu-{self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
