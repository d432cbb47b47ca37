"""Helpers of the site-operations tests: register and issue assets, insert logins at seats."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from agents.assets.issuing import confirm_issue_list, create_issue_list
from agents.assets.registry import place_asset, register_asset
from agents.models import AgentStateChange, AuthSession
from waihu.models import AuditEntry

from .conftest import T0, World


async def register(world: World, tag: str, kind: str = "computer", value: str | None = "4000.00", **kw: str) -> int:
    admin = await world.user("ADM1")
    async with world.session() as session, session.begin():
        asset = await register_asset(
            world.ctx,
            session,
            admin,
            tag=tag,
            kind=kind,
            value=Decimal(value) if value is not None else None,
            now=T0,
            work_id=kw.get("work_id"),
        )
        return asset.id


async def issue(world: World, vendor_id: int, asset_ids: list[int], *, at: datetime = T0, lead: str = "LA1") -> int:
    """Issue assets to a vendor: the client lists them, the vendor's team lead confirms."""
    admin, confirmer = await world.user("ADM1"), await world.user(lead)
    async with world.session() as session, session.begin():
        issue_list = await create_issue_list(
            world.ctx, session, admin, vendor_id=vendor_id, asset_ids=asset_ids, now=at
        )
        list_id = issue_list.id
    async with world.session() as session, session.begin():
        await confirm_issue_list(world.ctx, session, confirmer, list_id, now=at, document_ref="盖章-001")
    return list_id


async def place(
    world: World, asset_id: int, *, seat: int | None = None, holder: str | None = None, lead: str = "LA1"
) -> None:
    actor = await world.user(lead)
    async with world.session() as session, session.begin():
        await place_asset(world.ctx, session, actor, asset_id, now=T0, seat_id=seat, holder_work_id=holder)


async def stint(
    world: World,
    work_id: str,
    seats: list[tuple[int, datetime]],
    end: datetime | None,
) -> int:
    """A login, written as the auth service writes it: logged_in at the first seat, a state row at each seat
    change (the session row keeps its latest seat), logged_out at the end (if any).
    """
    start = seats[0][1]
    async with world.session() as session, session.begin():
        auth = AuthSession(
            token_hash=secrets.token_hex(32),
            work_id=work_id,
            seat_id=seats[-1][0],
            started_at=start,
            expires_at=(end or start) + timedelta(days=2),
            last_seen_at=end or start,
            ended_at=end,
            end_reason="logout" if end else None,
        )
        session.add(auth)
        await session.flush()
        rows = [("logged_in", seats[0][0], start), ("ready", seats[0][0], start + timedelta(minutes=1))]
        rows += [("ready", seat, at) for seat, at in seats[1:]]
        if end is not None:
            rows.append(("logged_out", seats[-1][0], end))
        session.add_all(
            AgentStateChange(work_id=work_id, session_id=auth.id, seat_id=seat, state=state, at=at)
            for state, seat, at in rows
        )
        return auth.id


async def audit_actions(world: World, target: str) -> list[tuple[str, str]]:
    async with world.session() as session:
        rows = await session.execute(
            select(AuditEntry.actor, AuditEntry.action).where(AuditEntry.target == target).order_by(AuditEntry.seq)
        )
        return [(actor, action) for actor, action in rows.all()]
