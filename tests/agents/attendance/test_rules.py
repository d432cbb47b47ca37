"""Hand-worked golden cases for 第十七条: every rule and its boundaries, on the pure rules.

Pay in every case unless said otherwise: daily base 200, daily bonus 30, monthly bonus 600 (元);
shifts 09:00–18:00 Asia/Shanghai on weekdays. March 2026 has 22 weekdays (Mon 2 … Tue 31).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest

from agents.attendance.rules import (
    AbsenceReason,
    Away,
    Leave,
    Month,
    PayRates,
    Shift,
    approver_roles,
    certificate_deadline,
    evaluate_days,
    money,
)
from tests.agents.attendance.helpers import ZONE, Agent, at, weekdays

MARCH = Month(2026, 3)
D = Decimal


# -- 17.3 lateness fines ----------------------------------------------------------------------


def test_given_exactly_three_lates_when_assessed_then_25_each() -> None:
    days = weekdays(MARCH)
    report = Agent().work(days[:3], late=5).work(days[3:]).month(MARCH)
    assert report.late_early_count == 3
    assert report.lateness_fine == D("75.00")
    assert report.bonus_paid == D("525.00")
    assert [line.rule for line in report.lines] == ["17.3(1)"] * 3


def test_given_four_lates_when_assessed_then_the_fourth_costs_150() -> None:
    days = weekdays(MARCH)
    report = Agent().work(days[:4], late=5).work(days[4:]).month(MARCH)
    assert report.late_early_count == 4
    assert report.lateness_fine == D("225.00")  # 25 + 25 + 25 + 150
    assert report.bonus_paid == D("375.00")
    assert [(line.rule, line.amount) for line in report.lines][-1] == ("17.3(2)", D("150.00"))


def test_lates_and_earlies_count_together_in_time_order() -> None:
    days = weekdays(MARCH)
    agent = Agent().work(days[:1], early=10).work(days[1:2], late=3).work(days[2:3], late=1, early=2).work(days[3:])
    report = agent.month(MARCH)
    assert report.late_early_count == 4  # a late and an early on one day are two
    fines = [(line.rule, line.records[0]["kind"], line.records[0]["date"]) for line in report.lines]
    assert fines == [
        ("17.3(1)", "early", "2026-03-02"),
        ("17.3(1)", "late", "2026-03-03"),
        ("17.3(1)", "late", "2026-03-04"),
        ("17.3(2)", "early", "2026-03-04"),
    ]
    assert report.lateness_fine == D("225.00")


def test_fines_never_take_the_bonus_below_zero() -> None:
    days = weekdays(MARCH)
    pay = PayRates(D("200"), D("30"), D("100"))
    report = Agent().work(days[:4], late=5).work(days[4:]).month(MARCH, pay)
    assert report.lateness_fine_assessed == D("225.00")
    assert report.lateness_fine == D("100.00")
    assert report.bonus_paid == D("0.00")
    assert report.lines[-1].amount == D("25.00")  # 25 + 25 + 25 + 25 of the 150: the bonus is used up
    assert "capped" in report.lines[-1].detail


# -- 17.2(4) 30 minutes: fine below, absence from 30 on ---------------------------------------


@pytest.mark.parametrize(("late", "early"), [(29, 0), (0, 29)])
def test_given_29_minutes_late_or_early_then_a_fine(late: int, early: int) -> None:
    days = weekdays(MARCH)
    report = Agent().work(days[:1], late=late, early=early).work(days[1:]).month(MARCH)
    assert (report.late_early_count, report.absence_days) == (1, 0)
    assert report.bonus_paid == D("575.00")
    assert report.lines[0].records == ({"date": "2026-03-02", "kind": "late" if late else "early", "minutes": 29},)


@pytest.mark.parametrize(("late", "early", "kind"), [(30, 0, "late"), (0, 30, "early"), (45, 0, "late")])
def test_given_30_minutes_late_or_early_then_absence(late: int, early: int, kind: str) -> None:
    days = weekdays(MARCH)
    report = Agent().work(days[:1], late=late, early=early).work(days[1:]).month(MARCH)
    assert (report.late_early_count, report.absence_days) == (0, 1)
    assert report.bonus_paid == D("0.00")  # 17.2(1)
    assert report.lines[0].rule == "17.2(4)"
    assert report.lines[0].records == ({"date": "2026-03-02", "kind": kind, "minutes": max(late, early)},)
    assert report.lines[1].rule == "17.2(1)"


def test_29_minutes_59_seconds_is_still_under_30() -> None:
    day = weekdays(MARCH)[0]
    agent = Agent().shift([day])
    agent.logins.append(at(day, 9, 29, 59))
    (result,) = evaluate_days(agent.shifts, agent.logins, [], [], [])
    assert result.status == "present"
    assert result.minor[0].minutes == 29


@pytest.mark.parametrize(("minutes", "absent"), [(29, False), (30, True)])
def test_away_from_the_seat_30_minutes_is_absence(minutes: int, absent: bool) -> None:
    days = weekdays(MARCH)
    agent = Agent().work(days)
    agent.aways.append(Away(at(days[0], 14), at(days[0], 14) + timedelta(minutes=minutes)))
    report = agent.month(MARCH)
    assert report.absence_days == (1 if absent else 0)
    assert report.late_early_count == 0  # being away is never fined, only absence from 30 minutes
    assert report.bonus_paid == (D("0.00") if absent else D("600.00"))


def test_a_late_on_an_absence_day_is_not_also_fined() -> None:
    days = weekdays(MARCH)
    agent = Agent().work(days[:1], late=10).work(days[1:])
    agent.aways.append(Away(at(days[0], 14), at(days[0], 15)))
    report = agent.month(MARCH)
    assert (report.absence_days, report.late_early_count, report.lateness_fine) == (1, 0, D("0.00"))


def test_no_login_without_leave_is_absence() -> None:
    days = weekdays(MARCH)
    report = Agent().shift(days[:1]).work(days[1:]).month(MARCH)
    assert report.absence_days == 1
    assert report.lines[0].records == ({"date": "2026-03-02", "kind": "no_show"},)


def test_unapproved_leave_is_absence_unless_the_agent_came() -> None:
    days = weekdays(MARCH)
    agent = Agent().shift(days[:1]).work(days[1:]).leave("personal", days[0], days[1], approved=False)
    report = agent.month(MARCH)
    assert report.absence_days == 1  # day 2 was worked
    assert report.personal_leave_days == 0
    assert report.lines[0].records == ({"date": "2026-03-02", "kind": "leave_unapproved"},)


def test_logging_in_again_after_a_logout_is_not_leaving_early() -> None:
    day = weekdays(MARCH)[0]
    agent = Agent().shift([day])
    agent.logins += [at(day, 9), at(day, 12, 20)]
    agent.logouts += [at(day, 12)]
    (result,) = evaluate_days(agent.shifts, agent.logins, agent.logouts, [], [])
    assert (result.status, result.minor) == ("present", ())  # and a 20-minute gap is nothing (below)


def test_records_on_days_without_a_shift_are_ignored() -> None:
    saturday = date(2026, 3, 7)
    agent = Agent().work(weekdays(MARCH))
    agent.logins.append(at(saturday, 11))
    assert agent.month(MARCH).working_days == 22


# -- 17.1(2) personal leave, 17.1(3)(4) sick leave -------------------------------------------


def _with_leave(kind: str, shift_days: int) -> Agent:
    """Every weekday worked except the first ``shift_days``, covered by one leave (weekends inside)."""
    days = weekdays(MARCH)
    agent = Agent().shift(days[:shift_days]).work(days[shift_days:])
    return agent.leave(kind, days[0], days[shift_days - 1], certificate=True)


@pytest.mark.parametrize(
    ("days", "base", "bonus_deduction", "bonus_paid"),
    [
        (1, "200.00", "30.00", "570.00"),
        (6, "1200.00", "180.00", "420.00"),  # under 7: daily bonus + daily base per day
        (7, "1400.00", "0.00", "0.00"),  # 7 or more: no monthly bonus, daily base per day
        (14, "2800.00", "0.00", "0.00"),
        (15, "3000.00", "0.00", "0.00"),
    ],
)
def test_personal_leave(days: int, base: str, bonus_deduction: str, bonus_paid: str) -> None:
    report = _with_leave("personal", days).month(MARCH)
    assert report.personal_leave_days == days
    assert report.base_deduction == D(base)
    assert report.bonus_deduction == D(bonus_deduction)
    assert report.bonus_paid == D(bonus_paid)
    rules = {(line.rule, line.effect) for line in report.lines}
    assert ("17.1(2)", "base_deduction") in rules
    assert (("17.1(2)", "bonus_cancelled") in rules) == (days >= 7)


@pytest.mark.parametrize(
    ("days", "base", "bonus_paid", "effect"),
    [
        (6, "1200.00", "600.00", None),  # under 7: daily base per day
        (7, "1400.00", "300.00", "bonus_halved"),  # 7 to under 15: and half the bonus
        (14, "2800.00", "300.00", "bonus_halved"),
        (15, "3000.00", "0.00", "bonus_cancelled"),  # 15 or more: no bonus
    ],
)
def test_sick_leave(days: int, base: str, bonus_paid: str, effect: str | None) -> None:
    report = _with_leave("sick", days).month(MARCH)
    assert report.sick_leave_days == days
    assert report.base_deduction == D(base)
    assert report.bonus_paid == D(bonus_paid)
    assert report.sick_pay == D("0.00")
    effects = {line.effect for line in report.lines if line.rule == "17.1(3)"}
    assert effects == {"base_deduction"} | ({effect} if effect else set())


def test_a_whole_month_of_sick_leave_pays_80_percent_of_the_minimum_wage() -> None:
    report = _with_leave("sick", 22).month(MARCH)
    assert report.sick_leave_days == 22
    assert report.sick_pay == D("1936.00")  # 2420 x 0.8
    assert report.bonus_paid == D("0.00")
    assert report.base_deduction == D("4400.00")
    assert "sick_whole_month" in report.flags
    assert ("17.1(4)", "sick_pay") in {(line.rule, line.effect) for line in report.lines}


def test_a_whole_calendar_month_of_sick_leave_without_shifts_also_counts() -> None:
    agent = Agent().leave("sick", date(2026, 3, 1), date(2026, 3, 31), certificate=True)
    report = agent.month(MARCH)
    assert (report.sick_pay, report.working_days) == (D("1936.00"), 0)
    # no schedule: the 31 calendar days are the sick days, so days, base deduction and sick pay agree
    assert (report.sick_leave_days, report.base_deduction) == (31, D("6200.00"))


def test_21_of_22_days_sick_is_not_a_whole_month() -> None:
    report = _with_leave("sick", 21).month(MARCH)
    assert (report.sick_pay, report.bonus_paid) == (D("0.00"), D("0.00"))


def test_half_bonus_rounds_to_the_fen() -> None:
    report = _with_leave("sick", 7).month(MARCH, PayRates(D("200"), D("30"), D("600.01")))
    assert report.bonus_paid == D("300.01")  # 300.005 rounded half up


# -- 17.1(1) certificate for sick leave of more than three days -------------------------------


def test_sick_leave_of_three_days_needs_no_certificate() -> None:
    days = weekdays(MARCH)
    agent = Agent().shift(days[:3]).work(days[3:]).leave("sick", days[0], days[2])
    report = agent.month(MARCH)
    assert (report.sick_leave_days, report.absence_days) == (3, 0)


def test_sick_leave_of_four_days_without_certificate_is_absence() -> None:
    days = weekdays(MARCH)
    agent = Agent().shift(days[:4]).work(days[4:]).leave("sick", days[0], days[3])
    report = agent.month(MARCH)
    assert (report.sick_leave_days, report.absence_days) == (0, 4)
    assert {line.rule for line in report.lines if line.effect == "absence"} == {"17.1(1)"}
    assert "bonus_cancelled_until:2026-05" in report.flags  # four absence days: 17.2(2) too


@pytest.mark.parametrize(("arrived", "in_time"), [(date(2026, 3, 9), True), (date(2026, 3, 10), False)])
def test_the_certificate_is_due_within_two_working_days_after_the_leave(arrived: date, in_time: bool) -> None:
    # Sick Mon 2 – Thu 5 March; working days after: Fri 6 (1st), Mon 9 (2nd): due by the end of Mon 9.
    days = weekdays(MARCH)
    agent = Agent().shift(days[:4]).work(days[4:])
    agent.leaves.append(Leave("sick", days[0], days[3], approved=True, certificate_at=at(arrived, 23, 59)))
    report = agent.month(MARCH)
    assert report.sick_leave_days == (4 if in_time else 0)
    assert report.absence_days == (0 if in_time else 4)


def test_certificate_deadline_uses_shift_days_then_weekdays() -> None:
    thursday = date(2026, 3, 5)
    assert certificate_deadline(thursday, [date(2026, 3, 7), date(2026, 3, 8)]) == date(2026, 3, 8)  # weekend shifts
    assert certificate_deadline(thursday, []) == date(2026, 3, 9)  # Fri, Mon
    assert certificate_deadline(thursday, [date(2026, 3, 7)]) == date(2026, 3, 9)  # Sat shift, then Mon


# -- 17.2 absence: bonus, three months, dismissal ---------------------------------------------


def test_one_absence_day_cancels_the_month_bonus_only() -> None:
    days = weekdays(MARCH)
    agent = Agent().shift(days[:1]).work(days[1:]).work(weekdays(Month(2026, 4)))
    march, april = agent.month(MARCH), agent.month(Month(2026, 4))
    assert (march.bonus_paid, march.flags) == (D("0.00"), ())
    assert (april.bonus_paid, april.flags) == (D("600.00"), ())


def test_two_absence_days_do_not_reach_the_three_month_rule() -> None:
    days = weekdays(MARCH)
    agent = Agent().shift(days[:2]).work(days[2:]).work(weekdays(Month(2026, 4)))
    assert agent.month(MARCH).flags == ()
    assert agent.month(Month(2026, 4)).bonus_paid == D("600.00")


def test_three_absence_days_cancel_the_bonus_this_month_and_the_next_two() -> None:
    days = weekdays(MARCH)
    agent = Agent().shift(days[:3]).work(days[3:])
    for month in (4, 5, 6):
        agent.work(weekdays(Month(2026, month)))
    march = agent.month(MARCH)
    assert march.absence_days == 3
    assert march.bonus_paid == D("0.00")
    assert "bonus_cancelled_until:2026-05" in march.flags
    assert [line.rule for line in march.lines if line.effect == "bonus_cancelled"] == ["17.2(1)", "17.2(2)"]
    for month in (4, 5):
        later = agent.month(Month(2026, month))
        assert later.absence_days == 0
        assert later.bonus_paid == D("0.00")
        assert later.flags == ("bonus_cancelled_until:2026-05",)
        (line,) = [line for line in later.lines if line.effect == "bonus_cancelled"]
        assert line.rule == "17.2(2)"
        assert "2026-03" in line.detail
    june = agent.month(Month(2026, 6))
    assert (june.bonus_paid, june.flags) == (D("600.00"), ())


def test_the_three_month_window_crosses_the_year() -> None:
    december = Month(2025, 12)
    days = weekdays(december)
    agent = Agent().shift(days[:3]).work(days[3:]).work(weekdays(Month(2026, 1))).work(weekdays(Month(2026, 2)))
    agent.work(weekdays(MARCH))
    assert agent.month(Month(2026, 2)).flags == ("bonus_cancelled_until:2026-02",)
    assert agent.month(Month(2026, 2)).bonus_paid == D("0.00")
    assert agent.month(MARCH).bonus_paid == D("600.00")


@pytest.mark.parametrize(("absent", "dismissal"), [(4, False), (5, True)])
def test_five_consecutive_absence_days_flag_dismissal(absent: int, dismissal: bool) -> None:
    days = weekdays(MARCH)
    report = Agent().shift(days[:absent]).work(days[absent:]).month(MARCH)
    assert ("dismissal" in report.flags) is dismissal
    assert (("17.2(3)", "dismissal") in {(line.rule, line.effect) for line in report.lines}) is dismissal


def test_consecutive_means_consecutive_shift_days_across_a_weekend() -> None:
    days = weekdays(MARCH)  # Thu 5, Fri 6, Mon 9, Tue 10, Wed 11
    report = Agent().work(days[:3]).shift(days[3:8]).work(days[8:]).month(MARCH)
    assert report.absence_days == 5
    assert "dismissal" in report.flags


def test_a_worked_day_breaks_the_run() -> None:
    days = weekdays(MARCH)
    agent = Agent().shift(days[:4]).work(days[4:5]).shift(days[5:6]).work(days[6:])
    report = agent.month(MARCH)
    assert report.absence_days == 5
    assert "dismissal" not in report.flags


@pytest.mark.parametrize(("absent", "dismissal"), [(10, False), (11, True)])
def test_more_than_ten_absence_days_in_the_year_flag_dismissal(absent: int, dismissal: bool) -> None:
    # One absence each Monday from January on: never two in a row, at most five a month.
    agent = Agent()
    mondays: list[date] = []
    for month in range(1, 4):
        days = weekdays(Month(2026, month))
        for day in days:
            if day.weekday() == 0 and len(mondays) < absent:
                mondays.append(day)
                agent.shift([day])
            else:
                agent.work([day])
    report = agent.month(MARCH)
    assert ("dismissal" in report.flags) is dismissal


def test_absence_of_last_year_does_not_count_towards_this_years_dismissal() -> None:
    agent = Agent()
    for month in (Month(2025, 11), Month(2025, 12)):
        days = weekdays(month)
        agent.shift(days[::2]).work(days[1::2])  # every other day absent: 11 in each month
    agent.work(weekdays(Month(2026, 1)))
    assert "dismissal" in agent.month(Month(2025, 12)).flags
    assert "dismissal" not in agent.month(Month(2026, 1)).flags


# -- pay settings, approval chain, helpers ----------------------------------------------------


def test_without_pay_settings_the_money_is_zero_and_flagged() -> None:
    days = weekdays(MARCH)
    report = Agent().work(days[:4], late=5).work(days[4:]).month(MARCH, pay=None)
    assert report.flags == ("no_pay_settings",)
    assert report.late_early_count == 4
    assert (report.lateness_fine_assessed, report.lateness_fine, report.bonus_paid) == (D("225.00"), D("0"), D("0"))


@pytest.mark.parametrize(
    ("days", "roles", "report"),
    [
        (1, {"team_lead", "ops_manager", "admin"}, False),
        (2, {"ops_manager", "admin"}, False),
        (3, {"ops_manager", "admin"}, False),
        (4, {"ops_manager", "admin"}, True),
    ],
)
def test_approver_roles(days: int, roles: set[str], report: bool) -> None:
    assert approver_roles(days) == (frozenset(roles), report)


def test_approver_roles_refuses_zero_days() -> None:
    with pytest.raises(ValueError, match="at least one day"):
        approver_roles(0)


def test_month_helpers() -> None:
    assert Month.parse("2026-03") == MARCH
    assert str(MARCH.add(-3)) == "2025-12"
    assert str(MARCH.add(10)) == "2027-01"
    assert Month(2024, 2).last_day == date(2024, 2, 29)
    for bad in ("2026-3", "2026/03", "2026-13", "x"):
        with pytest.raises(ValueError, match="month"):
            Month.parse(bad)
    assert money(D("0.005")) == D("0.01")


def test_a_night_shift_login_belongs_to_its_shift() -> None:
    day = date(2026, 3, 2)
    shift = Shift(at(day, 22), at(day, 22) + timedelta(hours=9))  # 22:00 to 07:00 next morning
    logout = at(day + timedelta(days=1), 6, 50)
    (result,) = evaluate_days([shift], [at(day, 22, 5)], [logout], [], [])
    assert result.day == day
    assert [(m.kind, m.minutes) for m in result.minor] == [("late", 5), ("early", 10)]
    assert logout.tzinfo is ZONE


def test_lateness_is_counted_in_whole_minutes() -> None:
    day = weekdays(MARCH)[0]
    agent = Agent().shift([day])
    agent.logins.append(at(day, 9, 0, 59))  # under one minute: on time
    agent.logouts.append(at(day, 17, 59, 1))  # 59 s early: on time
    (result,) = evaluate_days(agent.shifts, agent.logins, agent.logouts, [], [])
    assert (result.status, result.minor) == ("present", ())


def test_a_whole_calendar_month_of_sick_leave_needs_its_certificate() -> None:
    agent = Agent().leave("sick", date(2026, 3, 1), date(2026, 3, 31), certificate=False)
    assert agent.month(MARCH).sick_pay == D("0.00")


# -- 17.2(4) 擅离岗位: a logout -> login gap inside the shift is time away ------------------------


def _day_with(logins: list[tuple[int, int]], logouts: list[tuple[int, int]], day: date | None = None) -> Agent:
    """Every weekday of March worked 09:00–18:00, but ``day`` (Mon 2 by default) has these logins and logouts."""
    days = weekdays(MARCH)
    day = day or days[0]
    agent = Agent().shift([day]).work([d for d in days if d != day])
    agent.logins += [at(day, h, m) for h, m in logins]
    agent.logouts += [at(day, h, m) for h, m in logouts]
    return agent


def test_the_audits_case_logged_out_from_11_to_13_is_absence() -> None:
    report = _day_with([(9, 0), (13, 0)], [(11, 0), (18, 0)]).month(MARCH)
    assert (report.absence_days, report.late_early_count, report.bonus_paid) == (1, 0, D("0.00"))
    absence = report.lines[0]
    assert (absence.rule, absence.effect) == ("17.2(4)", "absence")
    assert absence.detail == "absence (旷工) on 2026-03-02: away 120 min (logged out 11:00-13:00)"
    assert absence.records == ({"date": "2026-03-02", "kind": "away", "minutes": 120, "logged_out": "11:00-13:00"},)


@pytest.mark.parametrize(("back", "absent"), [((12, 29), False), ((12, 30), True)])
def test_a_logout_gap_of_29_minutes_is_nothing_and_30_is_absence(back: tuple[int, int], absent: bool) -> None:
    report = _day_with([(9, 0), back], [(12, 0), (18, 0)]).month(MARCH)
    assert report.absence_days == (1 if absent else 0)
    assert report.late_early_count == 0  # a short gap is never fined (17.3 fines lates and earlies only)
    assert report.bonus_paid == (D("0.00") if absent else D("600.00"))


def test_short_gaps_are_episodes_and_do_not_add_up() -> None:
    report = _day_with([(9, 0), (10, 20), (12, 20), (15, 20)], [(10, 0), (12, 0), (15, 0), (18, 0)]).month(MARCH)
    assert (report.absence_days, report.late_early_count) == (0, 0)


def test_a_gap_is_clipped_to_the_shift() -> None:
    # left at 17:00, back at 19:00 (after the shift), out at 19:30: 60 minutes of the shift away
    (line, *_) = _day_with([(9, 0), (19, 0)], [(17, 0), (19, 30)]).month(MARCH).lines
    assert line.records == ({"date": "2026-03-02", "kind": "away", "minutes": 60, "logged_out": "17:00-19:00"},)
    # in at 07:00, out at 08:00, back at 09:40: 40 minutes of the shift away; not also late (first login 07:00)
    (line, *_) = _day_with([(7, 0), (9, 40)], [(8, 0), (18, 0)]).month(MARCH).lines
    assert line.records == ({"date": "2026-03-02", "kind": "away", "minutes": 40, "logged_out": "08:00-09:40"},)
    # gaps entirely outside the shift (08:30-08:50, 18:10-18:30) are nothing
    outside = _day_with([(8, 0), (8, 50), (18, 30)], [(8, 30), (18, 10), (18, 40)]).month(MARCH)
    assert (outside.absence_days, outside.late_early_count) == (0, 0)


def test_logins_and_logouts_from_two_sources_make_one_gap() -> None:
    # an auth session and the state changes both describe each login and logout, seconds apart
    day = weekdays(MARCH)[0]
    agent = Agent().shift([day])
    agent.logins += [at(day, 9), at(day, 9, 0, 1), at(day, 13, 0, 2), at(day, 13)]
    agent.logouts += [at(day, 11, 0, 3), at(day, 11), at(day, 18), at(day, 18, 0, 1)]
    (result,) = evaluate_days(agent.shifts, agent.logins, agent.logouts, [], [])
    assert result.absence == (AbsenceReason("away", "17.2(4)", 120, "11:00-13:00"),)


def test_the_early_rule_still_holds_and_a_day_is_judged_once() -> None:
    # a gap under 30 minutes and an early leave of 10: the early is fined, the gap is nothing
    report = _day_with([(9, 0), (12, 10)], [(12, 0), (17, 50)]).month(MARCH)
    assert (report.absence_days, report.late_early_count, report.lateness_fine) == (0, 1, D("25.00"))
    assert report.lines[0].records == ({"date": "2026-03-02", "kind": "early", "minutes": 10},)
    # late 10, away 11:00-13:00, out at 17:45: one absence day with both reasons, neither minute fined
    report = _day_with([(9, 10), (13, 0)], [(11, 0), (17, 45)]).month(MARCH)
    assert (report.absence_days, report.late_early_count, report.lateness_fine) == (1, 0, D("0.00"))
    (absence,) = [line for line in report.lines if line.effect == "absence"]
    assert [record["kind"] for record in absence.records] == ["away"]
    # away 11:00-13:00 and out for good at 17:00: one day, two reasons
    (result, *_) = evaluate_days(
        [Shift(at(date(2026, 3, 2), 9), at(date(2026, 3, 2), 18))],
        [at(date(2026, 3, 2), 9), at(date(2026, 3, 2), 13)],
        [at(date(2026, 3, 2), 11), at(date(2026, 3, 2), 17)],
        [],
        [],
    )
    assert [(a.kind, a.minutes) for a in result.absence] == [("early", 60), ("away", 120)]


def test_a_gap_on_a_date_of_approved_leave_is_excused() -> None:
    # night shift Mon 2 22:00 -> Tue 3 07:00; logged out 00:30-06:00 on Tue 3
    night = Shift(at(date(2026, 3, 2), 22), at(date(2026, 3, 3), 7))
    logins = [at(date(2026, 3, 2), 22), at(date(2026, 3, 3), 6)]
    logouts = [at(date(2026, 3, 3), 0, 30), at(date(2026, 3, 3), 7)]
    leave = Leave("personal", date(2026, 3, 3), date(2026, 3, 3), approved=True)
    (excused,) = evaluate_days([night], logins, logouts, [], [leave])
    assert excused.status == "present"
    (unexcused,) = evaluate_days([night], logins, logouts, [], [replace(leave, approved=False)])
    assert unexcused.absence == (AbsenceReason("away", "17.2(4)", 330, "00:30-06:00"),)
    # out from 23:00: the hour on Mon 2 is not covered by the leave
    (partly,) = evaluate_days([night], logins, [at(date(2026, 3, 2), 23), logouts[1]], [], [leave])
    assert partly.absence == (AbsenceReason("away", "17.2(4)", 60, "23:00-06:00"),)


def test_pauses_are_not_gaps() -> None:
    # paused (小休, 会议, …) keeps the agent logged in: only logouts and logins make a gap
    day = weekdays(MARCH)[0]
    agent = Agent().shift([day])
    agent.logins.append(at(day, 9))
    agent.logouts.append(at(day, 18))
    (result,) = evaluate_days(agent.shifts, agent.logins, agent.logouts, [], [])
    assert result.status == "present"


# -- leave days when the month has no shift at all (schedule unknown) ----------------------------

APRIL = Month(2026, 4)  # 30 days, Wed 1 … Thu 30


def test_a_week_of_personal_leave_without_shifts_counts_its_calendar_days() -> None:
    report = Agent().leave("personal", date(2026, 4, 1), date(2026, 4, 7)).month(APRIL)
    assert (report.working_days, report.personal_leave_days) == (0, 7)
    assert (report.base_deduction, report.bonus_paid) == (D("1400.00"), D("0.00"))  # 7 days: no bonus (17.1(2))
    assert "no_schedule" in report.flags
    base = next(line for line in report.lines if line.effect == "base_deduction")
    assert (
        base.detail
        == "personal leave 7 day(s) x daily base 200.00 (no shift this month: calendar days of approved leave)"
    )
    assert [record["date"] for record in base.records] == [f"2026-04-0{d}" for d in range(1, 8)]


@pytest.mark.parametrize(
    ("days", "base", "bonus_deduction", "bonus_paid"),
    [(6, "1200.00", "180.00", "420.00"), (7, "1400.00", "0.00", "0.00")],
)
def test_personal_leave_boundary_without_shifts(days: int, base: str, bonus_deduction: str, bonus_paid: str) -> None:
    report = Agent().leave("personal", date(2026, 4, 1), date(2026, 4, days)).month(APRIL)
    assert report.personal_leave_days == days
    assert (report.base_deduction, report.bonus_deduction, report.bonus_paid) == (
        D(base),
        D(bonus_deduction),
        D(bonus_paid),
    )


@pytest.mark.parametrize(
    ("days", "base", "bonus_paid", "effect"),
    [
        (6, "1200.00", "600.00", None),
        (7, "1400.00", "300.00", "bonus_halved"),
        (14, "2800.00", "300.00", "bonus_halved"),
        (15, "3000.00", "0.00", "bonus_cancelled"),
    ],
)
def test_sick_leave_boundaries_without_shifts(days: int, base: str, bonus_paid: str, effect: str | None) -> None:
    report = Agent().leave("sick", date(2026, 4, 1), date(2026, 4, days), certificate=True).month(APRIL)
    assert (report.sick_leave_days, report.base_deduction, report.bonus_paid) == (days, D(base), D(bonus_paid))
    assert report.sick_pay == D("0.00")
    assert report.flags == ("no_schedule",)
    effects = {line.effect for line in report.lines if line.rule == "17.1(3)"}
    assert effects == {"base_deduction"} | ({effect} if effect else set())


def test_a_whole_month_sick_without_shifts_is_consistent() -> None:
    report = Agent().leave("sick", date(2026, 4, 1), date(2026, 4, 30), certificate=True).month(APRIL)
    assert (report.sick_leave_days, report.working_days, report.absence_days) == (30, 0, 0)
    assert (report.base_deduction, report.sick_pay, report.bonus_paid) == (D("6000.00"), D("1936.00"), D("0.00"))
    assert report.flags == ("no_schedule", "sick_whole_month")
    assert {(line.rule, line.effect) for line in report.lines} >= {
        ("17.1(3)", "base_deduction"),
        ("17.1(4)", "sick_pay"),
        ("17.1(4)", "bonus_cancelled"),
    }


def test_without_shifts_a_long_sick_leave_without_certificate_is_absence() -> None:
    report = Agent().leave("sick", date(2026, 4, 1), date(2026, 4, 4)).month(APRIL)
    assert (report.sick_leave_days, report.absence_days) == (0, 4)
    assert {line.rule for line in report.lines if line.effect == "absence"} == {"17.1(1)"}
    whole = Agent().leave("sick", date(2026, 4, 1), date(2026, 4, 30)).month(APRIL)
    assert (whole.sick_leave_days, whole.sick_pay, whole.absence_days) == (0, D("0.00"), 30)


def test_without_shifts_unapproved_leave_is_still_nothing() -> None:
    report = Agent().leave("personal", date(2026, 4, 1), date(2026, 4, 7), approved=False).month(APRIL)
    assert (report.personal_leave_days, report.absence_days, report.bonus_paid) == (0, 0, D("600.00"))
    assert "no_schedule" not in report.flags


def test_a_month_with_any_shift_keeps_the_working_day_rule() -> None:
    agent = Agent().leave("personal", date(2026, 4, 1), date(2026, 4, 7)).work([date(2026, 4, 20)])
    report = agent.month(APRIL)
    assert (report.personal_leave_days, report.working_days, report.flags) == (0, 1, ())


def test_a_leave_across_months_counts_working_days_in_one_and_calendar_days_in_the_other() -> None:
    agent = Agent().leave("personal", date(2026, 3, 30), date(2026, 4, 3)).work(weekdays(MARCH)[:-2])
    agent.shift(weekdays(MARCH)[-2:])  # Mon 30, Tue 31 scheduled, on leave; no April schedule
    march, april = agent.month(MARCH), agent.month(APRIL)
    assert (march.personal_leave_days, march.flags) == (2, ())
    assert (april.personal_leave_days, april.flags) == (3, ("no_schedule",))


def test_unscheduled_absence_counts_towards_the_three_month_rule() -> None:
    # February has no shift: an uncertified 4-day sick leave there is 4 absence days, so no bonus Feb to Apr
    agent = Agent().leave("sick", date(2026, 2, 2), date(2026, 2, 5)).work(weekdays(MARCH))
    march = agent.month(MARCH)
    assert (march.absence_days, march.bonus_paid) == (0, D("0.00"))
    assert "bonus_cancelled_until:2026-04" in march.flags
