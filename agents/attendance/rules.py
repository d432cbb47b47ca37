"""The attendance rules of 第十七条 as pure functions: records in, one month's assessment out.

No I/O and no clock: every function takes its dates and times explicitly, so a month can be
replayed and checked by hand. Times are aware datetimes in the site's time zone (the caller
converts from UTC); a working day is a local date with at least one shift. Readings of the
source where it is ambiguous are listed in ``docs/attendance.md``; the article each rule applies
is cited where it is applied.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Final, Literal

__all__ = [
    "ABSENCE_MINUTES",
    "ASSIGN_WINDOW",
    "CERTIFICATE_AFTER_DAYS",
    "CERTIFICATE_WORKING_DAYS",
    "DISMISSAL_CONSECUTIVE",
    "DISMISSAL_YEAR_OVER",
    "FINE_FIRST",
    "FINE_FIRST_COUNT",
    "FINE_LATER",
    "ZERO",
    "AbsenceReason",
    "Away",
    "DayResult",
    "Leave",
    "Line",
    "Minor",
    "Month",
    "MonthAssessment",
    "PayRates",
    "Shift",
    "approver_roles",
    "assess_month",
    "certificate_deadline",
    "compute_month",
    "evaluate_days",
    "money",
    "unscheduled_leave_days",
]

#: late, early or away this many minutes or more is absence (17.2(4): 30分钟以上, 以上 includes 30)
ABSENCE_MINUTES: Final = 30
#: the first three lates/earlies of a month cost 25 元 each (17.3(1)), from the fourth 150 元 (17.3(2))
FINE_FIRST: Final = Decimal("25.00")
FINE_LATER: Final = Decimal("150.00")
FINE_FIRST_COUNT: Final = 3
#: 17.2(3): 连续旷工五天 / 累计旷工超过十天 (超过: more than ten)
DISMISSAL_CONSECUTIVE: Final = 5
DISMISSAL_YEAR_OVER: Final = 10
#: 17.1(1): leave of more than three days is reported to the client; sick leave needs a certificate
CERTIFICATE_AFTER_DAYS: Final = 3
CERTIFICATE_WORKING_DAYS: Final = 2
#: personal leave 7 days or more cancels the bonus (17.1(2)); sick leave thresholds (17.1(3))
PERSONAL_NO_BONUS_DAYS: Final = 7
SICK_HALF_BONUS_DAYS: Final = 7
SICK_NO_BONUS_DAYS: Final = 15
SICK_PAY_SHARE: Final = Decimal("0.8")
#: a login, logout or away belongs to the working day whose shift it is nearest, within this distance
ASSIGN_WINDOW: Final = timedelta(hours=6)
ZERO: Final = Decimal("0.00")
_CENT: Final = Decimal("0.01")

LeaveKind = Literal["personal", "sick"]
DayStatus = Literal["present", "absent", "leave_personal", "leave_sick"]


def money(value: Decimal) -> Decimal:
    """Round to the fen (0.01 元), half up: the only rounding the report does."""
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True, order=True)
class Month:
    """A calendar month, ``YYYY-MM``."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12 or not 1 <= self.year <= 9999:
            raise ValueError(f"not a month: {self.year}-{self.month}")

    @classmethod
    def parse(cls, text: str) -> Month:
        """``YYYY-MM`` -> Month; ValueError otherwise."""
        parts = text.strip().split("-")
        if len(parts) != 2 or len(parts[0]) != 4 or len(parts[1]) != 2 or not all(p.isdigit() for p in parts):
            raise ValueError(f"not a month (expected YYYY-MM): {text!r}")
        return cls(int(parts[0]), int(parts[1]))

    @classmethod
    def of(cls, day: date) -> Month:
        return cls(day.year, day.month)

    def add(self, months: int) -> Month:
        index = self.year * 12 + (self.month - 1) + months
        return Month(index // 12, index % 12 + 1)

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return self.add(1).first_day - timedelta(days=1)

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and day.year == self.year and day.month == self.month

    def days(self) -> list[date]:
        return [self.first_day + timedelta(days=i) for i in range(self.last_day.day)]

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass(frozen=True, slots=True)
class PayRates:
    """An agent's amounts (元): daily base pay (日标准基薪), daily standard bonus, monthly bonus (月奖)."""

    daily_base: Decimal
    daily_bonus: Decimal
    monthly_bonus: Decimal


@dataclass(frozen=True, slots=True)
class Shift:
    """A scheduled shift; local aware datetimes. Its working day is the local date of ``start``."""

    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Away:
    """Time away from the seat (擅离岗位), local aware datetimes."""

    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Leave:
    """A leave (dates inclusive, local).

    ``certificate``: a medical certificate is known to have arrived in time (CSV note ``certificate``);
    ``certificate_at``: when it arrived (leave requests), checked against :func:`certificate_deadline`.
    """

    kind: LeaveKind
    start: date
    end: date
    approved: bool
    certificate: bool = False
    certificate_at: datetime | None = None

    @property
    def span_days(self) -> int:
        """Calendar days, inclusive: what the approval chain and the certificate rule count."""
        return (self.end - self.start).days + 1

    def covers(self, day: date) -> bool:
        return self.start <= day <= self.end


@dataclass(frozen=True, slots=True)
class Minor:
    """A late arrival or early leave under 30 minutes (17.3): fined, not absence."""

    kind: Literal["late", "early"]
    day: date
    minutes: int
    at: datetime


@dataclass(frozen=True, slots=True)
class AbsenceReason:
    """Why a working day is absence (旷工), with the rule and the minutes where there are any.

    ``logged_out``: for an away episode that was a logout -> login gap, its local times (``11:00-13:00``).
    """

    kind: Literal["late", "early", "away", "no_show", "leave_unapproved", "no_certificate"]
    rule: str
    minutes: int | None = None
    logged_out: str | None = None


@dataclass(frozen=True, slots=True)
class DayResult:
    """One working day, judged.

    ``scheduled`` is False for a calendar day standing in for a working day: a day of approved leave in
    a month where the agent has no shift at all (:func:`unscheduled_leave_days`).
    """

    day: date
    status: DayStatus
    absence: tuple[AbsenceReason, ...] = ()
    minor: tuple[Minor, ...] = ()
    scheduled: bool = True


@dataclass(frozen=True, slots=True)
class Line:
    """One effect in the report: the rule it applies, the amount, and the records behind it."""

    rule: str
    effect: str
    amount: Decimal | None
    detail: str
    records: tuple[Mapping[str, str | int], ...] = ()


@dataclass(frozen=True, slots=True)
class MonthAssessment:
    """One agent's month (all money in 元, rounded to 0.01)."""

    work_id: str
    month: Month
    working_days: int
    late_early_count: int
    absence_days: int
    personal_leave_days: int
    sick_leave_days: int
    monthly_bonus: Decimal
    bonus_deduction: Decimal
    lateness_fine_assessed: Decimal
    lateness_fine: Decimal
    bonus_paid: Decimal
    base_deduction: Decimal
    sick_pay: Decimal
    flags: tuple[str, ...]
    lines: tuple[Line, ...] = field(default_factory=tuple)


# -- approval chain (17.1(1)) -------------------------------------------------------------------


def approver_roles(days: int) -> tuple[frozenset[str], bool]:
    """Roles that may approve a leave of ``days`` calendar days, and whether the client must be told.

    17.1(1): one day by the vendor's team lead (外包主管), two to three by the ops manager (运营经理),
    more than three reported to the client (XX方). Higher roles may approve shorter leave.
    """
    if days < 1:
        raise ValueError("a leave lasts at least one day")
    if days == 1:
        return frozenset({"team_lead", "ops_manager", "admin"}), False
    if days <= CERTIFICATE_AFTER_DAYS:
        return frozenset({"ops_manager", "admin"}), False
    return frozenset({"ops_manager", "admin"}), True


def certificate_deadline(leave_end: date, shift_days: Iterable[date]) -> date:
    """The last day a medical certificate counts as in time: the second working day after the leave.

    17.1(1) 两个工作日内. Working days are the agent's shift days after the leave; where the schedule
    does not reach that far, Monday to Friday stand in for the missing ones.
    """
    later = sorted(day for day in set(shift_days) if day > leave_end)
    if len(later) >= CERTIFICATE_WORKING_DAYS:
        return later[CERTIFICATE_WORKING_DAYS - 1]
    counted = len(later)
    day = later[-1] if later else leave_end
    while counted < CERTIFICATE_WORKING_DAYS:
        day += timedelta(days=1)
        if day.weekday() < 5:
            counted += 1
    return day


# -- judging working days -----------------------------------------------------------------------


@dataclass(slots=True)
class _Day:
    day: date
    start: datetime
    end: datetime
    logins: list[datetime] = field(default_factory=list)
    logouts: list[datetime] = field(default_factory=list)
    aways: list[Away] = field(default_factory=list)


def _working_days(shifts: Iterable[Shift]) -> dict[date, _Day]:
    """Several shifts on one date make one working day from the first start to the last end."""
    days: dict[date, _Day] = {}
    for shift in shifts:
        key = shift.start.date()
        known = days.get(key)
        if known is None:
            days[key] = _Day(key, shift.start, shift.end)
        else:
            known.start = min(known.start, shift.start)
            known.end = max(known.end, shift.end)
    return days


def _distance(at: datetime, day: _Day) -> timedelta:
    if at < day.start:
        return day.start - at
    if at > day.end:
        return at - day.end
    return timedelta(0)


def _nearest(at: datetime, days: Sequence[_Day]) -> _Day | None:
    best: _Day | None = None
    best_distance = ASSIGN_WINDOW
    for day in days:
        distance = _distance(at, day)
        if distance <= best_distance and (best is None or distance < best_distance):
            best, best_distance = day, distance
    return best


def _minutes(delta: timedelta) -> int:
    """Whole minutes, rounded down: 29 min 59 s is 29 minutes (under 30); under one minute is on time."""
    return int(delta.total_seconds() // 60)


def evaluate_days(
    shifts: Iterable[Shift],
    logins: Iterable[datetime],
    logouts: Iterable[datetime],
    aways: Iterable[Away],
    leaves: Iterable[Leave],
    *,
    until: date | None = None,
) -> list[DayResult]:
    """Judge every working day (up to ``until``): present, absent with reasons, or on leave.

    Shifts after ``until`` still count as working days for certificate deadlines.
    """
    all_days = _working_days(shifts)
    shift_days = sorted(all_days)
    ordered = [all_days[d] for d in shift_days]
    for at in logins:
        if (day := _nearest(at, ordered)) is not None:
            day.logins.append(at)
    for at in logouts:
        if (day := _nearest(at, ordered)) is not None:
            day.logouts.append(at)
    for away in aways:
        if (day := _nearest(away.start, ordered)) is not None:
            day.aways.append(away)
    leave_list = list(leaves)
    results: list[DayResult] = []
    for d in shift_days:
        if until is not None and d > until:
            break
        results.append(_judge(all_days[d], leave_list, shift_days))
    return results


def _leave_result(day: date, approved: Sequence[Leave], shift_days: Sequence[date], *, scheduled: bool) -> DayResult:
    """A day covered by approved leave: sick or personal leave, or absence for a missing certificate."""
    # Sick leave preferred over personal when both cover a day: it costs the agent less.
    leave = next((item for item in approved if item.kind == "sick"), approved[0])
    if leave.kind == "sick" and leave.span_days > CERTIFICATE_AFTER_DAYS and not _certificate_ok(leave, shift_days):
        # 17.1(1): 三天以上 … 两个工作日内将医院证明交相关部门，否则视为旷工
        return DayResult(day, "absent", (AbsenceReason("no_certificate", "17.1(1)"),), scheduled=scheduled)
    return DayResult(day, "leave_sick" if leave.kind == "sick" else "leave_personal", scheduled=scheduled)


def _logged_out_gaps(logins: Sequence[datetime], logouts: Sequence[datetime]) -> list[Away]:
    """Each time off the platform between a logout and the next login, after the day's first login.

    Logins and logouts may come twice (an auth session and a state change for one login): a logout
    while already logged out, or a login while logged in, changes nothing. A logout with no login
    after it is not a gap (that is the early rule); time before the first login is the late rule's.
    """
    events = sorted([(at, 0) for at in logouts] + [(at, 1) for at in logins])  # a tie: logout first
    gaps: list[Away] = []
    logged_in = False
    off_since: datetime | None = None
    for at, is_login in events:
        if is_login:
            if off_since is not None and at > off_since:
                gaps.append(Away(off_since, at))
            off_since = None
            logged_in = True
        elif logged_in:
            logged_in = False
            off_since = at
    return gaps


def _unexcused_minutes(start: datetime, end: datetime, leaves: Sequence[Leave]) -> int:
    """Whole minutes of ``start``..``end`` on local dates no approved leave covers."""
    total = timedelta(0)
    cursor = start
    while cursor < end:
        midnight = datetime.combine(cursor.date() + timedelta(days=1), datetime.min.time(), tzinfo=cursor.tzinfo)
        piece_end = min(end, midnight)
        if not any(leave.approved and leave.covers(cursor.date()) for leave in leaves):
            total += piece_end - cursor
        cursor = piece_end
    return _minutes(total)


def _judge(day: _Day, leaves: Sequence[Leave], shift_days: Sequence[date]) -> DayResult:
    covering = [leave for leave in leaves if leave.covers(day.day)]
    approved = [leave for leave in covering if leave.approved]
    if approved:
        return _leave_result(day.day, approved, shift_days, scheduled=True)
    if not day.logins:
        # 17.2(4) 无故缺勤: no login and no approved leave
        kind: Literal["no_show", "leave_unapproved"] = "leave_unapproved" if covering else "no_show"
        return DayResult(day.day, "absent", (AbsenceReason(kind, "17.2(4)"),))
    reasons: list[AbsenceReason] = []
    minor: list[Minor] = []
    first = min(day.logins)
    late = _minutes(first - day.start) if first > day.start else 0
    if late > 0:
        if late >= ABSENCE_MINUTES:
            reasons.append(AbsenceReason("late", "17.2(4)", late))  # 迟到 30分钟以上 -> 旷工
        else:
            minor.append(Minor("late", day.day, late, first))
    last_logout = max(day.logouts) if day.logouts else None
    # Early only if the agent's last act that day was a logout; no logout means logged out at shift end (7.7).
    if last_logout is not None and last_logout >= first and last_logout < day.end:
        still_in = any(login > last_logout for login in day.logins)
        early = _minutes(day.end - last_logout)
        if not still_in and early > 0:
            if early >= ABSENCE_MINUTES:
                reasons.append(AbsenceReason("early", "17.2(4)", early))  # 早退 30分钟以上 -> 旷工
            else:
                minor.append(Minor("early", day.day, early, last_logout))
    # 擅离岗位 30分钟以上: each away record, and each logout -> login gap, is one episode clipped to the shift;
    # the part on a date of approved leave is excused. Shorter episodes are nothing (17.3 fines lates/earlies).
    for away in day.aways:
        start, end = max(away.start, day.start), min(away.end, day.end)
        if end > start and (minutes := _unexcused_minutes(start, end, leaves)) >= ABSENCE_MINUTES:
            reasons.append(AbsenceReason("away", "17.2(4)", minutes))
    for gap in _logged_out_gaps(day.logins, day.logouts):
        start, end = max(gap.start, day.start), min(gap.end, day.end)
        if end > start and (minutes := _unexcused_minutes(start, end, leaves)) >= ABSENCE_MINUTES:
            span = f"{gap.start:%H:%M}-{gap.end:%H:%M}"
            reasons.append(AbsenceReason("away", "17.2(4)", minutes, logged_out=span))
    if reasons:
        return DayResult(day.day, "absent", tuple(reasons))
    return DayResult(day.day, "present", minor=tuple(minor))


def unscheduled_leave_days(
    months: Iterable[Month], shift_days: Iterable[date], leaves: Iterable[Leave]
) -> list[DayResult]:
    """Leave days of the months in which the agent has no shift at all (the schedule is unknown).

    There every calendar day an approved leave covers stands in for a working day: personal or sick
    leave, or absence where a sick leave of more than three days lacks its certificate (17.1(1)).
    Months with any shift keep the working-day rule; unapproved leave counts for nothing here (no
    schedule, no absence). The results carry ``scheduled=False``.
    """
    known = {Month.of(day) for day in shift_days}
    ordered_shift_days = sorted(set(shift_days))
    approved = [leave for leave in leaves if leave.approved]
    results: list[DayResult] = []
    for month in sorted(set(months)):
        if month in known:
            continue
        for day in month.days():
            covering = [leave for leave in approved if leave.covers(day)]
            if covering:
                results.append(_leave_result(day, covering, ordered_shift_days, scheduled=False))
    return results


def _certificate_ok(leave: Leave, shift_days: Sequence[date]) -> bool:
    if leave.certificate:
        return True
    if leave.certificate_at is None:
        return False
    return leave.certificate_at.date() <= certificate_deadline(leave.end, shift_days)


# -- assessing a month --------------------------------------------------------------------------


def _record(day: date, kind: str, minutes: int | None = None, logged_out: str | None = None) -> dict[str, str | int]:
    item: dict[str, str | int] = {"date": day.isoformat(), "kind": kind}
    if minutes is not None:
        item["minutes"] = minutes
    if logged_out is not None:
        item["logged_out"] = logged_out
    return item


def _reason_text(reason: AbsenceReason) -> str:
    text = reason.kind + (f" {reason.minutes} min" if reason.minutes is not None else "")
    return text + (f" (logged out {reason.logged_out})" if reason.logged_out is not None else "")


_CALENDAR_NOTE: Final = " (no shift this month: calendar days of approved leave)"


def _calendar_note(results: Sequence[DayResult]) -> str:
    return _CALENDAR_NOTE if any(not r.scheduled for r in results) else ""


def _longest_absence_run(days: Sequence[DayResult]) -> tuple[int, date | None]:
    """The longest run of consecutive working days that were absence, and the day it reached five."""
    run = 0
    longest = 0
    reached: date | None = None
    for result in days:
        run = run + 1 if result.status == "absent" else 0
        longest = max(longest, run)
        if run == DISMISSAL_CONSECUTIVE and reached is None:
            reached = result.day
    return longest, reached


def assess_month(
    work_id: str,
    month: Month,
    days: Sequence[DayResult],
    pay: PayRates | None,
    minimum_wage: Decimal,
    *,
    whole_month_sick: bool | None = None,
) -> MonthAssessment:
    """Apply 17.1–17.3 to one agent's month.

    ``days`` must hold every working day from the earlier of 1 January and the first day of the
    month two months back, to the end of ``month``: the bonus cancellation of 17.2(2) looks back two
    months and the dismissal rule of 17.2(3) counts the calendar year. ``whole_month_sick``
    overrides the shift-day test of 17.1(4) (the caller may know of sick leave covering every
    calendar day).
    """
    rates = pay or PayRates(ZERO, ZERO, ZERO)
    ordered = sorted(days, key=lambda r: r.day)
    in_month = [r for r in ordered if r.day in month]
    flags: list[str] = []
    lines: list[Line] = []
    if pay is None:
        flags.append("no_pay_settings")

    absent = [r for r in in_month if r.status == "absent"]
    personal = [r for r in in_month if r.status == "leave_personal"]
    sick = [r for r in in_month if r.status == "leave_sick"]
    if any(not r.scheduled for r in in_month):
        flags.append("no_schedule")
    for r in absent:
        detail = ", ".join(_reason_text(a) for a in r.absence) + _calendar_note([r])
        lines.append(
            Line(
                r.absence[0].rule,
                "absence",
                None,
                f"absence (旷工) on {r.day.isoformat()}: {detail}",
                tuple(_record(r.day, a.kind, a.minutes, a.logged_out) for a in r.absence),
            )
        )

    # 17.1(2) personal leave and 17.1(3) sick leave: daily base per day
    base_deduction = ZERO
    if personal:
        amount = money(rates.daily_base * len(personal))
        base_deduction += amount
        lines.append(
            Line(
                "17.1(2)",
                "base_deduction",
                amount,
                f"personal leave {len(personal)} day(s) x daily base {money(rates.daily_base)}"
                + _calendar_note(personal),
                tuple(_record(r.day, "leave_personal") for r in personal),
            )
        )
    if sick:
        amount = money(rates.daily_base * len(sick))
        base_deduction += amount
        lines.append(
            Line(
                "17.1(3)",
                "base_deduction",
                amount,
                f"sick leave {len(sick)} day(s) x daily base {money(rates.daily_base)}" + _calendar_note(sick),
                tuple(_record(r.day, "leave_sick") for r in sick),
            )
        )

    # 17.1(4): a whole month of sick leave: pay stops, 80% of the local minimum wage as sick pay
    if whole_month_sick is None:
        scheduled = [r for r in in_month if r.scheduled]
        if scheduled:
            whole_month_sick = all(r.status == "leave_sick" for r in scheduled)
        else:  # no schedule: the calendar days stand in
            whole_month_sick = len(sick) == len(month.days())
    sick_pay = ZERO
    if whole_month_sick:
        sick_pay = money(minimum_wage * SICK_PAY_SHARE)
        flags.append("sick_whole_month")
        lines.append(
            Line("17.1(4)", "sick_pay", sick_pay, f"whole month sick: 80% of minimum wage {money(minimum_wage)}")
        )

    # The monthly bonus: cancellations first, then the half bonus, then deductions and fines (never below zero).
    monthly_bonus = money(rates.monthly_bonus)
    cancel: list[Line] = []
    if absent:
        cancel.append(
            Line(
                "17.2(1)",
                "bonus_cancelled",
                monthly_bonus,
                f"{len(absent)} absence day(s) this month: no monthly bonus",
                tuple(_record(r.day, "absence") for r in absent),
            )
        )
    # 17.2(2) 当月累计旷工三天以上，取消三个月月奖: this month and the next two
    cancelled_until: Month | None = None
    for back in (2, 1, 0):
        source = month.add(-back)
        source_absent = [r for r in ordered if r.day in source and r.status == "absent"]
        if len(source_absent) >= 3:
            until = source.add(2)
            cancelled_until = until if cancelled_until is None else max(cancelled_until, until)
            cancel.append(
                Line(
                    "17.2(2)",
                    "bonus_cancelled",
                    monthly_bonus,
                    f"{len(source_absent)} absence days in {source}: no monthly bonus {source} to {until}",
                    tuple(_record(r.day, "absence") for r in source_absent),
                )
            )
    if cancelled_until is not None:
        flags.append(f"bonus_cancelled_until:{cancelled_until}")
    if len(personal) >= PERSONAL_NO_BONUS_DAYS:
        cancel.append(
            Line("17.1(2)", "bonus_cancelled", monthly_bonus, f"personal leave {len(personal)} days (7 or more)")
        )
    if len(sick) >= SICK_NO_BONUS_DAYS:
        cancel.append(Line("17.1(3)", "bonus_cancelled", monthly_bonus, f"sick leave {len(sick)} days (15 or more)"))
    if whole_month_sick:
        cancel.append(Line("17.1(4)", "bonus_cancelled", monthly_bonus, "whole month on sick leave: pay stops"))

    # 17.3: lates and earlies under 30 minutes, in time order; the 4th and later cost 150 元
    minor = sorted((m for r in in_month for m in r.minor), key=lambda m: m.at)
    fine_assessed = ZERO
    fine_lines: list[tuple[Minor, Decimal, str]] = []
    for index, event in enumerate(minor):
        amount, rule = (FINE_FIRST, "17.3(1)") if index < FINE_FIRST_COUNT else (FINE_LATER, "17.3(2)")
        fine_assessed += amount
        fine_lines.append((event, amount, rule))

    bonus_deduction = ZERO
    fine_taken = ZERO
    if cancel:
        lines.extend(cancel)
        remaining = ZERO
    else:
        remaining = monthly_bonus
        if SICK_HALF_BONUS_DAYS <= len(sick) < SICK_NO_BONUS_DAYS:
            half = money(monthly_bonus / 2)
            detail = f"sick leave {len(sick)} days (7 to 14): half the bonus"
            lines.append(Line("17.1(3)", "bonus_halved", monthly_bonus - half, detail))
            remaining = half
        if 0 < len(personal) < PERSONAL_NO_BONUS_DAYS:
            wanted = money(rates.daily_bonus * len(personal))
            bonus_deduction = min(wanted, remaining)
            remaining -= bonus_deduction
            lines.append(
                Line(
                    "17.1(2)",
                    "bonus_deduction",
                    bonus_deduction,
                    f"personal leave {len(personal)} day(s) x daily bonus {money(rates.daily_bonus)}"
                    + _calendar_note(personal)
                    + ("" if bonus_deduction == wanted else f" (assessed {wanted}, capped at the bonus left)"),
                    tuple(_record(r.day, "leave_personal") for r in personal),
                )
            )
    for event, amount, rule in fine_lines:
        taken = min(amount, remaining)
        remaining -= taken
        fine_taken += taken
        note = "" if taken == amount else f" (assessed {amount}, capped at the bonus left)"
        lines.append(
            Line(
                rule,
                "fine",
                taken,
                f"{event.kind} {event.minutes} min on {event.day.isoformat()}{note}",
                (_record(event.day, event.kind, event.minutes),),
            )
        )

    # 17.2(3): 当年连续旷工五天或累计旷工超过十天 -> dismissal (a flag: the decision is a person's)
    year_days = [r for r in ordered if r.day.year == month.year and r.day <= month.last_day]
    year_absent = [r for r in year_days if r.status == "absent"]
    longest, reached = _longest_absence_run(year_days)
    if longest >= DISMISSAL_CONSECUTIVE:
        flags.append("dismissal")
        lines.append(
            Line(
                "17.2(3)",
                "dismissal",
                None,
                f"{longest} consecutive working days of absence in {month.year}"
                + (f" (five reached on {reached.isoformat()})" if reached else ""),
            )
        )
    if len(year_absent) > DISMISSAL_YEAR_OVER:
        if "dismissal" not in flags:
            flags.append("dismissal")
        lines.append(
            Line(
                "17.2(3)",
                "dismissal",
                None,
                f"{len(year_absent)} absence days in {month.year} (more than ten; "
                f"the eleventh on {year_absent[DISMISSAL_YEAR_OVER].day.isoformat()})",
            )
        )

    return MonthAssessment(
        work_id=work_id,
        month=month,
        working_days=sum(1 for r in in_month if r.scheduled),
        late_early_count=len(minor),
        absence_days=len(absent),
        personal_leave_days=len(personal),
        sick_leave_days=len(sick),
        monthly_bonus=monthly_bonus,
        bonus_deduction=money(bonus_deduction),
        lateness_fine_assessed=money(fine_assessed),
        lateness_fine=money(fine_taken),
        bonus_paid=money(remaining),
        base_deduction=money(base_deduction),
        sick_pay=sick_pay,
        flags=tuple(flags),
        lines=tuple(lines),
    )


def first_month_judged(month: Month) -> Month:
    """The first month whose records judge ``month``: the earlier of January and two months back (the bonus
    cancellation of 17.2(2) looks back two months; the dismissal rule of 17.2(3) counts the calendar year)."""
    return min(Month(month.year, 1), month.add(-2))


def compute_month(
    work_id: str,
    month: Month,
    *,
    shifts: Iterable[Shift],
    logins: Iterable[datetime] = (),
    logouts: Iterable[datetime] = (),
    aways: Iterable[Away] = (),
    leaves: Iterable[Leave] = (),
    pay: PayRates | None,
    minimum_wage: Decimal,
) -> MonthAssessment:
    """Judge the days and assess the month in one call (see :func:`assess_month` for what to pass).

    17.1(4) "whole month": every working day of the month is sick leave, or approved sick leave
    covers every calendar day of the month. A month of the window without any shift counts the
    calendar days of its approved leave instead (:func:`unscheduled_leave_days`).
    """
    leave_list = list(leaves)
    shift_list = list(shifts)
    days = evaluate_days(shift_list, logins, logouts, aways, leave_list, until=month.last_day)
    shift_days = sorted({shift.start.date() for shift in shift_list})
    first = first_month_judged(month)
    window = [first.add(i) for i in range((month.year - first.year) * 12 + month.month - first.month + 1)]
    days += unscheduled_leave_days(window, shift_days, leave_list)
    sick_leaves = [
        leave
        for leave in leave_list
        if leave.kind == "sick"
        and leave.approved
        and (leave.span_days <= CERTIFICATE_AFTER_DAYS or _certificate_ok(leave, shift_days))
    ]
    sick_days = {day for day in month.days() if any(leave.covers(day) for leave in sick_leaves)}
    scheduled = [r for r in days if r.day in month and r.scheduled]
    in_month = [r for r in days if r.day in month]
    whole = (bool(scheduled) and all(r.status == "leave_sick" for r in scheduled)) or (
        len(sick_days) == len(month.days()) and not any(r.status == "absent" for r in in_month)
    )
    return assess_month(work_id, month, days, pay, minimum_wage, whole_month_sick=whole)
