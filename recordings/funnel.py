"""Per-script funnels: how many calls reached each screen and which answers customers chose.

A team lead reads it to see where calls are lost (e.g. many reach the Q1 offer, few accept).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from flows.model import Flow
from flows.runtime import TranscriptEntry


@dataclass
class Funnel:
    flow: str
    calls: int = 0
    #: calls that entered each state at least once
    reached: Counter[str] = field(default_factory=Counter)
    #: (state, answer label) -> times chosen
    answers: Counter[tuple[str, str]] = field(default_factory=Counter)
    objections: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)

    def rows(self, flow: Flow) -> list[dict[str, object]]:
        """One row per script state in file order, with its answers: the shape a report prints."""
        out: list[dict[str, object]] = []
        for state in flow.states.values():
            out.append(
                {
                    "state": state.key,
                    "title": state.title,
                    "reached": self.reached[state.key],
                    "share": round(self.reached[state.key] / self.calls, 4) if self.calls else 0.0,
                    "answers": {o.label: self.answers[(state.key, o.label)] for o in state.options},
                }
            )
        return out


def funnel(flow: Flow, calls: Iterable[tuple[Sequence[TranscriptEntry], str | None]]) -> Funnel:
    """Count (transcript, outcome) pairs of one script version."""
    result = Funnel(flow.ref)
    for transcript, outcome in calls:
        result.calls += 1
        entered = {e.state for e in transcript if e.kind in ("enter", "return")}
        result.reached.update(entered)
        for e in transcript:
            if e.kind == "choose" and e.label is not None:
                result.answers[(e.state, e.label)] += 1
            elif e.kind == "objection" and e.label is not None:
                result.objections[e.label] += 1
        result.outcomes[outcome or "(none)"] += 1
    return result
