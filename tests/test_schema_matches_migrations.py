"""The tables the migrations build are exactly the tables the models declare, on both databases.

Every package owns its tables in ``<pkg>/models.py`` while the migrations live in one history; this
catches a model changed without a migration (or the reverse) before it reaches a real database.
"""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncEngine

from waihu.migrate import import_models, upgrade


async def test_migrations_build_exactly_the_models_tables(engine: AsyncEngine) -> None:
    metadata = import_models()
    await upgrade(engine)

    def diff(sync_connection: Any) -> list[Any]:
        context = MigrationContext.configure(sync_connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with engine.connect() as connection:
        differences = await connection.run_sync(diff)
    assert differences == []
