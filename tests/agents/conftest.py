"""Fixtures of the agents tests: a context with a cheap password hasher and a small site on a migrated database.

The site ("world"): vendors A and B, the client's admins ADM1 and ADM2, vendor A's team lead, ops
manager, two agents and a trainee, vendor B's team lead and agent; seats A-01, A-02 (vendor A), B-01
(vendor B) and X-01 (unallocated). Everyone's password is ``PASSWORD`` and fresh at ``T0``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from agents.context import AgentsContext
from agents.models import Seat, User, Vendor
from agents.permissions import ActorInfo
from waihu.audit import AuditLog
from waihu.db import session_factory
from waihu.migrate import upgrade
from waihu.settings import load_settings
from waihu.vault import Vault

#: Monday 2 March 2026, 10:00 in Shanghai (the default shift runs 09:00-18:00 there: 01:00-10:00 UTC)
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
PASSWORD = "Start1234abc"
BOOT = ActorInfo(work_id="boot", role="admin")


@pytest.fixture
def ctx(tmp_path: Path) -> AgentsContext:
    settings = load_settings(key_file=tmp_path / "waihu.key", database_url="sqlite+aiosqlite:///unused.db")
    vault = Vault.from_settings(settings)
    # the cheapest argon2id parameters: the tests check behaviour, not the cost
    hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    return AgentsContext(settings=settings, audit=AuditLog(vault.audit_key), vault=vault, hasher=hasher)


@dataclass
class World:
    ctx: AgentsContext
    factory: async_sessionmaker[AsyncSession]
    vendor_a: int
    vendor_b: int
    seat_a1: int
    seat_a2: int
    seat_b1: int
    seat_x: int

    def session(self) -> AsyncSession:
        return self.factory()

    async def user(self, work_id: str) -> User:
        async with self.factory() as session:
            user = await session.get(User, work_id)
            assert user is not None
            return user


USERS: dict[str, tuple[str, str | None]] = {
    "ADM1": ("admin", None),
    "ADM2": ("admin", None),
    "LA1": ("team_lead", "A"),
    "OA1": ("ops_manager", "A"),
    "QA1": ("qa", "A"),
    "AA1": ("agent", "A"),
    "AA2": ("agent", "A"),
    "TA1": ("trainee", "A"),
    "LB1": ("team_lead", "B"),
    "AB1": ("agent", "B"),
}


@pytest.fixture
async def world(ctx: AgentsContext, migrated_engine: AsyncEngine) -> World:
    """The site on SQLite and on PostgreSQL."""
    return await build_world(ctx, migrated_engine)


@pytest.fixture
async def sqlite_world(ctx: AgentsContext, sqlite_engine: AsyncEngine) -> World:
    """The site on SQLite only: for many variations of a rule that has no database-specific part."""
    await upgrade(sqlite_engine)
    return await build_world(ctx, sqlite_engine)


async def build_world(ctx: AgentsContext, engine: AsyncEngine) -> World:
    """The site, inserted directly (no audit rows: the services' own audit is what tests look at)."""
    factory = session_factory(engine)
    password_hash = ctx.hasher.hash(PASSWORD)
    async with factory() as session, session.begin():
        va = Vendor(code="A", name="Vendor A", id_quota=10, created_at=T0)
        vb = Vendor(code="B", name="Vendor B", id_quota=10, created_at=T0)
        session.add_all([va, vb])
        await session.flush()
        vendors = {"A": va.id, "B": vb.id}
        seats = {
            code: Seat(code=code, vendor_id=vendor, active=True)
            for code, vendor in (("A-01", va.id), ("A-02", va.id), ("B-01", vb.id), ("X-01", None))
        }
        session.add_all(seats.values())
        for work_id, (role, vendor_code) in USERS.items():
            session.add(
                User(
                    work_id=work_id,
                    name_enc=ctx.vault.encrypt("张三丰"),
                    role=role,
                    vendor_id=vendors[vendor_code] if vendor_code else None,
                    status="active",
                    skills=[],
                    permissions=None,
                    password_hash=password_hash,
                    password_changed_at=T0,
                    must_change_password=False,
                    failed_logins=0,
                    live_from=T0,
                    created_at=T0,
                )
            )
        await session.flush()
        ids = {code: seat.id for code, seat in seats.items()}
    return World(ctx, factory, va.id, vb.id, ids["A-01"], ids["A-02"], ids["B-01"], ids["X-01"])
