"""The internal DNC list: manual adds, file imports, matching by keyed hash only."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from dialer.dnc import InvalidPhone, add_phone, add_to_dnc, import_dnc, is_listed
from dialer.models import DncEntry
from tests.dialer.factories import make_world


async def test_manual_add_is_idempotent_and_stores_only_the_hash(engine: AsyncEngine) -> None:
    world = await make_world(engine)
    async with world.factory() as session, session.begin():
        assert await add_phone(session, world.vault, "138 0013 8000", added_by="L1", reason="complaint")
        assert not await add_phone(session, world.vault, "+8613800138000", added_by="L1")
    async with world.factory() as session:
        entry = (await session.scalars(select(DncEntry))).one()
        assert (entry.source, entry.reason, entry.added_by) == ("manual", "complaint", "L1")
        assert "13800138000" not in entry.phone_hash
        assert await is_listed(session, world.vault.lookup_hash("13800138000", "phone"))
        assert not await is_listed(session, world.vault.lookup_hash("13900139000", "phone"))


async def test_invalid_number_is_refused_masked(sqlite_engine: AsyncEngine) -> None:
    world = await make_world(sqlite_engine)
    async with world.factory() as session:
        with pytest.raises(InvalidPhone) as info:
            await add_phone(session, world.vault, "1380013800", added_by="L1")
    assert "1380013800" not in str(info.value)
    async with world.factory() as session:
        with pytest.raises(ValueError, match="unknown DNC source"):
            await add_to_dnc(session, "x" * 64, source="rumour", added_by="L1")


@pytest.mark.parametrize(
    "content",
    ["phone,reason\n13800138000,a\n139 0013 9000,b\n13800138000,c\nnope,d\n\n", "13800138000\n13900139000\n123\n"],
    ids=["csv", "lines"],
)
async def test_import_file(sqlite_engine: AsyncEngine, tmp_path: Path, content: str) -> None:
    world = await make_world(sqlite_engine)
    async with world.factory() as session, session.begin():
        await add_to_dnc(session, world.vault.lookup_hash("13900139000", "phone"), source="call", added_by="system")
    path = tmp_path / "dnc.csv"
    path.write_text(content, encoding="utf-8")
    report = await import_dnc(world.factory, world.vault, path, added_by="L1", reason="bulk")
    assert (report.added, report.already, len(report.errors)) == (1, report.rows - 2, 1)
    assert "nope" not in str(report.errors)
    async with world.factory() as session:
        assert await session.scalar(select(func.count()).select_from(DncEntry)) == 2
        sources = set((await session.scalars(select(DncEntry.source))).all())
        assert sources == {"call", "import"}
