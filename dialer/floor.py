"""The agents of a running campaign as the dialer sees them: ready, on a call, wrapping up, paused.

The pacer reads the floor (how many are ready, how long the others have been talking or wrapping
up) and an answered call claims the agent who has waited longest. An answered call with nobody free
waits on :meth:`Floor.wait_for_agent`, which a returning agent wakes — for at most the safe-harbor
limit (2 s), after which the caller abandons the call.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import StrEnum

from dialer.backends.base import Clock
from dialer.errors import FloorError


class SlotState(StrEnum):
    READY = "ready"
    #: held for one call: a preview the agent is deciding on, or a call placed for this agent
    RESERVED = "reserved"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


#: an agent in these states holds no call or preview: a pause or logout applies at once
_IDLE = frozenset({SlotState.READY, SlotState.PAUSED})


@dataclass
class AgentSlot:
    work_id: str
    #: where a call is bridged to: a PJSIP endpoint, or the bot's name on the simulator
    endpoint: str
    state: SlotState
    since: float
    call_id: str | None = None
    #: the agent asked to pause (or to leave the floor) during a call: done when the call is over
    pause_after: bool = False
    leave_after: bool = False


class Floor:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.slots: dict[str, AgentSlot] = {}
        self._changed = asyncio.Condition()

    def add(self, work_id: str, endpoint: str, *, ready: bool = True) -> AgentSlot:
        slot = AgentSlot(work_id, endpoint, SlotState.READY if ready else SlotState.PAUSED, self.clock.now())
        self.slots[work_id] = slot
        return slot

    def _slot(self, work_id: str) -> AgentSlot:
        try:
            return self.slots[work_id]
        except KeyError:
            raise FloorError(f"{work_id} is not on this campaign's floor", details={"work_id": work_id}) from None

    def claim(self, call_id: str) -> AgentSlot | None:
        """The ready agent who has waited longest, now on ``call_id``; None if nobody is ready."""
        ready = [s for s in self.slots.values() if s.state is SlotState.READY]
        if not ready:
            return None
        slot = min(ready, key=lambda s: s.since)
        slot.state, slot.since, slot.call_id = SlotState.ON_CALL, self.clock.now(), call_id
        return slot

    def reserve(self, work_id: str) -> AgentSlot | None:
        """Hold a ready agent for one call (preview, a callback promised to them); None if not ready."""
        slot = self.slots.get(work_id)
        if slot is None or slot.state is not SlotState.READY:
            return None
        slot.state, slot.since = SlotState.RESERVED, self.clock.now()
        return slot

    def take_reserved(self, slot: AgentSlot, call_id: str) -> AgentSlot:
        slot.state, slot.since, slot.call_id = SlotState.ON_CALL, self.clock.now(), call_id
        return slot

    async def wait_for_agent(self, call_id: str, within: float) -> AgentSlot | None:
        """Claim an agent, waiting up to ``within`` seconds for one to become ready."""
        slot = self.claim(call_id)
        if slot is not None or within <= 0:
            return slot
        deadline = self.clock.now() + within
        async with self._changed:
            while slot is None:
                left = deadline - self.clock.now()
                if left <= 0:
                    return None
                try:
                    await asyncio.wait_for(self._changed.wait(), left)
                except TimeoutError:
                    return self.claim(call_id)
                slot = self.claim(call_id)
        return slot

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wrap_up(self, work_id: str) -> None:
        slot = self._slot(work_id)
        slot.state, slot.since, slot.call_id = SlotState.WRAP_UP, self.clock.now(), None

    async def ready(self, work_id: str) -> None:
        """The agent is free again: ready, unless they asked to pause or leave meanwhile."""
        slot = self._slot(work_id)
        if slot.leave_after:
            del self.slots[work_id]
            return
        if slot.pause_after:
            slot.pause_after = False
            slot.state, slot.since, slot.call_id = SlotState.PAUSED, self.clock.now(), None
            return
        slot.state, slot.since, slot.call_id = SlotState.READY, self.clock.now(), None
        await self._notify()

    def _pause_now(self, slot: AgentSlot) -> None:
        slot.state, slot.since = SlotState.PAUSED, self.clock.now()

    async def pause(self, work_id: str) -> None:
        self._pause_now(self._slot(work_id))

    async def request_ready(self, work_id: str, endpoint: str) -> AgentSlot:
        """The agent says ready: joins the floor, or comes back from a pause; during a call the call goes on
        and the agent is ready after it (a pause asked for meanwhile is taken back)."""
        slot = self.slots.get(work_id)
        if slot is None:
            slot = self.add(work_id, endpoint)
            await self._notify()
            return slot
        slot.pause_after = slot.leave_after = False
        if slot.state is SlotState.PAUSED:
            await self.ready(work_id)
        return slot

    def request_pause(self, work_id: str) -> None:
        """The agent pauses: now if idle, else when the current call (or preview) is over."""
        slot = self.slots.get(work_id)
        if slot is None:
            return
        if slot.state in _IDLE:
            self._pause_now(slot)
        else:
            slot.pause_after = True

    def request_leave(self, work_id: str) -> None:
        """The agent logs out: off the floor now if idle, else when the current call is over."""
        slot = self.slots.get(work_id)
        if slot is None:
            return
        if slot.state in _IDLE:
            del self.slots[work_id]
        else:
            slot.leave_after = True

    def elapsed(self, state: SlotState) -> tuple[float, ...]:
        now = self.clock.now()
        return tuple(now - s.since for s in self.slots.values() if s.state is state)

    @property
    def ready_count(self) -> int:
        return sum(1 for s in self.slots.values() if s.state is SlotState.READY)
