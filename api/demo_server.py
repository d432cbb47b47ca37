"""``waihu demo`` (``make demo``): the whole product on 127.0.0.1:8000 with SQLite and the simulator.

It seeds a demo vendor with one work ID for every role (fresh passwords printed at start), both call
scripts in running campaigns — 无锡手机报 (mobile-newspaper-trial) with five bot agents already taking
calls beside the human agent's seat, and a training campaign on 教育回访 (edu-survey-invite) for the
trainee — then serves the API and the pages until Ctrl-C (or ``--for`` seconds). A newcomer logs in as
the printed agent, presses 示闲 and gets a simulated customer within seconds. Both campaigns call at any
hour (their calling windows are the whole day: the customers are simulated).

The scripted, headless run that ends with a summary is ``waihu campaign demo``.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any, Final

import click
from argon2 import PasswordHasher
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agents.models import AttendanceRecord, User, Vendor
from api.demo import LEAD_COLUMNS, write_leads
from api.deps import AppState
from api.dialing import dialers_of
from dialer.campaigns import create_campaign, set_state
from dialer.leads import import_leads
from dialer.lists import first_free
from dialer.models import Campaign
from flows import PACKAGE_SCRIPTS, FlowRegistry
from waihu.audit import AuditLog
from waihu.cli import get_settings
from waihu.db import engine_from_url, session_factory, utcnow
from waihu.migrate import upgrade
from waihu.settings import Settings
from waihu.vault import Vault

__all__ = ["demo", "seed_demo"]

#: (work ID, role, what the login is for) — one per role
PEOPLE: Final = (
    ("A1001", "agent", "坐席 agent: the console"),
    ("T1001", "trainee", "学员 trainee: the training campaign"),
    ("TL01", "team_lead", "组长 team lead: the desk"),
    ("OM01", "ops_manager", "运营经理 ops manager: the desk"),
    ("QA01", "qa", "质检 QA: the replay"),
    ("AD01", "admin", "管理员 admin (the client)"),
)
BOTS: Final = ("D001", "D002", "D003", "D004", "D005")
#: the work IDs that log in by hand get a shift, so the attendance report has a scheduled day to count
SHIFT_FOR: Final = ("A1001", "T1001")
#: the shift starts this long after the demo, so logging in at once is on time, and lasts a working day
SHIFT_LEAD: Final = timedelta(minutes=5)
SHIFT_LENGTH: Final = timedelta(hours=8)
ALL_DAY: Final = [["00:00", "23:59"]]
SAFE_HARBOR: Final = "您好，这里是无锡移动，稍后将再与您联系，如有需要请致电10086。"


@dataclass(frozen=True)
class DemoSeed:
    passwords: dict[str, str]
    campaigns: dict[str, int]
    #: the human agents' shift (UTC instants) seeded for today, so attendance has a scheduled day to count
    shift: tuple[datetime, datetime] | None = None


def _password() -> str:
    return f"Demo-{secrets.token_hex(3)}-{secrets.randbelow(90) + 10}"


async def _people(
    factory: async_sessionmaker[AsyncSession], vault: Vault, hasher: PasswordHasher
) -> tuple[int, dict[str, str]]:
    now = utcnow()
    passwords = {work_id: _password() for work_id, _, _ in PEOPLE}
    async with factory() as session, session.begin():
        vendor = await session.scalar(select(Vendor).where(Vendor.code == "demo"))
        if vendor is None:
            vendor = Vendor(code="demo", name="演示外包公司", id_quota=50, created_at=now)
            session.add(vendor)
            await session.flush()
        for work_id, role in [*((w, r) for w, r, _ in PEOPLE), *((b, "agent") for b in BOTS)]:
            user = await session.get(User, work_id)
            if user is None:
                user = User(
                    work_id=work_id,
                    name_enc=vault.encrypt(f"演示{work_id}"),
                    role=role,
                    vendor_id=None if role == "admin" else vendor.id,
                    status="active",
                    skills=[],
                    failed_logins=0,
                    created_at=now,
                )
                session.add(user)
            # a fresh password each run, usable at once (a real work ID must change its first one)
            password = passwords.get(work_id)
            user.password_hash = hasher.hash(password) if password else None
            user.password_changed_at = now
            user.must_change_password = False
            user.failed_logins = 0
            user.locked_until = None
            user.live_from = user.live_from or now
        return vendor.id, passwords


async def _shift(factory: async_sessionmaker[AsyncSession], now: datetime) -> tuple[datetime, datetime]:
    """Today's shift for the hand-driven agents, replacing a demo shift of an earlier run not over yet.

    Attendance counts scheduled days only (第十七条): without a shift the demo's report shows 0 days.
    """
    start = now.replace(second=0, microsecond=0) + SHIFT_LEAD
    end = start + SHIFT_LENGTH
    async with factory() as session, session.begin():
        earlier = await session.scalars(
            select(AttendanceRecord).where(
                AttendanceRecord.kind == "shift",
                AttendanceRecord.source == "demo",
                AttendanceRecord.work_id.in_(SHIFT_FOR),
                AttendanceRecord.end > now,
            )
        )
        for row in earlier.all():
            await session.delete(row)
        for work_id in SHIFT_FOR:
            session.add(AttendanceRecord(work_id=work_id, kind="shift", start=start, end=end, source="demo"))
    return start, end


async def _free_name(session: AsyncSession, name: str) -> str:
    """``name``, or ``name (2)``, ``name (3)``…: two demo runs within one second make the same stamp."""
    taken = set((await session.scalars(select(Campaign.name).where(Campaign.name.startswith(name)))).all())
    return first_free(name, taken)


async def seed_demo(settings: Settings, *, leads: int = 400, seed: int = 1) -> DemoSeed:
    """Migrate, seed the people and the two campaigns; earlier demo campaigns are stopped."""
    engine = engine_from_url(settings.database_url)
    try:
        await upgrade(engine)
        vault = Vault.from_settings(settings)
        audit = AuditLog(vault.audit_key)
        factory = session_factory(engine)
        vendor_id, passwords = await _people(factory, vault, PasswordHasher())
        shift = await _shift(factory, utcnow())
        registry = FlowRegistry([PACKAGE_SCRIPTS, *settings.flows_dirs])
        stamp = datetime.now(UTC).strftime("%m%d-%H%M%S")
        async with factory() as session, session.begin():
            earlier = await session.scalars(
                select(Campaign).where(Campaign.created_by == "demo", Campaign.state.in_(("running", "paused")))
            )
            for old in earlier.all():
                await set_state(session, audit, old.id, "stopped", actor="demo")
        campaigns: dict[str, int] = {}
        plans = (
            ("mobile", f"演示·无锡手机报 {stamp}", "mobile-newspaper-trial@2", ["A1001", *BOTS], False),
            ("training", f"演示·教育回访培训 {stamp}", "edu-survey-invite@2", ["T1001"], True),
        )
        for key, name, flow, agents, training in plans:
            async with factory() as session, session.begin():
                campaign = await create_campaign(
                    session,
                    registry=registry,
                    audit=audit,
                    name=await _free_name(session, name),
                    vendor_id=vendor_id,
                    flow=flow,
                    created_by="demo",
                    agents=agents,
                    dial_mode="progressive",
                    calling_windows=ALL_DAY,
                    timezone=settings.timezone,
                    training=training,
                    safe_harbor_message=SAFE_HARBOR,
                    callback_number="10086",
                    wrap_up_limit_seconds=60,
                )
                campaigns[key] = campaign.id
            path = Path("var") / "demo" / f"{key}-{stamp}.csv"
            write_leads(path, leads, seed + len(campaigns), LEAD_COLUMNS[flow])
            await import_leads(factory, vault, campaigns[key], path, region=settings.default_region, workers=0)
            async with factory() as session, session.begin():
                await set_state(session, audit, campaigns[key], "running", actor="demo")
        return DemoSeed(passwords, campaigns, shift)
    finally:
        await engine.dispose()


async def bots_ready(state: AppState) -> None:
    """The bot agents take calls from the start (the app's ``on_start``)."""
    pool = dialers_of(state)
    pool.bot_ids.update(BOTS)
    for work_id in BOTS:
        await pool.agent_state(work_id, "ready")


def _banner(console: Console, host: str, port: int, seeded: DemoSeed, zone: tzinfo) -> None:
    base = f"http://{host}:{port}"
    console.print(f"\n[bold]Waihu 外呼 demo[/bold] on {base}  (SQLite, simulated customers; Ctrl-C stops it)\n")
    pages = Table(show_header=False, box=None)
    for label, path in (
        ("登录 login", "/login"),
        ("坐席工作台 agent console", "/console"),
        ("组长工作台 team-lead desk", "/desk"),
        ("质检回放 QA replay", "/qa"),
        ("API docs", "/docs"),
    ):
        pages.add_row(label, f"{base}{path}")
    console.print(pages)
    logins = Table(title="demo logins (passwords are new each run)")
    logins.add_column("work ID")
    logins.add_column("password")
    logins.add_column("for")
    for work_id, _, what in PEOPLE:
        logins.add_row(work_id, seeded.passwords[work_id], what)
    console.print(logins)
    console.print(
        "Log in as [bold]A1001[/bold], press [bold]示闲[/bold] (ready): a simulated customer answers within seconds;"
        " keys 1–9 choose the customer's answer.\n"
        f"Bot agents {', '.join(BOTS)} are already working campaign {seeded.campaigns['mobile']}."
    )
    if seeded.shift is not None:
        start, end = (t.astimezone(zone).strftime("%H:%M") for t in seeded.shift)
        console.print(
            f"{' and '.join(SHIFT_FOR)} are on shift today {start}–{end} (site time): the attendance report"
            " (/desk, 报表 → 考勤与扣款) counts the day, a late login and an early logout."
        )
    console.print()


#: seconds between two progress lines while the demo serves
PROGRESS_EVERY: Final = 15.0


def progress_line(name: str, snap: dict[str, Any]) -> str:
    """One campaign's live progress: calls, answers, abandon rate against its cap, talking, outcomes."""
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(snap["outcomes"].items(), key=lambda kv: -kv[1])[:4])
    return (
        f"{name}: {snap['placed']} calls, {snap['answered']} answered, {snap['abandoned']} abandoned "
        f"({100 * snap['abandon_rate']:.1f}% / cap {100 * snap['max_abandon_rate']:.0f}%), "
        f"{snap['talking']} talking" + (f"; outcomes: {outcomes}" if outcomes else "")
    )


def summary_table(latest: dict[str, dict[str, Any]]) -> Table:
    table = Table(title="demo summary")
    for column in ("campaign", "calls", "answered", "abandoned", "abandon rate", "outcomes"):
        table.add_column(column)
    for name, snap in latest.items():
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(snap["outcomes"].items(), key=lambda kv: -kv[1]))
        table.add_row(
            name,
            str(snap["placed"]),
            str(snap["answered"]),
            str(snap["abandoned"]),
            f"{100 * snap['abandon_rate']:.1f}%",
            outcomes or "—",
        )
    return table


async def watch_progress(
    state: AppState, console: Console, campaigns: dict[str, int], latest: dict[str, dict[str, Any]]
) -> None:
    """Keep the latest snapshot of each demo campaign (for the summary) and print a line per campaign every
    :data:`PROGRESS_EVERY` seconds while anything changed."""
    pool = dialers_of(state)
    printed: dict[str, tuple[int, int]] = {}
    loop = asyncio.get_running_loop()
    next_print = loop.time() + PROGRESS_EVERY
    while True:
        for key, campaign_id in campaigns.items():
            snap = pool.snapshot(campaign_id)
            if snap is not None:
                latest[f"{key} #{campaign_id}"] = snap
        if loop.time() >= next_print:
            next_print += PROGRESS_EVERY
            for name, snap in latest.items():
                seen = (snap["placed"], snap["answered"])
                if printed.get(name) != seen:
                    printed[name] = seen
                    console.print(progress_line(name, snap))
        await asyncio.sleep(1.0)


async def serve_demo(
    settings: Settings, console: Console, *, host: str, port: int, seconds: float | None, leads: int
) -> DemoSeed:
    import uvicorn

    from api.app import create_app
    from api.housekeeping import INTERVAL

    seeded = await seed_demo(settings, leads=leads)
    stopper: list[asyncio.Task[None]] = []
    latest: dict[str, dict[str, Any]] = {}

    async def on_start(state: AppState) -> None:
        await bots_ready(state)
        _banner(console, host, port, seeded, settings.zone)
        stopper.append(asyncio.create_task(watch_progress(state, console, seeded.campaigns, latest)))
        if seconds is not None:
            stopper.append(asyncio.create_task(stop_later(seconds)))

    async def stop_later(after: float) -> None:
        await asyncio.sleep(after)
        server.should_exit = True

    app = create_app(
        settings,
        run_migrations=True,
        webhook_interval=5.0,
        restore_campaigns=True,
        housekeeping_interval=INTERVAL,
        on_start=on_start,
    )
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on"))
    try:
        await server.serve()
    finally:
        for task in stopper:
            task.cancel()
        await asyncio.gather(*stopper, return_exceptions=True)
        if latest:
            console.print(summary_table(latest))
    return seeded


@click.command("demo", help="Serve the demo: every page on 127.0.0.1:8000, campaigns running, logins printed.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--for", "seconds", type=float, default=None, help="Stop after this many seconds (default: Ctrl-C).")
@click.option("--leads", type=int, default=400, show_default=True, help="Synthetic leads per campaign.")
@click.pass_context
def demo(ctx: click.Context, host: str, port: int, seconds: float | None, leads: int) -> None:
    # the demo's campaigns call all day, so its work IDs' default shift is the whole day (logout at 23:59)
    all_day = {"shift_default_start": time(0, 0), "shift_default_end": time(23, 59)}
    settings = get_settings(ctx).model_copy(update=all_day)
    console = Console()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_demo(settings, console, host=host, port=port, seconds=seconds, leads=leads))
