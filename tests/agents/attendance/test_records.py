"""The CSV import: every bad row named by line, column and reason; good rows land; re-import adds nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from agents.attendance.records import RowError, import_csv, parse_csv, parse_leave_note
from agents.errors import AttendanceInputError
from agents.models import AttendanceRecord
from tests.agents.attendance.helpers import ZONE
from waihu.db import session_factory

HEADER = "work_id,kind,start,end,note\n"

GOOD = (
    HEADER + "A001,shift,2026-03-02 09:00,2026-03-02 18:00,\n"
    "A001,login,2026-03-02 09:05,,\n"
    "A001,logout,2026-03-02T18:00:00,,\n"
    "A001,away,2026-03-02 14:00,2026-03-02 14:40,smoking\n"
    "A001,leave_personal,2026-03-09,2026-03-10,approved\n"
    "A001,leave_sick,2026-03-16,,approved; certificate\n"
    "A002,leave_personal,2026-03-09,2026-03-09,UNAPPROVED\n"
)

BAD = (
    HEADER + "A001,shift,2026-03-03 09:00,2026-03-03 18:00,\n"  # line 2: good
    ",login,2026-03-03 09:00,,\n"  # 3: no work ID
    "A001,lunch,2026-03-03 12:00,,\n"  # 4: unknown kind
    "A001,login,03/03/2026 09:00,,\n"  # 5: bad start
    "A001,login,2026-03-03 09:00,2026-03-03 10:00,\n"  # 6: end on a login
    "A001,shift,2026-03-04 18:00,2026-03-04 09:00,\n"  # 7: end before start
    "A001,leave_sick,2026-03-05,2026-03-04,approved\n"  # 8: end before start
    "A001,leave_sick,2026-03-05,,\n"  # 9: no approval in the note
    "A001,leave_personal,2026-03-05,,approved;certificate\n"  # 10: certificate on personal leave
    "A001,away,2026-03-03 14:00,,\n"  # 11: away without an end
    "A001,login,2026-03-03 09:00,\n"  # 12: four fields
    "A001,shift,2026-03-05 09:00,2026-03-06 10:00,\n"  # 13: longer than 24 h
    "A001,logout,2026-03-03 18:00,,\n"  # 14: good
    "A001,login,2026-03-03,,\n"  # 15: a date is not a time
)


def test_good_rows_are_parsed_in_the_sites_time_zone() -> None:
    rows, errors, read = parse_csv(GOOD, ZONE)
    assert (errors, read, len(rows)) == ([], 7, 7)
    shift = rows[0]
    assert (shift.start, shift.end) == (datetime(2026, 3, 2, 1, tzinfo=UTC), datetime(2026, 3, 2, 10, tzinfo=UTC))
    assert rows[2].start == datetime(2026, 3, 2, 10, tzinfo=UTC)
    sick = rows[5]
    assert (sick.start_date, sick.end_date, sick.note) == (date(2026, 3, 16), date(2026, 3, 16), "approved;certificate")
    assert rows[6].note == "unapproved"


def test_bad_rows_are_named_by_row_column_and_reason() -> None:
    rows, errors, read = parse_csv(BAD, ZONE)
    assert read == 14
    assert [row.row for row in rows] == [2, 14]
    assert [(e.row, e.column) for e in errors] == [
        (3, "work_id"),
        (4, "kind"),
        (5, "start"),
        (6, "end"),
        (7, "end"),
        (8, "end"),
        (9, "note"),
        (10, "note"),
        (11, "end"),
        (12, "(row)"),
        (13, "end"),
        (15, "start"),
    ]
    assert str(errors[2]) == "row 5, column start: not a date-time (expected YYYY-MM-DD HH:MM in the site's time zone)"
    assert errors[3].reason == "must be empty for login (the time goes in start)"
    assert errors[9] == RowError(12, "(row)", "expected 5 fields, got 4")


@pytest.mark.parametrize(
    "text", ["", "work_id,kind,start,end\nA,login,2026-03-02 09:00,\n", "id,kind,start,end,note\n"]
)
def test_a_wrong_header_rejects_the_file(text: str) -> None:
    with pytest.raises(AttendanceInputError) as caught:
        parse_csv(text, ZONE)
    assert caught.value.error_id == "attendance.bad_header"


def test_a_byte_order_mark_and_blank_lines_are_fine() -> None:
    rows, errors, read = parse_csv("\ufeff" + HEADER + "\nA001,login,2026-03-02 09:05,,\n\n", ZONE)
    assert (len(rows), errors, read) == (1, [], 1)
    assert rows[0].row == 3


def test_leave_note_syntax() -> None:
    assert parse_leave_note("approved", "leave_sick") == (True, False)
    assert parse_leave_note(" Approved ; Certificate ", "leave_sick") == (True, True)
    assert parse_leave_note("unapproved", "leave_personal") == (False, False)
    for bad in ("", "approved;unapproved", "ok", "approved;certificate;x"):
        with pytest.raises(ValueError, match="approved"):
            parse_leave_note(bad, "leave_sick")


async def _count(engine: AsyncEngine) -> int:
    async with session_factory(engine)() as session:
        return int(await session.scalar(select(func.count()).select_from(AttendanceRecord)) or 0)


async def test_good_rows_land_and_reimport_adds_nothing(migrated_engine: AsyncEngine) -> None:
    async with session_factory(migrated_engine)() as session, session.begin():
        first = await import_csv(session, BAD, zone=ZONE, source="csv:bad.csv")
    assert (first.rows, first.inserted, first.duplicates, len(first.errors)) == (14, 2, 0, 12)
    assert await _count(migrated_engine) == 2

    async with session_factory(migrated_engine)() as session, session.begin():
        again = await import_csv(session, BAD, zone=ZONE, source="csv:bad.csv")
    assert (again.inserted, again.duplicates, len(again.errors)) == (0, 2, 12)

    # The corrected file, under another name: only the rows not stored yet land.
    async with session_factory(migrated_engine)() as session, session.begin():
        fixed = await import_csv(session, GOOD + "A001,logout,2026-03-03 18:00,,\n", zone=ZONE, source="csv:fixed.csv")
    assert (fixed.inserted, fixed.duplicates, fixed.errors) == (7, 1, [])
    assert await _count(migrated_engine) == 9

    async with session_factory(migrated_engine)() as session:
        stored = (await session.scalars(select(AttendanceRecord).order_by(AttendanceRecord.id))).all()
    assert [(r.kind, r.source) for r in stored[:2]] == [("shift", "csv:bad.csv"), ("logout", "csv:bad.csv")]
    assert stored[0].start == datetime(2026, 3, 3, 1, tzinfo=UTC)


async def test_duplicate_rows_inside_one_file_land_once(migrated_engine: AsyncEngine) -> None:
    text = HEADER + "A001,login,2026-03-02 09:05,,\n" * 3
    async with session_factory(migrated_engine)() as session, session.begin():
        result = await import_csv(session, text, zone=ZONE, source="csv:x.csv")
    assert (result.inserted, result.duplicates) == (1, 2)
