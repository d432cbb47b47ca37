"""``waihu agents``: the permission document and the operator's bootstrap commands.

The operator's commands act as the client's admin (actor ``cli``) and are audited like any other
change; names are stored encrypted and shown masked.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final

import click

from agents.permissions import ActorInfo, Role, render_matrix
from waihu.cli import get_settings, run_with_engine
from waihu.db import session_factory, utcnow

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from agents.context import AgentsContext
    from waihu.settings import Settings

__all__ = ["DOC_PATH", "agents"]

DOC_PATH: Final = Path(__file__).resolve().parent.parent / "docs" / "permissions.md"
CLI_ACTOR: Final = ActorInfo(work_id="cli", role=Role.ADMIN.value)


def _context(settings: Settings) -> AgentsContext:
    from agents.context import AgentsContext

    return AgentsContext.from_settings(settings)


@click.group()
def agents() -> None:
    """Work IDs, roles and permissions."""


@agents.command("permissions-doc")
@click.option("--check", is_flag=True, help="Exit 1 if the file differs from the code instead of writing it.")
@click.option(
    "--path", "path", type=click.Path(path_type=Path), default=DOC_PATH, show_default=True, help="Markdown file."
)
def permissions_doc(check: bool, path: Path) -> None:
    """Write the role × permission matrix (docs/permissions.md) from agents/permissions.py."""
    text = render_matrix()
    if check:
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current != text:
            click.echo(f"{path} is out of date: run `waihu agents permissions-doc`", err=True)
            raise click.exceptions.Exit(1)
        click.echo(f"{path} is up to date")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    click.echo(f"wrote {path}")


@agents.command("vendor-add")
@click.argument("code")
@click.argument("name")
@click.option("--quota", type=click.IntRange(min=0), required=True, help="How many work IDs the vendor may hold.")
def vendor_add(code: str, name: str, quota: int) -> None:
    """Add an outsourcing vendor with its work-ID quota (14.5)."""
    from agents.org import create_vendor

    settings = get_settings()
    ctx = _context(settings)

    async def work(engine: AsyncEngine) -> int:
        async with session_factory(engine)() as session, session.begin():
            vendor = await create_vendor(ctx, session, CLI_ACTOR, code=code, name=name, quota=quota, now=utcnow())
            return vendor.id

    vendor_id = run_with_engine(settings, work)
    click.echo(f"vendor {code} (id {vendor_id}) with a quota of {quota} work IDs")


@agents.command("seat-add")
@click.argument("code")
@click.option("--vendor", "vendor_code", default=None, help="Allocate it to this vendor (code).")
@click.option("--endpoint", default=None, help="PJSIP endpoint of the seat's phone.")
def seat_add(code: str, vendor_code: str | None, endpoint: str | None) -> None:
    """Add a seat of the client, optionally allocated to a vendor (第十条)."""
    from agents.org import create_seat, vendor_by_code

    settings = get_settings()
    ctx = _context(settings)

    async def work(engine: AsyncEngine) -> int:
        async with session_factory(engine)() as session, session.begin():
            vendor_id = (await vendor_by_code(session, vendor_code)).id if vendor_code else None
            seat = await create_seat(
                ctx, session, CLI_ACTOR, code=code, endpoint=endpoint, vendor_id=vendor_id, now=utcnow()
            )
            return seat.id

    seat_id = run_with_engine(settings, work)
    click.echo(f"seat {code} (id {seat_id})" + (f" allocated to {vendor_code}" if vendor_code else ""))


@agents.command("user-add")
@click.argument("work_id")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--vendor", "vendor_code", default=None, help="Vendor code (every role but admin).")
@click.option("--name", required=True, help="The person's name (stored encrypted, shown masked).")
def user_add(work_id: str, role: str, vendor_code: str | None, name: str) -> None:
    """Bootstrap a work ID; prints a one-time password that must be changed at the first login."""
    from agents.org import vendor_by_code
    from agents.users import create_user_direct, view_user

    if (role == Role.ADMIN.value) == (vendor_code is not None):
        raise click.UsageError("admins have no --vendor; every other role needs one")
    settings = get_settings()
    ctx = _context(settings)

    async def work(engine: AsyncEngine) -> tuple[str, str]:
        async with session_factory(engine)() as session, session.begin():
            vendor_id = (await vendor_by_code(session, vendor_code)).id if vendor_code else None
            user, password = await create_user_direct(
                ctx, session, CLI_ACTOR, work_id=work_id, name=name, role=role, vendor_id=vendor_id, now=utcnow()
            )
            return view_user(ctx, user).name_masked, password

    masked, password = run_with_engine(settings, work)
    click.echo(f"work ID {work_id} ({masked}), role {role}" + (f", vendor {vendor_code}" if vendor_code else ""))
    click.echo(f"one-time password (shown once; must be changed at the first login): {password}")


@agents.command("users")
@click.option("--vendor", "vendor_code", default=None, help="Only this vendor's work IDs.")
def users(vendor_code: str | None) -> None:
    """List work IDs with masked names."""
    from agents.org import vendor_by_code
    from agents.users import UserView, list_users

    settings = get_settings()
    ctx = _context(settings)

    async def work(engine: AsyncEngine) -> list[UserView]:
        async with session_factory(engine)() as session:
            views = await list_users(ctx, session, CLI_ACTOR)
            if vendor_code:
                vendor_id = (await vendor_by_code(session, vendor_code)).id
                views = [v for v in views if v.vendor_id == vendor_id]
            return views

    for view in run_with_engine(settings, work):
        click.echo(f"{view.work_id}\t{view.name_masked}\t{view.role}\t{view.vendor_id or '-'}\t{view.status}")


@agents.command("apply-due")
def apply_due_command() -> None:
    """Apply every approved work-ID request whose effective time has come (the scheduler does this too)."""
    from agents.lifecycle import apply_due

    settings = get_settings()
    ctx = _context(settings)
    now: datetime = utcnow()

    async def work(engine: AsyncEngine) -> list[int]:
        async with session_factory(engine)() as session, session.begin():
            return await apply_due(ctx, session, now)

    applied = run_with_engine(settings, work)
    click.echo(f"applied {len(applied)} request(s)" + (f": {', '.join(map(str, applied))}" if applied else ""))
