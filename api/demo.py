"""``waihu demo`` / ``waihu campaign demo``: a whole campaign on the embedded defaults.

Synthetic leads are imported into a campaign on the mobile-newspaper script; bot agents take the
simulator's calls through the real runner, pacer, gates and lead leases on SQLite (or whatever
WAIHU_DATABASE_URL says); every answered call gets a recording with its script lines spoken at their
step times, a replay JSON, and one call goes through a QA review (draft → submitted → acknowledged).
The demo's wall clock starts at 10:00 in Shanghai today, inside the default calling windows,
whatever the real time is.

This lives in ``api`` because it wires every package together (the only package allowed to).
"""

from __future__ import annotations

import asyncio
import csv
import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
from rich.console import Console
from rich.live import Live
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from agents.models import User, Vendor
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
from recordings.sheets import SheetRegistry
from recordings.synth import lines_from_transcript, synthesize
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
FLOW = "mobile-newspaper-trial@1"
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


def _write_leads(path: Path, n: int, seed: int) -> None:
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["phone", "name", "city"])
        for i in range(n):
            out.writerow(
                [f"1{rng.choice('3589')}{rng.randrange(10**9):09d}", f"客户{i:03d}", rng.choice(["无锡", "苏州"])]
            )
        out.writerow(["12345", "坏号码", "无锡"])  # reported, not imported


async def _ensure_people(factory: async_sessionmaker[AsyncSession], vault: Vault) -> int:
    async with factory() as session, session.begin():
        vendor = await session.scalar(select(Vendor).where(Vendor.code == "demo"))
        if vendor is None:
            vendor = Vendor(code="demo", name="演示外包公司", id_quota=20, created_at=utcnow())
            session.add(vendor)
            await session.flush()
        for work_id, role in [*((a, "agent") for a in DEMO_AGENTS), (DEMO_QA, "qa")]:
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


def _progress(runner: CampaignRunner, started: float) -> Table:
    stats = runner.stats
    table = Table(title=f"演示活动 · {runner.campaign.name}", show_header=False)
    answered = max(stats.answered, 1)
    table.add_row("已拨打 placed", str(stats.placed))
    table.add_row("已接通 answered", str(stats.answered))
    table.add_row("放弃率 abandon", f"{100 * stats.abandoned / answered:.1f}%")
    table.add_row("在通话 on call", str(len([c for c in runner.calls.values() if c.slot is not None])))
    table.add_row("结果 outcomes", ", ".join(f"{k}:{v}" for k, v in sorted(stats.outcomes.items())) or "—")
    table.add_row("用时 elapsed", f"{runner.clock.now() - started:.0f} s")
    return table


async def run_demo(settings: Settings, engine: AsyncEngine, console: Console, *, leads: int, seed: int) -> DemoResult:
    await upgrade(engine)
    vault = Vault.from_settings(settings)
    audit = AuditLog(vault.audit_key)
    factory = session_factory(engine)
    registry = FlowRegistry()
    zone = ZoneInfo(settings.timezone)
    vendor_id = await _ensure_people(factory, vault)
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
            agents=DEMO_AGENTS,
            dial_mode="progressive",
            timezone=settings.timezone,
            safe_harbor_message="您好，这里是无锡移动，稍后将再与您联系，如有需要请致电10086。",
            callback_number="10086",
            wrap_up_limit_seconds=30,
            now=wall0,
        )
    run_dir = Path("var") / "demo" / name
    csv_path = run_dir / "leads.csv"
    _write_leads(csv_path, leads, seed)
    report = await import_leads(factory, vault, campaign.id, csv_path, region=settings.default_region)
    console.print(f"导入名单 import: {report.summary()}")
    for issue in report.errors:
        console.print(f"  [yellow]{issue}[/yellow]")
    async with factory() as session, session.begin():
        await set_state(session, audit, campaign.id, "running", actor="demo", now=wall0)
        fresh = await session.get(Campaign, campaign.id)
        assert fresh is not None
        campaign = fresh

    clock = RealClock()
    floor = Floor(clock)
    for work_id in DEMO_AGENTS:
        floor.add(work_id, f"bot/{work_id}")
    recordings_dir = run_dir / "recordings"
    done: list[tuple[LiveCall, CallAttempt]] = []

    async def after_call(call: LiveCall, attempt: CallAttempt) -> None:
        if call.run is None:
            return
        path = recordings_dir / f"{call.call_id}.wav"
        lines = lines_from_transcript(call.run.flow, call.run.transcript, call.run.render)
        if lines:
            await synthesize(lines, path)
            async with factory() as session, session.begin():
                session.add(
                    RecordingFile(
                        call_id=call.call_id,
                        vendor_id=campaign.vendor_id,
                        work_id=call.slot.work_id if call.slot else None,
                        path=str(path),
                        answer_offset=0.0,
                        created_at=runner.wall(),
                        expires_at=runner.wall() + timedelta(days=settings.recording_retention_days),
                    )
                )
        done.append((call, attempt))

    start = clock.now()
    runner = CampaignRunner(
        campaign=campaign,
        engine=registry.engine(campaign.flow_id, campaign.flow_version),
        session_factory=factory,
        backend=SimBackend(PROFILE, seed=seed, clock=clock),
        clock=clock,
        floor=floor,
        desk=BotDesk(clock, seed=seed, profile=BOTS),
        vault=vault,
        tick=0.25,
        ring_timeout=8.0,
        recordings_dir=str(recordings_dir),
        wall=lambda: wall0 + timedelta(seconds=clock.now() - start),
        on_call_done=after_call,
    )
    with Live(_progress(runner, start), console=console, refresh_per_second=4, transient=False) as live:
        task = asyncio.create_task(runner.run())
        while not task.done():
            live.update(_progress(runner, start))
            await asyncio.sleep(0.25)
        stats = await task
        live.update(_progress(runner, start))
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


@click.command("demo", help="A simulated campaign end to end: import, dial, bots, recordings, replay, QA review.")
@click.option("--leads", default=40, show_default=True, help="How many synthetic leads.")
@click.option("--seed", default=7, show_default=True, help="Seed of the simulator and the bots.")
def demo(leads: int, seed: int) -> None:
    settings = get_settings()
    console = Console()

    async def work(engine: AsyncEngine) -> DemoResult:
        return await run_demo(settings, engine, console, leads=leads, seed=seed)

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
