"""``waihu leads``: import lead files into a campaign and keep the internal DNC list.

Nothing printed here shows a phone number or a name in clear: reports carry masked values only.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING

import click

from waihu.cli import get_settings, run_with_engine

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from dialer.dnc import DncImportReport
    from dialer.leads import ImportReport

__all__ = ["leads"]

_SHOWN_ISSUES = 20


@click.group()
def leads() -> None:
    """Leads: import files into campaigns, and the do-not-call list."""


@leads.command("import")
@click.argument("campaign")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--region", default=None, help="Region for numbers without a country code (default: WAIHU_DEFAULT_REGION)."
)
@click.option(
    "--errors",
    "errors_file",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Write every rejected row (row, column, reason, masked value) to this CSV file.",
)
@click.option("--workers", type=int, default=None, help="Processes preparing rows (default: automatic).")
@click.option(
    "--list",
    "list_name",
    default=None,
    help="Add the rows to the campaign's lead list of this name (made if missing). Default: a new list named "
    "after FILE.",
)
def import_command(
    campaign: str,
    file: Path,
    region: str | None,
    errors_file: Path | None,
    workers: int | None,
    list_name: str | None,
) -> None:
    """Import FILE (CSV with a header; column `phone` required) into CAMPAIGN (id or name).

    Optional columns: name, timezone, consent, consent_ref; every other column becomes a lead
    variable (stored encrypted). Bad rows are reported while the good rows land. The rows form a
    lead list of their own (or join --list), which `waihu leads pause-list` can hold back.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from dialer.campaigns import get_campaign
    from dialer.leads import import_leads
    from waihu.db import session_factory
    from waihu.pii import mask_text
    from waihu.vault import Vault

    settings = get_settings()
    vault = Vault.from_settings(settings)

    async def work(engine: AsyncEngine) -> ImportReport:
        factory = session_factory(engine)
        async with factory() as session:
            campaign_id = (await get_campaign(session, campaign)).id
        with Progress(
            TextColumn("[bold]importing[/]"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("rows"),
            TimeRemainingColumn(),
            transient=False,
        ) as bar:
            task = bar.add_task("import", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            return await import_leads(
                factory,
                vault,
                campaign_id,
                file,
                region=region or settings.default_region,
                progress=progress,
                workers=workers,
                list_name=list_name,
            )

    report = run_with_engine(settings, work)
    click.echo(f"lead list {report.list_id}: {mask_text(report.list_name)}")
    click.echo(report.summary())
    click.echo(f"{report.rows_per_second:,.0f} rows/s")
    issues = [("error", issue) for issue in report.errors] + [("duplicate", issue) for issue in report.duplicates]
    issues.sort(key=lambda pair: pair[1].row)
    for kind, issue in issues[:_SHOWN_ISSUES]:
        click.echo(f"  {kind}: {issue}")
    if len(issues) > _SHOWN_ISSUES:
        hint = f"; all of them are in {errors_file}" if errors_file else "; use --errors FILE for the full list"
        click.echo(f"  … and {len(issues) - _SHOWN_ISSUES} more{hint}")
    if errors_file is not None:
        with errors_file.open("w", newline="", encoding="utf-8") as fh:
            out = csv.writer(fh)
            out.writerow(["row", "kind", "column", "reason", "value_masked"])
            for kind, issue in issues:
                out.writerow([issue.row, kind, issue.column, issue.reason, issue.value])


@leads.command("lists")
@click.argument("campaign")
def lists_command(campaign: str) -> None:
    """The lead lists of CAMPAIGN (id or name): whether each is worked or paused, and its leads by status."""
    from dialer.campaigns import get_campaign
    from dialer.lists import ListCounts, list_counts
    from dialer.models import LEAD_STATUSES
    from waihu.db import session_factory
    from waihu.pii import mask_text

    settings = get_settings()

    async def work(engine: AsyncEngine) -> list[ListCounts]:
        async with session_factory(engine)() as session:
            return await list_counts(session, (await get_campaign(session, campaign)).id)

    rows = run_with_engine(settings, work)
    if not rows:
        click.echo("no lead lists yet: `waihu leads import` makes one per file")
        return
    click.echo("\t".join(["id", "state", "total", *LEAD_STATUSES, "name"]))
    for row in rows:
        counts = [str(row.by_status[status]) for status in LEAD_STATUSES]
        state = "active" if row.list.active else "paused"
        click.echo("\t".join([str(row.list.id), state, str(row.total), *counts, mask_text(row.list.name)]))


def _set_list(campaign: str, lead_list: str, *, active: bool, by: str) -> None:
    from dialer.campaigns import get_campaign
    from dialer.lists import set_list_active
    from waihu.audit import AuditLog
    from waihu.db import session_factory
    from waihu.pii import mask_text
    from waihu.vault import Vault

    settings = get_settings()
    audit = AuditLog(Vault.from_settings(settings).audit_key)

    async def work(engine: AsyncEngine) -> tuple[int, str]:
        async with session_factory(engine)() as session, session.begin():
            campaign_id = (await get_campaign(session, campaign)).id
            item = await set_list_active(session, audit, campaign_id, lead_list, active=active, actor=by)
            return item.id, item.name

    list_id, name = run_with_engine(settings, work)
    click.echo(f"lead list {list_id} ({mask_text(name)}) is {'active' if active else 'paused'}")


@leads.command("pause-list")
@click.argument("campaign")
@click.argument("lead_list")
@click.option("--by", default="operator", show_default=True, help="Work ID of whoever pauses it (audited).")
def pause_list(campaign: str, lead_list: str, by: str) -> None:
    """Hold back LEAD_LIST (id or name) of CAMPAIGN: none of its leads is dialed, callbacks included, until it
    is resumed. Calls already placed finish."""
    _set_list(campaign, lead_list, active=False, by=by)


@leads.command("resume-list")
@click.argument("campaign")
@click.argument("lead_list")
@click.option("--by", default="operator", show_default=True, help="Work ID of whoever resumes it (audited).")
def resume_list(campaign: str, lead_list: str, by: str) -> None:
    """Dial LEAD_LIST (id or name) of CAMPAIGN again."""
    _set_list(campaign, lead_list, active=True, by=by)


@leads.command("dnc-add")
@click.argument("phone")
@click.option("--reason", default=None, help="Why (a complaint, a request by mail…).")
@click.option("--by", "added_by", default="operator", show_default=True, help="Work ID of whoever adds it.")
@click.option("--region", default=None, help="Region for a number without a country code.")
def dnc_add(phone: str, reason: str | None, added_by: str, region: str | None) -> None:
    """Put PHONE on the internal do-not-call list (stored as a keyed hash only)."""
    from dialer.dnc import InvalidPhone, add_phone
    from waihu.db import session_factory
    from waihu.pii import mask_phone
    from waihu.vault import Vault

    settings = get_settings()
    vault = Vault.from_settings(settings)

    async def work(engine: AsyncEngine) -> bool:
        async with session_factory(engine)() as session, session.begin():
            return await add_phone(
                session, vault, phone, added_by=added_by, reason=reason, region=region or settings.default_region
            )

    try:
        added = run_with_engine(settings, work)
    except InvalidPhone as exc:
        raise click.BadParameter(str(exc), param_hint="PHONE") from None
    shown = mask_phone(phone)
    click.echo(f"{shown} added to the DNC list" if added else f"{shown} was already on the DNC list")


@leads.command("dnc-import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--reason", default=None, help="Why these numbers are listed.")
@click.option("--by", "added_by", default="operator", show_default=True, help="Work ID of whoever imports them.")
@click.option("--region", default=None, help="Region for numbers without a country code.")
def dnc_import(file: Path, reason: str | None, added_by: str, region: str | None) -> None:
    """Import FILE into the DNC list: one number a line, or a CSV with a `phone` column."""
    from dialer.dnc import import_dnc
    from waihu.db import session_factory
    from waihu.vault import Vault

    settings = get_settings()
    vault = Vault.from_settings(settings)

    async def work(engine: AsyncEngine) -> DncImportReport:
        return await import_dnc(
            session_factory(engine),
            vault,
            file,
            added_by=added_by,
            reason=reason,
            region=region or settings.default_region,
        )

    report = run_with_engine(settings, work)
    click.echo(report.summary())
    for row, problem in report.errors[:_SHOWN_ISSUES]:
        click.echo(f"  row {row}: {problem}")
