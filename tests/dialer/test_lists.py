"""Lead lists: each import is a list; a paused list's leads are not leased, callbacks included; counts per list."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from dialer.errors import CampaignError, LeadListNotFound
from dialer.leads import import_leads
from dialer.leasing import lease_leads, release
from dialer.lists import list_counts, set_list_active
from dialer.models import Lead, LeadList
from tests.dialer.factories import T0, World, cli_database, make_campaign, make_world
from waihu.cli import main
from waihu.models import AuditEntry

TTL = timedelta(minutes=5)


def csv_of(tmp_path: Path, name: str, first: int, n: int) -> Path:
    path = tmp_path / name
    path.write_text("phone\n" + "".join(f"138{first + i:08d}\n" for i in range(n)), encoding="utf-8")
    return path


@pytest.fixture
async def world(engine: AsyncEngine) -> World:
    return await make_world(engine)


async def _lists(world: World, campaign_id: int) -> dict[str, tuple[int, bool, int]]:
    """name -> (id, active, leads)"""
    async with world.factory() as session:
        return {
            row.list.name: (row.list.id, row.list.active, row.total) for row in await list_counts(session, campaign_id)
        }


async def test_each_import_is_a_list_named_after_its_file_unless_it_names_one(world: World, tmp_path: Path) -> None:
    campaign = await make_campaign(world)
    first = await import_leads(world.factory, world.vault, campaign.id, csv_of(tmp_path, "十一月.csv", 0, 3))
    again = await import_leads(world.factory, world.vault, campaign.id, csv_of(tmp_path, "十一月.csv", 10, 2))
    joined = await import_leads(
        world.factory, world.vault, campaign.id, csv_of(tmp_path, "more.csv", 20, 4), list_name=" 十一月.csv "
    )
    named = await import_leads(
        world.factory, world.vault, campaign.id, csv_of(tmp_path, "x.csv", 30, 1), list_name="回访", created_by="L1"
    )
    assert (first.list_name, again.list_name, joined.list_name, named.list_name) == (
        "十一月.csv",
        "十一月.csv (2)",
        "十一月.csv",
        "回访",
    )
    assert joined.list_id == first.list_id != again.list_id
    lists = await _lists(world, campaign.id)
    assert {name: (active, total) for name, (_, active, total) in lists.items()} == {
        "十一月.csv": (True, 7),
        "十一月.csv (2)": (True, 2),
        "回访": (True, 1),
    }
    async with world.factory() as session:
        without = await session.scalar(select(Lead.id).where(Lead.list_id.is_(None)))
        made_by = await session.scalar(select(LeadList.created_by).where(LeadList.name == "回访"))
    assert without is None, "every imported lead belongs to a list"
    assert made_by == "L1"
    other = await make_campaign(world, name="c2")  # a list name is per campaign
    elsewhere = await import_leads(world.factory, world.vault, other.id, csv_of(tmp_path, "十一月.csv", 0, 1))
    assert elsewhere.list_name == "十一月.csv"


async def test_a_paused_list_is_not_dialed_until_it_is_resumed(world: World, tmp_path: Path) -> None:
    campaign = await make_campaign(world)
    held = await import_leads(world.factory, world.vault, campaign.id, csv_of(tmp_path, "a.csv", 0, 3))
    worked = await import_leads(world.factory, world.vault, campaign.id, csv_of(tmp_path, "b.csv", 10, 2))
    async with world.factory() as session, session.begin():
        await session.execute(update(Lead).values(next_attempt_at=T0))
        await set_list_active(session, world.audit, campaign.id, held.list_id, active=False, actor="L1")

    leased = await lease_leads(world.factory, campaign.id, "dialer-1", 10, T0, TTL)
    assert sorted({lead.list_id for lead in leased}) == [worked.list_id]
    assert len(leased) == 2
    await release(world.factory, [lead.id for lead in leased], "dialer-1")

    async with world.factory() as session, session.begin():  # by name, as the CLI says it
        await set_list_active(session, world.audit, campaign.id, "a.csv", active=True, actor="L1")
    leased = await lease_leads(world.factory, campaign.id, "dialer-1", 10, T0, TTL)
    assert len(leased) == 5


async def test_pausing_and_resuming_is_audited_once_per_change(world: World, tmp_path: Path) -> None:
    campaign = await make_campaign(world)
    report = await import_leads(world.factory, world.vault, campaign.id, csv_of(tmp_path, "a.csv", 0, 1))
    for active in (False, False, True):
        async with world.factory() as session, session.begin():
            await set_list_active(session, world.audit, campaign.id, report.list_id, active=active, actor="L1")
    async with world.factory() as session:
        actions = (
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.target == f"lead_list:{report.list_id}")
                .order_by(AuditEntry.seq)
            )
        ).all()
    assert list(actions) == ["lead_list.pause", "lead_list.resume"]


async def test_a_list_it_cannot_take_or_cannot_find_is_a_clear_error(world: World, tmp_path: Path) -> None:
    campaign = await make_campaign(world)
    other = await make_campaign(world, name="c2")
    report = await import_leads(world.factory, world.vault, campaign.id, csv_of(tmp_path, "a.csv", 0, 1))
    with pytest.raises(CampaignError) as bad:
        await import_leads(world.factory, world.vault, campaign.id, csv_of(tmp_path, "b.csv", 5, 1), list_name="  ")
    assert bad.value.error_id == "dialer.list_name"
    async with world.factory() as session:
        assert await session.scalar(select(Lead.id).where(Lead.phone_masked == "138****0005")) is None
    for ref in (report.list_id + 100, "no such list"):
        with pytest.raises(LeadListNotFound) as missing:
            async with world.factory() as session, session.begin():
                await set_list_active(session, world.audit, campaign.id, ref, active=False, actor="L1")
        assert missing.value.error_id == "dialer.list_not_found"
        assert "waihu leads lists" in missing.value.message
    with pytest.raises(LeadListNotFound):  # another campaign's list
        async with world.factory() as session, session.begin():
            await set_list_active(session, world.audit, other.id, report.list_id, active=False, actor="L1")


async def test_the_cli_lists_pauses_and_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    await cli_database(tmp_path, monkeypatch)
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, str]:
        result = runner.invoke(main, list(args))
        return result.exit_code, result.output

    code, out = await asyncio.to_thread(invoke, "leads", "import", "edu", str(csv_of(tmp_path, "a.csv", 0, 3)))
    assert code == 0, out
    assert "lead list 1: a.csv" in out.splitlines()
    code, out = await asyncio.to_thread(
        invoke, "leads", "import", "edu", str(csv_of(tmp_path, "b.csv", 10, 2)), "--list", "回访"
    )
    assert code == 0, out
    assert "lead list 2: 回访" in out.splitlines()
    code, out = await asyncio.to_thread(invoke, "leads", "pause-list", "edu", "回访", "--by", "L1")
    assert (code, out.strip()) == (0, "lead list 2 (回访) is paused")
    code, out = await asyncio.to_thread(invoke, "leads", "lists", "edu")
    assert code == 0, out
    assert out.splitlines() == [
        "id\tstate\ttotal\tdialable\tdone\tdnc\trefused\texhausted\tname",
        "1\tactive\t3\t3\t0\t0\t0\t0\ta.csv",
        "2\tpaused\t2\t2\t0\t0\t0\t0\t回访",
    ]
    code, out = await asyncio.to_thread(invoke, "leads", "resume-list", "edu", "2")
    assert (code, out.strip()) == (0, "lead list 2 (回访) is active")
    code, out = await asyncio.to_thread(invoke, "leads", "pause-list", "edu", "nope")
    assert code == 1
    assert "campaign 1 has no lead list 'nope'" in out
    # a list name is the uploader's text: a phone number in it never shows in clear
    code, out = await asyncio.to_thread(
        invoke, "leads", "import", "edu", str(csv_of(tmp_path, "c.csv", 20, 1)), "--list", "张13912345678"
    )
    assert code == 0, out
    assert "lead list 3: 张139****5678" in out.splitlines()
    code, listed = await asyncio.to_thread(invoke, "leads", "lists", "edu")
    code, refused = await asyncio.to_thread(invoke, "leads", "pause-list", "edu", "13912345670")
    assert code == 1
    for text in (out, listed, refused):
        assert "13912345678" not in text
        assert "13912345670" not in text
