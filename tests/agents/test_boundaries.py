"""agents depends only on waihu (DESIGN.md: the arrows point one way)."""

from __future__ import annotations

import ast
from pathlib import Path

import agents

OURS = {"waihu", "flows", "dialer", "agents", "recordings", "api"}
ALLOWED = {"waihu", "agents"}


def test_agents_imports_no_other_package_of_ours() -> None:
    offenders: dict[str, list[str]] = {}
    root = Path(agents.__file__).parent
    for path in sorted(root.rglob("*.py")):
        roots: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                roots.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                roots.add(node.module.split(".")[0])
        if bad := sorted((roots & OURS) - ALLOWED):
            offenders[str(path.relative_to(root))] = bad
    assert offenders == {}
