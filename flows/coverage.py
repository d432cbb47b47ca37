"""Walks that take every option of a script, and the coverage they actually achieved.

``plan_walks(flow)`` builds, for every option of every state (the objection handlers' included),
a walk from the start that takes it and then finishes the call by the shortest way. ``run_walk``
plays a walk on the real runtime, filling required capture fields with sample values, and
``coverage`` reads the transcripts to say which states and options were really reached — so a
test proves coverage from what the runtime recorded, not from the plan.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from flows.model import Flow, FlowState
from flows.runtime import FlowEngine, FlowRun
from flows.schema import CaptureField, CaptureType


@dataclass(frozen=True)
class Action:
    kind: Literal["option", "objection"]
    state: str
    #: option index (kind "option") or objection id (kind "objection")
    value: int | str


def _shortest_prefixes(flow: Flow, start: str, scope: str | None) -> dict[str, list[Action]]:
    """Shortest option sequences from ``start`` to each state of one scope (script or one handler)."""
    paths: dict[str, list[Action]] = {start: []}
    queue = deque([start])
    while queue:
        key = queue.popleft()
        for opt in flow.states[key].options:
            target = opt.target
            if opt.kind == "to" and target and target not in paths and flow.states[target].objection == scope:
                paths[target] = [*paths[key], Action("option", key, opt.index)]
                queue.append(target)
    return paths


def _finishers(flow: Flow, states: Iterable[FlowState]) -> dict[str, list[Action]]:
    """For each state, the shortest option sequence that ends the call or returns from its handler."""
    states = list(states)
    best: dict[str, list[Action]] = {}
    for st in states:
        for opt in st.options:
            if opt.kind in ("outcome", "return"):
                best[st.key] = [Action("option", st.key, opt.index)]
                break
    changed = True
    while changed:
        changed = False
        for st in states:
            for opt in st.options:
                if opt.kind == "to" and opt.target in best:
                    candidate = [Action("option", st.key, opt.index), *best[opt.target]]
                    if st.key not in best or len(candidate) < len(best[st.key]):
                        best[st.key] = candidate
                        changed = True
    return best


def plan_walks(flow: Flow) -> list[list[Action]]:
    """One walk per option of every state; each walk ends the call."""
    script = [s for s in flow.states.values() if s.objection is None]
    to_script = _shortest_prefixes(flow, flow.start, None)
    finish = _finishers(flow, script)
    walks: list[list[Action]] = []

    def returns(actions: list[Action]) -> bool:
        last = actions[-1]
        return flow.states[last.state].options[int(last.value)].kind == "return"

    def after(opt_kind: str, target: str | None, resume: str, inner: dict[str, list[Action]]) -> list[Action]:
        if opt_kind == "to" and target is not None:
            if flow.states[target].objection is None:
                return finish[target]
            return inner[target] + (finish[resume] if returns(inner[target]) else [])
        if opt_kind == "return":
            return finish[resume]
        return []

    for st in script:
        for opt in st.options:
            walks.append(
                [*to_script[st.key], Action("option", st.key, opt.index), *after(opt.kind, opt.target, "", {})]
            )
    for oid, info in flow.objections.items():
        handler = [s for s in flow.states.values() if s.objection == oid]
        handler_finish = _finishers(flow, handler)
        inside = _shortest_prefixes(flow, info.start, oid)
        enter = [*to_script[flow.start], Action("objection", flow.start, oid)]
        for st in handler:
            for opt in st.options:
                walks.append(
                    [
                        *enter,
                        *inside[st.key],
                        Action("option", st.key, opt.index),
                        *after(opt.kind, opt.target, flow.start, handler_finish),
                    ]
                )
    return walks


def sample_value(field: CaptureField) -> Any:
    """A valid value for a capture field, for walks and rehearsals."""
    if field.type is CaptureType.CHOICE and field.choices:
        return field.choices[0]
    if field.type is CaptureType.INT:
        return field.min if field.min is not None else 1
    if field.type is CaptureType.DATETIME:
        return "2026-11-28T19:30"
    return "测试"


async def run_walk(engine: FlowEngine, walk: list[Action], variables: dict[str, str] | None = None) -> FlowRun:
    """Play a walk on the runtime; returns the (closed) run with its transcript."""
    flow = engine.flow
    values = (
        variables if variables is not None else {n: v.example or v.default or "" for n, v in flow.variables.items()}
    )
    run = engine.new_run(values)
    await run.start()
    try:
        for action in walk:
            if run.state != action.state:
                raise AssertionError(f"walk expected state {action.state}, run is in {run.state}")
            if action.kind == "objection":
                await run.enter_objection(str(action.value))
                continue
            st = flow.states[run.state]
            captured = {f.name: sample_value(f) for f in st.capture if f.required}
            await run.choose(int(action.value), captured)
    finally:
        await run.close()
    return run


@dataclass(frozen=True)
class Coverage:
    states_missing: frozenset[str]
    options_missing: frozenset[tuple[str, str]]
    states_total: int
    options_total: int

    @property
    def complete(self) -> bool:
        return not self.states_missing and not self.options_missing


def coverage(flow: Flow, runs: Iterable[FlowRun]) -> Coverage:
    """Which states and options the runs' transcripts show were reached."""
    seen_states: set[str] = set()
    seen_options: set[tuple[str, str]] = set()
    for run in runs:
        for entry in run.transcript:
            if entry.kind in ("enter", "return"):
                seen_states.add(entry.state)
            elif entry.kind == "choose" and entry.label is not None:
                seen_options.add((entry.state, entry.label))
    all_states = set(flow.states)
    all_options = {(s.key, o.label) for s in flow.states.values() for o in s.options}
    return Coverage(
        frozenset(all_states - seen_states),
        frozenset(all_options - seen_options),
        len(all_states),
        len(all_options),
    )
