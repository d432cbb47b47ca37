"""Mermaid state diagrams of a script, for docs, reviews and the API's diagram route."""

from __future__ import annotations

import re

from flows.model import Flow

_UNSAFE = re.compile(r"[\"`:;#{}<>|\[\]\n]")


def _label(text: str, limit: int = 24) -> str:
    text = _UNSAFE.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _node(key: str) -> str:
    return "s_" + re.sub(r"[^A-Za-z0-9_]", "_", key)


def mermaid(flow: Flow, *, objections: bool = True) -> str:
    """``stateDiagram-v2`` text: one node per state, one edge per option, outcomes as end nodes."""
    lines = ["stateDiagram-v2", f"    %% {flow.ref} {flow.title} ({flow.digest[:12]})"]
    outcome_nodes: dict[str, str] = {}

    def outcome_node(code: str) -> str:
        if code not in outcome_nodes:
            node = f"o_{code}"
            outcome_nodes[code] = node
            oc = flow.outcomes[code]
            lines.append(f'    state "{_label(oc.label)} ({code})" as {node}')
        return outcome_nodes[code]

    states = [s for s in flow.states.values() if objections or s.objection is None]
    for st in states:
        lines.append(f'    state "{_label(st.title)}" as {_node(st.key)}')
    lines.append(f"    [*] --> {_node(flow.start)}")
    for st in states:
        for opt in st.options:
            if opt.kind == "to" and opt.target:
                dest = _node(opt.target)
            elif opt.kind == "outcome" and opt.target:
                dest = outcome_node(opt.target)
            else:
                dest = "s_return_to_caller"
            lines.append(f"    {_node(st.key)} --> {dest}: {_label(opt.label)}")
    if objections and flow.objections:
        lines.append('    state "返回被打断的步骤" as s_return_to_caller')
        for info in flow.objections.values():
            lines.append(f"    note right of {_node(info.start)}: 异议 {_label(info.label, 30)}")
    for node in outcome_nodes.values():
        lines.append(f"    {node} --> [*]")
    return "\n".join(lines) + "\n"
