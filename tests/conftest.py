"""Shared database fixtures: a throw-away SQLite file and a throw-away PostgreSQL schema per test.

``engine`` runs a test on both backends. PostgreSQL tests are never skipped: when the server is
down they fail with a message saying how to start it (CI always runs them).
"""

from __future__ import annotations

import faulthandler
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from waihu.db import engine_from_url
from waihu.settings import redact_url

DEFAULT_PG_URL = "postgresql+asyncpg://root@127.0.0.1:5432/test"


def pg_url() -> str:
    """The PostgreSQL server the tests use (``WAIHU_TEST_PG_URL``)."""
    return os.environ.get("WAIHU_TEST_PG_URL", DEFAULT_PG_URL)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A test that uses PostgreSQL directly is a postgres test even if nobody marked it.
    for item in items:
        if "pg_engine" in getattr(item, "fixturenames", ()) and item.get_closest_marker("postgres") is None:
            item.add_marker(pytest.mark.postgres)


#: the last resort after pytest-timeout: a test still running this long is stuck where its timeout's exception
#: cannot end it (a ``finally`` that joins a thread, say, as the test client's exit does), so the run ends here
#: with every thread's stack instead of hanging until CI's 90 minutes are gone
WATCHDOG_SECONDS = 420
_watchdog_out: list[int] = []  # a copy of the real stderr, taken before any test's output is captured


def pytest_configure(config: pytest.Config) -> None:
    _watchdog_out.append(os.dup(2))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[object]:
    faulthandler.dump_traceback_later(WATCHDOG_SECONDS, exit=True, file=_watchdog_out[0])
    try:
        return (yield)
    finally:
        faulthandler.cancel_dump_traceback_later()


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An engine on a fresh SQLite file (WAL, foreign keys on), disposed after the test."""
    engine = engine_from_url(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}")
    try:
        yield engine
    finally:
        await engine.dispose()


async def pg_schema(url: str, statement: str) -> None:
    """Run one schema statement (CREATE / DROP SCHEMA) on the test server. A server that cannot run it
    fails the test with how to start one: PostgreSQL tests are never skipped."""
    admin = engine_from_url(url, poolclass=NullPool, connect_args={"timeout": 10})
    problem: str | None = None
    try:
        async with admin.begin() as connection:
            await connection.execute(text(statement))
    except Exception as exc:
        problem = f"{type(exc).__name__}: {exc}"
    finally:
        await admin.dispose()
    if problem is not None:
        pytest.fail(
            f"PostgreSQL is not usable at {redact_url(url)} ({problem}). Start it with "
            "`bash scripts/ensure-services.sh` or point WAIHU_TEST_PG_URL at a server; "
            "PostgreSQL tests are never skipped.",
            pytrace=False,
        )


@pytest.fixture
async def pg_engine() -> AsyncIterator[AsyncEngine]:
    """An engine whose connections use a fresh schema (search_path), dropped with CASCADE after."""
    url = pg_url()
    schema = f"waihu_t_{uuid.uuid4().hex[:8]}"
    await pg_schema(url, f'CREATE SCHEMA "{schema}"')
    engine = engine_from_url(url, connect_args={"server_settings": {"search_path": schema}, "timeout": 10})
    try:
        yield engine
    finally:
        await engine.dispose()
        await pg_schema(url, f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> AsyncEngine:
    """The test runs once on SQLite and once on PostgreSQL."""
    fixture = "sqlite_engine" if request.param == "sqlite" else "pg_engine"
    result: AsyncEngine = request.getfixturevalue(fixture)
    return result


@pytest.fixture
async def migrated_engine(engine: AsyncEngine) -> AsyncEngine:
    """``engine`` with every migration applied."""
    from waihu.migrate import upgrade

    await upgrade(engine)
    return engine


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now (for a server a test starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
