"""Run the Alembic migrations from code (the CLI, tests, the app's start-up), without alembic.ini.

Migrations run on the caller's connection inside one transaction (``engine.begin()``), so a
failed migration leaves nothing half-done, on PostgreSQL and on SQLite alike.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from waihu.db import Base

__all__ = [
    "MIGRATIONS_DIR",
    "MODEL_MODULES",
    "alembic_config",
    "current",
    "downgrade",
    "heads",
    "import_models",
    "upgrade",
]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

#: every package's tables, by module path: imported on demand so waihu never imports them statically
MODEL_MODULES = ("waihu.models", "agents.models", "dialer.models", "recordings.models", "api.models")


def import_models() -> MetaData:
    """The metadata of every package's tables (for autogenerate and the schema test)."""
    for name in MODEL_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            # Only skip a module that is missing; a module that fails inside is a real error.
            if exc.name is None or not (name == exc.name or name.startswith(f"{exc.name}.")):
                raise
    return Base.metadata


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config pointing at the package's migrations, optionally with a database URL."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        # ConfigParser interpolates '%': escape it (URL-encoded passwords contain it).
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _url_of(engine: AsyncEngine) -> str:
    return engine.url.render_as_string(hide_password=False)


async def _run(engine: AsyncEngine, action: Callable[[Config], None]) -> None:
    config = alembic_config(_url_of(engine))

    def run(connection: Connection) -> None:
        config.attributes["connection"] = connection
        action(config)

    async with engine.begin() as connection:
        await connection.run_sync(run)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Migrate the database up to ``revision`` (default: the latest)."""
    await _run(engine, lambda config: command.upgrade(config, revision))


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    """Migrate the database down to ``revision`` (``base`` removes every table)."""
    await _run(engine, lambda config: command.downgrade(config, revision))


async def current(engine: AsyncEngine) -> tuple[str, ...]:
    """The revisions the database is at (empty before the first upgrade)."""

    def read(connection: Connection) -> tuple[str, ...]:
        return tuple(MigrationContext.configure(connection).get_current_heads())

    async with engine.connect() as connection:
        return await connection.run_sync(read)


def heads() -> tuple[str, ...]:
    """The latest revisions the code knows about."""
    return tuple(ScriptDirectory.from_config(alembic_config()).get_heads())
