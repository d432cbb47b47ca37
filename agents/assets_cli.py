"""``waihu assets``: the client's side of site operations from a shell (acts as the client's admin, ``cli``).

Register assets, list an issue to a vendor (its team lead confirms on the desk), list assets, ask who used a
seat last, show what a leaving work ID still holds, the inspections missing for a day and a vendor's monthly
rates with the assets behind them. Work IDs are shown, never names.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

import click

from agents.cli import CLI_ACTOR, _context
from waihu.cli import get_settings, run_with_engine
from waihu.db import session_factory, utcnow

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from agents.assets.rates import MonthRates

__all__ = ["assets"]


def _decimal(value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        raise click.BadParameter(f"not an amount: {value!r}") from None


def _instant(value: str | None) -> datetime:
    if value is None:
        return utcnow()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"not an ISO time: {value!r}") from None
    if parsed.tzinfo is None:
        raise click.BadParameter("give the time with its offset, e.g. 2026-03-02T10:00+08:00")
    return parsed.astimezone(UTC)


@click.group()
def assets() -> None:
    """IT and fixed assets, issue lists, inspections, damage, rates, off-boarding (issue 9)."""


@assets.command("add")
@click.argument("tag")
@click.option("--kind", required=True, help="computer, monitor, headset, phone, work_id, desk, chair, cabinet.")
@click.option("--value", default=None, help="The price the vendor pays if damaged or lost (元).")
@click.option("--work-id", "work_id", default=None, help="For a work_id asset: the work ID it stands for.")
def add(tag: str, kind: str, value: str | None, work_id: str | None) -> None:
    """Register an asset in the client's stock."""
    from agents.assets.registry import register_asset

    settings = get_settings()
    ctx = _context(settings)
    amount = _decimal(value)

    async def work(engine: AsyncEngine) -> int:
        async with session_factory(engine)() as session, session.begin():
            asset = await register_asset(
                ctx, session, CLI_ACTOR, tag=tag, kind=kind, value=amount, work_id=work_id, now=utcnow()
            )
            return asset.id

    click.echo(f"asset {tag} ({kind}, id {run_with_engine(settings, work)}) in stock")


@assets.command("issue")
@click.option("--vendor", "vendor_code", required=True, help="Vendor code.")
@click.argument("tags", nargs=-1, required=True)
def issue(vendor_code: str, tags: tuple[str, ...]) -> None:
    """List in-stock assets for a vendor; they are issued when its team lead confirms the list (16.1)."""
    from agents.assets.issuing import create_issue_list
    from agents.assets.registry import asset_by_tag
    from agents.org import vendor_by_code

    settings = get_settings()
    ctx = _context(settings)

    async def work(engine: AsyncEngine) -> int:
        async with session_factory(engine)() as session, session.begin():
            vendor = await vendor_by_code(session, vendor_code)
            ids = [(await asset_by_tag(session, tag)).id for tag in tags]
            issue_list = await create_issue_list(
                ctx, session, CLI_ACTOR, vendor_id=vendor.id, asset_ids=ids, now=utcnow()
            )
            return issue_list.id

    list_id = run_with_engine(settings, work)
    click.echo(f"issue list {list_id} for {vendor_code}: {len(tags)} item(s), waiting for the vendor's confirmation")


@assets.command("list")
@click.option("--vendor", "vendor_code", default=None, help="Only this vendor's assets.")
@click.option("--state", default=None, help="Only assets in this state.")
def list_command(vendor_code: str | None, state: str | None) -> None:
    """List assets: tag, kind, state, vendor, seat, holder."""
    from agents.assets.registry import AssetView, list_assets, view_asset
    from agents.org import vendor_by_code

    settings = get_settings()

    async def work(engine: AsyncEngine) -> list[AssetView]:
        async with session_factory(engine)() as session:
            vendor_id = (await vendor_by_code(session, vendor_code)).id if vendor_code else None
            return [view_asset(a) for a in await list_assets(session, CLI_ACTOR, vendor_id=vendor_id, state=state)]

    for view in run_with_engine(settings, work):
        click.echo(
            f"{view.tag}\t{view.kind}\t{view.state}\t{view.vendor_id or '-'}\t{view.seat_id or '-'}"
            f"\t{view.holder_work_id or '-'}"
        )


@assets.command("last-user")
@click.argument("seat_code")
@click.option("--at", "at", default=None, help="ISO time with offset (default: now).")
def last_user(seat_code: str, at: str | None) -> None:
    """The last work ID logged in at a seat before a moment (12.2), from the login records."""
    from sqlalchemy import select

    from agents.assets.lastuser import LastUser, last_user_of_seat
    from agents.errors import NotFound
    from agents.models import Seat

    settings = get_settings()
    moment = _instant(at)

    async def work(engine: AsyncEngine) -> LastUser | None:
        async with session_factory(engine)() as session:
            seat_id = (await session.execute(select(Seat.id).where(Seat.code == seat_code))).scalar_one_or_none()
            if seat_id is None:
                raise NotFound(f"no seat {seat_code!r}", details={"seat": seat_code})
            return await last_user_of_seat(session, seat_id, moment)

    found = run_with_engine(settings, work)
    if found is None:
        click.echo(f"nobody was logged in at {seat_code} before {moment.isoformat()}")
        return
    where = "still there" if found.left_at is None else f"left at {found.left_at.isoformat()}"
    click.echo(f"{found.work_id}\tsince {found.since.isoformat()}\t{where}\tsession {found.session_id}")


@assets.command("checklist")
@click.argument("work_id")
def checklist(work_id: str) -> None:
    """What a leaving work ID still has to hand back (2.5); the deletion waits for it."""
    from agents.assets.offboarding import Checklist, offboarding_checklist

    settings = get_settings()

    async def work(engine: AsyncEngine) -> Checklist:
        async with session_factory(engine)() as session:
            return await offboarding_checklist(session, CLI_ACTOR, work_id)

    result = run_with_engine(settings, work)
    if result.complete:
        click.echo(f"{work_id} has handed everything back")
    for item in result.outstanding:
        click.echo(f"{item.kind}\t{item.label}")


@assets.command("missing-inspections")
@click.option(
    "--day", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, help="Site-local day (default: yesterday)."
)
def missing_inspections_command(day: datetime | None) -> None:
    """Vendors that recorded no inspection of their seats for a day (12.2)."""
    from agents.assets.inspections import MissingInspection, missing_inspections, missing_this_morning

    settings = get_settings()
    ctx = _context(settings)
    wanted: date | None = day.date() if day is not None else None

    async def work(engine: AsyncEngine) -> list[MissingInspection]:
        async with session_factory(engine)() as session:
            if wanted is None:
                return await missing_this_morning(ctx, session, CLI_ACTOR, now=utcnow())
            return await missing_inspections(session, CLI_ACTOR, day=wanted)

    missing = run_with_engine(settings, work)
    if not missing:
        click.echo("every vendor recorded its inspection")
    for item in missing:
        click.echo(f"{item.vendor_code}\t{item.day.isoformat()}\t{', '.join(item.seat_codes)}")


@assets.command("rates")
@click.option("--vendor", "vendor_code", required=True, help="Vendor code.")
@click.option("--month", "month", type=click.DateTime(formats=["%Y-%m"]), required=True, help="YYYY-MM (site-local).")
def rates(vendor_code: str, month: datetime) -> None:
    """A vendor's monthly IT-asset loss rate, damage by people and fixed-asset damage rate, with the assets."""
    from agents.assets.rates import month_rates
    from agents.org import vendor_by_code

    settings = get_settings()
    ctx = _context(settings)

    async def work(engine: AsyncEngine) -> MonthRates:
        async with session_factory(engine)() as session:
            vendor = await vendor_by_code(session, vendor_code)
            return await month_rates(ctx, session, CLI_ACTOR, vendor_id=vendor.id, year=month.year, month=month.month)

    result = run_with_engine(settings, work)
    for line in (result.it_loss, result.human_damage, result.fixed_damage):
        verdict = "ok" if line.met else "MISSED"
        click.echo(f"{line.name}\t{line.count}/{line.base}\t{line.rate * 100:.2f}%\ttarget {line.target}\t{verdict}")
        for asset in line.assets:
            users = ",".join(w or "?" for w in asset.last_work_ids)
            click.echo(f"  {asset.tag}\t{asset.kind}\t{','.join(asset.kinds)}\t{','.join(asset.causes)}\t{users}")
