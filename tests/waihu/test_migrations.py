from __future__ import annotations

import io
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

import waihu.models  # noqa: F401  (registers audit_log on Base.metadata)
from waihu.db import Base
from waihu.migrate import MIGRATIONS_DIR, alembic_config, current, downgrade, heads, upgrade


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def _triggers(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            sql = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
        else:
            sql = (
                "SELECT tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE c.relnamespace = current_schema()::regnamespace AND NOT t.tgisinternal"
            )
        return set((await connection.execute(text(sql))).scalars())


def test_alembic_config_needs_no_ini_file() -> None:
    config = alembic_config("postgresql+asyncpg://u:p%40ss@h/db")
    assert config.config_file_name is None
    assert config.get_main_option("script_location") == str(MIGRATIONS_DIR)
    assert config.get_main_option("sqlalchemy.url") == "postgresql+asyncpg://u:p%40ss@h/db"
    assert len(heads()) == 1  # one linear history


async def test_upgrade_downgrade_upgrade(engine: AsyncEngine) -> None:
    assert await current(engine) == ()
    await upgrade(engine)
    assert await current(engine) == heads()
    async with engine.connect() as connection:
        assert {"audit_log", "alembic_version"} <= await connection.run_sync(_tables)
    assert len(await _triggers(engine)) >= 2

    await downgrade(engine, "base")
    assert await current(engine) == ()
    async with engine.connect() as connection:
        assert "audit_log" not in await connection.run_sync(_tables)
    assert await _triggers(engine) == set()
    if engine.dialect.name == "postgresql":
        async with engine.connect() as connection:
            functions = await connection.execute(
                text("SELECT count(*) FROM pg_proc WHERE proname = 'audit_log_append_only'")
            )
            assert functions.scalar() == 0

    await upgrade(engine)
    assert await current(engine) == heads()
    await upgrade(engine)  # already at head: nothing to do
    assert await current(engine) == heads()


async def test_models_match_migrations(migrated_engine: AsyncEngine) -> None:
    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        changes = compare_metadata(context, Base.metadata)
        # Other packages' tables may be on the shared metadata in this process; check ours.
        return [change for change in changes if "audit_log" in repr(change)]

    async with migrated_engine.connect() as connection:
        assert await connection.run_sync(diff) == []


@pytest.mark.parametrize("statement", ["UPDATE audit_log SET target = 'x'", "DELETE FROM audit_log"])
async def test_audit_log_refuses_update_and_delete(migrated_engine: AsyncEngine, statement: str) -> None:
    async with migrated_engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO audit_log (seq, at, actor, action, target, details, prev_hash, hash) "
                "VALUES (1, CURRENT_TIMESTAMP, 'system', 'test.row', 't', '{}', :zero, :zero)"
            ),
            {"zero": "0" * 64},
        )
    with pytest.raises(DBAPIError, match="audit_log is append-only"):
        async with migrated_engine.begin() as connection:
            await connection.execute(text(statement))
    async with migrated_engine.connect() as connection:
        assert (await connection.execute(text("SELECT target FROM audit_log"))).scalars().all() == ["t"]


@pytest.mark.postgres
async def test_audit_log_refuses_truncate_on_postgres(pg_engine: AsyncEngine) -> None:
    await upgrade(pg_engine)
    with pytest.raises(DBAPIError, match="append-only: TRUNCATE refused"):
        async with pg_engine.begin() as connection:
            await connection.execute(text("TRUNCATE audit_log"))


async def test_failed_migration_leaves_nothing_behind(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        # 0001 creates audit_log and one index, then fails on this name: all must be rolled back.
        await connection.execute(text("CREATE TABLE other (actor VARCHAR(10))"))
        await connection.execute(text("CREATE INDEX ix_audit_log_actor ON other (actor)"))
    with pytest.raises(DBAPIError, match="ix_audit_log_actor"):
        await upgrade(engine)
    assert await current(engine) == ()
    async with engine.connect() as connection:
        assert await connection.run_sync(_tables) == {"other"}


def test_alembic_command_from_sync_code_runs_the_async_engine(tmp_path: Path) -> None:
    """The path of the plain alembic CLI: no shared connection, env.py runs its own event loop."""
    db_file = tmp_path / "cli" / "alembic.db"
    config = alembic_config(f"sqlite+aiosqlite:///{db_file}")
    command.upgrade(config, "head")
    connection = sqlite3.connect(db_file)
    try:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [heads()]
        triggers = connection.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall()
        assert sorted(triggers) == [("audit_log_no_delete",), ("audit_log_no_update",)]
    finally:
        connection.close()
    command.downgrade(config, "base")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite+aiosqlite:///x.db", "RAISE(ABORT, 'audit_log is append-only: UPDATE refused')"),
        ("postgresql+asyncpg://u@h/db", "CREATE FUNCTION audit_log_append_only() RETURNS trigger"),
    ],
)
def test_offline_mode_renders_sql(url: str, expected: str) -> None:
    config = alembic_config(url)
    config.output_buffer = io.StringIO()
    command.upgrade(config, "head", sql=True)
    sql = config.output_buffer.getvalue()
    assert "CREATE TABLE audit_log" in sql
    assert expected in sql


async def test_lead_lists_arrive_with_the_leads_already_imported(engine: AsyncEngine) -> None:
    """0011 puts each campaign's existing leads in one list, keeps their call attempts, and goes back cleanly."""
    await upgrade(engine, "0010")
    at = datetime(2026, 11, 1, 8, tzinfo=UTC)
    now: object = at.strftime("%Y-%m-%d %H:%M:%S.%f") if engine.dialect.name == "sqlite" else at
    stamp = ":now"
    async with engine.begin() as connection:
        await connection.execute(
            text(f"INSERT INTO vendors (id, code, name, id_quota, created_at) VALUES (1, 'v', 'v', 0, {stamp})"),
            {"now": now},
        )
        for campaign_id, name in ((1, "with leads"), (2, "without leads")):
            await connection.execute(
                text(
                    "INSERT INTO campaigns (id, name, vendor_id, flow_id, flow_version, flow_digest, dial_mode, "
                    "state, max_abandon_rate, calling_windows, timezone, retry_rules, consent_required, training, "
                    "wrap_up_limit_seconds, created_by, created_at, updated_at) VALUES (:id, :name, 1, 'f', 1, "
                    f"'d', 'progressive', 'draft', 0.03, '[]', 'Asia/Shanghai', '{{}}', false, false, 60, 'x', "
                    f"{stamp}, {stamp})"
                ),
                {"id": campaign_id, "name": name, "now": now},
            )
        for lead_id in (1, 2):
            await connection.execute(
                text(
                    "INSERT INTO leads (id, campaign_id, phone_enc, phone_hash, phone_masked, status, attempts, "
                    f"next_attempt_at, consent, created_at) VALUES (:id, 1, :enc, :hash, '138****0000', "
                    f"'dialable', 0, {stamp}, false, {stamp})"
                ),
                {"id": lead_id, "enc": b"x", "hash": f"h{lead_id}", "now": now},
            )
        await connection.execute(
            text(
                "INSERT INTO call_attempts (campaign_id, lead_id, phone_hash, result, started_at, abandoned) "
                f"VALUES (1, 1, 'h1', 'busy', {stamp}, false)"
            ),
            {"now": now},
        )
    await upgrade(engine)
    async with engine.connect() as connection:
        lists = (await connection.execute(text("SELECT id, campaign_id, name, active FROM lead_lists"))).all()
        assert [(row.campaign_id, row.name, bool(row.active)) for row in lists] == [(1, "before lists", True)]
        list_of = (await connection.execute(text("SELECT id, list_id FROM leads ORDER BY id"))).all()
        assert [tuple(row) for row in list_of] == [(1, lists[0].id), (2, lists[0].id)]
        if engine.dialect.name == "sqlite":
            references = (await connection.execute(text("PRAGMA foreign_key_list(leads)"))).all()
            assert ("lead_lists", "list_id", "id", "CASCADE") in {(r[2], r[3], r[4], r[6]) for r in references}
    await downgrade(engine, "0010")
    async with engine.connect() as connection:
        assert (await connection.execute(text("SELECT count(*) FROM leads"))).scalar() == 2
        assert (await connection.execute(text("SELECT lead_id FROM call_attempts"))).scalar() == 1
