"""Benchmark: import a big CSV of leads on SQLite and on PostgreSQL.

    .venv/bin/python bench/lead_import.py [--rows 1000000] [--db sqlite,postgres] [--workers N]

Generates N rows (synthetic CN mobiles, a name, two extra columns; ~1% bad numbers, ~1%
duplicates), then imports them with ``dialer.leads.import_leads`` into a fresh SQLite file and into
a fresh PostgreSQL schema (``WAIHU_TEST_PG_URL`` or postgresql+asyncpg://root@127.0.0.1:5432/test;
the schema is dropped afterwards). Prints one JSON line per database. Target (issue 4): ≥ 20,000
rows/s on both.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import platform
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

# run as a script, bench/ would be first on sys.path
sys.path[0] = str(Path(__file__).resolve().parents[1])

from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402

from agents.models import Vendor  # noqa: E402
from dialer.campaigns import create_campaign  # noqa: E402
from dialer.leads import import_leads  # noqa: E402
from dialer.models import Lead  # noqa: E402
from flows import FlowRegistry  # noqa: E402
from waihu.audit import AuditLog  # noqa: E402
from waihu.db import engine_from_url, session_factory, utcnow  # noqa: E402
from waihu.migrate import upgrade  # noqa: E402
from waihu.vault import Vault  # noqa: E402

DEFAULT_PG_URL = "postgresql+asyncpg://root@127.0.0.1:5432/test"
_PREFIXES = ("130", "131", "132", "135", "136", "137", "138", "139", "150", "151", "158", "159", "186", "188", "199")
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚"
_CITIES = ("赣州", "南昌", "北京", "上海", "深圳", "广州", "杭州")


def generate(path: Path, rows: int, seed: int) -> None:
    """Write the CSV: ~1% invalid numbers, ~1% repeats of an earlier number."""
    rnd = random.Random(seed)
    earlier: list[str] = []
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["phone", "name", "city", "grade", "consent"])
        for i in range(rows):
            roll = rnd.random()
            if roll < 0.01:
                phone = "1" + str(rnd.randrange(10**8, 10**9))  # 10 digits: invalid
            elif roll < 0.02 and earlier:
                phone = rnd.choice(earlier)
            else:
                phone = rnd.choice(_PREFIXES) + f"{i:08d}"  # unique by construction
                if len(earlier) < 10_000:
                    earlier.append(phone)
            name = rnd.choice(_SURNAMES) + rnd.choice(_GIVEN)
            out.writerow([phone, name, rnd.choice(_CITIES), str(rnd.randint(1, 9)), "1" if roll < 0.5 else "0"])


async def _prepare(engine: AsyncEngine, vault: Vault) -> int:
    await upgrade(engine)
    audit = AuditLog(vault.audit_key)
    async with session_factory(engine)() as session, session.begin():
        vendor = Vendor(code="bench", name="bench", id_quota=10, created_at=utcnow())
        session.add(vendor)
        await session.flush()
        campaign = await create_campaign(
            session,
            registry=FlowRegistry(),
            audit=audit,
            name="bench",
            vendor_id=vendor.id,
            flow="edu-survey-invite@1",
            created_by="bench",
        )
        return campaign.id


async def run_one(
    label: str, engine: AsyncEngine, vault: Vault, csv_path: Path, workers: int | None
) -> dict[str, object]:
    campaign_id = await _prepare(engine, vault)
    factory = session_factory(engine)
    started = time.perf_counter()
    report = await import_leads(factory, vault, campaign_id, csv_path, region="CN", workers=workers)
    elapsed = time.perf_counter() - started
    async with factory() as session:
        landed = await session.scalar(select(func.count()).select_from(Lead).where(Lead.campaign_id == campaign_id))
    return {
        "db": label,
        "rows": report.rows,
        "imported": report.imported,
        "landed": landed,
        "errors": len(report.errors),
        "duplicates": len(report.duplicates),
        "seconds": round(elapsed, 2),
        "rows_per_s": round(report.rows / elapsed),
    }


async def main_async(args: argparse.Namespace) -> None:
    vault = Vault(os.urandom(32))
    with tempfile.TemporaryDirectory(prefix="waihu-bench-") as tmp:
        csv_path = Path(tmp) / "leads.csv"
        t0 = time.perf_counter()
        generate(csv_path, args.rows, args.seed)
        size_mb = csv_path.stat().st_size / 1e6
        print(
            f"# generated {args.rows} rows ({size_mb:.0f} MB) in {time.perf_counter() - t0:.1f} s;"
            f" {platform.python_version()}, {os.cpu_count()} CPUs",
            file=sys.stderr,
        )
        for db in args.db.split(","):
            if db == "sqlite":
                engine = engine_from_url(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
                try:
                    print(json.dumps(await run_one("sqlite", engine, vault, csv_path, args.workers)), flush=True)
                finally:
                    await engine.dispose()
            elif db == "postgres":
                url = os.environ.get("WAIHU_TEST_PG_URL", DEFAULT_PG_URL)
                schema = f"waihu_bench_{uuid.uuid4().hex[:8]}"
                admin = engine_from_url(url, poolclass=NullPool)
                async with admin.begin() as conn:
                    await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
                engine = engine_from_url(url, connect_args={"server_settings": {"search_path": schema}})
                try:
                    print(json.dumps(await run_one("postgres", engine, vault, csv_path, args.workers)), flush=True)
                finally:
                    await engine.dispose()
                    async with admin.begin() as conn:
                        await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                    await admin.dispose()
            else:
                raise SystemExit(f"unknown database {db!r}: use sqlite and/or postgres")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--db", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument("--workers", type=int, default=None, help="preparing processes (default: auto)")
    parser.add_argument("--seed", type=int, default=1)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
