"""Shared helpers for the flows tests: write inline YAML into a directory, check it, pick problems."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Iterable
from pathlib import Path

from flows.errors import Problem
from flows.registry import FlowRegistry

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SCRIPT_FIXTURE = "demo-callback.v1.yaml"
LIBRARY_FIXTURE = "objections.v1.yaml"


def write(directory: Path, name: str, text: str) -> Path:
    """Write ``text`` (dedented; line 1 is the first line after the opening quotes) as UTF-8."""
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def copy_fixture(directory: Path, name: str) -> Path:
    target = directory / name
    shutil.copyfile(FIXTURES / name, target)
    return target


def check(directory: Path, *names: str) -> list[Problem]:
    """Every problem a fresh registry over ``directory`` reports for the named files."""
    return FlowRegistry([directory]).check([directory / name for name in names])


def errors(problems: Iterable[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]


def warnings(problems: Iterable[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "warning"]


def show(problems: Iterable[Problem]) -> str:
    return "\n".join(str(p) for p in problems) or "(no problems)"


def single(problems: list[Problem], severity: str = "error") -> Problem:
    """The one problem of ``severity``; fails listing them all if there are none or several."""
    found = [p for p in problems if p.severity == severity]
    assert len(found) == 1, f"expected exactly one {severity}, got:\n{show(problems)}"
    return found[0]


def having(problems: list[Problem], fragment: str) -> Problem:
    """The one problem whose message contains ``fragment``."""
    found = [p for p in problems if fragment in p.message]
    assert len(found) == 1, f"expected one problem mentioning {fragment!r}, got:\n{show(problems)}"
    return found[0]


def at(problem: Problem) -> tuple[int, int]:
    return (problem.line, problem.column)
