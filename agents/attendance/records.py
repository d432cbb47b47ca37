"""Attendance records in and out of the database: the CSV import, and loading one period for the report.

The CSV (header ``work_id,kind,start,end,note``) lets a month be replayed and checked. Bad rows are
reported with their line, column and reason while the good rows land; importing the same file
twice adds nothing (rows are deduplicated by content). The report also reads the system's own
records: logins and logouts from ``auth_sessions`` and ``agent_state_changes``, approved
``leave_requests``.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnElement

from agents.attendance.rules import Away, Leave, Shift
from agents.errors import AttendanceInputError
from agents.models import AgentStateChange, AttendanceRecord, AuthSession, LeaveRequest

__all__ = [
    "COLUMNS",
    "INSTANT_KINDS",
    "KINDS",
    "LEAVE_KINDS",
    "AgentRecords",
    "ImportResult",
    "ParsedRow",
    "RowError",
    "import_csv",
    "load_records",
    "parse_csv",
    "parse_leave_note",
]

COLUMNS: Final = ("work_id", "kind", "start", "end", "note")
KINDS: Final = ("shift", "login", "logout", "away", "leave_personal", "leave_sick")
INSTANT_KINDS: Final = ("login", "logout")
LEAVE_KINDS: Final = ("leave_personal", "leave_sick")
MAX_SHIFT: Final = timedelta(hours=24)
MAX_LEAVE_DAYS: Final = 366
NOTE_MAX: Final = 255
WORK_ID_MAX: Final = 32
SOURCE_MAX: Final = 64
#: shifts this far past the report's month are loaded, so certificate deadlines can use them
LOOK_AHEAD: Final = timedelta(days=40)


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem of one CSV row: ``row`` is the line number in the file (the header is line 1)."""

    row: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}, column {self.column}: {self.reason}"


@dataclass(frozen=True, slots=True)
class ParsedRow:
    """A valid CSV row, ready to store: instants in UTC, leave dates local, the leave note normalised."""

    row: int
    work_id: str
    kind: str
    start: datetime | None
    end: datetime | None
    start_date: date | None
    end_date: date | None
    note: str | None

    def key(self) -> tuple[object, ...]:
        """What two rows must share to be the same record (the import's deduplication)."""
        return (self.work_id, self.kind, self.start, self.end, self.start_date, self.end_date, self.note or None)


@dataclass(slots=True)
class ImportResult:
    """What an import did; ``errors`` lists every bad row, whose other rows still landed."""

    rows: int = 0
    inserted: int = 0
    duplicates: int = 0
    errors: list[RowError] = field(default_factory=list)


def parse_leave_note(note: str, kind: str) -> tuple[bool, bool]:
    """``approved`` or ``unapproved``, plus ``certificate`` on sick leave, separated by ``;``.

    Returns (approved, certificate); ValueError with the reason otherwise.
    """
    tokens = [token.strip().lower() for token in note.split(";") if token.strip()]
    unknown = sorted(set(tokens) - {"approved", "unapproved", "certificate"})
    if unknown:
        words = ", ".join(unknown)
        raise ValueError(f"unknown note word(s) {words}; use approved or unapproved, optionally ;certificate")
    approval = [token for token in tokens if token in ("approved", "unapproved")]
    if len(approval) != 1:
        raise ValueError("a leave note must say exactly one of approved / unapproved")
    certificate = "certificate" in tokens
    if certificate and kind != "leave_sick":
        raise ValueError("certificate applies to leave_sick only")
    return approval[0] == "approved", certificate


def _normal_leave_note(approved: bool, certificate: bool) -> str:
    return ("approved" if approved else "unapproved") + (";certificate" if certificate else "")


def _parse_instant(text: str, zone: ZoneInfo) -> datetime:
    text = text.strip()
    if len(text) < 16 or text[4] != "-" or text[10] not in " T":
        raise ValueError("expected YYYY-MM-DD HH:MM")  # a date alone is not a time
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)


_INSTANT_HINT: Final = "not a date-time (expected YYYY-MM-DD HH:MM in the site's time zone)"


def parse_csv(text: str, zone: ZoneInfo) -> tuple[list[ParsedRow], list[RowError], int]:
    """Parse the CSV text: (good rows, errors, data rows read). A wrong header is an AttendanceInputError."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise AttendanceInputError(
            "the file is empty; expected the header work_id,kind,start,end,note", error_id="attendance.bad_header"
        ) from None
    except csv.Error as exc:
        raise AttendanceInputError(f"cannot read the header: {exc}", error_id="attendance.bad_header") from None
    names = [name.strip().lower() for name in header]
    if tuple(names) != COLUMNS:
        raise AttendanceInputError(
            f"the header is {','.join(header)!r}; expected work_id,kind,start,end,note",
            error_id="attendance.bad_header",
            details={"header": header},
        )
    good: list[ParsedRow] = []
    errors: list[RowError] = []
    read = 0
    while True:
        line = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(RowError(line, "(row)", f"not valid CSV: {exc}"))
            read += 1
            continue
        if not fields or all(not value.strip() for value in fields):
            continue
        read += 1
        line = reader.line_num
        if len(fields) != len(COLUMNS):
            errors.append(RowError(line, "(row)", f"expected {len(COLUMNS)} fields, got {len(fields)}"))
            continue
        row, row_errors = _parse_row(line, dict(zip(COLUMNS, fields, strict=True)), zone)
        errors.extend(row_errors)
        if row is not None:
            good.append(row)
    return good, errors, read


def _parse_row(line: int, raw: dict[str, str], zone: ZoneInfo) -> tuple[ParsedRow | None, list[RowError]]:
    errors: list[RowError] = []

    def bad(column: str, reason: str) -> None:
        errors.append(RowError(line, column, reason))

    work_id = raw["work_id"].strip()
    if not work_id:
        bad("work_id", "empty")
    elif len(work_id) > WORK_ID_MAX or any(ch.isspace() for ch in work_id):
        bad("work_id", f"not a work ID (at most {WORK_ID_MAX} characters, no spaces)")
    kind = raw["kind"].strip().lower()
    note_text = raw["note"].strip()
    if len(note_text) > NOTE_MAX:
        bad("note", f"longer than {NOTE_MAX} characters")
    if kind not in KINDS:
        bad("kind", f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
        return None, errors
    start_text, end_text = raw["start"].strip(), raw["end"].strip()
    start: datetime | None = None
    end: datetime | None = None
    start_date: date | None = None
    end_date: date | None = None
    note: str | None = note_text or None
    if kind in LEAVE_KINDS:
        try:
            start_date = date.fromisoformat(start_text)
        except ValueError:
            bad("start", "not a date (expected YYYY-MM-DD)")
        if end_text:
            try:
                end_date = date.fromisoformat(end_text)
            except ValueError:
                bad("end", "not a date (expected YYYY-MM-DD)")
        else:
            end_date = start_date  # one day
        if start_date and end_date:
            if end_date < start_date:
                bad("end", "before start")
            elif (end_date - start_date).days + 1 > MAX_LEAVE_DAYS:
                bad("end", f"a leave of more than {MAX_LEAVE_DAYS} days")
        try:
            approved, certificate = parse_leave_note(note_text, kind)
            note = _normal_leave_note(approved, certificate)
        except ValueError as exc:
            bad("note", str(exc))
    else:
        try:
            start = _parse_instant(start_text, zone)
        except ValueError:
            bad("start", _INSTANT_HINT if start_text else "empty")
        if kind in INSTANT_KINDS:
            if end_text:
                bad("end", f"must be empty for {kind} (the time goes in start)")
        else:
            try:
                end = _parse_instant(end_text, zone)
            except ValueError:
                bad("end", _INSTANT_HINT if end_text else "empty")
            if start and end:
                if end <= start:
                    bad("end", "not after start")
                elif kind == "shift" and end - start > MAX_SHIFT:
                    bad("end", "a shift longer than 24 hours")
    if errors:
        return None, errors
    return ParsedRow(line, work_id, kind, start, end, start_date, end_date, note), []


def _key_of(record: AttendanceRecord) -> tuple[object, ...]:
    return (
        record.work_id,
        record.kind,
        record.start,
        record.end,
        record.start_date,
        record.end_date,
        record.note or None,
    )


async def import_csv(session: AsyncSession, text: str, *, zone: ZoneInfo, source: str) -> ImportResult:
    """Store the good rows of a CSV in the caller's transaction; rows already stored are skipped.

    Deduplication is by content (work ID, kind, times or dates, note), so re-importing a corrected
    file adds only its new rows. ``source`` (e.g. ``csv:march.csv``) is kept on each row.
    """
    rows, errors, read = parse_csv(text, zone)
    result = ImportResult(rows=read, errors=errors)
    if not rows:
        return result
    work_ids = sorted({row.work_id for row in rows})
    existing: set[tuple[object, ...]] = set()
    for chunk_start in range(0, len(work_ids), 500):
        chunk = work_ids[chunk_start : chunk_start + 500]
        stored = await session.scalars(select(AttendanceRecord).where(AttendanceRecord.work_id.in_(chunk)))
        existing.update(_key_of(record) for record in stored)
    for row in rows:
        key = row.key()
        if key in existing:
            result.duplicates += 1
            continue
        existing.add(key)
        session.add(
            AttendanceRecord(
                work_id=row.work_id,
                kind=row.kind,
                start=row.start,
                end=row.end,
                start_date=row.start_date,
                end_date=row.end_date,
                note=row.note,
                source=source[:SOURCE_MAX],
            )
        )
        result.inserted += 1
    await session.flush()
    return result


# -- loading a period for the report ----------------------------------------------------------


@dataclass(slots=True)
class AgentRecords:
    """One agent's records of a period, in the site's time zone, as the rules want them."""

    shifts: list[Shift] = field(default_factory=list)
    logins: list[datetime] = field(default_factory=list)
    logouts: list[datetime] = field(default_factory=list)
    aways: list[Away] = field(default_factory=list)
    leaves: list[Leave] = field(default_factory=list)
    #: local dates that have any record (to tell who belongs in a month's report)
    days: set[date] = field(default_factory=set)


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


async def load_records(
    session: AsyncSession,
    *,
    since: date,
    until: date,
    zone: ZoneInfo,
    work_ids: Sequence[str] | None = None,
) -> dict[str, AgentRecords]:
    """Every agent's records from local date ``since`` to ``until`` (shifts a little beyond, for deadlines).

    Imported ``attendance_records`` and the system's own: ``auth_sessions`` (start = login, end =
    logout), ``agent_state_changes`` (logged_in / logged_out) and approved ``leave_requests``.
    Duplicated logins from two sources are harmless: only the first login and the last logout count.
    """
    lo = _local_midnight(since, zone) - timedelta(days=1)
    hi = _local_midnight(until + timedelta(days=1), zone) + timedelta(days=1)
    hi_shift = hi + LOOK_AHEAD
    out: dict[str, AgentRecords] = defaultdict(AgentRecords)

    def wanted(column: InstrumentedAttribute[str]) -> list[ColumnElement[bool]]:
        return [] if work_ids is None else [column.in_(list(work_ids))]

    def note_day(work_id: str, at: datetime | date) -> None:
        day = at.astimezone(zone).date() if isinstance(at, datetime) else at
        if since <= day <= until:
            out[work_id].days.add(day)

    rec = AttendanceRecord
    stmt = select(rec).where(
        *wanted(rec.work_id),
        or_(
            and_(rec.kind.in_(("shift",)), rec.start >= lo, rec.start < hi_shift),
            and_(rec.kind.in_(("login", "logout", "away")), rec.start >= lo, rec.start < hi),
            and_(
                rec.kind.in_(LEAVE_KINDS),
                rec.start_date <= until + LOOK_AHEAD,
                rec.end_date >= since,
            ),
        ),
    )
    for record in await session.scalars(stmt):
        agent = out[record.work_id]
        if record.kind in LEAVE_KINDS and record.start_date is not None and record.end_date is not None:
            try:
                approved, certificate = parse_leave_note(record.note or "", record.kind)
            except ValueError:
                approved, certificate = False, False
            agent.leaves.append(
                Leave(
                    "sick" if record.kind == "leave_sick" else "personal",
                    record.start_date,
                    record.end_date,
                    approved=approved,
                    certificate=certificate,
                )
            )
            for offset in range((record.end_date - record.start_date).days + 1):
                note_day(record.work_id, record.start_date + timedelta(days=offset))
            continue
        if record.start is None:
            continue
        start = record.start.astimezone(zone)
        if record.kind == "shift" and record.end is not None:
            agent.shifts.append(Shift(start, record.end.astimezone(zone)))
        elif record.kind == "away" and record.end is not None:
            agent.aways.append(Away(start, record.end.astimezone(zone)))
        elif record.kind == "login":
            agent.logins.append(start)
        elif record.kind == "logout":
            agent.logouts.append(start)
        note_day(record.work_id, start)

    sessions = select(AuthSession.work_id, AuthSession.started_at, AuthSession.ended_at).where(
        *wanted(AuthSession.work_id), AuthSession.started_at >= lo, AuthSession.started_at < hi
    )
    for work_id, started_at, ended_at in (await session.execute(sessions)).all():
        out[work_id].logins.append(started_at.astimezone(zone))
        note_day(work_id, started_at)
        if ended_at is not None:
            out[work_id].logouts.append(ended_at.astimezone(zone))

    changes = select(AgentStateChange.work_id, AgentStateChange.state, AgentStateChange.at).where(
        *wanted(AgentStateChange.work_id),
        AgentStateChange.state.in_(("logged_in", "logged_out")),
        AgentStateChange.at >= lo,
        AgentStateChange.at < hi,
    )
    for work_id, state, at in (await session.execute(changes)).all():
        (out[work_id].logins if state == "logged_in" else out[work_id].logouts).append(at.astimezone(zone))
        note_day(work_id, at)

    leaves = select(LeaveRequest).where(
        *wanted(LeaveRequest.work_id),
        LeaveRequest.status == "approved",
        LeaveRequest.start_date <= until + LOOK_AHEAD,
        LeaveRequest.end_date >= since,
    )
    for request in await session.scalars(leaves):
        out[request.work_id].leaves.append(
            Leave(
                "sick" if request.kind == "sick" else "personal",
                request.start_date,
                request.end_date,
                approved=True,
                certificate_at=(
                    request.certificate_received_at.astimezone(zone) if request.certificate_received_at else None
                ),
            )
        )
        for offset in range((request.end_date - request.start_date).days + 1):
            note_day(request.work_id, request.start_date + timedelta(days=offset))
    return dict(out)
