"""Bot agents: they take simulated calls and pick script answers at random (demo, load tests, pacing).

A bot reads each screen for a few seconds, then picks an answer — weighted to the first options,
which the scripts order as the customer agreeing — sometimes raises an objection first, fills the
required fields with valid values, and wraps up for a few seconds after the call.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from dialer.backends.base import Clock
from dialer.floor import AgentSlot
from dialer.runner import LiveCall, PreviewLead
from flows.coverage import sample_value
from flows.runtime import FlowRun


@dataclass
class BotProfile:
    seconds_per_screen: tuple[float, float] = (3.0, 8.0)
    wrap_up_seconds: tuple[float, float] = (3.0, 10.0)
    #: chance of an objection on a screen (at most one per call)
    objection_chance: float = 0.1
    #: how strongly the first options are preferred (1: uniform)
    first_option_bias: float = 2.5
    #: preview mode: seconds spent reading the lead, and the chance of dialing it rather than skipping
    preview_seconds: tuple[float, float] = (1.0, 3.0)
    preview_dial_chance: float = 0.9


class BotDesk:
    """An AgentDesk whose agents are bots; seeded, so a demo run is reproducible."""

    def __init__(self, clock: Clock, *, seed: int = 0, profile: BotProfile | None = None) -> None:
        self.clock = clock
        self.rng = random.Random(seed)
        self.profile = profile or BotProfile()

    def _pause(self, span: tuple[float, float]) -> float:
        return self.rng.uniform(*span)

    async def work(self, call: LiveCall, run: FlowRun) -> None:
        objected = False
        flow = run.flow
        while not run.ended:
            await self.clock.sleep(self._pause(self.profile.seconds_per_screen))
            if run.ended:  # the customer hung up while the agent spoke
                return
            state = flow.states[run.state]
            if (
                not objected
                and state.objection is None
                and flow.objections
                and self.rng.random() < self.profile.objection_chance
            ):
                objected = True
                await run.enter_objection(self.rng.choice(sorted(flow.objections)))
                continue
            weights = [self.profile.first_option_bias**-i for i in range(len(state.options))]
            option = self.rng.choices(state.options, weights=weights)[0]
            values = {f.name: sample_value(f) for f in state.capture if f.required and not option.skip_capture}
            await run.choose(option.index, values)

    async def wrap_up(self, call: LiveCall) -> None:
        await self.clock.sleep(self._pause(self.profile.wrap_up_seconds))

    async def preview(self, agent: AgentSlot, lead: PreviewLead) -> bool:
        await self.clock.sleep(self._pause(self.profile.preview_seconds))
        return self.rng.random() < self.profile.preview_dial_chance
