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


def _fk_key(fk: Any) -> tuple[Any, ...]:
    return (
        fk.parent.name,
        tuple(c.name for c in fk.columns),
        fk.referred_table.name,
        tuple(e.column.name for e in fk.elements),
    )


def _same_but_unnamed_on_sqlite(differences: list[Any], dialect: str) -> list[Any]:
    """SQLite cannot name a reference added by ALTER TABLE … ADD COLUMN (0011's ``leads.list_id``, added without
    rebuilding the table): its reflected name is None, and SQLAlchemy reads no ON DELETE from it (the migration
    test checks that one with SQLite's own pragma). Such a pair (remove the unnamed one, add the named one, on the
    same columns and table) is the same constraint; every other difference stays."""
    if dialect != "sqlite":
        return differences
    unnamed = {_fk_key(d[1]) for d in differences if d[0] == "remove_fk" and d[1].name is None}
    named = {_fk_key(d[1]) for d in differences if d[0] == "add_fk"}
    same = unnamed & named
    return [d for d in differences if not (d[0] in ("remove_fk", "add_fk") and _fk_key(d[1]) in same)]


async def test_migrations_build_exactly_the_models_tables(engine: AsyncEngine) -> None:
    metadata = import_models()
    await upgrade(engine)

    def diff(sync_connection: Any) -> list[Any]:
        context = MigrationContext.configure(sync_connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with engine.connect() as connection:
        differences = await connection.run_sync(diff)
    assert _same_but_unnamed_on_sqlite(differences, engine.dialect.name) == []
