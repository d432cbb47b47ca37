"""Builders for hand-worked attendance cases: 09:00–18:00 shifts in Asia/Shanghai, logins, leave."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from agents.attendance.rules import Away, Leave, Month, MonthAssessment, PayRates, Shift, compute_month

ZONE = ZoneInfo("Asia/Shanghai")
MIN_WAGE = Decimal("2420")
PAY = PayRates(daily_base=Decimal("200"), daily_bonus=Decimal("30"), monthly_bonus=Decimal("600"))


def at(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=ZONE)


def weekdays(month: Month, count: int | None = None) -> list[date]:
    """The first ``count`` Monday-to-Friday dates of the month (all of them by default)."""
    days = [day for day in month.days() if day.weekday() < 5]
    return days if count is None else days[:count]


@dataclass
class Agent:
    """An agent's records, built day by day; ``month()`` runs the rules on them."""

    shifts: list[Shift] = field(default_factory=list)
    logins: list[datetime] = field(default_factory=list)
    logouts: list[datetime] = field(default_factory=list)
    aways: list[Away] = field(default_factory=list)
    leaves: list[Leave] = field(default_factory=list)

    def shift(self, days: Iterable[date]) -> Agent:
        for day in days:
            self.shifts.append(Shift(at(day, 9), at(day, 18)))
        return self

    def work(self, days: Iterable[date], *, late: int = 0, early: int = 0) -> Agent:
        """A shift, a login ``late`` minutes after 09:00, a logout ``early`` minutes before 18:00."""
        for day in days:
            self.shifts.append(Shift(at(day, 9), at(day, 18)))
            self.logins.append(at(day, 9) + timedelta(minutes=late))
            self.logouts.append(at(day, 18) - timedelta(minutes=early))
        return self

    def leave(self, kind: str, start: date, end: date, *, approved: bool = True, certificate: bool = False) -> Agent:
        assert kind in ("personal", "sick")
        self.leaves.append(Leave("sick" if kind == "sick" else "personal", start, end, approved, certificate))
        return self

    def month(self, month: Month, pay: PayRates | None = PAY) -> MonthAssessment:
        return compute_month(
            "A001",
            month,
            shifts=self.shifts,
            logins=self.logins,
            logouts=self.logouts,
            aways=self.aways,
            leaves=self.leaves,
            pay=pay,
            minimum_wage=MIN_WAGE,
        )
