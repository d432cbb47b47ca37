"""Cross-reference checks on a script and its objection library.

The pydantic models check each file's shape; here we check what only the whole picture shows:
targets, reachability, dead ends, labels, placeholders, outcomes, capture fields, checkpoints and
objection references. Every problem names its file, line and column and says how to fix it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from flows.errors import Problem
from flows.model import BUILTIN_VARIABLES
from flows.schema import (
    FLOW_ID_PATTERN,
    LIBRARY_REF_PATTERN,
    NAME_PATTERN,
    PLACEHOLDER,
    CaptureField,
    FlowDoc,
    LibraryDoc,
    State,
)
from flows.yamlmarks import Marked, Path

MAX_SCREEN_CHARS = 200


def _suggest(name: str, known: Iterable[str]) -> str:
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=1)
    if close:
        return f"did you mean `{close[0]}`?"
    shown = ", ".join(known[:12]) + (" …" if len(known) > 12 else "")
    return f"known: {shown}" if known else "none are declared"


_PYDANTIC_HINTS = {
    "extra_forbidden": "remove it or fix its spelling; docs/flows.md lists the keys",
    "missing": "add it; docs/flows.md lists the keys",
    "string_type": "write text here; quote the value if YAML read it as a number, a date or yes/no",
    "string_pattern_mismatch": "names are lowercase letters, digits and underscores, starting with a letter",
    "int_type": "write a whole number without quotes, e.g. `{key}: 1`",
    "int_parsing": "write a whole number without quotes, e.g. `{key}: 1`",
    "int_from_float": "write a whole number (no decimal part), e.g. `{key}: 1`",
    "float_type": "write a number, e.g. `{key}: 1.5`",
    "float_parsing": "write a number, e.g. `{key}: 1.5`",
    "bool_type": "write `true` or `false`",
    "bool_parsing": "write `true` or `false`",
    "dict_type": "write a mapping here (`name: value` lines, or `{{name: value}}`)",
    "model_type": "write a mapping here (`name: value` lines, or `{{name: value}}`); docs/flows.md lists the keys",
    "model_attributes_type": "write a mapping here (`name: value` lines); docs/flows.md lists the keys",
    "list_type": "write a list here (`- item` lines, or `[a, b]`)",
    "too_short": "give at least {min_length} item(s)",
    "too_long": "give at most {max_length} item(s)",
    "string_too_short": "it may not be empty: write the text, or remove the key if it is optional",
    "string_too_long": "shorten it to at most {max_length} characters",
    "greater_than": "use a number greater than {gt}",
    "greater_than_equal": "use a number of at least {ge}",
    "less_than": "use a number less than {lt}",
    "less_than_equal": "use a number of at most {le}",
    "enum": "use one of {expected}",
    "literal_error": "use {expected}",
    "none_required": "remove the value",
}

_PATTERN_HINTS = {
    NAME_PATTERN: _PYDANTIC_HINTS["string_pattern_mismatch"],
    FLOW_ID_PATTERN: "ids are lowercase letters, digits and dashes, starting with a letter (e.g. `demo-callback`)",
    LIBRARY_REF_PATTERN: "write the library as `id@version`, e.g. `objections@1`",
}


def _pydantic_hint(err: Any, key: str) -> str:
    """How to fix one pydantic error: by its type, with the limits pydantic reports in ``ctx``."""
    kind = err["type"]
    ctx = {k: v for k, v in (err.get("ctx") or {}).items()}
    if kind == "string_pattern_mismatch":
        return _PATTERN_HINTS.get(str(ctx.get("pattern")), f"the value must match `{ctx.get('pattern')}`")
    template = _PYDANTIC_HINTS.get(kind)
    if template is None:
        if kind.endswith("_type") or kind.endswith("_parsing"):
            return "the value has the wrong type; docs/flows.md says what this key takes"
        return "docs/flows.md says what this key takes"
    try:
        return template.format(key=key, **ctx)
    except (KeyError, IndexError):
        return template.split(" {", 1)[0]


def _shown_input(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "…"


def pydantic_problems(marked: Marked, exc: ValidationError) -> list[Problem]:
    """Turn pydantic's errors into problems at the right line, each with what to change."""
    problems = []
    for err in exc.errors():
        loc: Path = tuple(p for p in err["loc"] if isinstance(p, str | int))
        # a dict key failing its pattern comes as (..., key, "[key]")
        loc = tuple(p for p in loc if p != "[key]")
        kind = err["type"]
        message = err["msg"]
        is_key = kind == "extra_forbidden" or "[key]" in err["loc"]
        key = str(next((p for p in reversed(loc) if isinstance(p, str)), "value"))
        if kind == "extra_forbidden":
            message = f"unknown key `{loc[-1]}`"
        elif kind == "missing":
            message = f"missing key `{loc[-1]}`"
            is_key = False
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        elif "input" in err and not is_key:
            message = f"{message} (got {_shown_input(err['input'])})"
        hint = "" if kind == "value_error" else _pydantic_hint(err, key)
        where = loc[:-1] if kind == "missing" else loc
        problems.append(marked.problem(where, message, hint, key=is_key))
    return problems


def _placeholders(text: str) -> list[str]:
    return PLACEHOLDER.findall(text)


_NAME_START = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _brace_problems(text: str) -> list[tuple[str, str]]:
    """(message, hint) for each brace that is not part of a ``{name}`` placeholder.

    Braces are only for placeholders, so a lone ``{`` or ``}`` is a typo: ``请问是{customer_name吗``
    would otherwise reach the agent's screen as is."""
    out: list[tuple[str, str]] = []
    spans = [m.span() for m in PLACEHOLDER.finditer(text)]
    inside = {i for start, end in spans for i in (start, end - 1)}
    for i, ch in enumerate(text):
        if ch not in "{}" or i in inside:
            continue
        context = text[max(0, i - 8) : i + 12]
        if ch == "{":
            name = _NAME_START.match(text, i + 1)
            if name and text.startswith("}", name.end()):  # {Name}: closed, but not a valid name
                inside.add(name.end())
                out.append(
                    (
                        f"`{{{name.group()}}}` at character {i + 1} is not a placeholder name (in `{context}`)",
                        "placeholder names are lowercase letters, digits and underscores: "
                        f"write `{{{name.group().lower()}}}` and declare it",
                    )
                )
            elif name:
                out.append(
                    (
                        f"unclosed placeholder `{{{name.group()}` at character {i + 1} (in `{context}`)",
                        f"close it: `{{{name.group()}}}`",
                    )
                )
            else:
                out.append(
                    (
                        f"stray `{{` at character {i + 1} (in `{context}`)",
                        "braces are only for `{name}` placeholders: remove it or complete the placeholder",
                    )
                )
        else:
            out.append(
                (
                    f"stray `}}` at character {i + 1} (in `{context}`)",
                    "braces are only for `{name}` placeholders: remove it or add the opening `{name`",
                )
            )
    return out


class _StateGraphCheck:
    """Checks shared by script states and objection handler states."""

    def __init__(self, marked: Marked, base: Path, states: Mapping[str, State], *, in_objection: bool) -> None:
        self.m = marked
        self.base = base
        self.states = states
        self.in_objection = in_objection
        self.problems: list[Problem] = []

    def run(
        self,
        start: str,
        start_path: Path,
        outcomes: Iterable[str],
        names: set[str],
        fields: Mapping[str, CaptureField],
    ) -> list[Problem]:
        outcomes = set(outcomes)
        m, base = self.m, self.base
        if start not in self.states:
            self.problems.append(
                m.problem(start_path, f"start state `{start}` does not exist", _suggest(start, self.states))
            )
        edges: dict[str, set[str]] = {name: set() for name in self.states}
        ends: set[str] = set()
        for name, state in self.states.items():
            spath = (*base, name)
            self._check_texts(spath, state, names)
            seen: dict[str, int] = {}
            for i, opt in enumerate(state.options):
                opath = (*spath, "options", i)
                if opt.label in seen:
                    self.problems.append(
                        m.problem(
                            (*opath, "label"),
                            f"duplicate option label `{opt.label}` in state `{name}` "
                            f"(also option {seen[opt.label] + 1})",
                            "each button of a screen needs its own label",
                        )
                    )
                seen.setdefault(opt.label, i)
                if opt.to is not None:
                    if opt.to in self.states:
                        edges[name].add(opt.to)
                    else:
                        scope = "this objection handler" if self.in_objection else "the script"
                        self.problems.append(
                            m.problem(
                                (*opath, "to"),
                                f"unknown target state `{opt.to}` in {scope}",
                                _suggest(opt.to, self.states),
                            )
                        )
                elif opt.outcome is not None:
                    ends.add(name)
                    if opt.outcome not in outcomes:
                        self.problems.append(
                            m.problem(
                                (*opath, "outcome"),
                                f"undeclared outcome `{opt.outcome}`",
                                f"declare it under `outcomes:` ({_suggest(opt.outcome, outcomes)})",
                            )
                        )
                elif opt.return_:
                    if self.in_objection:
                        ends.add(name)
                    else:
                        self.problems.append(
                            m.problem(
                                (*opath, "return"),
                                "`return: true` is only for objection handlers",
                                "use `to: <state>` or `outcome: <code>` in a script state",
                            )
                        )
                for field_name, value in (opt.set or {}).items():
                    if field_name not in fields:
                        self.problems.append(
                            m.problem(
                                (*opath, "set", field_name),
                                f"`set` names `{field_name}`, which is not a capture field",
                                "declare it in a state's `capture:` list (variables are read-only)",
                                key=True,
                            )
                        )
                    else:
                        self._check_set_value((*opath, "set", field_name), fields[field_name], value)
                    self._check_text((*opath, "set", field_name), value, names)
                if opt.skip_capture and not any(f.required for f in state.capture or ()):
                    self.problems.append(
                        m.problem(
                            (*opath, "skip_capture"),
                            "`skip_capture` on a state without required capture fields does nothing",
                            "remove it",
                            warning=True,
                        )
                    )
        if start in self.states:
            reached = {start}
            todo = [start]
            while todo:
                for nxt in edges[todo.pop()]:
                    if nxt not in reached:
                        reached.add(nxt)
                        todo.append(nxt)
            for name in self.states:
                if name not in reached:
                    self.problems.append(
                        m.problem(
                            (*base, name),
                            f"state `{name}` is unreachable from `{start}`",
                            "add an option leading to it, or remove it",
                            key=True,
                        )
                    )
        finishing = set(ends)
        changed = True
        while changed:
            changed = False
            for name, nexts in edges.items():
                if name not in finishing and nexts & finishing:
                    finishing.add(name)
                    changed = True
        goal = "an outcome or a `return`" if self.in_objection else "an outcome"
        for name in self.states:
            if name not in finishing:
                self.problems.append(
                    m.problem(
                        (*base, name),
                        f"dead end: no path from state `{name}` reaches {goal}",
                        "give one of its options (or a state after it) an `outcome:`",
                        key=True,
                    )
                )
        return self.problems

    def _check_texts(self, spath: Path, state: State, names: set[str]) -> None:
        self._check_text((*spath, "say"), state.say, names)
        if len(state.say) > MAX_SCREEN_CHARS:
            self.problems.append(
                self.m.problem(
                    (*spath, "say"),
                    f"screen text is {len(state.say)} characters (over {MAX_SCREEN_CHARS})",
                    "split it into two states, or move reference material to `notes`",
                    warning=True,
                )
            )
        if state.hint:
            self._check_text((*spath, "hint"), state.hint, names)
        for i, note in enumerate(state.notes or ()):
            self._check_text((*spath, "notes", i), note, names)
        if state.timer:
            self._check_text((*spath, "timer", "cue"), state.timer.cue, names)

    def _check_set_value(self, path: Path, field: CaptureField, value: str) -> None:
        """A literal ``set`` value must pass its field's own check (a choice one of its choices...)."""
        if _placeholders(value):  # filled per call; the runtime checks it then
            return
        try:
            field.coerce(value)
        except ValueError as exc:
            if field.choices:
                hint = f"use one of {', '.join(field.choices)}, or add `{value}` to the field's `choices`"
            else:
                hint = f"give a value the {field.type.value} field `{field.name}` accepts"
            self.problems.append(self.m.problem(path, f"`set` gives `{field.name}` the value `{value}`: {exc}", hint))

    def _check_text(self, path: Path, text: str, names: set[str]) -> None:
        for problem in _brace_problems(text):
            self.problems.append(self.m.problem(path, *problem))
        for ph in _placeholders(text):
            if ph not in names:
                self.problems.append(
                    self.m.problem(
                        path,
                        f"undefined variable `{{{ph}}}` in text",
                        f"declare it under `variables:` or as a capture field ({_suggest(ph, names)})",
                    )
                )


def _capture_fields(
    marked: Marked,
    base: Path,
    states: Mapping[str, State],
    into: dict[str, CaptureField],
    paths: dict[str, Path] | None = None,
) -> list[Problem]:
    problems = []
    for name, state in states.items():
        for i, f in enumerate(state.capture or ()):
            if paths is not None:
                paths.setdefault(f.name, (*base, name, "capture", i, "name"))
            prev = into.get(f.name)
            if prev is not None and (prev.type, prev.choices) != (f.type, f.choices):
                problems.append(
                    marked.problem(
                        (*base, name, "capture", i, "name"),
                        f"capture field `{f.name}` is declared again with another type or choices",
                        "use one definition per field name, or rename one of them",
                    )
                )
            into.setdefault(f.name, f)
    return problems


def check_library(marked: Marked, doc: LibraryDoc) -> list[Problem]:
    """Checks a library on its own: each handler is a small script that must return or end."""
    problems: list[Problem] = []
    fields: dict[str, CaptureField] = {}
    for oid, obj in doc.objections.items():
        problems += _capture_fields(marked, ("objections", oid, "states"), obj.states, fields)
    names = set(doc.variables) | set(BUILTIN_VARIABLES) | set(fields)
    for oid, obj in doc.objections.items():
        graph = _StateGraphCheck(marked, ("objections", oid, "states"), obj.states, in_objection=True)
        problems += graph.run(obj.start, ("objections", oid, "start"), doc.outcomes, names, fields)
    return problems


def check_script(
    marked: Marked,
    doc: FlowDoc,
    library: tuple[Marked, LibraryDoc] | None,
) -> list[Problem]:
    """Checks a script against itself and the library it includes (already loaded, or None)."""
    problems: list[Problem] = []
    m = marked
    outcomes = dict(doc.outcomes)
    fields: dict[str, CaptureField] = {}
    lib_doc = library[1] if library else None
    if doc.objections is not None:
        if lib_doc is None:
            problems.append(
                m.problem(
                    ("objections", "library"),
                    f"objection library `{doc.objections.library}` not found",
                    "put `<id>.v<version>.yaml` with `kind: objections` next to the script",
                )
            )
        else:
            known = lib_doc.objections
            if doc.objections.use != "all":
                for i, oid in enumerate(doc.objections.use):
                    if oid not in known:
                        problems.append(
                            m.problem(
                                ("objections", "use", i),
                                f"unknown objection `{oid}` in library {doc.objections.library}",
                                _suggest(oid, known),
                            )
                        )
            missing = [v for v in lib_doc.variables if v not in doc.variables]
            if missing:
                problems.append(
                    m.problem(
                        ("objections", "library"),
                        f"the library's texts use variables this script does not declare: {', '.join(missing)}",
                        "declare them under `variables:` (with a `default`)",
                    )
                )
            for code, lib_outcome in lib_doc.outcomes.items():
                mine = doc.outcomes.get(code)
                if mine is not None and mine.category != lib_outcome.category:
                    problems.append(
                        m.problem(
                            ("outcomes", code, "category"),
                            f"outcome `{code}` has category `{mine.category}` here but "
                            f"`{lib_outcome.category}` in the objection library",
                            "use the library's category, or another code",
                        )
                    )
                outcomes.setdefault(code, lib_outcome)
            for obj in known.values():
                for state in obj.states.values():
                    for f in state.capture or ():
                        fields.setdefault(f.name, f)
    field_paths: dict[str, Path] = {}
    problems += _capture_fields(m, ("states",), doc.states, fields, field_paths)
    for name in fields:
        if name in doc.variables or name in BUILTIN_VARIABLES:
            where = field_paths.get(name, ("variables", name))
            what = "built in" if name in BUILTIN_VARIABLES else "also a variable"
            problems.append(m.problem(where, f"capture field `{name}` is {what}", "rename the capture field"))
    names = set(doc.variables) | set(BUILTIN_VARIABLES) | set(fields)
    graph = _StateGraphCheck(m, ("states",), doc.states, in_objection=False)
    problems += graph.run(doc.start, ("start",), outcomes, names, fields)
    seen_ids: set[str] = set()
    for i, cp in enumerate(doc.checkpoints):
        if cp.id in seen_ids:
            problems.append(m.problem(("checkpoints", i, "id"), f"duplicate checkpoint id `{cp.id}`", "rename it"))
        seen_ids.add(cp.id)
        for j, st in enumerate(cp.states):
            if st not in doc.states:
                problems.append(
                    m.problem(
                        ("checkpoints", i, "states", j),
                        f"checkpoint `{cp.id}` names unknown state `{st}`",
                        _suggest(st, doc.states),
                    )
                )
    for name, var in doc.variables.items():
        problems += _check_variable(m, name, var)
    return problems


def _check_variable(m: Marked, name: str, var: Any) -> list[Problem]:
    if name in BUILTIN_VARIABLES:
        return [m.problem(("variables", name), f"`{name}` is built in", "remove it from `variables:`", key=True)]
    return []
