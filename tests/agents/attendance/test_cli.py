"""``waihu attendance`` end to end: import a month, set pay, and the report equals a hand-computed one.

March 2026, shifts 09:00–18:00 (Asia/Shanghai):

A001 (daily base 200, daily bonus 30, monthly bonus 600): late 5, early 15, late 29 (25 元 each, 17.3(1)),
    a 20-minute break away (nothing), late 10 (the fourth: 150 元, 17.3(2)); personal leave Mon 9 – Tue 10
    (17.1(2): 2 x 200 base, 2 x 30 bonus). Bonus 600 - 60 - 225 = 315.
A002 (no pay settings): Mon 2 worked, Tue 3 no login: absence (17.2(4)), no bonus (17.2(1)).
A003 (150 / 20 / 300): late 30 on Mon 2, away 30 on Tue 3, no login Wed 4: three absence days (17.2(4)), no
    bonus this month and the next two (17.2(2)): April's report, with perfect attendance, pays none either.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from waihu.cli import main

MARCH_CSV = """work_id,kind,start,end,note
A001,shift,2026-03-02 09:00,2026-03-02 18:00,
A001,login,2026-03-02 09:05,,
A001,logout,2026-03-02 18:00,,
A001,shift,2026-03-03 09:00,2026-03-03 18:00,
A001,login,2026-03-03 09:00,,
A001,logout,2026-03-03 17:45,,
A001,shift,2026-03-04 09:00,2026-03-04 18:00,
A001,login,2026-03-04 09:29,,
A001,logout,2026-03-04 18:00,,
A001,shift,2026-03-05 09:00,2026-03-05 18:00,
A001,login,2026-03-05 08:55,,
A001,away,2026-03-05 14:00,2026-03-05 14:20,break
A001,logout,2026-03-05 18:02,,
A001,shift,2026-03-06 09:00,2026-03-06 18:00,
A001,login,2026-03-06 09:10,,
A001,logout,2026-03-06 18:00,,
A001,shift,2026-03-09 09:00,2026-03-09 18:00,
A001,shift,2026-03-10 09:00,2026-03-10 18:00,
A001,leave_personal,2026-03-09,2026-03-10,approved
A001,login,2026-03-0x 09:00,,
A002,shift,2026-03-02 09:00,2026-03-02 18:00,
A002,login,2026-03-02 09:00,,
A002,logout,2026-03-02 18:00,,
A002,shift,2026-03-03 09:00,2026-03-03 18:00,
A003,shift,2026-03-02 09:00,2026-03-02 18:00,
A003,login,2026-03-02 09:30,,
A003,shift,2026-03-03 09:00,2026-03-03 18:00,
A003,login,2026-03-03 09:00,,
A003,away,2026-03-03 10:00,2026-03-03 10:30,
A003,shift,2026-03-04 09:00,2026-03-04 18:00,
A003,shift,2026-03-05 09:00,2026-03-05 18:00,
A003,login,2026-03-05 09:00,,
A003,shift,2026-03-06 09:00,2026-03-06 18:00,
A003,login,2026-03-06 09:00,,
A009,holiday,2026-03-02,,
A003,shift,2026-04-01 09:00,2026-04-01 18:00,
A003,login,2026-04-01 09:00,,
A003,shift,2026-04-02 09:00,2026-04-02 18:00,
A003,login,2026-04-02 09:00,,
"""


def _late(date: str, kind: str, minutes: int, rule: str, amount: str) -> dict[str, Any]:
    return {
        "rule": rule,
        "effect": "fine",
        "amount": amount,
        "detail": f"{kind} {minutes} min on {date}",
        "records": [{"date": date, "kind": kind, "minutes": minutes}],
    }


def _absence(date: str, what: str, record: dict[str, Any]) -> dict[str, Any]:
    return {
        "rule": "17.2(4)",
        "effect": "absence",
        "amount": None,
        "detail": f"absence (旷工) on {date}: {what}",
        "records": [{"date": date, **record}],
    }


LEAVE_DAYS = [{"date": "2026-03-09", "kind": "leave_personal"}, {"date": "2026-03-10", "kind": "leave_personal"}]
A003_ABSENT = [{"date": f"2026-03-0{d}", "kind": "absence"} for d in (2, 3, 4)]

EXPECTED_MARCH: list[dict[str, Any]] = [
    {
        "work_id": "A001",
        "month": "2026-03",
        "working_days": 7,
        "late_early_count": 4,
        "absence_days": 0,
        "personal_leave_days": 2,
        "sick_leave_days": 0,
        "monthly_bonus": "600.00",
        "bonus_deduction": "60.00",
        "lateness_fine_assessed": "225.00",
        "lateness_fine": "225.00",
        "bonus_paid": "315.00",
        "base_deduction": "400.00",
        "sick_pay": "0.00",
        "flags": [],
        "lines": [
            {
                "rule": "17.1(2)",
                "effect": "base_deduction",
                "amount": "400.00",
                "detail": "personal leave 2 day(s) x daily base 200.00",
                "records": LEAVE_DAYS,
            },
            {
                "rule": "17.1(2)",
                "effect": "bonus_deduction",
                "amount": "60.00",
                "detail": "personal leave 2 day(s) x daily bonus 30.00",
                "records": LEAVE_DAYS,
            },
            _late("2026-03-02", "late", 5, "17.3(1)", "25.00"),
            _late("2026-03-03", "early", 15, "17.3(1)", "25.00"),
            _late("2026-03-04", "late", 29, "17.3(1)", "25.00"),
            _late("2026-03-06", "late", 10, "17.3(2)", "150.00"),
        ],
    },
    {
        "work_id": "A002",
        "month": "2026-03",
        "working_days": 2,
        "late_early_count": 0,
        "absence_days": 1,
        "personal_leave_days": 0,
        "sick_leave_days": 0,
        "monthly_bonus": "0.00",
        "bonus_deduction": "0.00",
        "lateness_fine_assessed": "0.00",
        "lateness_fine": "0.00",
        "bonus_paid": "0.00",
        "base_deduction": "0.00",
        "sick_pay": "0.00",
        "flags": ["no_pay_settings"],
        "lines": [
            _absence("2026-03-03", "no_show", {"kind": "no_show"}),
            {
                "rule": "17.2(1)",
                "effect": "bonus_cancelled",
                "amount": "0.00",
                "detail": "1 absence day(s) this month: no monthly bonus",
                "records": [{"date": "2026-03-03", "kind": "absence"}],
            },
        ],
    },
    {
        "work_id": "A003",
        "month": "2026-03",
        "working_days": 5,
        "late_early_count": 0,
        "absence_days": 3,
        "personal_leave_days": 0,
        "sick_leave_days": 0,
        "monthly_bonus": "300.00",
        "bonus_deduction": "0.00",
        "lateness_fine_assessed": "0.00",
        "lateness_fine": "0.00",
        "bonus_paid": "0.00",
        "base_deduction": "0.00",
        "sick_pay": "0.00",
        "flags": ["bonus_cancelled_until:2026-05"],
        "lines": [
            _absence("2026-03-02", "late 30 min", {"kind": "late", "minutes": 30}),
            _absence("2026-03-03", "away 30 min", {"kind": "away", "minutes": 30}),
            _absence("2026-03-04", "no_show", {"kind": "no_show"}),
            {
                "rule": "17.2(1)",
                "effect": "bonus_cancelled",
                "amount": "300.00",
                "detail": "3 absence day(s) this month: no monthly bonus",
                "records": A003_ABSENT,
            },
            {
                "rule": "17.2(2)",
                "effect": "bonus_cancelled",
                "amount": "300.00",
                "detail": "3 absence days in 2026-03: no monthly bonus 2026-03 to 2026-05",
                "records": A003_ABSENT,
            },
        ],
    },
]

EXPECTED_MARCH_CSV = """\
work_id,month,working_days,late_early_count,absence_days,personal_leave_days,sick_leave_days,monthly_bonus,\
bonus_deduction,lateness_fine_assessed,lateness_fine,bonus_paid,base_deduction,sick_pay,flags
A001,2026-03,7,4,0,2,0,600.00,60.00,225.00,225.00,315.00,400.00,0.00,
A002,2026-03,2,0,1,0,0,0.00,0.00,0.00,0.00,0.00,0.00,0.00,no_pay_settings
A003,2026-03,5,0,3,0,0,300.00,0.00,0.00,0.00,0.00,0.00,0.00,bonus_cancelled_until:2026-05
"""


def _run(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(main, list(args), catch_exceptions=False)


def test_import_then_report(cli_env: dict[str, str], tmp_path: Path) -> None:
    runner = CliRunner(env=cli_env)
    assert _run(runner, "db", "upgrade").exit_code == 0
    csv_file = tmp_path / "march.csv"
    csv_file.write_text(MARCH_CSV, encoding="utf-8")

    result = _run(runner, "attendance", "import", str(csv_file))
    assert result.exit_code == 1  # some rows were bad; the good ones landed
    assert result.stdout == "39 rows read: 37 imported, 0 already present, 2 problem(s)\n"
    assert result.stderr.splitlines() == [
        "row 21, column start: not a date-time (expected YYYY-MM-DD HH:MM in the site's time zone)",
        "row 36, column kind: unknown kind 'holiday'; expected one of shift, login, logout, away, leave_personal, "
        "leave_sick",
    ]
    again = _run(runner, "attendance", "import", str(csv_file))
    assert again.stdout == "39 rows read: 0 imported, 37 already present, 2 problem(s)\n"

    for work_id, base, bonus, monthly in (("A001", "200", "30", "600"), ("A003", "150", "20", "300")):
        result = _run(
            runner,
            "attendance",
            "pay",
            work_id,
            "--daily-base",
            base,
            "--daily-bonus",
            bonus,
            "--monthly-bonus",
            monthly,
        )
        assert result.exit_code == 0, result.output
    assert result.stdout == "A003: daily base 150.00, daily bonus 20.00, monthly bonus 300.00\n"

    result = _run(runner, "attendance", "report", "--month", "2026-03", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == EXPECTED_MARCH

    result = _run(runner, "attendance", "report", "--month", "2026-03", "--format", "csv")
    assert result.exit_code == 0, result.output
    assert result.stdout == EXPECTED_MARCH_CSV

    # April: A003 worked every shift, but 17.2(2) still withholds the bonus (March's three absence days).
    result = _run(runner, "attendance", "report", "--month", "2026-04")
    (april,) = json.loads(result.stdout)
    assert (april["work_id"], april["absence_days"], april["bonus_paid"]) == ("A003", 0, "0.00")
    assert april["flags"] == ["bonus_cancelled_until:2026-05"]
    assert [line["rule"] for line in april["lines"]] == ["17.2(2)"]

    # Vendor filter: none of these work IDs has a user row, so a vendor's report is empty; unknown vendor: error.
    result = runner.invoke(main, ["attendance", "report", "--month", "2026-03", "--vendor", "V1"])
    assert result.exit_code == 1
    assert result.stderr == "error [agents.not_found]: no vendor 'V1'\n"


def test_bad_input_is_one_line_never_a_traceback(cli_env: dict[str, str], tmp_path: Path) -> None:
    runner = CliRunner(env=cli_env)
    assert _run(runner, "db", "upgrade").exit_code == 0
    bad_header = tmp_path / "bad.csv"
    bad_header.write_text("who,what\n", encoding="utf-8")
    result = runner.invoke(main, ["attendance", "import", str(bad_header)])
    assert result.exit_code == 1
    assert result.stderr.startswith("error [attendance.bad_header]: the header is 'who,what'")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("work_id,kind,start,end,note\nA,login,2026-03-02 09:00,,caf\xe9\n".encode("latin-1"))
    result = runner.invoke(main, ["attendance", "import", str(latin)])
    assert result.exit_code == 1
    assert "attendance.bad_encoding" in result.stderr
    result = runner.invoke(main, ["attendance", "report", "--month", "March"])
    assert result.exit_code == 2
    assert "Invalid value for --month" in result.stderr
    result = runner.invoke(
        main, ["attendance", "pay", "A1", "--daily-base", "x", "--daily-bonus", "1", "--monthly-bonus", "1"]
    )
    assert result.exit_code == 2
    assert "is not an amount" in result.stderr


def test_an_unmigrated_database_is_one_line(cli_env: dict[str, str]) -> None:
    runner = CliRunner(env=cli_env)
    result = runner.invoke(main, ["attendance", "report", "--month", "2026-03"])
    assert result.exit_code == 1
    assert "run `waihu db upgrade`" in result.stderr
