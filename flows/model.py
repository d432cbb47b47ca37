"""A validated script merged with its objection library: what the runtime and tools use.

Objection handler states get qualified keys ``<objection>/<state>`` so they share one namespace
with the script's states (script state names cannot contain ``/``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from flows.schema import (
    CaptureField,
    Checkpoint,
    CustomerType,
    FlowDoc,
    LibraryDoc,
    Outcome,
    State,
    Timer,
    Variable,
)

OptionKind = Literal["to", "outcome", "return"]
BUILTIN_VARIABLES = ("brand",)


def objection_key(objection: str, state: str) -> str:
    return f"{objection}/{state}"


@dataclass(frozen=True, slots=True)
class FlowOption:
    index: int
    label: str
    kind: OptionKind
    #: the qualified state key (kind "to"), the outcome code (kind "outcome") or None (kind "return")
    target: str | None
    set: Mapping[str, str]
    skip_capture: bool


@dataclass(frozen=True, slots=True)
class FlowState:
    key: str
    name: str
    objection: str | None
    title: str
    say: str
    hint: str | None
    notes: tuple[str, ...]
    options: tuple[FlowOption, ...]
    capture: tuple[CaptureField, ...]
    timer: Timer | None

    @property
    def required_fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.capture if f.required)


@dataclass(frozen=True, slots=True)
class ObjectionInfo:
    id: str
    label: str
    principle: str | None
    start: str


@dataclass(frozen=True)
class Flow:
    """One immutable script version, ready to run."""

    id: str
    version: int
    title: str
    brand: str
    description: str | None
    start: str
    variables: Mapping[str, Variable]
    outcomes: Mapping[str, Outcome]
    checkpoints: tuple[Checkpoint, ...]
    states: Mapping[str, FlowState]
    objections: Mapping[str, ObjectionInfo]
    customer_types: Mapping[str, CustomerType]
    capture_fields: Mapping[str, CaptureField]
    digest: str
    library: str | None = None
    principles: tuple[str, ...] = field(default=())

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"

    def script_states(self) -> list[FlowState]:
        return [s for s in self.states.values() if s.objection is None]


def _compile_state(name: str, state: State, objection: str | None) -> FlowState:
    key = objection_key(objection, name) if objection else name
    options = []
    for i, opt in enumerate(state.options):
        if opt.to is not None:
            kind: OptionKind = "to"
            target: str | None = objection_key(objection, opt.to) if objection else opt.to
        elif opt.outcome is not None:
            kind, target = "outcome", opt.outcome
        else:
            kind, target = "return", None
        options.append(FlowOption(i, opt.label, kind, target, dict(opt.set or {}), opt.skip_capture))
    return FlowState(
        key=key,
        name=name,
        objection=objection,
        title=state.title or name,
        say=state.say,
        hint=state.hint,
        notes=tuple(state.notes or ()),
        options=tuple(options),
        capture=tuple(state.capture or ()),
        timer=state.timer,
    )


def compile_flow(doc: FlowDoc, library: LibraryDoc | None, digest: str) -> Flow:
    """Merge a validated script with its library. Assumes :mod:`flows.validate` found no errors."""
    states: dict[str, FlowState] = {name: _compile_state(name, st, None) for name, st in doc.states.items()}
    objections: dict[str, ObjectionInfo] = {}
    outcomes: dict[str, Outcome] = {}
    customer_types: dict[str, CustomerType] = {}
    principles: tuple[str, ...] = ()
    if library is not None and doc.objections is not None:
        used = list(library.objections) if doc.objections.use == "all" else list(doc.objections.use)
        for oid in used:
            obj = library.objections[oid]
            objections[oid] = ObjectionInfo(oid, obj.label, obj.principle, objection_key(oid, obj.start))
            for name, st in obj.states.items():
                compiled = _compile_state(name, st, oid)
                states[compiled.key] = compiled
        outcomes.update(library.outcomes)
        customer_types.update(library.customer_types)
        principles = tuple(library.principles)
    outcomes.update(doc.outcomes)
    fields: dict[str, CaptureField] = {}
    for compiled_state in states.values():
        for f in compiled_state.capture:
            fields.setdefault(f.name, f)
    return Flow(
        id=doc.id,
        version=doc.version,
        title=doc.title,
        brand=doc.brand,
        description=doc.description,
        start=doc.start,
        variables=dict(doc.variables),
        outcomes=outcomes,
        checkpoints=tuple(doc.checkpoints),
        states=states,
        objections=objections,
        customer_types=customer_types,
        capture_fields=fields,
        digest=digest,
        library=doc.objections.library if doc.objections else None,
        principles=principles,
    )
