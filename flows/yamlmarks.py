"""YAML to plain Python, remembering where every key and value sits in the file.

PyYAML's composer keeps a line/column mark on every node; we build dicts and lists ourselves so
that each path (``("states", "connect", "options", 1, "to")``) maps to its mark. Duplicate
mapping keys, which PyYAML silently lets the last one win, are reported here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from flows.errors import Problem

Path = tuple[str | int, ...]


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
        loader = yaml.SafeLoader(text)
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

    def build(n: yaml.Node, path: Path) -> Any:
        marked.values[path] = _mark(n)
        if isinstance(n, yaml.MappingNode):
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
                out[key] = build(value_node, (*path, key))
            return out
        if isinstance(n, yaml.SequenceNode):
            return [build(item, (*path, i)) for i, item in enumerate(n.value)]
        return constructor.construct_object(n, deep=True)

    def build_scalar_key(key_node: yaml.Node, path: Path) -> Any:
        if not isinstance(key_node, yaml.ScalarNode):
            line, col = _mark(key_node)
            problems.append(Problem(file, line, col, "a mapping key must be a plain word", path=dotted(path)))
            return f"<complex key at line {line}>"
        value = constructor.construct_object(key_node)
        return value if isinstance(value, str) else str(value)

    try:
        marked.data = build(node, ())
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problems.append(Problem(file, line, col, f"YAML value: {exc.problem}"))
    finally:
        constructor.dispose()
    return marked, problems
