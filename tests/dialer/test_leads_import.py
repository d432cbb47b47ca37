"""Lead import: good rows land while bad rows are reported (masked); duplicates and DNC numbers are skipped."""

from __future__ import annotations

import asyncio
import csv
import logging
import random
from pathlib import Path

import phonenumbers
import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from dialer import leads as leads_module
from dialer.dnc import add_to_dnc
from dialer.errors import LeadImportError
from dialer.leads import ImportReport, decrypt_variables, import_leads
from dialer.models import Lead
from dialer.phones import validate_phone
from tests.dialer.factories import World, make_campaign, make_world
from waihu.cli import main
from waihu.db import engine_from_url

GOOD = ["13800138000", "+86 139 0013 9000", "15012345678", "0791-88888888"]


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(header)
        out.writerows(rows)
    return path


def sample_file(tmp_path: Path) -> Path:
    header = ["phone", "name", "city", "grade", "timezone", "consent", "consent_ref"]
    rows = [
        [GOOD[0], "张三", "赣州", "3", "", "1", "form-17"],  # row 2
        [GOOD[1], "李四", "南昌", "5", "Asia/Urumqi", "no", ""],  # row 3
        ["1380013800", "王五", "北京", "1", "", "", ""],  # row 4: 10 digits, invalid
        ["", "赵六", "上海", "2", "", "", ""],  # row 5: missing
        ["13800138000", "张三", "赣州", "3", "", "", ""],  # row 6: duplicate of row 2
        [GOOD[2], "孙七", "深圳", "4", "Mars/Base", "", ""],  # row 7: bad zone
        [GOOD[3], "周八", "南昌", "6", "", "maybe", ""],  # row 8: bad consent
        [GOOD[3], "周八", "南昌\n东湖区", "6", "", "0", ""],  # rows 9-10: quoted newline, a fixed line
        ["18612345678", "吴九", "杭州", "1", "", "", ""],  # row 11: on the DNC list
        ["19912345678", "郑十"],  # row 12: short row
        ["abc", "钱一", "杭州", "1", "", "", ""],  # row 13: not a number at all
    ]
    return write_csv(tmp_path / "leads.csv", header, rows)


def assert_no_clear_pii(text: str) -> None:
    for value in [*GOOD, "1380013800", "18612345678", "19912345678", "13900139000", "张三", "李四", "王五", "吴九"]:
        assert value not in text, f"clear PII {value[:3]}… in the output"


async def _import(world: World, campaign_id: int, path: Path, **kwargs: object) -> ImportReport:
    return await import_leads(world.factory, world.vault, campaign_id, path, region="CN", **kwargs)  # type: ignore[arg-type]


async def test_good_rows_land_bad_rows_are_reported_masked(
    engine: AsyncEngine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    world = await make_world(engine)
    campaign = await make_campaign(world)
    async with world.factory() as session, session.begin():
        await add_to_dnc(session, world.vault.lookup_hash("18612345678", "phone"), source="manual", added_by="L1")
    seen: list[tuple[int, int]] = []
    report = await _import(world, campaign.id, sample_file(tmp_path), progress=lambda d, t: seen.append((d, t)))

    assert (report.rows, report.imported, report.dnc_skipped) == (11, 3, 1)
    errors = {(e.row, e.column): (e.reason, e.value) for e in report.errors}
    assert errors == {
        (4, "phone"): ("not a valid phone number", "********00"),
        (5, "phone"): ("missing", ""),
        (7, "timezone"): ("unknown time zone", "Mars/Base"),
        (8, "consent"): ("expected yes/no (1/0, true/false)", "maybe"),
        (12, "*"): ("expected 7 fields, found 2", ""),
        (13, "phone"): ("not a valid phone number", ""),
    }
    assert [(d.row, d.reason, d.value) for d in report.duplicates] == [(6, "duplicate of row 2", "138****8000")]
    assert seen[-1] == (11, 11)
    assert_no_clear_pii(report.summary() + "".join(map(str, report.errors + report.duplicates)) + repr(report))
    assert_no_clear_pii(caplog.text)

    async with world.factory() as session:
        leads = (await session.scalars(select(Lead).order_by(Lead.id))).all()
        assert [world.vault.decrypt(lead.phone_enc) for lead in leads] == [
            "+8613800138000",
            "+8613900139000",
            "+8679188888888",
        ]
        assert [lead.phone_masked for lead in leads] == ["138****8000", "139****9000", "791****8888"]
        first, second, third = leads
        assert first.name_enc is not None
        assert world.vault.decrypt(first.name_enc) == "张三"
        assert decrypt_variables(world.vault, first) == {"city": "赣州", "grade": "3"}
        assert decrypt_variables(world.vault, third) == {"city": "南昌\n东湖区", "grade": "6"}
        assert (first.consent, first.consent_ref, first.consent_at is not None) == (True, "form-17", True)
        assert (second.consent, second.timezone, second.consent_at) == (False, "Asia/Urumqi", None)
        assert first.phone_hash == world.vault.lookup_hash("138 0013 8000", "phone")
        assert {lead.status for lead in leads} == {"dialable"}
        assert all(lead.next_attempt_at is not None and lead.attempts == 0 for lead in leads)


async def test_importing_again_reports_every_row_as_already_there(sqlite_engine: AsyncEngine, tmp_path: Path) -> None:
    world = await make_world(sqlite_engine)
    campaign = await make_campaign(world)
    path = write_csv(tmp_path / "l.csv", ["phone"], [[p] for p in GOOD])
    assert (await _import(world, campaign.id, path)).imported == 4
    again = await _import(world, campaign.id, path)
    assert again.imported == 0
    assert [d.reason for d in again.duplicates] == ["already in the campaign"] * 4
    other = await make_campaign(world, name="other")
    assert (await _import(world, other.id, path)).imported == 4  # unique per campaign, not globally


@pytest.mark.parametrize("workers", [0, 2])
async def test_pieces_and_workers_keep_rows_and_line_numbers(
    sqlite_engine: AsyncEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    """Tiny pieces split the file everywhere, quoted newlines included; worker processes give the same report."""
    monkeypatch.setattr(leads_module, "_PIECE_BYTES", 50)
    world = await make_world(sqlite_engine)
    campaign = await make_campaign(world)
    rows = [[f"138{i:08d}", f'note "{i}"\nline two'] for i in range(200)]
    rows[50][0] = "12345"
    path = write_csv(tmp_path / "l.csv", ["phone", "note"], rows)
    report = await _import(world, campaign.id, path, workers=workers, batch_size=30)
    assert (report.rows, report.imported) == (200, 199)
    assert [(e.row, e.column) for e in report.errors] == [(2 + 2 * 50 + 1, "phone")]  # each row takes two lines
    async with world.factory() as session:
        lead = (await session.scalars(select(Lead).order_by(Lead.id.desc()).limit(1))).one()
        assert decrypt_variables(world.vault, lead) == {"note": 'note "199"\nline two'}


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("", "empty"),
        ("name,city\n张三,赣州\n", "no `phone` column"),
        ("phone,phone\n1,2\n", "twice"),
    ],
)
async def test_files_that_cannot_be_imported(
    sqlite_engine: AsyncEngine, tmp_path: Path, content: str, match: str
) -> None:
    world = await make_world(sqlite_engine)
    campaign = await make_campaign(world)
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(LeadImportError, match=match):
        await _import(world, campaign.id, path)


def test_fast_phone_path_agrees_with_phonenumbers() -> None:
    rnd = random.Random(7)
    samples = ["+8613800138000", "13800138000", "138 0013 8000", "１３８００１３８０００", "+1 650 253 0000", "10086"]
    for _ in range(20_000):
        kind = rnd.random()
        digits = "".join(rnd.choice("0123456789") for _ in range(10))
        if kind < 0.5:
            samples.append("1" + digits)
        elif kind < 0.7:
            samples.append("+861" + digits)
        elif kind < 0.85:
            samples.append("0" + digits[: rnd.randint(8, 10)])
        else:
            samples.append(digits[: rnd.randint(3, 10)])
    for value in samples:
        try:
            number = phonenumbers.parse(value, "CN")
            expected = (
                phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
                if phonenumbers.is_valid_number(number)
                else None
            )
        except phonenumbers.NumberParseException:
            expected = None
        assert validate_phone(value, "CN") == expected, value


async def test_cli_import_and_dnc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    db_file = tmp_path / "cli.db"
    env = {
        "WAIHU_DATABASE_URL": f"sqlite+aiosqlite:///{db_file}",
        "WAIHU_KEY_FILE": str(tmp_path / "cli.key"),
        "WAIHU_LOG_LEVEL": "WARNING",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    engine = engine_from_url(env["WAIHU_DATABASE_URL"])
    try:
        world = await make_world(engine)
        await make_campaign(world, name="edu")
    finally:
        await engine.dispose()
    path = sample_file(tmp_path)
    dnc_list = tmp_path / "dnc.txt"
    dnc_list.write_text("phone\n18612345678\n12\n", encoding="utf-8")

    # the CLI runs its own event loop: run it in a thread so it does not meet the test's
    def invoke(*args: str) -> tuple[int, str]:
        result = runner.invoke(main, list(args), catch_exceptions=False)
        return result.exit_code, result.output

    code, out = await asyncio.to_thread(invoke, "leads", "dnc-import", str(dnc_list))
    assert (code, out.splitlines()[0]) == (0, "2 rows: 1 added, 0 already listed, 1 errors")
    code, out2 = await asyncio.to_thread(invoke, "leads", "dnc-add", "13800138000", "--reason", "complaint")
    assert (code, out2.strip()) == (0, "138****8000 added to the DNC list")
    code, out3 = await asyncio.to_thread(
        invoke, "leads", "import", "edu", str(path), "--errors", str(tmp_path / "errors.csv")
    )
    assert code == 0, out3
    assert "11 rows: 2 imported, 0 duplicates, 3 on the DNC list, 6 errors" in out3
    assert "row 4, column phone: not a valid phone number (********00)" in out3
    errors_csv = (tmp_path / "errors.csv").read_text(encoding="utf-8")
    assert errors_csv.count("\n") == 1 + 6
    for text in (out, out2, out3, errors_csv):
        assert_no_clear_pii(text)
    code, out4 = await asyncio.to_thread(invoke, "leads", "dnc-add", "12345")
    assert code == 2
    assert "12345" not in out4


async def test_values_in_the_wrong_column_are_not_echoed(sqlite_engine: AsyncEngine, tmp_path: Path) -> None:
    world = await make_world(sqlite_engine)
    campaign = await make_campaign(world)
    path = write_csv(
        tmp_path / "shifted.csv",
        ["phone", "timezone", "consent"],
        [["13800138000", "张三", ""], ["13900139000", "", "079188888888"], ["15012345678", "Asia/Nowhere", "x"]],
    )
    report = await _import(world, campaign.id, path)
    assert [(e.row, e.column, e.value) for e in report.errors] == [
        (2, "timezone", "(hidden)"),
        (3, "consent", "(hidden)"),
        (4, "timezone", "Asia/Nowhere"),
    ]
