"""Errors of the flows package.

Exception tree::

    FlowError                       base; carries ``error_id``, ``message`` and ``details``
    ├── FlowFileError               a file (or set of files) failed to load or validate;
    │                               ``problems`` lists each with file, line, column and a fix
    ├── FlowNotFound                no script with that id / version
    └── FlowRunError                a call's script run refused an action
        ├── InvalidChoice           no such option, or the run has ended
        ├── CaptureError            captured values missing or invalid (``details["fields"]``)
        └── UnknownObjection        the script does not offer that handler

``flows`` imports nothing of ours, so these do not derive from ``waihu.errors``; they follow the
same shape (stable ``error_id``, message, details) so one API handler can serialise both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


class FlowError(Exception):
    error_id = "flow.error"

    def __init__(self, message: str, details: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, object] = details or {}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file, where it is, and how to fix it."""

    file: str
    line: int
    column: int
    message: str
    hint: str = ""
    severity: Literal["error", "warning"] = "error"
    path: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        fix = f" ({self.hint})" if self.hint else ""
        at = f" [{self.path}]" if self.path else ""
        return f"{where}: {self.severity}: {self.message}{fix}{at}"


class FlowFileError(FlowError):
    """One or more files failed to load or validate; ``problems`` says where and why."""

    error_id = "flow.invalid"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        errors = [p for p in problems if p.severity == "error"] or problems
        first = str(errors[0]) if errors else "invalid flow file"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(first + more, {"problems": [str(p) for p in problems]})

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


class FlowNotFound(FlowError):
    error_id = "flow.not_found"


class FlowRunError(FlowError):
    error_id = "flow.run_refused"


class InvalidChoice(FlowRunError):
    error_id = "flow.invalid_choice"


class CaptureError(FlowRunError):
    error_id = "flow.capture_invalid"


class UnknownObjection(FlowRunError):
    error_id = "flow.unknown_objection"
