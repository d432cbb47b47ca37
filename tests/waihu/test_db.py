from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import anyio
import pytest
from sqlalchemy import Column, Integer, MetaData, Table, insert, select, text
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncEngine

from waihu.db import Base, UTCDateTime, create_engine, engine_from_url, session_factory, utcnow
from waihu.errors import ConfigError
from waihu.settings import Settings

_metadata = MetaData()
_events = Table("t_events", _metadata, Column("id", Integer, primary_key=True), Column("at", UTCDateTime()))


def test_utcnow_is_aware_utc() -> None:
    now = utcnow()
    assert now.tzinfo is UTC
    assert abs(now - datetime.now(UTC)) < timedelta(seconds=5)


def test_naming_convention_gives_stable_constraint_names() -> None:
    assert Base.metadata.naming_convention["pk"] == "pk_%(table_name)s"
    assert set(Base.metadata.naming_convention) >= {"ix", "uq", "ck", "fk", "pk"}


async def test_utc_datetime_roundtrip_is_aware_utc(engine: AsyncEngine) -> None:
    shanghai = timezone(timedelta(hours=8))
    written = datetime(2026, 11, 27, 15, 56, 7, 123456, tzinfo=shanghai)
    async with engine.begin() as connection:
        await connection.run_sync(_metadata.create_all)
        await connection.execute(insert(_events).values(id=1, at=written))
        await connection.execute(insert(_events).values(id=2, at=None))
    async with engine.connect() as connection:
        rows = (await connection.execute(select(_events.c.at).order_by(_events.c.id))).scalars().all()
        found = (
            await connection.execute(
                select(_events.c.id).where(_events.c.at == datetime(2026, 11, 27, 7, 56, 7, 123456, tzinfo=UTC))
            )
        ).scalar_one()
    assert rows[0] == written
    assert rows[0].tzinfo == UTC
    assert rows[0].hour == 7  # stored and returned in UTC
    assert rows[1] is None
    assert found == 1


async def test_utc_datetime_refuses_naive(sqlite_engine: AsyncEngine) -> None:
    async with sqlite_engine.begin() as connection:
        await connection.run_sync(_metadata.create_all)
        with pytest.raises(StatementError, match="naive datetime"):
            await connection.execute(insert(_events).values(id=1, at=datetime(2026, 1, 1)))


async def test_sqlite_engine_sets_pragmas_and_creates_parent_dir(tmp_path: Path) -> None:
    db_file = tmp_path / "nested" / "dir" / "waihu.db"
    engine = create_engine(Settings(database_url=f"sqlite+aiosqlite:///{db_file}"))
    try:
        async with engine.connect() as connection:
            assert (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
            assert (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
            assert (await connection.exec_driver_sql("PRAGMA busy_timeout")).scalar() == 5000
        assert db_file.parent.is_dir()
    finally:
        await engine.dispose()


async def test_sqlite_transactions_are_real_with_savepoints_and_ddl(sqlite_engine: AsyncEngine) -> None:
    async with sqlite_engine.connect() as connection:
        async with connection.begin():
            await connection.execute(text("CREATE TABLE t (x INTEGER)"))
        transaction = await connection.begin()
        await connection.execute(text("CREATE TABLE rolled_back (x INTEGER)"))  # DDL is transactional
        await connection.execute(text("INSERT INTO t VALUES (1)"))
        savepoint = await connection.begin_nested()
        await connection.execute(text("INSERT INTO t VALUES (2)"))
        await savepoint.rollback()
        await transaction.rollback()
        async with connection.begin():
            tables = (await connection.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))).scalars()
            assert list(tables) == ["t"]
            assert (await connection.execute(text("SELECT count(*) FROM t"))).scalar() == 0


async def test_session_factory_keeps_attributes_after_commit(sqlite_engine: AsyncEngine) -> None:
    sessions = session_factory(sqlite_engine)
    async with sessions() as session:
        assert session.sync_session.expire_on_commit is False


@pytest.mark.parametrize("url", ["sqlite:///x.db", "postgresql://u@h/db"])
def test_engine_from_url_refuses_sync_drivers(url: str) -> None:
    with pytest.raises(ConfigError, match="WAIHU_DATABASE_URL"):
        engine_from_url(url)


async def test_memory_sqlite_needs_no_directory() -> None:
    engine = engine_from_url("sqlite+aiosqlite://")
    try:
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT 1"))).scalar() == 1
    finally:
        await engine.dispose()


#: a query that keeps SQLite's thread busy for about a second (it counts to three million)
_SLOW_QUERY = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) SELECT count(*) FROM c"


@pytest.mark.parametrize("cancel", ["asyncio", "anyio"])
async def test_a_session_cancelled_mid_query_does_not_keep_the_write_lock(tmp_path: Path, cancel: str) -> None:
    """A task cancelled while its query runs (a console socket closing mid-request, a shutdown) leaves a
    connection SQLAlchemy closes with the statement still open; the next writer must not find the database
    locked for good. asyncio cancels once, anyio (the test client, Starlette's task groups) at every await."""
    engine = engine_from_url(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    sessions = session_factory(engine)
    try:
        async with sessions() as session:
            await session.execute(text("CREATE TABLE t (x INTEGER)"))
            await session.commit()
        started = asyncio.Event()

        async def reader() -> None:
            async with sessions() as session:
                started.set()
                await session.execute(text(_SLOW_QUERY))

        if cancel == "asyncio":
            task = asyncio.create_task(reader())
            await started.wait()
            await asyncio.sleep(0.2)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        else:
            async with anyio.create_task_group() as group:
                group.start_soon(reader)
                await started.wait()
                await asyncio.sleep(0.2)
                group.cancel_scope.cancel()
        async with sessions() as session:  # waits for the lock at most busy_timeout (5 s), then fails
            await session.execute(text("INSERT INTO t VALUES (1)"))
            await session.commit()
        async with sessions() as session:
            assert (await session.execute(text("SELECT count(*) FROM t"))).scalar() == 1
    finally:
        await engine.dispose()
