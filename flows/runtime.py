"""Running a script during a call: one shared ``transitions`` AsyncMachine per script version.

Every call is a :class:`FlowRun` (a model of the version's machine, added on start and removed
as soon as the call ends: an outcome or a hang-up; ``close()`` is then a no-op), so ten thousand
concurrent calls share one set of states, events and transitions.
The machine enforces which moves exist; the run keeps what the call needs: the captured values,
the return stack of objection handlers, the transcript with offsets from call start, the
checkpoints met and the customer-type tags. A run serialises to JSON and restores mid-call.

Machine layout (``FlowEngine``): states are the script's states, the handlers' states
(``<objection>/<state>``) and ``__end__``; trigger ``opt<i>`` takes option *i* of the current
state, ``objection:<id>`` opens a handler from any state, ``resume:<state>`` returns from a
handler to the interrupted state, ``hangup`` ends the call from anywhere.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from transitions.extensions.asyncio import AsyncMachine

from flows.errors import CaptureError, FlowRunError, InvalidChoice, UnknownObjection
from flows.model import Flow, FlowOption, FlowState
from flows.schema import PLACEHOLDER, CaptureField, Checkpoint, PiiKind

END = "__end__"
MAX_OBJECTION_DEPTH = 3
SNAPSHOT_FORMAT = 1

Clock = Callable[[], float]
#: (pii kind, value) -> what the agent may see; the platform passes ``waihu.pii.mask``
Masker = Callable[[str, str], str]


def mask_fully(kind: str, value: str) -> str:
    """The safe default when no masker is given: show nothing of the value."""
    return "*" * len(value)


class _Models:
    """The machine's model registry with O(1) add, remove and membership (transitions uses a list)."""

    def __init__(self) -> None:
        self._by_id: dict[int, object] = {}

    def append(self, model: object) -> None:
        self._by_id[id(model)] = model

    def remove(self, model: object) -> None:
        del self._by_id[id(model)]

    def __contains__(self, model: object) -> bool:
        return id(model) in self._by_id

    def __iter__(self) -> Iterator[object]:
        return iter(list(self._by_id.values()))

    def __len__(self) -> int:
        return len(self._by_id)

    def __getitem__(self, index: int) -> object:
        return list(self._by_id.values())[index]


class _SharedMachine(AsyncMachine):
    """An AsyncMachine whose models carry no bound convenience methods.

    transitions normally binds ``is_<state>``, ``<trigger>`` and ``may_<trigger>`` onto every model;
    with a hundred states and triggers that is kilobytes per call. We trigger events through the
    machine instead, so a run costs only its own data (see ``bench/flows.py``).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.models = _Models()  # type: ignore[assignment]

    def _checked_assignment(self, model: object, name: str, func: object) -> None:
        return None

    def _add_trigger_to_model(self, trigger: str, model: object) -> None:
        return None

    def _add_model_to_state(self, state: object, model: object) -> None:
        return None

    async def callbacks(self, funcs: Any, event_data: Any) -> None:  # type: ignore[override]
        # Most hooks are empty for us; skipping them saves an asyncio.gather per hook and transition.
        if funcs:
            await super().callbacks(funcs, event_data)


class FlowEngine:
    """One script version and its shared state machine; start calls with :meth:`new_run`."""

    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        keys: list[Any] = list(flow.states)
        machine = _SharedMachine(
            model=None,
            states=[*keys, END],
            initial=flow.start,
            auto_transitions=False,
            queued="model",
            send_event=False,
            ignore_invalid_triggers=False,
            name=flow.ref,
        )
        returning: list[Any] = []
        for state in flow.states.values():
            for opt in state.options:
                if opt.kind == "to":
                    machine.add_transition(f"opt{opt.index}", state.key, opt.target)
                elif opt.kind == "outcome":
                    machine.add_transition(f"opt{opt.index}", state.key, END)
                elif state.key not in returning:
                    returning.append(state.key)
        for oid, info in flow.objections.items():
            machine.add_transition(f"objection:{oid}", keys, info.start)
        if returning:
            for key in keys:
                machine.add_transition(f"resume:{key}", returning, key)
        machine.add_transition("hangup", keys, END)
        self.machine = machine
        self.checkpoints_by_state: dict[str, tuple[Checkpoint, ...]] = {}
        for cp in flow.checkpoints:
            for st in cp.states:
                self.checkpoints_by_state[st] = (*self.checkpoints_by_state.get(st, ()), cp)

    async def _fire(self, run: FlowRun, trigger: str) -> None:
        ok = await self.machine.events[trigger].trigger(run)
        if not ok:  # pragma: no cover - the run checks first; a refusal here is a bug worth a loud error
            raise FlowRunError(f"the state machine refused `{trigger}` in state `{run.state}`")

    def new_run(
        self,
        variables: Mapping[str, str] | None = None,
        *,
        call_id: str | None = None,
        clock: Clock = time.time,
        mask: Masker = mask_fully,
        started_at: float | None = None,
    ) -> FlowRun:
        return FlowRun(self, variables or {}, call_id=call_id, clock=clock, mask=mask, started_at=started_at)

    async def restore(
        self,
        snapshot: Mapping[str, Any],
        variables: Mapping[str, str] | None = None,
        *,
        clock: Clock = time.time,
        mask: Masker = mask_fully,
    ) -> FlowRun:
        """A run continued from :meth:`FlowRun.to_dict`, at the same step (after a reconnect or restart)."""
        return await FlowRun._restore(self, snapshot, variables or {}, clock=clock, mask=mask)


EntryKind = Literal["enter", "choose", "objection", "return", "tag", "outcome", "hangup", "restore"]


@dataclass(frozen=True, slots=True)
class TranscriptEntry:
    """One step of a call: what happened, in which state, how many seconds after call start."""

    at: float
    kind: EntryKind
    state: str
    label: str | None = None
    values: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"at": round(self.at, 3), "kind": self.kind, "state": self.state}
        if self.label is not None:
            out["label"] = self.label
        if self.values:
            out["values"] = dict(self.values)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TranscriptEntry:
        return cls(float(data["at"]), data["kind"], data["state"], data.get("label"), data.get("values"))


@dataclass(frozen=True, slots=True)
class OptionView:
    index: int
    label: str
    kind: str
    ends_call: bool


@dataclass(frozen=True, slots=True)
class StepView:
    """What the agent's screen shows now."""

    state: str
    title: str
    text: str
    hint: str | None
    notes: tuple[str, ...]
    options: tuple[OptionView, ...]
    capture: tuple[CaptureField, ...]
    captured: Mapping[str, str]
    timer_after: int | None
    timer_cue: str | None
    objection: str | None
    objection_label: str | None
    depth: int


CheckpointState = Literal["met", "late", "missed", "pending"]


@dataclass(frozen=True, slots=True)
class CheckpointStatus:
    id: str
    label: str
    within: int
    status: CheckpointState
    reached_at: float | None


def shown_value(flow: Flow, name: str, variables: Mapping[str, str], captured: Mapping[str, Any], mask: Masker) -> str:
    """What the screen shows for one placeholder: PII masked, a missing value as 【its label】."""
    if name == "brand":
        return flow.brand
    var = flow.variables.get(name)
    if var is not None:
        value = variables.get(name, var.default)
        if value is None:
            return f"【{var.label}】"
        return mask(var.pii.value, value) if var.pii else value
    field = flow.capture_fields.get(name)
    if field is not None:
        if name not in captured:
            return f"【{field.label}】"
        text = str(captured[name])
        return mask(field.pii.value, text) if field.pii else text
    return "{" + name + "}"


def render_text(
    flow: Flow, template: str, variables: Mapping[str, str], captured: Mapping[str, Any], mask: Masker
) -> str:
    """A script text with its placeholders filled as the agent's screen shows them."""
    return PLACEHOLDER.sub(lambda m: shown_value(flow, m.group(1), variables, captured, mask), template)


def checkpoint_statuses(
    flow: Flow, reached: Mapping[str, float], *, elapsed: float, ended: bool
) -> list[CheckpointStatus]:
    """Each checkpoint met (in time), late, missed or still pending, from when its states were first reached."""
    out = []
    for cp in flow.checkpoints:
        at = reached.get(cp.id)
        status: CheckpointState
        if at is not None:
            status = "met" if at <= cp.within else "late"
        elif ended or elapsed > cp.within:
            status = "missed"
        else:
            status = "pending"
        out.append(CheckpointStatus(cp.id, cp.label, cp.within, status, at))
    return out


def reached_from_transcript(flow: Flow, transcript: Iterable[TranscriptEntry]) -> dict[str, float]:
    """When each checkpoint's states were first entered, read back from a stored transcript."""
    reached: dict[str, float] = {}
    for entry in transcript:
        if entry.kind in ("enter", "return"):
            for cp in flow.checkpoints:
                if entry.state in cp.states:
                    reached.setdefault(cp.id, entry.at)
    return reached


class FlowRun:
    """One call's walk through a script. Create with :meth:`FlowEngine.new_run`, then ``await start()``."""

    __slots__ = (
        "_busy",
        "_listeners",
        "call_id",
        "captured",
        "clock",
        "ended",
        "engine",
        "entered_at",
        "mask",
        "outcome",
        "reached",
        "stack",
        "started_at",
        "state",
        "tags",
        "transcript",
        "variables",
    )

    def __init__(
        self,
        engine: FlowEngine,
        variables: Mapping[str, str],
        *,
        call_id: str | None,
        clock: Clock,
        mask: Masker,
        started_at: float | None,
    ) -> None:
        self.engine = engine
        self.variables = dict(variables)
        self.call_id = call_id
        self.clock = clock
        self.mask = mask
        self.started_at = clock() if started_at is None else started_at
        self.entered_at = self.started_at
        self.captured: dict[str, Any] = {}
        self.stack: list[str] = []
        self.transcript: list[TranscriptEntry] = []
        self.reached: dict[str, float] = {}
        self.tags: list[str] = []
        self.outcome: str | None = None
        self.ended = False
        self._busy = False
        self._listeners: list[Callable[[], None]] | None = None
        self.state: str = ""

    # -- life cycle ---------------------------------------------------------------------------

    @property
    def flow(self) -> Flow:
        return self.engine.flow

    async def start(self) -> StepView:
        """Attach to the shared machine and show the first screen."""
        if self.state:
            raise FlowRunError("this run has already started")
        self.engine.machine.add_model(self)
        self._entered("enter")
        return self.step

    def on_end(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the run ends (an outcome, or the line dropped); at once if it has ended.

        For whoever waits on the agent while the customer may hang up (the console), so nobody polls."""
        if self.ended:
            callback()
            return
        if self._listeners is None:
            self._listeners = []
        self._listeners.append(callback)

    def _ended(self) -> None:
        listeners, self._listeners = self._listeners, None
        for callback in listeners or ():
            callback()

    async def close(self) -> None:
        """Detach from the shared machine. A run detaches itself when it ends (outcome or hang-up);
        call this too when a call is abandoned mid-script. Safe to call any number of times."""
        self._detach()

    def _detach(self) -> None:
        # Only after the ending event has left the machine's per-model queue (``_fire`` returned).
        if self in self.engine.machine.models:
            self.engine.machine.remove_model(self)

    def now(self) -> float:
        return self.clock() - self.started_at

    # -- what the screen shows ----------------------------------------------------------------

    @property
    def current(self) -> FlowState:
        if self.ended:
            raise InvalidChoice("the call's script has ended", {"outcome": self.outcome})
        return self.flow.states[self.state]

    @property
    def step(self) -> StepView:
        st = self.current
        info = self.flow.objections.get(st.objection) if st.objection else None
        return StepView(
            state=st.key,
            title=st.title,
            text=self.render(st.say),
            hint=self.render(st.hint) if st.hint else None,
            notes=tuple(self.render(n) for n in st.notes),
            options=tuple(OptionView(o.index, o.label, o.kind, o.kind == "outcome") for o in st.options),
            capture=st.capture,
            captured={f.name: self._shown(f.name) for f in st.capture if f.name in self.captured},
            timer_after=st.timer.after if st.timer else None,
            timer_cue=self.render(st.timer.cue) if st.timer else None,
            objection=st.objection,
            objection_label=info.label if info else None,
            depth=len(self.stack),
        )

    def render(self, template: str) -> str:
        """A text with its placeholders filled; PII shown masked, unknown values as 【label】."""
        return render_text(self.flow, template, self.variables, self.captured, self.mask)

    def _shown(self, name: str) -> str:
        return shown_value(self.flow, name, self.variables, self.captured, self.mask)

    def _raw(self, template: str, pending: Mapping[str, Any] | None = None) -> str:
        """A template filled with raw values (for ``set``); ``pending`` are this screen's values, not yet stored."""
        captured = {**self.captured, **pending} if pending else self.captured

        def fill(m: Any) -> str:
            name = m.group(1)
            if name == "brand":
                return self.flow.brand
            var = self.flow.variables.get(name)
            if var is not None:
                return self.variables.get(name, var.default) or ""
            return str(captured.get(name, ""))

        return PLACEHOLDER.sub(fill, template)

    def timer_due(self) -> str | None:
        """The current state's coaching cue once the agent has stayed past its timer, else None."""
        if self.ended:
            return None
        st = self.flow.states[self.state]
        if st.timer and self.clock() - self.entered_at >= st.timer.after:
            return self.render(st.timer.cue)
        return None

    # -- actions ------------------------------------------------------------------------------

    def _option(self, choice: int | str) -> FlowOption:
        st = self.current
        for opt in st.options:
            if opt.index == choice or opt.label == choice:
                return opt
        raise InvalidChoice(
            f"no option {choice!r} in state `{st.key}`",
            {"state": st.key, "options": [o.label for o in st.options]},
        )

    async def choose(self, choice: int | str, values: Mapping[str, Any] | None = None) -> StepView | None:
        """Take an option (by index or label) with the values captured on this screen.

        Returns the next screen, or None when the option ended the call (see :attr:`outcome`).
        """
        opt = self._option(choice)
        st = self.current
        clean = self._validate(st, values or {}, required=not opt.skip_capture)
        filled = self._filled(st, opt, clean)
        async with self._exclusive():
            self.captured.update(clean)
            self.captured.update(filled)
            self._record("choose", st.key, opt.label, clean or None)
            if opt.kind == "to":
                await self.engine._fire(self, f"opt{opt.index}")
                self._entered("enter")
            elif opt.kind == "outcome":
                await self.engine._fire(self, f"opt{opt.index}")
                self._end(opt.target)
                return None
            else:
                back = self.stack.pop()
                await self.engine._fire(self, f"resume:{back}")
                self._entered("return")
        return self.step

    async def enter_objection(self, objection: str) -> StepView:
        """Open a handler from the current screen; its ``return`` options come back here."""
        st = self.current
        info = self.flow.objections.get(objection)
        if info is None:
            raise UnknownObjection(
                f"this script offers no objection handler `{objection}`",
                {"objection": objection, "known": list(self.flow.objections)},
            )
        open_handlers = {self.flow.states[k].objection for k in self.stack} | {st.objection}
        if objection in open_handlers:
            raise InvalidChoice(f"the handler `{objection}` is already open", {"objection": objection})
        if len(self.stack) >= MAX_OBJECTION_DEPTH:
            raise InvalidChoice("too many handlers open: return from one first", {"depth": len(self.stack)})
        async with self._exclusive():
            self.stack.append(st.key)
            self._record("objection", st.key, info.label)
            await self.engine._fire(self, f"objection:{objection}")
            self._entered("enter")
        return self.step

    def tag_customer_type(self, code: str) -> None:
        """Note which of the seven customer types the agent recognised (a QA and coaching cue)."""
        ctype = self.flow.customer_types.get(code)
        if ctype is None:
            raise InvalidChoice(f"unknown customer type `{code}`", {"known": list(self.flow.customer_types)})
        if code not in self.tags:
            self.tags.append(code)
        self._record("tag", self.state, ctype.label, {"type": code})

    async def hang_up(self, reason: str = "hangup") -> None:
        """End the run without an outcome (the line dropped); the dialer decides the disposition."""
        if self.ended:
            return
        async with self._exclusive():
            await self.engine._fire(self, "hangup")
            self.ended = True
            self.stack.clear()
            self._record("hangup", END, reason)
            self._detach()
        self._ended()

    # -- coaching ----------------------------------------------------------------------------

    def checkpoints(self) -> list[CheckpointStatus]:
        """Whether each golden-opening checkpoint was reached in time."""
        return checkpoint_statuses(self.flow, self.reached, elapsed=self.now(), ended=self.ended)

    # -- internals ----------------------------------------------------------------------------

    def _exclusive(self) -> _Exclusive:
        return _Exclusive(self)

    def _record(
        self, kind: EntryKind, state: str, label: str | None = None, values: Mapping[str, Any] | None = None
    ) -> None:
        self.transcript.append(TranscriptEntry(self.now(), kind, state, label, values))

    def _entered(self, kind: EntryKind) -> None:
        self.entered_at = self.clock()
        at = self.entered_at - self.started_at
        self.transcript.append(TranscriptEntry(at, kind, self.state))
        for cp in self.engine.checkpoints_by_state.get(self.state, ()):
            self.reached.setdefault(cp.id, at)

    def _end(self, outcome: str | None) -> None:
        self.ended = True
        self.outcome = outcome
        self.stack.clear()
        self._record("outcome", END, outcome)
        self._detach()
        self._ended()

    def _filled(self, st: FlowState, opt: FlowOption, pending: Mapping[str, Any]) -> dict[str, Any]:
        """The values an option's ``set`` stores, coerced like typed-in values (a choice must be one of its choices)."""
        out: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for name, template in opt.set.items():
            field = self.flow.capture_fields.get(name)
            raw = self._raw(template, pending)
            if field is None:  # pragma: no cover - the validator refuses `set` into undeclared fields
                out[name] = raw
                continue
            try:
                out[name] = field.coerce(raw)
            except ValueError as exc:
                errors[name] = str(exc)
        if errors:
            raise CaptureError(
                f"option `{opt.label}` sets invalid values: " + "; ".join(f"{k}: {v}" for k, v in errors.items()),
                {"fields": errors, "state": st.key, "option": opt.label},
            )
        return out

    def _validate(self, st: FlowState, values: Mapping[str, Any], *, required: bool) -> dict[str, Any]:
        fields = {f.name: f for f in st.capture}
        errors: dict[str, str] = {}
        clean: dict[str, Any] = {}
        for name, value in values.items():
            field = fields.get(name)
            if field is None:
                errors[name] = f"this screen has no field `{name}`"
                continue
            if value is None or value == "":
                continue
            try:
                clean[name] = field.coerce(value)
            except ValueError as exc:
                errors[name] = str(exc)
        if required:
            for name in st.required_fields:
                if name not in clean and name not in self.captured and name not in errors:
                    errors[name] = f"{fields[name].label}为必填项 (required)"
        if errors:
            raise CaptureError(
                "captured values are missing or invalid: " + "; ".join(f"{k}: {v}" for k, v in errors.items()),
                {"fields": errors, "state": st.key},
            )
        return clean

    # -- persistence --------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready snapshot. Variables (the lead's data) are not in it: pass them again on restore.

        Captured values are in it; store snapshots encrypted when a capture field is marked ``pii``.
        """
        return {
            "format": SNAPSHOT_FORMAT,
            "flow": self.flow.id,
            "version": self.flow.version,
            "digest": self.flow.digest,
            "call_id": self.call_id,
            "state": self.state,
            "stack": list(self.stack),
            "captured": dict(self.captured),
            "started_at": self.started_at,
            "entered_at": self.entered_at,
            "outcome": self.outcome,
            "ended": self.ended,
            "tags": list(self.tags),
            "reached": dict(self.reached),
            "transcript": [e.to_dict() for e in self.transcript],
        }

    @classmethod
    async def _restore(
        cls,
        engine: FlowEngine,
        data: Mapping[str, Any],
        variables: Mapping[str, str],
        *,
        clock: Clock,
        mask: Masker,
    ) -> FlowRun:
        flow = engine.flow
        if data.get("format") != SNAPSHOT_FORMAT:
            raise FlowRunError(f"unknown snapshot format {data.get('format')!r}", {"expected": SNAPSHOT_FORMAT})
        if (data.get("flow"), data.get("version")) != (flow.id, flow.version):
            raise FlowRunError(
                f"the snapshot is of {data.get('flow')}@{data.get('version')}, not {flow.ref}",
                {"snapshot": f"{data.get('flow')}@{data.get('version')}", "engine": flow.ref},
            )
        if data.get("digest") != flow.digest:
            raise FlowRunError(
                f"{flow.ref} changed since the snapshot was taken (a published version must never change)",
                {"snapshot_digest": data.get("digest"), "engine_digest": flow.digest},
            )
        state = data["state"]
        if state not in flow.states and state != END:
            raise FlowRunError(f"the snapshot's state `{state}` is not in {flow.ref}")
        run = cls(
            engine,
            variables,
            call_id=data.get("call_id"),
            clock=clock,
            mask=mask,
            started_at=data["started_at"],
        )
        run.captured = dict(data.get("captured") or {})
        run.stack = list(data.get("stack") or [])
        run.entered_at = float(data.get("entered_at", run.started_at))
        run.outcome = data.get("outcome")
        run.ended = bool(data.get("ended"))
        run.tags = list(data.get("tags") or [])
        run.reached = {k: float(v) for k, v in (data.get("reached") or {}).items()}
        run.transcript = [TranscriptEntry.from_dict(e) for e in data.get("transcript") or []]
        if run.ended:  # an ended call is not a model of the machine: it only shows its record
            run.state = state
        else:
            engine.machine.add_model(run, initial=state)
            run._record("restore", state)
        return run


class _Exclusive:
    """Refuses a second action while one is being applied (a double click, two consoles)."""

    __slots__ = ("run",)

    def __init__(self, run: FlowRun) -> None:
        self.run = run

    async def __aenter__(self) -> None:
        if self.run._busy:
            raise FlowRunError("another action on this call is still being applied; retry", {"state": self.run.state})
        self.run._busy = True

    async def __aexit__(self, *exc: object) -> None:
        self.run._busy = False


__all__ = [
    "END",
    "CheckpointStatus",
    "FlowEngine",
    "FlowRun",
    "Masker",
    "OptionView",
    "PiiKind",
    "StepView",
    "TranscriptEntry",
    "checkpoint_statuses",
    "mask_fully",
    "reached_from_transcript",
    "render_text",
    "shown_value",
]
