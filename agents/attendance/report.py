"""A month's attendance report from the database, and the pay settings it is computed from.

Loads every record from the earlier of 1 January and two months back (17.2(2) looks back two
months; 17.2(3) counts the calendar year) and hands them to the pure rules. The JSON and CSV shapes
are documented in ``docs/attendance.md``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agents.attendance.records import load_records
from agents.attendance.rules import Line, Month, MonthAssessment, PayRates, compute_month, first_month_judged, money
from agents.errors import AttendanceInputError, NotFound
from agents.models import PaySetting, User, Vendor

__all__ = ["CSV_COLUMNS", "build_report", "get_pay", "report_csv", "report_json", "set_pay"]

CSV_COLUMNS = (
    "work_id",
    "month",
    "working_days",
    "late_early_count",
    "absence_days",
    "personal_leave_days",
    "sick_leave_days",
    "monthly_bonus",
    "bonus_deduction",
    "lateness_fine_assessed",
    "lateness_fine",
    "bonus_paid",
    "base_deduction",
    "sick_pay",
    "flags",
)


def _checked_amount(name: str, value: Decimal) -> Decimal:
    if not value.is_finite() or value < 0:
        raise AttendanceInputError(f"{name} must be a non-negative amount", details={"field": name})
    if value != value.quantize(Decimal("0.01")):
        raise AttendanceInputError(f"{name} has more than two decimals (元 and 分 only)", details={"field": name})
    if value >= Decimal("100000000"):
        raise AttendanceInputError(f"{name} is too large", details={"field": name})
    return money(value)


async def set_pay(session: AsyncSession, work_id: str, rates: PayRates, *, now: datetime) -> PaySetting:
    """Create or replace an agent's amounts, in the caller's transaction."""
    work_id = work_id.strip()
    if not work_id or len(work_id) > 32:
        raise AttendanceInputError("a work ID has 1 to 32 characters", details={"field": "work_id"})
    base = _checked_amount("daily base", rates.daily_base)
    bonus = _checked_amount("daily bonus", rates.daily_bonus)
    monthly = _checked_amount("monthly bonus", rates.monthly_bonus)
    row = await session.scalar(select(PaySetting).where(PaySetting.work_id == work_id))
    if row is None:
        row = PaySetting(work_id=work_id, daily_base=base, daily_bonus=bonus, monthly_bonus=monthly, updated_at=now)
        session.add(row)
    else:
        row.daily_base, row.daily_bonus, row.monthly_bonus, row.updated_at = base, bonus, monthly, now
    await session.flush()
    return row


async def get_pay(session: AsyncSession, work_ids: Sequence[str]) -> dict[str, PayRates]:
    """The amounts of these agents; agents without a row are missing from the result."""
    rows = await session.scalars(select(PaySetting).where(PaySetting.work_id.in_(list(work_ids))))
    return {
        row.work_id: PayRates(money(row.daily_base), money(row.daily_bonus), money(row.monthly_bonus)) for row in rows
    }


async def _vendor_work_ids(session: AsyncSession, vendor: str) -> list[str]:
    vendor_id = await session.scalar(select(Vendor.id).where(Vendor.code == vendor))
    if vendor_id is None:
        raise NotFound(f"no vendor {vendor!r}", details={"vendor": vendor})
    return list(await session.scalars(select(User.work_id).where(User.vendor_id == vendor_id)))


async def build_report(
    session: AsyncSession,
    month: Month,
    *,
    zone: ZoneInfo,
    minimum_wage: Decimal,
    vendor: str | None = None,
) -> list[MonthAssessment]:
    """One assessment per agent with any record in ``month`` (sorted by work ID).

    ``vendor`` (a vendor code) keeps the agents whose work ID belongs to it (``users.vendor_id``);
    records of work IDs with no user row appear only in the unfiltered report.
    """
    since = first_month_judged(month).first_day
    work_ids = await _vendor_work_ids(session, vendor) if vendor is not None else None
    if work_ids is not None and not work_ids:
        return []
    records = await load_records(session, since=since, until=month.last_day, zone=zone, work_ids=work_ids)
    present = sorted(work_id for work_id, agent in records.items() if any(day in month for day in agent.days))
    pay = await get_pay(session, present)
    return [
        compute_month(
            work_id,
            month,
            shifts=records[work_id].shifts,
            logins=records[work_id].logins,
            logouts=records[work_id].logouts,
            aways=records[work_id].aways,
            leaves=records[work_id].leaves,
            pay=pay.get(work_id),
            minimum_wage=minimum_wage,
        )
        for work_id in present
    ]


def _line_json(line: Line) -> dict[str, Any]:
    return {
        "rule": line.rule,
        "effect": line.effect,
        "amount": None if line.amount is None else f"{money(line.amount)}",
        "detail": line.detail,
        "records": [dict(record) for record in line.records],
    }


def report_json(assessments: Sequence[MonthAssessment]) -> list[dict[str, Any]]:
    """The report as JSON-ready objects; money as strings with two decimals."""
    return [
        {
            "work_id": a.work_id,
            "month": str(a.month),
            "working_days": a.working_days,
            "late_early_count": a.late_early_count,
            "absence_days": a.absence_days,
            "personal_leave_days": a.personal_leave_days,
            "sick_leave_days": a.sick_leave_days,
            "monthly_bonus": f"{a.monthly_bonus}",
            "bonus_deduction": f"{a.bonus_deduction}",
            "lateness_fine_assessed": f"{a.lateness_fine_assessed}",
            "lateness_fine": f"{a.lateness_fine}",
            "bonus_paid": f"{a.bonus_paid}",
            "base_deduction": f"{a.base_deduction}",
            "sick_pay": f"{a.sick_pay}",
            "flags": list(a.flags),
            "lines": [_line_json(line) for line in a.lines],
        }
        for a in assessments
    ]


def report_csv(assessments: Sequence[MonthAssessment]) -> str:
    """The summary columns, one row per agent; flags joined with ``;`` (the lines are in the JSON only)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for item in report_json(assessments):
        writer.writerow([";".join(item[c]) if c == "flags" else item[c] for c in CSV_COLUMNS])
    return buffer.getvalue()
