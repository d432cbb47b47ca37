"""Database plumbing shared by every package: declarative base, engine, sessions, UTC times.

Engines are built at start-up from validated settings (never at import), so tests can point each
one at its own database.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, DateTime, Dialect, Integer, MetaData, event
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator

from waihu.errors import ConfigError
from waihu.settings import SUPPORTED_URL_PREFIXES, Settings, redact_url

__all__ = [
    "NAMING_CONVENTION",
    "SQLITE_BUSY_TIMEOUT_MS",
    "Base",
    "BigIntPK",
    "UTCDateTime",
    "create_engine",
    "engine_from_url",
    "session_factory",
    "utcnow",
]

# Stable constraint names, so migrations can name (and drop) them on every backend.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SQLITE_BUSY_TIMEOUT_MS = 5000

# A 64-bit primary key that still autoincrements on SQLite (only INTEGER PRIMARY KEY does there).
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """The one declarative base; every package's models share its metadata (one migration history)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    """The current time as an aware UTC datetime: storage is always UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back as an aware UTC datetime.

    SQLite has no time zones (it would silently drop the offset) and PostgreSQL returns the
    session's zone; this type hides both differences. Naive datetimes are refused: their zone
    is a guess.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware datetime (see waihu.db.utcnow)")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _sqlite_file(url: str) -> Path | None:
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _install_sqlite_hooks(engine: AsyncEngine) -> None:
    """Make SQLite behave like a real transactional database.

    The sqlite3 driver's legacy mode never BEGINs before SELECT, DDL or SAVEPOINT, which breaks
    savepoints and transactional migrations; we switch it off and BEGIN ourselves (the
    recipe of SQLAlchemy's SQLite documentation). Foreign keys are off by default in SQLite; WAL
    lets readers proceed while one writer works; busy_timeout makes writers wait instead of failing.
    (SQLAlchemy's isolation_level="AUTOCOMMIT" does not mix with this recipe; do not use it here.)

    Every transaction begins IMMEDIATE, taking the write lock up front: in WAL mode a transaction that
    read first and writes second fails at once ("database is locked", no busy wait) when another
    connection wrote in between, and one process (the API with its dialers) has many such transactions
    at once. Serialising them costs little at the embedded database's scale; PostgreSQL is for more.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    @event.listens_for(engine.sync_engine, "invalidate")
    def _on_invalidate(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry, _error: Any) -> None:
        # A task cancelled while its query runs in aiosqlite's thread gets its connection invalidated and closed
        # with the query's statement still open. SQLite then keeps the connection as a "zombie" until that
        # statement is freed, and the zombie keeps its transaction, so our IMMEDIATE write lock stays held and
        # every other writer fails with "database is locked". Rolling back first ends the transaction; the
        # rollback is queued in the connection's thread before the close, so it runs even if this wait is
        # cancelled again.
        with contextlib.suppress(Exception):
            dbapi_connection.rollback()


def engine_from_url(url: str, **engine_kwargs: Any) -> AsyncEngine:
    """Build an async engine for a supported URL (SQLite via aiosqlite, PostgreSQL via asyncpg).

    ``engine_kwargs`` go to SQLAlchemy (tests pass ``connect_args`` or ``poolclass``).
    """
    if not url.startswith(SUPPORTED_URL_PREFIXES):
        raise ConfigError(
            f"unsupported database URL {redact_url(url)!r}: set WAIHU_DATABASE_URL to a "
            "sqlite+aiosqlite:// or postgresql+asyncpg:// URL",
            error_id="config.invalid",
            details={"variables": ["WAIHU_DATABASE_URL"]},
        )
    is_sqlite = url.startswith("sqlite")
    if is_sqlite:
        path = _sqlite_file(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, **engine_kwargs)
    if is_sqlite:
        _install_sqlite_hooks(engine)
    return engine


def create_engine(settings: Settings, **engine_kwargs: Any) -> AsyncEngine:
    """The application's engine, from validated settings; dispose it at shutdown."""
    return engine_from_url(settings.database_url, **engine_kwargs)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded attributes after commit (no surprise lazy loads in async code)."""
    return async_sessionmaker(engine, expire_on_commit=False)
