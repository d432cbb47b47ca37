"""The month's report from the database: imported records, the system's own logins and leave, vendors, pay."""

from __future__ import annotations

from datetime import UTC, date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from agents.attendance.leave import approve, record_certificate, request_leave
from agents.attendance.records import import_csv
from agents.attendance.report import build_report, report_csv, report_json, set_pay
from agents.attendance.rules import Month, PayRates
from agents.errors import AttendanceInputError, NotFound
from agents.models import AgentStateChange, AuthSession, PaySetting
from tests.agents.attendance.conftest import NOW, Org
from tests.agents.attendance.helpers import MIN_WAGE, ZONE, at
from waihu.db import session_factory

MARCH = Month(2026, 3)
D = Decimal


def _shifts(work_ids: list[str], days: list[date]) -> str:
    lines = ["work_id,kind,start,end,note"]
    for work_id in work_ids:
        lines += [f"{work_id},shift,{day} 09:00,{day} 18:00," for day in days]
    return "\n".join(lines) + "\n"


async def test_report_from_the_systems_own_records(org: Org) -> None:
    mon_to_fri = [date(2026, 3, d) for d in (2, 3, 4, 5, 6)]
    next_week = [date(2026, 3, d) for d in (9, 10)]
    async with session_factory(org.engine)() as session, session.begin():
        await import_csv(
            session, _shifts(["a1", "a2", "b1", "X9"], mon_to_fri + next_week), zone=ZONE, source="csv:shifts.csv"
        )
        # a1 logs in through the system: a session on Mon (12 min late), state changes Tue to Fri, Mon and Tue.
        session.add(
            AuthSession(
                token_hash="t" * 64,
                work_id="a1",
                started_at=at(mon_to_fri[0], 9, 12).astimezone(UTC),
                expires_at=at(mon_to_fri[0], 19),
                last_seen_at=at(mon_to_fri[0], 18),
                ended_at=at(mon_to_fri[0], 18),
            )
        )
        for day in mon_to_fri[1:] + next_week:
            session.add(AgentStateChange(work_id="a1", state="logged_in", at=at(day, 8, 55)))
            session.add(AgentStateChange(work_id="a1", state="paused", reason="小休", at=at(day, 11)))
            session.add(AgentStateChange(work_id="a1", state="logged_out", at=at(day, 18, 1)))
        # a2: sick Mon to Thu (4 days) approved by the ops manager, certificate on Mon 9 (2nd working day after)
        sick = await request_leave(
            session, work_id="a2", kind="sick", start_date=mon_to_fri[0], end_date=mon_to_fri[3], reason=None, now=NOW
        )
        await approve(session, sick, "o1", now=NOW)
        await record_certificate(session, sick, received_at=at(next_week[0], 17), recorded_by="t1")
        for day in [mon_to_fri[4], *next_week]:
            session.add(AgentStateChange(work_id="a2", state="logged_in", at=at(day, 9)))
        # b1 (vendor V2): the same sick leave, approved by V2's ops manager, no certificate: absence
        other = await request_leave(
            session, work_id="b1", kind="sick", start_date=mon_to_fri[0], end_date=mon_to_fri[3], reason=None, now=NOW
        )
        await approve(session, other, "o2", now=NOW)
        # a pending personal leave counts for nothing: those days are absence if nobody logs in
        await request_leave(
            session, work_id="b1", kind="personal", start_date=next_week[0], end_date=next_week[0], reason=None, now=NOW
        )
        await set_pay(session, "a1", PayRates(D("200"), D("30"), D("600")), now=NOW)
        await set_pay(session, "a2", PayRates(D("200"), D("30"), D("600")), now=NOW)

    async with session_factory(org.engine)() as session:
        everyone = await build_report(session, MARCH, zone=ZONE, minimum_wage=MIN_WAGE)
        v1 = await build_report(session, MARCH, zone=ZONE, minimum_wage=MIN_WAGE, vendor="V1")
        v2 = await build_report(session, MARCH, zone=ZONE, minimum_wage=MIN_WAGE, vendor="V2")
        with pytest.raises(NotFound):
            await build_report(session, MARCH, zone=ZONE, minimum_wage=MIN_WAGE, vendor="V9")
        april = await build_report(session, Month(2026, 4), zone=ZONE, minimum_wage=MIN_WAGE)

    assert [a.work_id for a in everyone] == ["X9", "a1", "a2", "b1"]  # X9: records, no user row
    assert [a.work_id for a in v1] == ["a1", "a2"]
    assert [a.work_id for a in v2] == ["b1"]
    x9, a1, a2, b1 = everyone
    assert (a1.working_days, a1.late_early_count, a1.absence_days, a1.lateness_fine, a1.bonus_paid) == (
        7,
        1,
        0,
        D("25.00"),
        D("575.00"),
    )
    assert (a2.sick_leave_days, a2.absence_days, a2.base_deduction, a2.bonus_paid) == (4, 0, D("800.00"), D("600.00"))
    assert (b1.sick_leave_days, b1.absence_days) == (0, 7)  # 4 without certificate, 3 with no login at all
    assert "bonus_cancelled_until:2026-05" in b1.flags
    assert "dismissal" in b1.flags
    assert "no_pay_settings" in b1.flags
    assert "no_pay_settings" in x9.flags
    assert x9.absence_days == 7
    # April: no records, nobody reported (even though b1's bonus is still cancelled; see docs).
    assert april == []

    data = report_json(everyone)
    assert data[1]["lines"] == [
        {
            "rule": "17.3(1)",
            "effect": "fine",
            "amount": "25.00",
            "detail": "late 12 min on 2026-03-02",
            "records": [{"date": "2026-03-02", "kind": "late", "minutes": 12}],
        }
    ]
    csv_text = report_csv(everyone)
    assert csv_text.splitlines()[2] == "a1,2026-03,7,1,0,0,0,600.00,0.00,25.00,25.00,575.00,0.00,0.00,"


async def test_pay_settings_are_replaced_and_checked(migrated_engine: AsyncEngine) -> None:
    async with session_factory(migrated_engine)() as session, session.begin():
        await set_pay(session, "A001", PayRates(D("100"), D("10"), D("300")), now=NOW)
        later = NOW + timedelta(days=1)
        row = await set_pay(session, " A001 ", PayRates(D("120.5"), D("12"), D("350")), now=later)
    assert (row.daily_base, row.monthly_bonus, row.updated_at) == (D("120.50"), D("350.00"), later)
    async with session_factory(migrated_engine)() as session:
        stored = await session.get(PaySetting, row.id)
        assert stored is not None
        assert stored.daily_base == D("120.50")
        for bad in (PayRates(D("-1"), D("1"), D("1")), PayRates(D("1.001"), D("1"), D("1"))):
            with pytest.raises(AttendanceInputError):
                await set_pay(session, "A001", bad, now=NOW)
        with pytest.raises(AttendanceInputError):
            await set_pay(session, "", PayRates(D("1"), D("1"), D("1")), now=NOW)


async def test_logout_gaps_and_pauses_from_the_systems_records(org: Org) -> None:
    monday = date(2026, 3, 2)
    async with session_factory(org.engine)() as session, session.begin():
        await import_csv(session, _shifts(["a1", "a2"], [monday]), zone=ZONE, source="csv:shifts.csv")
        # a1: logged in all day, paused 10:00-11:00 (小休, a reason: allowed, not a gap)
        for state, hour, reason in (("logged_in", 9, None), ("paused", 10, "小休"), ("ready", 11, None)):
            session.add(AgentStateChange(work_id="a1", state=state, reason=reason, at=at(monday, hour)))
        session.add(AgentStateChange(work_id="a1", state="logged_out", at=at(monday, 18)))
        # a2: two auth sessions (09:00-11:00, 13:00-18:00) and the state changes describing the same logins
        for index, (start, end) in enumerate(((9, 11), (13, 18))):
            session.add(
                AuthSession(
                    token_hash=f"{index}" * 64,
                    work_id="a2",
                    started_at=at(monday, start).astimezone(UTC),
                    expires_at=at(monday, 19),
                    last_seen_at=at(monday, end),
                    ended_at=at(monday, end, 0, 2),
                )
            )
            session.add(AgentStateChange(work_id="a2", state="logged_in", at=at(monday, start, 0, 1)))
            session.add(AgentStateChange(work_id="a2", state="logged_out", at=at(monday, end)))
    async with session_factory(org.engine)() as session:
        a1, a2 = await build_report(session, MARCH, zone=ZONE, minimum_wage=MIN_WAGE)
    assert (a1.absence_days, a1.late_early_count) == (0, 0)
    assert a2.absence_days == 1
    assert report_json([a2])[0]["lines"][0]["records"] == [
        {"date": "2026-03-02", "kind": "away", "minutes": 120, "logged_out": "11:00-13:00"}
    ]


async def test_approved_leave_requests_in_a_month_without_shifts_count_calendar_days(org: Org) -> None:
    async with session_factory(org.engine)() as session, session.begin():
        leave = await request_leave(
            session,
            work_id="a1",
            kind="personal",
            start_date=date(2026, 4, 1),
            end_date=date(2026, 4, 7),
            reason=None,
            now=NOW,
        )
        await approve(session, leave, "o1", now=NOW)
        await set_pay(session, "a1", PayRates(D("200"), D("30"), D("600")), now=NOW)
    async with session_factory(org.engine)() as session:
        (a1,) = await build_report(session, Month(2026, 4), zone=ZONE, minimum_wage=MIN_WAGE)
    assert (a1.working_days, a1.personal_leave_days, a1.base_deduction, a1.bonus_paid) == (
        0,
        7,
        D("1400.00"),
        D("0.00"),
    )
    assert a1.flags == ("no_schedule",)
