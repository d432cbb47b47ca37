"""``waihu demo`` / ``waihu campaign demo``: a whole campaign on the embedded defaults.

Synthetic leads are imported into a campaign on the mobile-newspaper script; bot agents take the
simulator's calls through the real runner, pacer, gates and lead leases on SQLite (or whatever
WAIHU_DATABASE_URL says); every answered call gets a recording with its script lines spoken at their
step times, a replay JSON, and one call goes through a QA review (draft → submitted → acknowledged).
The demo's wall clock starts at 10:00 in Shanghai today, inside the default calling windows,
whatever the real time is.

``--backend asterisk`` runs the same campaign through the local Asterisk (deploy/asterisk/asterisk.sh
start; its settings file gives AMI and the recordings directory): the leads' numbers end in the test
customers' behaviours (answer and talk, busy, no answer, machine ...), the agents are the softphones
started with ``waihu softphone --work-id A1001``, which answers by default (their script screens worked by
bots), AMD is on, and every recorded call is collected from Asterisk's spool into the run's recordings
directory (0600, size and SHA-256 on its row).

This lives in ``api`` because it wires every package together (the only package allowed to).
"""

from __future__ import annotations

import asyncio
import csv
import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

import click
from rich.console import Console
from rich.live import Live
from rich.table import Table
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from agents.models import User, Vendor
from api.dialing import recording_job, synth_recording
from dialer.backends.asterisk import AsteriskBackend, AsteriskSettings
from dialer.backends.base import TelephonyBackend
from dialer.backends.clock import RealClock
from dialer.backends.sim import SimBackend, SimProfile
from dialer.bots import BotDesk, BotProfile
from dialer.campaigns import create_campaign, set_state
from dialer.floor import Floor
from dialer.leads import import_leads, lead_variables
from dialer.models import CallAttempt, CallEventRow, Campaign, Lead
from dialer.runner import CampaignRunner, LiveCall
from flows import FlowRegistry
from flows.runtime import TranscriptEntry
from recordings import reviews
from recordings.autochecks import CallFacts
from recordings.calllog import CallRecord, TelephonyEvent, replay
from recordings.models import RecordingFile
from recordings.prompts import message_speaker
from recordings.sheets import SheetRegistry
from recordings.store import RecordingKeeper
from recordings.viewer import Viewer
from waihu.audit import AuditLog
from waihu.cli import get_settings, run_with_engine
from waihu.db import session_factory, utcnow
from waihu.migrate import upgrade
from waihu.pii import mask
from waihu.settings import Settings
from waihu.vault import Vault

DEMO_AGENTS = ("D001", "D002", "D003", "D004", "D005")
DEMO_QA = "DQ01"
FLOW = "mobile-newspaper-trial@2"
PROFILE = SimProfile(
    p_live=0.45,
    answer_delay=(1.0, 3.0),
    busy_delay=(1.0, 2.0),
    talk_mean=600.0,  # customers stay on the line: the bot agents end the calls with the script
    talk_cv=0.2,
    ring_after=0.5,
    playback_seconds=1.5,
)
BOTS = BotProfile(seconds_per_screen=(0.5, 1.2), wrap_up_seconds=(0.8, 2.0), objection_chance=0.15)
#: on Asterisk the conversations are real audio: slower screens, so a person can follow a call
PBX_BOTS = BotProfile(seconds_per_screen=(1.5, 3.0), wrap_up_seconds=(1.0, 2.0), objection_chance=0.15)
#: the test customers the Asterisk demo's leads end in (deploy/asterisk/README.md): mostly people who
#: answer after 1-2 s of ringing and talk 8-15 s, then busy, no answer, a machine, congestion, invalid
PBX_CUSTOMERS = (
    "10112", "20200", "10215", "60310", "10110", "30300", "10212", "40200",
    "10115", "51000", "10210", "80200", "10113", "39900", "10214", "60210",
)  # fmt: skip
#: the leads are mobile-looking numbers, 138 + three digits + a test customer: the carrier-style rewrite
#: strips the prefix so the call reaches [customers] (as the real-PBX tests do)
PBX_NUMBER_RULES = ((r"\+86138\d{3}(\d{5})", r"\1"),)


@dataclass(frozen=True)
class AsteriskDemo:
    """Where the demo's Asterisk is and which agents' softphones answer."""

    settings: AsteriskSettings
    #: Asterisk's recordings directory as this host sees it (the chroot's spool, bind-free)
    spool_dir: Path
    agents: tuple[str, ...]

    @classmethod
    def from_env_file(cls, path: Path, agents: tuple[str, ...]) -> AsteriskDemo:
        """Read deploy/asterisk/asterisk.sh's settings file (``asterisk.sh env`` prints it)."""
        values: dict[str, str] = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            key, sep, value = line.partition("=")
            if sep:
                values[key.strip()] = value.strip()
        settings = AsteriskSettings(
            host=values.get("WAIHU_AMI_HOST", "127.0.0.1"),
            port=int(values.get("WAIHU_AMI_PORT", "5038")),
            username=values.get("WAIHU_AMI_USER", "waihu"),
            secret=values.get("WAIHU_AMI_SECRET", ""),
            trunk=values.get("WAIHU_ASTERISK_TRUNK", "loopback"),
            recordings_dir=values.get("WAIHU_ASTERISK_MONITOR_DIR", "/var/spool/asterisk/monitor"),
            number_rules=PBX_NUMBER_RULES,
            amd=True,
        )
        spool = Path(values.get("WAIHU_ASTERISK_RECORDINGS_DIR", settings.recordings_dir))
        return cls(settings, spool, agents)


@dataclass
class DemoResult:
    campaign_id: int
    calls: int
    answered: int
    abandoned: int
    outcomes: dict[str, int]
    replay_files: list[Path]
    review_state: str | None


def _demo_wall_start(zone: ZoneInfo) -> datetime:
    today = datetime.now(zone).date()
    return datetime.combine(today, time(10, 0), tzinfo=zone).astimezone(UTC)


#: each script's lead columns beside the phone (values drawn at random): what its prompts say
LEAD_COLUMNS: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    "mobile-newspaper-trial@2": {"name": ("王先生", "李女士", "张先生", "刘女士"), "city": ("无锡", "苏州")},
    "edu-survey-invite@2": {
        "name": ("王女士", "陈先生", "赵女士"),
        "student_name": ("小明", "小红", "乐乐", "天天"),
        "agent_name": ("李", "周"),
        "lead_school": ("实验小学", "育才小学", "东林小学"),
        "lead_grade": ("三年级", "四年级", "五年级"),
    },
}


def write_leads(path: Path, n: int, seed: int, columns: Mapping[str, Sequence[str]]) -> None:
    """Synthetic leads (CN mobiles and the script's columns) and one bad row, reported at import."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["phone", *columns])
        for _ in range(n):
            phone = f"1{rng.choice('3589')}{rng.randrange(10**9):09d}"
            out.writerow([phone, *(rng.choice(values) for values in columns.values())])
        out.writerow(["12345", *(values[0] for values in columns.values())])


def _write_pbx_leads(path: Path, n: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["phone", "name", "city"])
        for i in range(n):
            out.writerow([f"138{i:03d}{PBX_CUSTOMERS[i % len(PBX_CUSTOMERS)]}", f"客户{i:03d}", "无锡"])


async def _ensure_people(
    factory: async_sessionmaker[AsyncSession], vault: Vault, agents: tuple[str, ...] = DEMO_AGENTS
) -> int:
    async with factory() as session, session.begin():
        vendor = await session.scalar(select(Vendor).where(Vendor.code == "demo"))
        if vendor is None:
            vendor = Vendor(code="demo", name="演示外包公司", id_quota=20, created_at=utcnow())
            session.add(vendor)
            await session.flush()
        for work_id, role in [*((a, "agent") for a in agents), (DEMO_QA, "qa")]:
            if await session.get(User, work_id) is None:
                session.add(
                    User(
                        work_id=work_id,
                        name_enc=vault.encrypt(f"演示{work_id}"),
                        role=role,
                        vendor_id=vendor.id,
                        status="active",
                        skills=[],
                        must_change_password=True,
                        failed_logins=0,
                        created_at=utcnow(),
                    )
                )
        return vendor.id


def _progress(runner: CampaignRunner, started: float, keeper: RecordingKeeper | None = None) -> Table:
    stats = runner.stats
    table = Table(title=f"演示活动 · {runner.campaign.name}", show_header=False)
    if isinstance(runner.backend, AsteriskBackend):
        table.add_row("AMI", runner.backend.state.value)
        agents = (f"{s.work_id}:{s.state.value}" for s in runner.floor.slots.values())
        table.add_row("坐席 agents", " ".join(agents))
        table.add_row("结果 results", ", ".join(f"{k}:{v}" for k, v in sorted(stats.results.items())) or "—")
    answered = max(stats.answered, 1)
    table.add_row("已拨打 placed", str(stats.placed))
    table.add_row("已接通 answered", str(stats.answered))
    table.add_row("放弃率 abandon", f"{100 * stats.abandoned / answered:.1f}%")
    table.add_row("在通话 on call", str(len([c for c in runner.calls.values() if c.slot is not None])))
    table.add_row("结果 outcomes", ", ".join(f"{k}:{v}" for k, v in sorted(stats.outcomes.items())) or "—")
    if keeper is not None:
        table.add_row("录音 recordings", f"{len(keeper.stored)} stored")
    table.add_row("用时 elapsed", f"{runner.clock.now() - started:.0f} s")
    return table


async def run_demo(
    settings: Settings,
    engine: AsyncEngine,
    console: Console,
    *,
    leads: int,
    seed: int,
    pbx: AsteriskDemo | None = None,
) -> DemoResult:
    """The demo campaign on the simulator, or through Asterisk with ``pbx``."""
    await upgrade(engine)
    agents = pbx.agents if pbx is not None else DEMO_AGENTS
    vault = Vault.from_settings(settings)
    audit = AuditLog(vault.audit_key)
    factory = session_factory(engine)
    registry = FlowRegistry()
    zone = ZoneInfo(settings.timezone)
    vendor_id = await _ensure_people(factory, vault, agents)
    wall0 = _demo_wall_start(zone)
    name = f"demo-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    async with factory() as session, session.begin():
        campaign = await create_campaign(
            session,
            registry=registry,
            audit=audit,
            name=name,
            vendor_id=vendor_id,
            flow=FLOW,
            created_by="demo",
            agents=agents,
            dial_mode="progressive",
            timezone=settings.timezone,
            safe_harbor_message="您好，这里是无锡移动，稍后将再与您联系，如有需要请致电10086。",
            callback_number="10086",
            wrap_up_limit_seconds=30,
            now=wall0,
        )
    run_dir = Path("var") / "demo" / name
    csv_path = run_dir / "leads.csv"
    if pbx is not None:
        _write_pbx_leads(csv_path, leads)
    else:
        write_leads(csv_path, leads, seed, LEAD_COLUMNS[FLOW])
    report = await import_leads(factory, vault, campaign.id, csv_path, region=settings.default_region)
    console.print(f"导入名单 import: {report.summary()}")
    for issue in report.errors:
        console.print(f"  [yellow]{issue}[/yellow]")
    async with factory() as session, session.begin():
        # the demo's day starts at 10:00 (wall0): its leads are due then, whatever the hour it is run at
        await session.execute(update(Lead).where(Lead.campaign_id == campaign.id).values(next_attempt_at=wall0))
        await set_state(session, audit, campaign.id, "running", actor="demo", now=wall0)
        fresh = await session.get(Campaign, campaign.id)
        assert fresh is not None
        campaign = fresh

    clock = RealClock()
    floor = Floor(clock)
    recordings_dir = run_dir / "recordings"
    done: list[tuple[LiveCall, CallAttempt]] = []
    keeper: RecordingKeeper | None = None
    backend: TelephonyBackend
    if pbx is not None:
        from agents.softphone_cli import endpoint_of  # here: the simulator demo never loads pjsua2

        for work_id in agents:
            floor.add(work_id, endpoint_of(work_id))
        backend = AsteriskBackend(
            pbx.settings,
            speak=message_speaker(settings, host_dir=pbx.spool_dir, asterisk_dir=pbx.settings.recordings_dir),
        )
        keeper = RecordingKeeper(
            factory,
            spool_dir=pbx.spool_dir,
            store_dir=recordings_dir,
            retention=timedelta(days=settings.recording_retention_days),
        )
    else:
        for work_id in agents:
            floor.add(work_id, f"bot/{work_id}")
        backend = SimBackend(PROFILE, seed=seed, clock=clock)

    async def after_call(call: LiveCall, attempt: CallAttempt) -> None:
        if keeper is not None:  # Asterisk recorded it: collect the file once MixMonitor has closed it
            job = recording_job(call, campaign.vendor_id)
            if job is not None:
                keeper.collect(job)
            done.append((call, attempt))
            return
        if call.run is None:
            return
        await synth_recording(factory, settings, campaign, call, recordings_dir, runner.wall())
        done.append((call, attempt))

    start = clock.now()
    runner = CampaignRunner(
        campaign=campaign,
        engine=registry.engine(campaign.flow_id, campaign.flow_version),
        session_factory=factory,
        backend=backend,
        clock=clock,
        floor=floor,
        desk=BotDesk(clock, seed=seed, profile=PBX_BOTS if pbx is not None else BOTS),
        vault=vault,
        tick=0.25,
        ring_timeout=8.0,
        recordings_dir=pbx.settings.recordings_dir if pbx is not None else str(recordings_dir),
        wall=lambda: wall0 + timedelta(seconds=clock.now() - start),
        on_call_done=after_call,
    )
    if isinstance(backend, AsteriskBackend):
        await backend.start()  # a BackendError says AMI is not there: asterisk.sh start
    try:
        with Live(_progress(runner, start, keeper), console=console, refresh_per_second=4, transient=False) as live:
            task = asyncio.create_task(runner.run())
            try:
                while not task.done():
                    live.update(_progress(runner, start, keeper))
                    await asyncio.sleep(0.25)
                stats = await task
                if keeper is not None:
                    await keeper.drain()
            finally:
                if not task.done():
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
                if keeper is not None:
                    await keeper.aclose()
            live.update(_progress(runner, start, keeper))
    finally:
        if isinstance(backend, AsteriskBackend):
            await backend.aclose()
    async with factory() as session, session.begin():
        await set_state(session, audit, campaign.id, "completed", actor="demo", now=runner.wall())

    replays, review_state = await _qa(factory, audit, registry, vault, campaign, run_dir)
    return DemoResult(
        campaign.id, stats.finished, stats.answered, stats.abandoned, dict(stats.outcomes), replays, review_state
    )


async def call_record(session: AsyncSession, vault: Vault, attempt: CallAttempt, campaign: Campaign) -> CallRecord:
    """A stored call as the QA replay reads it."""
    events = (
        await session.scalars(
            select(CallEventRow).where(CallEventRow.call_id == attempt.call_id).order_by(CallEventRow.id)
        )
    ).all()
    captured: dict[str, Any] = json.loads(vault.decrypt(attempt.captured_enc)) if attempt.captured_enc else {}
    lead = await session.get(Lead, attempt.lead_id) if attempt.lead_id is not None else None
    variables = lead_variables(vault, lead)[1] if lead is not None else {}
    return CallRecord(
        call_id=attempt.call_id or "",
        vendor_id=campaign.vendor_id,
        work_id=attempt.work_id,
        campaign_id=campaign.id,
        started_at=attempt.started_at,
        answered_at=attempt.answered_at,
        ended_at=attempt.ended_at,
        outcome=attempt.outcome,
        flow_started_at=attempt.flow_started_at,
        transcript=[TranscriptEntry.from_dict(e) for e in attempt.transcript or []],
        events=[TelephonyEvent(e.at, e.kind, e.details) for e in events],
        variables=variables,
        captured=captured,
        tags=attempt.tags or [],
        wrap_up_seconds=attempt.wrap_up_seconds,
        wrap_up_limit_seconds=campaign.wrap_up_limit_seconds,
    )


async def _qa(
    factory: async_sessionmaker[AsyncSession],
    audit: AuditLog,
    registry: FlowRegistry,
    vault: Vault,
    campaign: Campaign,
    run_dir: Path,
) -> tuple[list[Path], str | None]:
    """A replay JSON per answered call, and one review taken through its states."""
    flow = registry.get(campaign.flow_id, campaign.flow_version)
    sheet = SheetRegistry().get("discipline").sheet
    qa = Viewer(DEMO_QA, campaign.vendor_id)
    paths: list[Path] = []
    review_state: str | None = None
    async with factory() as session, session.begin():
        attempts = (
            await session.scalars(
                select(CallAttempt)
                .where(CallAttempt.campaign_id == campaign.id, CallAttempt.work_id.is_not(None))
                .order_by(CallAttempt.id)
            )
        ).all()
        for attempt in attempts:
            record = await call_record(session, vault, attempt, campaign)
            recording = await session.scalar(select(RecordingFile).where(RecordingFile.call_id == attempt.call_id))
            log = await replay(session, audit, viewer=qa, flow=flow, record=record, recording=recording, mask=mask)
            path = run_dir / "replay" / f"{attempt.call_id}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(log, ensure_ascii=False, indent=2), encoding="utf-8")
            paths.append(path)
        if attempts:
            first = attempts[0]
            record = await call_record(session, vault, first, campaign)
            facts = CallFacts(
                flow, record.transcript, record.outcome, record.wrap_up_seconds, record.wrap_up_limit_seconds
            )
            call = reviews.CallRef(record.call_id, campaign.vendor_id, first.work_id or "", campaign.id, flow.ref)
            now = utcnow()
            review = await reviews.start_review(session, audit, viewer=qa, call=call, sheet=sheet, facts=facts, now=now)
            for item in sheet.items:
                if review.items[item.id]["points"] is None:
                    await reviews.score_item(session, review.id, viewer=qa, item_id=item.id, points=item.points)
            await reviews.submit(session, audit, review.id, viewer=qa, now=now)
            agent = Viewer(first.work_id or "", campaign.vendor_id)
            review = await reviews.respond(session, audit, review.id, agent=agent, accept=True, comment="已阅", now=now)
            review_state = f"{review.state} ({review.total}/{review.max_total})"
    return paths, review_state


@click.command("demo", help="A campaign end to end: import, dial, agents, recordings, replay, QA review.")
@click.option("--leads", type=click.IntRange(min=1), default=None, help="How many leads [sim: 40, asterisk: 12].")
@click.option("--seed", default=7, show_default=True, help="Seed of the simulator and the bots.")
@click.option(
    "--backend",
    type=click.Choice(["sim", "asterisk"]),
    default="sim",
    show_default=True,
    help="sim: the built-in simulator and bot agents; asterisk: the local Asterisk (deploy/asterisk/asterisk.sh "
    "start) and the agents' softphones (waihu softphone --work-id WORK_ID, which answers by default).",
)
@click.option(
    "--agents",
    default="A1001,A1002",
    show_default=True,
    help="asterisk: the work IDs whose softphones answer (comma-separated; A1001 is endpoint agent1001).",
)
@click.option(
    "--asterisk-env",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("var/asterisk/asterisk.env"),
    show_default=True,
    help="asterisk: the settings file asterisk.sh writes (AMI, secrets, recordings directory).",
)
def demo(leads: int | None, seed: int, backend: str, agents: str, asterisk_env: Path) -> None:
    settings = get_settings()
    console = Console()
    pbx: AsteriskDemo | None = None
    if backend == "asterisk":
        if not asterisk_env.is_file():
            raise click.ClickException(f"{asterisk_env} not found: run deploy/asterisk/asterisk.sh start first")
        work_ids = tuple(a.strip() for a in agents.split(",") if a.strip())
        if not work_ids:
            raise click.ClickException("--agents names no work ID")
        pbx = AsteriskDemo.from_env_file(asterisk_env, work_ids)
        console.print(
            f"Asterisk at {pbx.settings.host}:{pbx.settings.port}; agents {', '.join(work_ids)} "
            "(their softphones must be registered: waihu softphone --work-id WORK_ID)"
        )
    count = leads if leads is not None else (12 if pbx is not None else 40)

    async def work(engine: AsyncEngine) -> DemoResult:
        return await run_demo(settings, engine, console, leads=count, seed=seed, pbx=pbx)

    result = run_with_engine(settings, work)
    console.rule("演示结束 summary")
    console.print(
        f"campaign {result.campaign_id}: {result.calls} calls, {result.answered} answered, "
        f"{result.abandoned} abandoned; outcomes {result.outcomes}"
    )
    if result.replay_files:
        console.print(f"replay JSON: {result.replay_files[0].parent}/ ({len(result.replay_files)} calls)")
        console.print(f"recordings: {result.replay_files[0].parent.parent / 'recordings'}/")
    console.print(f"QA review of the first answered call: {result.review_state}")


@click.group("campaign", help="Campaigns (the HTTP API comes with its own issue).")
def campaign() -> None:
    pass


campaign.add_command(demo)
