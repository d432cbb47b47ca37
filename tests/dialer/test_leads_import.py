"""Lead import: good rows land while bad rows are reported (masked); duplicates and DNC numbers are skipped."""

from __future__ import annotations

import asyncio
import codecs
import csv
import logging
import random
from collections.abc import Callable
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
from tests.dialer.factories import World, cli_database, make_campaign, make_world
from waihu.cli import main

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
    await cli_database(tmp_path, monkeypatch)
    runner = CliRunner()
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


# -- broken quotes: a row error, and the rows after it land ------------------------------------------


async def test_given_an_unclosed_quote_when_imported_then_it_is_a_row_error_and_the_next_rows_land(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    world = await make_world(engine)
    campaign = await make_campaign(world)
    path = tmp_path / "open.csv"
    path.write_text('phone,name\n13600136220,"open\n13600136221,b\n13600136222,c\n', encoding="utf-8")
    report = await _import(world, campaign.id, path)

    assert (report.rows, report.imported) == (3, 2)
    ((issue),) = report.errors
    assert (issue.row, issue.column, issue.value) == (2, "name", "")
    assert "unclosed quote" in issue.reason
    assert "before the end of the file" in issue.reason
    assert 'add the closing quote (")' in issue.reason  # how to fix it
    async with world.factory() as session:
        names = sorted(world.vault.decrypt(lead.name_enc) for lead in (await session.scalars(select(Lead))).all())
    assert names == ["b", "c"]


@pytest.mark.parametrize(("piece_bytes", "workers"), [(50, 0), (50, 2), (512 * 1024, 0)])
async def test_given_a_quote_closing_too_late_when_imported_then_reading_resumes_on_the_next_line(
    sqlite_engine: AsyncEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, piece_bytes: int, workers: int
) -> None:
    """A quote that closes 40 lines later is no multi-line field: the rows in between land, in any pieces."""
    monkeypatch.setattr(leads_module, "_PIECE_BYTES", piece_bytes)
    world = await make_world(sqlite_engine)
    campaign = await make_campaign(world)
    lines = ["phone,name,note", '13600136200,张三,"starts here']
    lines += [f"1360013{6300 + i},n{i},x" for i in range(40)]
    lines += ['13600136400,李四,a 5" or 6" screen', '13600136401,王五,"two', 'lines"', "13600136402,赵六,z"]
    path = tmp_path / "late.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = await _import(world, campaign.id, path, workers=workers)

    # row 2 opens a quote that does not close within 20 lines: a row error; the 40 rows after it land,
    # then row 43 (literal quotes in an unquoted field), the legal two-line field (rows 44-45) and row 46
    assert [(e.row, e.column) for e in report.errors] == [(2, "note")]
    assert "within 20 lines" in report.errors[0].reason
    assert (report.rows, report.imported) == (44, 43)
    async with world.factory() as session:
        notes = [decrypt_variables(world.vault, lead)["note"] for lead in (await session.scalars(select(Lead))).all()]
    assert {'a 5" or 6" screen', "two\nlines", "z"} <= set(notes)


async def test_given_a_header_with_an_unclosed_quote_when_imported_then_the_file_is_refused(
    sqlite_engine: AsyncEngine, tmp_path: Path
) -> None:
    world = await make_world(sqlite_engine)
    campaign = await make_campaign(world)
    path = tmp_path / "h.csv"
    path.write_text('phone,"name\n' + "13600136221,b\n" * 50, encoding="utf-8")
    with pytest.raises(LeadImportError, match=r"header .* quote that does not close"):
        await _import(world, campaign.id, path)


# -- encodings: BOMs, UTF-8, GB18030; never a replacement character ----------------------------------


async def _names(world: World) -> list[str]:
    async with world.factory() as session:
        leads = (await session.scalars(select(Lead).order_by(Lead.id))).all()
    return [world.vault.decrypt(lead.name_enc) for lead in leads if lead.name_enc is not None]


@pytest.mark.parametrize(
    ("encode", "encoding"),
    [
        (lambda t: t.encode("gbk"), "gb18030"),
        (lambda t: t.encode("gb18030"), "gb18030"),
        (lambda t: codecs.BOM_UTF16_LE + t.encode("utf-16-le"), "utf-16-le"),
        (lambda t: codecs.BOM_UTF16_BE + t.encode("utf-16-be"), "utf-16-be"),
        (lambda t: codecs.BOM_UTF8 + t.encode("utf-8"), "utf-8"),
        (lambda t: t.encode("utf-8"), "utf-8"),
    ],
    ids=["gbk", "gb18030", "utf16le", "utf16be", "utf8bom", "utf8"],
)
async def test_given_an_excel_encoding_when_imported_then_names_land_intact_and_the_report_says_which(
    sqlite_engine: AsyncEngine, tmp_path: Path, encode: Callable[[str], bytes], encoding: str
) -> None:
    world = await make_world(sqlite_engine)
    campaign = await make_campaign(world)
    text = 'phone,name,city\r\n13800138000,张三,赣州\r\n13900139000,"李四\r\n（家长）",南昌\r\n15012345678,王五,\r\n'
    path = tmp_path / "excel.csv"
    path.write_bytes(encode(text))
    report = await _import(world, campaign.id, path)

    assert (report.rows, report.imported, report.errors) == (3, 3, [])
    assert report.encoding == encoding
    assert await _names(world) == ["张三", "李四\r\n（家长）", "王五"]
    if encoding == "utf-8":
        assert report.encoding_note is None
        assert "not UTF-8" not in report.summary()
    else:
        assert f"read as {encoding.upper()}" in report.summary()


@pytest.mark.parametrize(
    ("data", "offset", "line", "tried"),
    [
        (b"phone,name\n13800138000,\xff\xfe\xfd\n", 23, 2, "UTF-8 or GB18030"),
        (b"phone,name\n13800138000,ok\n13900139000,\x81\n", 38, 3, "UTF-8 or GB18030"),
        (codecs.BOM_UTF8 + "phone,name\n13800138000,张".encode("gbk") + b"\n", 26, 2, "UTF-8 text"),
    ],
    ids=["binary", "truncated_gbk_at_end", "utf8_bom_then_gbk"],
)
async def test_given_a_file_in_no_known_encoding_when_imported_then_it_is_refused_saying_where_and_how(
    sqlite_engine: AsyncEngine, tmp_path: Path, data: bytes, offset: int, line: int, tried: str
) -> None:
    world = await make_world(sqlite_engine)
    campaign = await make_campaign(world)
    path = tmp_path / "bad.csv"
    path.write_bytes(data)
    with pytest.raises(LeadImportError) as info:
        await _import(world, campaign.id, path)
    error = info.value
    assert error.error_id == "dialer.import_encoding"
    assert tried in str(error)
    assert f"byte {offset} (line {line})" in str(error)
    assert "CSV UTF-8" in str(error)  # how to fix it
    assert (error.details["byte_offset"], error.details["line"]) == (offset, line)
    assert await _names(world) == []  # nothing landed


async def test_given_a_broken_utf16_file_when_imported_then_it_is_refused(
    sqlite_engine: AsyncEngine, tmp_path: Path
) -> None:
    world = await make_world(sqlite_engine)
    campaign = await make_campaign(world)
    path = tmp_path / "u16.csv"
    path.write_bytes(
        codecs.BOM_UTF16_LE + "phone,name\n1".encode("utf-16-le") + b"\x00\xd8" + "x\n".encode("utf-16-le")
    )
    with pytest.raises(LeadImportError, match=r"UTF-16-LE .* byte 26 \(line 2\)"):
        await _import(world, campaign.id, path)


async def test_given_a_replacement_character_in_the_file_when_imported_then_that_row_is_an_error(
    sqlite_engine: AsyncEngine, tmp_path: Path
) -> None:
    world = await make_world(sqlite_engine)
    campaign = await make_campaign(world)
    path = tmp_path / "garbled.csv"
    path.write_text("phone,name\n13800138000,张\ufffd\n13900139000,李四\n", encoding="utf-8")
    report = await _import(world, campaign.id, path)
    assert [(e.row, e.column) for e in report.errors] == [(2, "name")]
    assert "U+FFFD" in report.errors[0].reason
    assert await _names(world) == ["李四"]


async def test_given_a_big_gbk_file_when_imported_in_pieces_by_workers_then_every_row_lands(
    sqlite_engine: AsyncEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pieces of GB18030 are cut at newlines (never inside a character) and decoded in the workers."""
    monkeypatch.setattr(leads_module, "_PIECE_BYTES", 333)
    world = await make_world(sqlite_engine)
    campaign = await make_campaign(world)
    rows = "".join(f'138{i:08d},张三{i},"赣州\n章贡区"\n' for i in range(300))
    path = tmp_path / "big.csv"
    path.write_bytes(("phone,name,city\n" + rows).encode("gbk"))
    report = await _import(world, campaign.id, path, workers=2)
    assert (report.rows, report.imported, report.encoding, report.errors) == (300, 300, "gb18030", [])
    assert (await _names(world))[-1] == "张三299"


async def test_given_gbk_and_undecodable_files_when_imported_by_the_cli_then_it_says_the_encoding_or_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await cli_database(tmp_path, monkeypatch)
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes('phone,name\n13800138000,张三\n13900139000,"李四\n'.encode("gbk"))
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"phone,name\n13800138000,\xff\n")

    def invoke(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(main, list(args))
        return result.exit_code, result.output

    code, out = await asyncio.to_thread(invoke, "leads", "import", "edu", str(gbk))
    assert code == 0, out
    assert "2 rows: 1 imported" in out
    assert "the file is not UTF-8: it was read as GB18030" in out
    assert "row 3, column name: unclosed quote" in out
    assert_no_clear_pii(out)
    code, out = await asyncio.to_thread(invoke, "leads", "import", "edu", str(bad))
    assert code != 0
    assert "bad.csv is not UTF-8 or GB18030 (GBK) text: byte 23 (line 2)" in out
    assert "CSV UTF-8" in out
