"""The shared package is at the bottom of the arrows: it never imports another Waihu package."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import waihu

OTHER_PACKAGES = {"flows", "dialer", "agents", "recordings", "api"}
PACKAGE_DIR = Path(waihu.__file__).parent


def _imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_no_static_import_of_other_packages() -> None:
    sources = sorted(PACKAGE_DIR.rglob("*.py"))
    assert len(sources) >= 10
    offenders = {
        str(path.relative_to(PACKAGE_DIR)): sorted(roots)
        for path in sources
        if (roots := _imported_roots(path) & OTHER_PACKAGES)
    }
    assert offenders == {}


def test_importing_every_module_loads_no_other_package_and_builds_nothing() -> None:
    code = (
        "import sys\n"
        "import waihu.audit, waihu.cli, waihu.db, waihu.errors, waihu.logs, waihu.migrate, waihu.models\n"
        "import waihu.pii, waihu.settings, waihu.vault\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {sorted(OTHER_PACKAGES)!r}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PACKAGE_DIR.parent
    )
    assert out.stdout.strip() == "[]"
