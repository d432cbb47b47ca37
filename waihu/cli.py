"""The ``waihu`` console command: the shared commands, plus other packages' groups loaded lazily.

Other packages' command groups are named by dotted path and imported only when used, so this
package never imports them statically (the arrows point one way) and a package not written yet
simply does not appear.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import click

from waihu.errors import ConfigError, WaihuError
from waihu.logs import configure_logging
from waihu.pii import mask
from waihu.settings import Settings, load_settings, redact_url

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["LAZY_COMMANDS", "LazyGroup", "get_settings", "main", "run_with_engine"]

T = TypeVar("T")

LAZY_COMMANDS: dict[str, str] = {
    "flows": "flows.cli:flows",
    "demo": "api.demo_server:demo",
    "campaign": "api.demo:campaign",
    "leads": "dialer.cli:leads",
    "agents": "agents.cli:agents",
    "attendance": "agents.attendance.cli:attendance",
    "softphone": "agents.softphone_cli:softphone",
    "assets": "agents.assets_cli:assets",
    "serve": "api.cli:serve",
    "qa": "api.qa_cli:qa",
}

_SETTINGS_KEY = "waihu.settings"


def _is_missing(module_name: str, exc: ModuleNotFoundError) -> bool:
    """True when the error is about the module itself (or a parent), not an import inside it."""
    return exc.name is not None and (module_name == exc.name or module_name.startswith(f"{exc.name}."))


def _module_exists(module_name: str) -> bool:
    try:
        return importlib.util.find_spec(module_name) is not None
    except ModuleNotFoundError:
        return False


class LazyGroup(click.Group):
    """A click group whose extra subcommands are ``"module:attribute"`` paths imported on use."""

    def __init__(self, *args: Any, lazy_subcommands: Mapping[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_subcommands: dict[str, str] = dict(lazy_subcommands or {})
        self._listing = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        available = [name for name, path in self.lazy_subcommands.items() if _module_exists(path.partition(":")[0])]
        return sorted({*super().list_commands(ctx), *available})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in self.lazy_subcommands:
            return super().get_command(ctx, cmd_name)
        try:
            return self._load(self.lazy_subcommands[cmd_name])
        except Exception as exc:
            if not self._listing:
                raise  # running it: show the real error
            # Listing for --help: one broken package must not hide every other command.
            return click.Command(cmd_name, help=f"(unavailable: {type(exc).__name__}: {exc})")

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_commands(ctx, formatter)
        finally:
            self._listing = False

    @staticmethod
    def _load(path: str) -> click.Command | None:
        module_name, _, attribute = path.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if _is_missing(module_name, exc):
                return None
            raise
        command = getattr(module, attribute, None)
        return command if isinstance(command, click.Command) else None

    def invoke(self, ctx: click.Context) -> Any:
        # Domain errors become one line on stderr, never a traceback: 2 for bad settings, 1 otherwise.
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            click.echo(f"configuration error: {exc.message}", err=True)
            ctx.exit(2)
        except WaihuError as exc:
            click.echo(f"error [{exc.error_id}]: {exc.message}", err=True)
            ctx.exit(1)


def get_settings(ctx: click.Context | None = None) -> Settings:
    """The settings for this command run, loaded once at command start (logging configured too).

    Commands of other packages call this rather than building settings themselves.
    """
    ctx = ctx or click.get_current_context()
    root = ctx.find_root()
    settings = root.meta.get(_SETTINGS_KEY)
    if not isinstance(settings, Settings):
        settings = load_settings()
        configure_logging(settings.log_level)
        root.meta[_SETTINGS_KEY] = settings
    return settings


def run_with_engine(settings: Settings, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Run ``work(engine)`` in a fresh event loop and always dispose the engine afterwards."""
    from waihu.db import create_engine

    async def runner() -> T:
        engine = create_engine(settings)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    return asyncio.run(runner())


@click.group(cls=LazyGroup, lazy_subcommands=LAZY_COMMANDS)
@click.pass_context
def main(ctx: click.Context) -> None:
    """Waihu (外呼): outbound call-center platform."""
    # Other packages' commands get what they may not import from us through the context:
    # the PII masker (flows never shows a customer's data unmasked) and extra script directories.
    obj = ctx.ensure_object(dict)
    obj.setdefault("mask", mask)
    obj.setdefault("flows_dirs", lambda: get_settings(ctx).flows_dirs)


@main.group()
def db() -> None:
    """Database migrations."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def db_upgrade(revision: str) -> None:
    """Migrate the database up to a revision."""
    from waihu import migrate

    settings = get_settings()

    async def work(engine: AsyncEngine) -> tuple[str, ...]:
        await migrate.upgrade(engine, revision)
        return await migrate.current(engine)

    now = run_with_engine(settings, work)
    click.echo(f"database {redact_url(settings.database_url)} at {', '.join(now) or 'base'}")


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Migrate the database down to REVISION (``base`` removes every table)."""
    from waihu import migrate

    settings = get_settings()

    async def work(engine: AsyncEngine) -> tuple[str, ...]:
        await migrate.downgrade(engine, revision)
        return await migrate.current(engine)

    now = run_with_engine(settings, work)
    click.echo(f"database {redact_url(settings.database_url)} at {', '.join(now) or 'base'}")


@db.command("current")
def db_current() -> None:
    """Show the revision the database is at, and whether it is the latest."""
    from waihu import migrate

    settings = get_settings()
    now = run_with_engine(settings, migrate.current)
    heads = set(migrate.heads())
    if not now:
        click.echo(f"base (not migrated; latest is {', '.join(sorted(heads))})")
        return
    for revision in now:
        click.echo(f"{revision} (head)" if revision in heads else revision)


@main.group()
def audit() -> None:
    """The tamper-evident audit log."""


@audit.command("verify")
@click.option("--expect-seq", type=int, default=None, help="Head seq recorded earlier (detects truncation).")
@click.option("--expect-hash", default=None, help="Head hash recorded earlier, with --expect-seq.")
def audit_verify(expect_seq: int | None, expect_hash: str | None) -> None:
    """Check the audit chain; exit 1 and name each broken row if it was tampered with."""
    from waihu.audit import AuditLog, ChainHead, VerifyReport
    from waihu.db import session_factory
    from waihu.vault import Vault

    if (expect_seq is None) != (expect_hash is None):
        raise click.UsageError("--expect-seq and --expect-hash go together")
    anchor = ChainHead(expect_seq, expect_hash) if expect_seq is not None and expect_hash else None
    settings = get_settings()
    log = AuditLog(Vault.from_settings(settings, create=False).audit_key)

    async def work(engine: AsyncEngine) -> VerifyReport:
        async with session_factory(engine)() as session:
            return await log.verify(session, anchor=anchor)

    report = run_with_engine(settings, work)
    if report.ok:
        click.echo(f"audit chain OK: {report.rows} rows, head seq={report.head.seq}, hash={report.head.hash}")
        return
    for problem in report.problems:
        click.echo(str(problem))
    click.echo(f"audit chain BROKEN: {len(report.problems)} problem(s) in {report.rows} rows", err=True)
    raise click.exceptions.Exit(1)


@audit.command("append")
@click.option("--actor", required=True, help='Work ID, or "system".')
@click.option("--action", required=True, help="Dotted action, e.g. auth.login.")
@click.option("--target", required=True, help="What the action was about.")
@click.option("--details", default=None, help="JSON object with more details (no clear-text PII).")
def audit_append(actor: str, action: str, target: str, details: str | None) -> None:
    """Append one entry to the audit log (for operators and tests)."""
    from waihu.audit import AuditLog
    from waihu.db import session_factory
    from waihu.models import AuditEntry
    from waihu.vault import Vault

    try:
        parsed = json.loads(details) if details else {}
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--details") from None
    if not isinstance(parsed, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--details")
    settings = get_settings()
    log = AuditLog(Vault.from_settings(settings).audit_key)

    async def work(engine: AsyncEngine) -> AuditEntry:
        async with session_factory(engine)() as session, session.begin():
            return await log.append(session, actor=actor, action=action, target=target, details=parsed)

    entry = run_with_engine(settings, work)
    click.echo(f"appended seq={entry.seq} hash={entry.hash}")
