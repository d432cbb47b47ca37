"""Builders for the dialer's database tests: a migrated database with a vendor, work IDs and a campaign."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from agents.models import User, Vendor
from dialer.campaigns import create_campaign
from dialer.models import Campaign, Lead
from flows import FlowRegistry
from waihu.audit import AuditLog
from waihu.db import engine_from_url, session_factory
from waihu.migrate import upgrade
from waihu.vault import Vault

T0 = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


@dataclass
class World:
    engine: AsyncEngine
    factory: async_sessionmaker[AsyncSession]
    vault: Vault
    audit: AuditLog
    registry: FlowRegistry
    vendor_id: int
    other_vendor_id: int


async def make_world(engine: AsyncEngine) -> World:
    """Migrate, then add two vendors and a few work IDs (agent A1, trainee T1, QA Q1; X1 of the other vendor)."""
    await upgrade(engine)
    vault = Vault(os.urandom(32))
    factory = session_factory(engine)
    async with factory() as session, session.begin():
        vendor = Vendor(code="v1", name="Vendor One", id_quota=10, created_at=T0)
        other = Vendor(code="v2", name="Vendor Two", id_quota=10, created_at=T0)
        session.add_all([vendor, other])
        await session.flush()
        for work_id, role, vendor_id in (
            ("A1", "agent", vendor.id),
            ("A2", "agent", vendor.id),
            ("T1", "trainee", vendor.id),
            ("Q1", "qa", vendor.id),
            ("X1", "agent", other.id),
        ):
            session.add(
                User(
                    work_id=work_id,
                    name_enc=vault.encrypt(work_id),
                    role=role,
                    vendor_id=vendor_id,
                    status="active",
                    skills=[],
                    must_change_password=False,
                    failed_logins=0,
                    created_at=T0,
                )
            )
    return World(engine, factory, vault, AuditLog(vault.audit_key), FlowRegistry(), vendor.id, other.id)


async def make_campaign(world: World, name: str = "c1", **kwargs: Any) -> Campaign:
    async with world.factory() as session, session.begin():
        return await create_campaign(
            session,
            registry=world.registry,
            audit=world.audit,
            name=name,
            vendor_id=kwargs.pop("vendor_id", world.vendor_id),
            flow=kwargs.pop("flow", "edu-survey-invite@1"),
            created_by="L1",
            **kwargs,
        )


async def add_leads(world: World, campaign_id: int, phones: list[str], **fields: Any) -> list[Lead]:
    """Insert leads directly (no CSV), due at T0 unless told otherwise."""
    leads = []
    async with world.factory() as session, session.begin():
        for phone in phones:
            lead = Lead(
                campaign_id=campaign_id,
                phone_enc=world.vault.encrypt(phone),
                phone_hash=world.vault.lookup_hash(phone, "phone"),
                phone_masked=phone[:3] + "****" + phone[-4:],
                status="dialable",
                attempts=0,
                next_attempt_at=fields.get("next_attempt_at", T0),
                consent=fields.get("consent", False),
                timezone=fields.get("timezone"),
                created_at=T0,
            )
            session.add(lead)
            leads.append(lead)
    return leads


async def cli_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, campaign: str = "edu") -> None:
    """Point the ``waihu`` CLI (its settings come from the environment) at a new SQLite database in ``tmp_path``
    holding the world and one campaign named ``campaign``; the working directory is ``tmp_path``."""
    monkeypatch.chdir(tmp_path)
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    for name, value in (
        ("WAIHU_DATABASE_URL", url),
        ("WAIHU_KEY_FILE", str(tmp_path / "cli.key")),
        ("WAIHU_LOG_LEVEL", "WARNING"),
    ):
        monkeypatch.setenv(name, value)
    engine = engine_from_url(url)
    try:
        world = await make_world(engine)
        await make_campaign(world, name=campaign)
    finally:
        await engine.dispose()
