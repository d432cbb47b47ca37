"""Benchmark: many agents' consoles on websockets taking simulated calls through the real API.

    .venv/bin/python bench/console_load.py [--agents 200] [--seconds 120] [--think 1 3] [--wrap 1 2]

Seeds a fresh SQLite database (a vendor, a team lead, ``--agents`` agents logged in, a progressive
campaign on mobile-newspaper-trial@1 with 30 leads per agent, calling windows all day), starts
``waihu serve``'s app under uvicorn in a child process (simulated customers: api.dialing.LIVE_CUSTOMERS;
no synthesized recordings, which cost espeak-ng time beside the path measured), connects one
websocket per agent, starts the campaign with ``POST /campaigns/{id}/start`` and lets the agents work
for ``--seconds``: each says ready, and on a call pop walks the script, choosing a random option after
``--think`` seconds per screen, and says ready again after ``--wrap`` seconds of wrap-up.

Measured (issue 7: pop within 300 ms of the answer, next step within 50 ms of a choice):
- answer → pop: the console's receipt of ``call.pop`` minus the time the dialer stored for the
  customer's answer (the ``Answered`` event of the call's record; one clock, one machine);
- choice → next step: from sending ``choose`` to receiving ``call.step`` / ``call.ended``;
- CPU seconds of the server process and of this (client) process, the server's peak RSS.
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# run as a script, bench/ would be first on sys.path
sys.path[0] = str(Path(__file__).resolve().parents[1])

import httpx2  # noqa: E402
from argon2 import PasswordHasher  # noqa: E402
from sqlalchemy import select  # noqa: E402
from websockets.asyncio.client import ClientConnection, connect  # noqa: E402

from agents.auth import login  # noqa: E402
from agents.context import AgentsContext  # noqa: E402
from agents.models import User, Vendor  # noqa: E402
from dialer.campaigns import create_campaign  # noqa: E402
from dialer.leads import import_leads  # noqa: E402
from dialer.models import CallEventRow  # noqa: E402
from flows import FlowRegistry  # noqa: E402
from flows.coverage import sample_value  # noqa: E402
from waihu.audit import AuditLog  # noqa: E402
from waihu.db import engine_from_url, session_factory, utcnow  # noqa: E402
from waihu.migrate import upgrade  # noqa: E402
from waihu.settings import load_settings  # noqa: E402
from waihu.vault import Vault  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FLOW = ("mobile-newspaper-trial", 1)
PASSWORD = "Bench-passw0rd"
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def rss_peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


# --- the server (child process) --------------------------------------------------------------------


def serve(port: int) -> None:
    import uvicorn

    from api.app import create_app

    app = create_app(load_settings(), dialer_options={"record": False})
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", ws_max_queue=64)


# --- seeding ---------------------------------------------------------------------------------------


async def seed(env: dict[str, str], agents: int, tmp: Path) -> tuple[int, str, dict[str, str]]:
    settings = load_settings(database_url=env["WAIHU_DATABASE_URL"], key_file=Path(env["WAIHU_KEY_FILE"]))
    engine = engine_from_url(settings.database_url)
    await upgrade(engine)
    vault = Vault.from_settings(settings)
    hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    ctx = AgentsContext(settings=settings, audit=AuditLog(vault.audit_key), vault=vault, hasher=hasher)
    factory = session_factory(engine)
    now = utcnow()
    work_ids = [f"B{i:04d}" for i in range(agents)]
    async with factory() as session, session.begin():
        vendor = Vendor(code="bench", name="压测公司", id_quota=agents + 10, created_at=now)
        session.add(vendor)
        await session.flush()
        for work_id, role in [("BTL1", "team_lead"), *((w, "agent") for w in work_ids)]:
            session.add(
                User(
                    work_id=work_id,
                    name_enc=vault.encrypt(f"压测{work_id}"),
                    role=role,
                    vendor_id=vendor.id,
                    status="active",
                    skills=[],
                    password_hash=hasher.hash(PASSWORD),
                    password_changed_at=now,
                    must_change_password=False,
                    failed_logins=0,
                    live_from=now,
                    created_at=now,
                )
            )
        await session.flush()
        campaign = await create_campaign(
            session,
            registry=FlowRegistry(),
            audit=ctx.audit,
            name="console-load",
            vendor_id=vendor.id,
            flow=f"{FLOW[0]}@{FLOW[1]}",
            created_by="BTL1",
            agents=work_ids,
            calling_windows=[["00:00", "23:59"]],
            now=now,
        )
        campaign_id = campaign.id
    leads = tmp / "leads.csv"
    rng = random.Random(7)
    rows = [f"1{rng.choice('3589')}{rng.randrange(10**9):09d},客户{i}" for i in range(agents * 30)]
    leads.write_text("phone,name\n" + "\n".join(rows) + "\n", encoding="utf-8")
    await import_leads(factory, vault, campaign_id, leads, region="CN", workers=0)
    tokens: dict[str, str] = {}
    for work_id in ["BTL1", *work_ids]:
        async with factory() as session:
            tokens[work_id] = (await login(ctx, session, work_id, PASSWORD, seat_id=None, now=utcnow())).token
    await engine.dispose()
    return campaign_id, tokens.pop("BTL1"), tokens


async def answered_at(env: dict[str, str]) -> dict[str, float]:
    engine = engine_from_url(env["WAIHU_DATABASE_URL"])
    async with session_factory(engine)() as session:
        answered = select(CallEventRow.call_id, CallEventRow.at).where(CallEventRow.kind == "Answered")
        rows = await session.execute(answered)
        found = {call_id: at.timestamp() for call_id, at in rows}
    await engine.dispose()
    return found


# --- the consoles ----------------------------------------------------------------------------------


@dataclass
class Results:
    pops: dict[str, float] = field(default_factory=dict)
    choice_ms: list[float] = field(default_factory=list)
    calls_ended: int = 0
    errors: list[str] = field(default_factory=list)


async def console(
    url: str, token: str, results: Results, stop: asyncio.Event, rng: random.Random, args: argparse.Namespace
) -> None:
    flow = FlowRegistry().get(*FLOW)
    async with connect(url, additional_headers={"Authorization": f"Bearer {token}"}, max_size=2**20) as ws:

        async def receive() -> dict[str, Any]:
            message: dict[str, Any] = json.loads(await ws.recv())
            if message.get("type") == "error":
                results.errors.append(str(message.get("error_id")))
            return message

        await ws.send(json.dumps({"type": "state", "state": "ready"}))
        while not stop.is_set():
            try:
                message = await asyncio.wait_for(receive(), timeout=0.5)
            except TimeoutError:
                continue
            if message.get("type") != "call.pop":
                continue
            results.pops[message["call_id"]] = time.time()
            await work_call(ws, message, flow, results, rng, args, receive)
            await asyncio.sleep(rng.uniform(*args.wrap))
            await ws.send(json.dumps({"type": "ready"}))


async def work_call(
    ws: ClientConnection,
    pop: dict[str, Any],
    flow: Any,
    results: Results,
    rng: random.Random,
    args: argparse.Namespace,
    receive: Any,
) -> None:
    step = pop["step"]
    while True:
        await asyncio.sleep(rng.uniform(*args.think))
        options = step["options"]
        option = rng.choice(options)
        state = flow.states[step["state"]]
        chosen = next(o for o in state.options if o.index == option["index"])
        values = {} if chosen.skip_capture else {f.name: sample_value(f) for f in state.capture if f.required}
        sent = time.perf_counter()
        await ws.send(json.dumps({"type": "choose", "option": option["index"], "values": values}))
        while True:
            message = await receive()
            if message.get("type") in ("call.step", "call.ended", "error"):
                break
        results.choice_ms.append((time.perf_counter() - sent) * 1000)
        if message["type"] == "call.ended":
            results.calls_ended += 1
            while message.get("type") != "wrap_up":
                message = await receive()
            return
        if message["type"] == "call.step":
            step = message["step"]


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="waihu-console-load-"))
    env = {
        **os.environ,
        "WAIHU_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'load.db'}",
        "WAIHU_KEY_FILE": str(tmp / "load.key"),
        "WAIHU_RECORDINGS_DIR": str(tmp / "recordings"),
        "WAIHU_LOG_LEVEL": "WARNING",
    }
    campaign_id, lead_token, tokens = await seed(env, args.agents, tmp)
    server = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve", str(args.port), env=env, cwd=REPO
    )
    base = f"http://127.0.0.1:{args.port}"
    try:
        async with httpx2.AsyncClient(base_url=base, timeout=30) as http:
            for _ in range(200):
                try:
                    if (await http.get("/status")).status_code == 200:
                        break
                except httpx2.TransportError:
                    pass
                await asyncio.sleep(0.1)
            results = Results()
            stop = asyncio.Event()
            rng = random.Random(args.seed)
            url = f"ws://127.0.0.1:{args.port}/ws/agent"
            tasks = [
                asyncio.create_task(console(url, token, results, stop, random.Random(rng.random()), args))
                for token in tokens.values()
            ]
            await asyncio.sleep(1.0)
            cpu0_server, cpu0_client = cpu_seconds(server.pid), time.process_time()
            started = await http.post(
                f"/campaigns/{campaign_id}/start", headers={"Authorization": f"Bearer {lead_token}"}
            )
            assert started.status_code == 200, started.text
            await asyncio.sleep(args.seconds)
            cpu_server = cpu_seconds(server.pid) - cpu0_server
            cpu_client = time.process_time() - cpu0_client
            stop.set()
            await http.post(f"/campaigns/{campaign_id}/stop", headers={"Authorization": f"Bearer {lead_token}"})
            await asyncio.gather(*tasks, return_exceptions=True)
            rss = rss_peak_mb(server.pid)
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), timeout=30)
    answers = await answered_at(env)
    pop_ms = [(at - answers[cid]) * 1000 for cid, at in results.pops.items() if cid in answers]
    return {
        "bench": "console_load",
        "agents": args.agents,
        "seconds": args.seconds,
        "think_s": args.think,
        "calls_popped": len(results.pops),
        "calls_finished_by_agents": results.calls_ended,
        "choices": len(results.choice_ms),
        "answer_to_pop_ms_p50": pct(pop_ms, 0.50),
        "answer_to_pop_ms_p99": pct(pop_ms, 0.99),
        "answer_to_pop_ms_max": round(max(pop_ms), 2) if pop_ms else None,
        "choice_to_step_ms_p50": pct(results.choice_ms, 0.50),
        "choice_to_step_ms_p99": pct(results.choice_ms, 0.99),
        "choice_to_step_ms_mean": round(statistics.fmean(results.choice_ms), 2) if results.choice_ms else None,
        "server_cpu_s": round(cpu_server, 2),
        "client_cpu_s": round(cpu_client, 2),
        "server_rss_peak_mb": rss,
        "errors": sorted(set(results.errors)),
        "machine": f"{platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}",
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
    }


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--think", type=float, nargs=2, default=(1.0, 3.0), metavar=("LOW", "HIGH"))
    parser.add_argument("--wrap", type=float, nargs=2, default=(1.0, 2.0), metavar=("LOW", "HIGH"))
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=1)
    print(json.dumps(asyncio.run(main_async(parser.parse_args())), ensure_ascii=False))


if __name__ == "__main__":
    main()
