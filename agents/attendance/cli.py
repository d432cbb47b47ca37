"""``waihu attendance``: import records from CSV, set an agent's pay amounts, print a month's report."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TypeVar

import click
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from agents.attendance.records import ImportResult, import_csv
from agents.attendance.report import build_report, report_csv, report_json, set_pay
from agents.attendance.rules import Month, MonthAssessment, PayRates
from agents.errors import AttendanceInputError
from waihu.cli import get_settings, run_with_engine
from waihu.db import session_factory, utcnow

__all__ = ["attendance"]

T = TypeVar("T")


def _run(work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Run against the configured database; a database error becomes one line, not a traceback."""
    settings = get_settings()
    try:
        return run_with_engine(settings, work)
    except DBAPIError as exc:
        raise AttendanceInputError(
            f"database error ({type(exc.orig).__name__}); is the database migrated? run `waihu db upgrade`",
            error_id="attendance.database",
        ) from None


def _amount(ctx: click.Context, param: click.Parameter, value: str) -> Decimal:
    """An amount in 元: non-negative, at most two decimals (Decimal, never float)."""
    try:
        amount = Decimal(value.strip())
    except InvalidOperation:
        raise click.BadParameter(f"{value!r} is not an amount (元, e.g. 120 or 85.50)") from None
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise click.BadParameter(f"{value!r} is not a non-negative amount with at most two decimals")
    return amount


@click.group()
def attendance() -> None:
    """Attendance (第十七条): records, pay amounts and the monthly report."""


@attendance.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_command(file: Path) -> None:
    """Import FILE (CSV: work_id,kind,start,end,note); bad rows are listed, good rows land.

    Exits 1 when any row was bad. Importing the same rows again adds nothing.
    """
    settings = get_settings()
    try:
        text = file.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AttendanceInputError(
            f"{file} is not UTF-8 text (byte {exc.start})", error_id="attendance.bad_encoding"
        ) from None

    async def work(engine: AsyncEngine) -> ImportResult:
        async with session_factory(engine)() as session, session.begin():
            return await import_csv(session, text, zone=settings.zone, source=f"csv:{file.name}")

    result = _run(work)
    for error in result.errors:
        click.echo(str(error), err=True)
    click.echo(
        f"{result.rows} rows read: {result.inserted} imported, {result.duplicates} already present, "
        f"{len(result.errors)} problem(s)"
    )
    if result.errors:
        raise click.exceptions.Exit(1)


@attendance.command("pay")
@click.argument("work_id")
@click.option("--daily-base", callback=_amount, required=True, help="Daily base pay (日标准基薪), 元.")
@click.option("--daily-bonus", callback=_amount, required=True, help="Daily standard bonus (日标准奖金), 元.")
@click.option("--monthly-bonus", callback=_amount, required=True, help="Monthly bonus (月奖/绩效奖), 元.")
def pay_command(work_id: str, daily_base: Decimal, daily_bonus: Decimal, monthly_bonus: Decimal) -> None:
    """Set WORK_ID's pay amounts, from which the deductions are computed."""

    async def work(engine: AsyncEngine) -> PayRates:
        async with session_factory(engine)() as session, session.begin():
            row = await set_pay(session, work_id, PayRates(daily_base, daily_bonus, monthly_bonus), now=utcnow())
            return PayRates(row.daily_base, row.daily_bonus, row.monthly_bonus)

    rates = _run(work)
    click.echo(
        f"{work_id.strip()}: daily base {rates.daily_base}, daily bonus {rates.daily_bonus}, "
        f"monthly bonus {rates.monthly_bonus}"
    )


@attendance.command("report")
@click.option("--month", "month_text", required=True, help="The month, YYYY-MM.")
@click.option("--vendor", default=None, help="Only this vendor's work IDs (vendor code).")
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True)
def report_command(month_text: str, vendor: str | None, fmt: str) -> None:
    """Print the month's report: one entry per agent with records that month."""
    try:
        month = Month.parse(month_text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--month") from None
    settings = get_settings()

    async def work(engine: AsyncEngine) -> list[MonthAssessment]:
        async with session_factory(engine)() as session:
            return await build_report(
                session, month, zone=settings.zone, minimum_wage=settings.minimum_wage_monthly, vendor=vendor
            )

    assessments = _run(work)
    if fmt == "json":
        click.echo(json.dumps(report_json(assessments), ensure_ascii=False, indent=2))
    else:
        click.echo(report_csv(assessments), nl=False)
