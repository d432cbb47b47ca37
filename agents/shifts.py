"""Which shift a moment belongs to: the agent's shift record, else the site's default shift (7.7).

Used to log agents out at shift end and to tell whether a seat change happens "within a shift"
(第十五条). Shift records are ``attendance_records`` rows of kind ``shift`` (UTC instants); the
default shift is ``settings.shift_default_start``/``end`` in the site's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agents.models import AttendanceRecord
from waihu.settings import Settings

__all__ = ["ShiftWindow", "local_day", "shift_for"]


@dataclass(frozen=True, slots=True)
class ShiftWindow:
    """A shift as UTC instants, and where it came from."""

    start: datetime
    end: datetime
    source: Literal["record", "default"]


def local_day(settings: Settings, at: datetime) -> tuple[datetime, datetime]:
    """The site-local calendar day containing ``at``, as UTC instants [start, end)."""
    zone = settings.zone
    day = at.astimezone(zone).date()
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    end = start + timedelta(days=1)
    return start.astimezone(UTC), end.astimezone(UTC)


def _default_window(settings: Settings, at: datetime) -> ShiftWindow:
    zone = settings.zone
    day = at.astimezone(zone).date()
    start = datetime.combine(day, settings.shift_default_start, tzinfo=zone)
    end = datetime.combine(day, settings.shift_default_end, tzinfo=zone)
    if end <= start:  # a night shift ends the next morning
        end += timedelta(days=1)
    return ShiftWindow(start.astimezone(UTC), end.astimezone(UTC), "default")


async def shift_for(session: AsyncSession, settings: Settings, work_id: str, at: datetime) -> ShiftWindow | None:
    """The shift ``at`` belongs to: the record covering it, else the next record that local day, else the
    default shift of that day if ``at`` is before its end (an early arrival belongs to it) and the agent
    has no shift record that day; otherwise ``None`` (overtime nobody scheduled: no shift-end logout).
    """
    day_start, day_end = local_day(settings, at)
    rows = (
        await session.execute(
            select(AttendanceRecord.start, AttendanceRecord.end)
            .where(
                AttendanceRecord.work_id == work_id,
                AttendanceRecord.kind == "shift",
                AttendanceRecord.start.is_not(None),
                AttendanceRecord.end.is_not(None),
                AttendanceRecord.start < day_end,
                AttendanceRecord.end > day_start - timedelta(days=1),
            )
            .order_by(AttendanceRecord.start)
        )
    ).all()
    windows = [ShiftWindow(start, end, "record") for start, end in rows if start is not None and end is not None]
    for window in windows:
        if window.start <= at < window.end:
            return window
    for window in windows:
        if at < window.start and window.start < day_end:
            return window
    if any(window.end > day_start for window in windows):
        return None  # the agent has its own shifts that day: the default does not apply
    default = _default_window(settings, at)
    return default if at < default.end else None
