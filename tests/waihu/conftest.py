"""Fixtures of the shared package's tests: a clean environment and a restored root logger."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No WAIHU_* variables and no .env file: settings come from defaults and the test only."""
    for name in list(os.environ):
        if name.startswith("WAIHU_") and name != "WAIHU_TEST_PG_URL":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def restore_root_logger() -> Iterator[logging.Logger]:
    """Undo configure_logging's changes to the root logger after the test."""
    root = logging.getLogger()
    level = root.level
    handlers = list(root.handlers)
    filters = {handler: list(handler.filters) for handler in handlers}
    try:
        yield root
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
        for handler, saved in filters.items():
            handler.filters[:] = saved
        root.setLevel(level)
