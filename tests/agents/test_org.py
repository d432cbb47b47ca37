"""Vendors, quota, seats and seat loans (第十条, 14.5), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from agents.errors import PermissionDenied, RuleViolation
from agents.lifecycle import request_change
from agents.org import (
    active_id_count,
    allocate_seat,
    create_vendor,
    decide_seat_loan,
    request_seat_loan,
    seat_usable_by,
    set_vendor_quota,
)
from agents.users import list_users, show_user
from waihu.models import AuditEntry

from .conftest import T0, World


async def test_vendor_creation_is_admin_only_and_audited(world: World) -> None:
    lead = await world.user("LA1")
    admin = await world.user("ADM1")
    async with world.session() as session, session.begin():
        with pytest.raises(PermissionDenied):
            await create_vendor(world.ctx, session, lead, code="C", name="Vendor C", quota=5, now=T0)
    async with world.session() as session, session.begin():
        vendor = await create_vendor(world.ctx, session, admin, code="C", name="Vendor C", quota=5, now=T0)
        assert vendor.id_quota == 5
    async with world.session() as session:
        entry = (await session.execute(select(AuditEntry).where(AuditEntry.target == "vendor:C"))).scalar_one()
        assert (entry.actor, entry.action) == ("ADM1", "vendor.create")
        with pytest.raises(RuleViolation):
            await create_vendor(world.ctx, session, admin, code="C", name="again", quota=1, now=T0)


async def test_quota_refuses_a_trainee_id_beyond_it(world: World) -> None:
    admin = await world.user("ADM1")
    lead = await world.user("LA1")
    async with world.session() as session, session.begin():
        used = await active_id_count(session, world.vendor_a)
        assert used == 6
        await set_vendor_quota(world.ctx, session, admin, world.vendor_a, used + 1, now=T0)
    async with world.session() as session, session.begin():
        await request_change(
            world.ctx,
            session,
            lead,
            kind="create_trainee",
            work_id="TA9",
            name="李四",
            effective_at=T0,
            reason="new hire",
            now=T0,
        )
    async with world.session() as session, session.begin():
        with pytest.raises(RuleViolation) as caught:
            await request_change(
                world.ctx,
                session,
                lead,
                kind="create_trainee",
                work_id="TA10",
                name="王五",
                effective_at=T0,
                reason="new hire",
                now=T0,
            )
    assert caught.value.error_id == "agents.quota_exceeded"
    assert caught.value.details["quota"] == used + 1


async def test_a_lead_sees_only_the_own_vendors_users(world: World) -> None:
    lead_a = await world.user("LA1")
    admin = await world.user("ADM1")
    async with world.session() as session:
        seen = {v.work_id for v in await list_users(world.ctx, session, lead_a)}
        assert seen == {"LA1", "OA1", "QA1", "AA1", "AA2", "TA1"}
        assert all(v.name_masked == "张**" for v in await list_users(world.ctx, session, lead_a))
        with pytest.raises(PermissionDenied):
            await show_user(world.ctx, session, lead_a, "AB1")
        with pytest.raises(PermissionDenied):
            await show_user(world.ctx, session, lead_a, "ADM1")
        assert (await show_user(world.ctx, session, admin, "AB1")).work_id == "AB1"
        assert len(await list_users(world.ctx, session, admin)) == 10


async def test_seats_are_usable_by_their_vendor_and_by_others_only_during_an_approved_loan(world: World) -> None:
    lead_a = await world.user("LA1")
    admin = await world.user("ADM1")
    start, end = T0 + timedelta(hours=1), T0 + timedelta(hours=5)
    async with world.session() as session:
        assert await seat_usable_by(session, world.seat_b1, world.vendor_b, T0)
        assert not await seat_usable_by(session, world.seat_b1, world.vendor_a, T0)
        assert await seat_usable_by(session, world.seat_b1, None, T0)  # the client's admins
    async with world.session() as session, session.begin():
        loan = await request_seat_loan(
            world.ctx, session, lead_a, world.seat_b1, starts_at=start, ends_at=end, reason="B has free seats", now=T0
        )
        assert not await seat_usable_by(session, world.seat_b1, world.vendor_a, start)  # pending
        with pytest.raises(PermissionDenied):
            await decide_seat_loan(world.ctx, session, lead_a, loan.id, approve=True, now=T0)
        await decide_seat_loan(world.ctx, session, admin, loan.id, approve=True, now=T0)
    async with world.session() as session:
        assert not await seat_usable_by(session, world.seat_b1, world.vendor_a, start - timedelta(microseconds=1))
        assert await seat_usable_by(session, world.seat_b1, world.vendor_a, start)
        assert await seat_usable_by(session, world.seat_b1, world.vendor_a, end - timedelta(microseconds=1))
        assert not await seat_usable_by(session, world.seat_b1, world.vendor_a, end)
        actions = (await session.execute(select(AuditEntry.action).order_by(AuditEntry.seq))).scalars().all()
        assert actions[-2:] == ["seat.loan.request", "seat.loan.approve"]


async def test_seat_loans_are_refused_for_own_seats_and_agents(world: World) -> None:
    lead_a = await world.user("LA1")
    agent = await world.user("AA1")
    async with world.session() as session:
        with pytest.raises(RuleViolation):
            await request_seat_loan(
                world.ctx,
                session,
                lead_a,
                world.seat_a1,
                starts_at=T0,
                ends_at=T0 + timedelta(hours=1),
                reason="x",
                now=T0,
            )
        with pytest.raises(PermissionDenied):
            await request_seat_loan(
                world.ctx,
                session,
                agent,
                world.seat_b1,
                starts_at=T0,
                ends_at=T0 + timedelta(hours=1),
                reason="x",
                now=T0,
            )


async def test_only_the_client_allocates_seats(world: World) -> None:
    lead_a = await world.user("LA1")
    admin = await world.user("ADM1")
    async with world.session() as session, session.begin():
        with pytest.raises(PermissionDenied):
            await allocate_seat(world.ctx, session, lead_a, world.seat_x, world.vendor_a, now=T0)
        await allocate_seat(world.ctx, session, admin, world.seat_x, world.vendor_a, now=T0)
        assert await seat_usable_by(session, world.seat_x, world.vendor_a, T0)
