"""Fixtures of the attendance tests: an organisation in the database, a CLI environment."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from agents.models import User, Vendor
from waihu.db import session_factory

NOW = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Org:
    """Vendor V1: agents a1, a2, team lead t1, ops manager o1, qa q1. Vendor V2: ops manager o2. Admin ad."""

    engine: AsyncEngine
    v1: int
    v2: int


@pytest.fixture
async def org(migrated_engine: AsyncEngine) -> Org:
    async with session_factory(migrated_engine)() as session, session.begin():
        v1 = Vendor(code="V1", name="Vendor one", id_quota=10, created_at=NOW)
        v2 = Vendor(code="V2", name="Vendor two", id_quota=10, created_at=NOW)
        session.add_all([v1, v2])
        await session.flush()
        people = [
            ("a1", "agent", v1.id),
            ("a2", "agent", v1.id),
            ("t1", "team_lead", v1.id),
            ("o1", "ops_manager", v1.id),
            ("q1", "qa", v1.id),
            ("o2", "ops_manager", v2.id),
            ("b1", "agent", v2.id),
            ("ad", "admin", None),
        ]
        for work_id, role, vendor_id in people:
            session.add(User(work_id=work_id, name_enc=b"-", role=role, vendor_id=vendor_id, created_at=NOW))
        return Org(migrated_engine, v1.id, v2.id)


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment variables for a CLI run on a fresh SQLite file; the root logger restored after."""
    for name in list(os.environ):
        if name.startswith("WAIHU_") and name != "WAIHU_TEST_PG_URL":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        yield {
            "WAIHU_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'var' / 'cli.db'}",
            "WAIHU_KEY_FILE": str(tmp_path / "var" / "cli.key"),
            "WAIHU_LOG_LEVEL": "WARNING",
            "WAIHU_TIMEZONE": "Asia/Shanghai",
        }
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)
