"""YAML to plain Python, remembering where every key and value sits in the file.

PyYAML's composer keeps a line/column mark on every node; we build dicts and lists ourselves so
that each path (``("states", "connect", "options", 1, "to")``) maps to its mark. Duplicate
mapping keys, which PyYAML silently lets the last one win, are reported here.

Limits: PyYAML's composer recurses once per nesting level and an alias (``*name``) repeats its anchor's
whole value, so a hostile file could exhaust the stack (``[[[[…]]]]``) or the memory ("billion laughs":
anchors of anchors). A script nests a handful of levels and repeats a few values, so a file nesting deeper
than :data:`MAX_DEPTH`, an alias that contains itself, or aliases repeating more than
:data:`MAX_ALIAS_VALUES` values is reported as a problem at the place it happens, like any syntax error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from flows.errors import Problem

Path = tuple[str | int, ...]

#: the deepest nesting of mappings and lists a file may have (the shipped scripts use at most 7)
MAX_DEPTH = 32
#: the most values that aliases may repeat in one file (each alias counts the values it stands for)
MAX_ALIAS_VALUES = 10_000


class _Limit(Exception):
    """A file beyond one of the limits; carries the problem to report."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses to compose deeper than MAX_DEPTH, and remembers where each alias was used."""

    def __init__(self, stream: str, file: str) -> None:
        super().__init__(stream)
        self.file = file
        self.depth = 0
        #: (id(parent node), index or id(key node)) -> (line, column, anchor) of an alias used there
        self.aliases: dict[tuple[int, object], tuple[int, int, str]] = {}

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        # ``index`` is a list index, a mapping's key node, or None for a key (the stubs say int)
        event = self.peek_event()  # type: ignore[no-untyped-call]
        line, col = _event_mark(event)
        if isinstance(event, yaml.AliasEvent):
            key: object = index if isinstance(index, int) else id(index)
            self.aliases[(id(parent), key)] = (line, col, str(event.anchor))
            return super().compose_node(parent, index)
        if not isinstance(event, yaml.CollectionStartEvent):
            return super().compose_node(parent, index)
        if self.depth >= MAX_DEPTH:
            raise _Limit(_too_deep(self.file, line, col))
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _event_mark(event: yaml.Event) -> tuple[int, int]:
    mark = event.start_mark
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def _too_deep(file: str, line: int, column: int, via: str = "") -> Problem:
    return Problem(
        file,
        line,
        column,
        f"the file nests too deeply (more than {MAX_DEPTH} levels{via}); a script needs only a few levels",
        "close the brackets, or undo the indentation, that open here: states, options and captures nest "
        "about 6 levels deep",
    )


@dataclass
class Marked:
    """A parsed document and the marks of its nodes (1-based line and column)."""

    data: Any
    file: str
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def where(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """The mark of ``path`` or of its nearest ancestor that has one."""
        probe = tuple(path)
        while True:
            if key and probe in self.keys:
                return self.keys[probe]
            if probe in self.values:
                return self.values[probe]
            if probe in self.keys:
                return self.keys[probe]
            if not probe:
                return (1, 1)
            probe = probe[:-1]

    def problem(self, path: Path, message: str, hint: str = "", *, key: bool = False, warning: bool = False) -> Problem:
        line, col = self.where(path, key=key)
        return Problem(
            file=self.file,
            line=line,
            column=col,
            message=message,
            hint=hint,
            severity="warning" if warning else "error",
            path=dotted(path),
        )


#: where the alias a value is built through was used: line, column, anchor name, dotted path
Alias = tuple[int, int, str, str] | None


def dotted(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _mark(node: yaml.Node) -> tuple[int, int]:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


def _reader_problem(file: str, text: str, exc: yaml.reader.ReaderError) -> Problem:
    before = text[: exc.position]
    line = before.count("\n") + 1
    column = exc.position - (before.rfind("\n") + 1) + 1
    return Problem(
        file,
        line,
        column,
        f"character {exc.character!r} is not allowed in YAML",
        "remove the control character (often pasted from another program)",
    )


def load_marked(text: str, file: str) -> tuple[Marked | None, list[Problem]]:
    """Parse one YAML document. Returns the document or the problems that stopped it."""
    try:
        return _load_marked(text, file)
    except _Limit as exc:
        return None, [exc.problem]
    except RecursionError:  # the limits above keep the stack shallow; this is the last line of defence
        return None, [_too_deep(file, 1, 1)]


def _load_marked(text: str, file: str) -> tuple[Marked | None, list[Problem]]:
    try:
        loader = _BoundedLoader(text, file)
    except yaml.reader.ReaderError as exc:  # a control character, found while the reader starts
        return None, [_reader_problem(file, text, exc)]
    try:
        node = loader.get_single_node()
    except yaml.reader.ReaderError as exc:
        return None, [_reader_problem(file, text, exc)]
    except yaml.MarkedYAMLError as exc:
        # A construct left open (a quote, a bracket) is only noticed at the end of the file; its
        # start, in the context mark, is where the fix goes.
        at_end = "end of stream" in (exc.problem or "")
        mark = (exc.context_mark or exc.problem_mark) if at_end else (exc.problem_mark or exc.context_mark)
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        reason = "; ".join(p for p in (exc.context, exc.problem) if p) or "cannot parse YAML"
        return None, [Problem(file, line, col, f"YAML syntax: {reason}", "check indentation and quoting there")]
    except yaml.YAMLError as exc:
        return None, [Problem(file, 1, 1, f"YAML syntax: {exc}")]
    finally:
        loader.dispose()
    if node is None:
        return None, [Problem(file, 1, 1, "the file is empty", "start with `id:`, `version:` and `states:`")]
    marked = Marked(data=None, file=file)
    problems: list[Problem] = []
    constructor = yaml.SafeLoader("")
    aliases = loader.aliases
    #: the nodes being built (their ids): an alias to one of them is a loop
    open_nodes: set[int] = set()
    repeated = 0

    def child(parent: yaml.Node, index: object, n: yaml.Node, path: Path, depth: int, alias: Alias) -> Any:
        nonlocal repeated
        used = aliases.get((id(parent), index if isinstance(index, int) else id(index)))
        if used is not None:
            line, col, anchor = used
            if id(n) in open_nodes:
                raise _Limit(
                    Problem(
                        file,
                        line,
                        col,
                        f"the alias `*{anchor}` stands for a value that contains it (a loop)",
                        f"an alias may only repeat a finished value: move `*{anchor}` out of `&{anchor}`",
                        path=dotted(path),
                    )
                )
            if alias is None:  # the outermost alias is where the document's own text starts repeating
                alias = (line, col, anchor, dotted(path))
        if alias is not None:
            repeated += 1
            if repeated > MAX_ALIAS_VALUES:
                line, col, anchor, at = alias
                raise _Limit(
                    Problem(
                        file,
                        line,
                        col,
                        f"aliases repeat more than {MAX_ALIAS_VALUES} values (here `*{anchor}`); "
                        "a script needs only a few",
                        "anchors that hold aliases of other anchors multiply: write the values out, or repeat less",
                        path=at,
                    )
                )
        return build(n, path, depth, alias)

    def build(n: yaml.Node, path: Path, depth: int, alias: Alias) -> Any:
        marked.values[path] = _mark(n)
        if not isinstance(n, yaml.CollectionNode):
            return constructor.construct_object(n, deep=True)
        if depth >= MAX_DEPTH:  # an alias can put a deep value deeper still
            line, col = alias[:2] if alias is not None else _mark(n)
            raise _Limit(_too_deep(file, line, col, " with its aliases"))
        open_nodes.add(id(n))
        try:
            if isinstance(n, yaml.SequenceNode):
                return [child(n, i, item, (*path, i), depth + 1, alias) for i, item in enumerate(n.value)]
            out: dict[Any, Any] = {}
            for key_node, value_node in n.value:
                key = build_scalar_key(key_node, path)
                if key in out:
                    line, col = _mark(key_node)
                    first = marked.keys.get((*path, key), (0, 0))[0]
                    problems.append(
                        Problem(
                            file,
                            line,
                            col,
                            f"duplicate key `{key}` (first at line {first})",
                            "each key may appear once in a mapping: rename or merge them",
                            path=dotted((*path, key)),
                        )
                    )
                    continue
                marked.keys[(*path, key)] = _mark(key_node)
                out[key] = child(n, key_node, value_node, (*path, key), depth + 1, alias)
            return out
        finally:
            open_nodes.discard(id(n))

    def build_scalar_key(key_node: yaml.Node, path: Path) -> Any:
        if not isinstance(key_node, yaml.ScalarNode):
            line, col = _mark(key_node)
            problems.append(Problem(file, line, col, "a mapping key must be a plain word", path=dotted(path)))
            return f"<complex key at line {line}>"
        value = constructor.construct_object(key_node)
        return value if isinstance(value, str) else str(value)

    try:
        marked.data = build(node, (), 0, None)
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problems.append(Problem(file, line, col, f"YAML value: {exc.problem}"))
    finally:
        constructor.dispose()
    return marked, problems
