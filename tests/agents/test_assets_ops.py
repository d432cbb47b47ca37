"""Daily inspections (12.2), the monthly rates (12.1, 13.1) and off-boarding before a deletion (2.5)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from agents.assets.damage import report_damage
from agents.assets.inspections import SeatCheck, missing_inspections, missing_this_morning, record_inspection
from agents.assets.offboarding import check_back_asset, offboarding_checklist, record_document, return_document
from agents.assets.rates import month_rates
from agents.assets.registry import get_asset
from agents.errors import PermissionDenied, RuleViolation
from agents.lifecycle import apply_due, decide_change, request_change
from agents.models import ChangeRequest, FaultReport

from .assets_helpers import audit_actions, issue, place, register
from .conftest import T0, World

DAY = timedelta(days=1)
MONDAY = date(2026, 3, 2)  # T0's local day


async def test_an_inspection_covers_every_seat_and_files_faults(world: World) -> None:
    lead = await world.user("LA1")
    pc = await register(world, "PC-001")
    await issue(world, world.vendor_a, [pc])
    async with world.session() as session:
        with pytest.raises(RuleViolation) as caught:
            await record_inspection(
                world.ctx,
                session,
                lead,
                vendor_id=world.vendor_a,
                day=MONDAY,
                checks=[SeatCheck(world.seat_a1, "ok")],
                now=T0,
            )
        assert caught.value.error_id == "agents.inspection_incomplete"
        assert caught.value.details["seats"] == ["A-02"]
        with pytest.raises(RuleViolation):  # a fault without a note
            await record_inspection(
                world.ctx,
                session,
                lead,
                vendor_id=world.vendor_a,
                day=MONDAY,
                checks=[SeatCheck(world.seat_a1, "ok"), SeatCheck(world.seat_a2, "fault")],
                now=T0,
            )
        with pytest.raises(RuleViolation):  # another vendor's seat
            await record_inspection(
                world.ctx,
                session,
                lead,
                vendor_id=world.vendor_a,
                day=MONDAY,
                checks=[SeatCheck(world.seat_a1, "ok"), SeatCheck(world.seat_a2, "ok"), SeatCheck(world.seat_b1, "ok")],
                now=T0,
            )
        with pytest.raises(PermissionDenied):
            await record_inspection(world.ctx, session, lead, vendor_id=world.vendor_b, day=MONDAY, checks=[], now=T0)
        with pytest.raises(RuleViolation):  # a day to come
            await record_inspection(
                world.ctx, session, lead, vendor_id=world.vendor_a, day=MONDAY + DAY, checks=[], now=T0
            )
    checks = [SeatCheck(world.seat_a1, "ok"), SeatCheck(world.seat_a2, "fault", note="电脑蓝屏", asset_id=pc)]
    async with world.session() as session, session.begin():
        inspection = await record_inspection(
            world.ctx, session, lead, vendor_id=world.vendor_a, day=MONDAY, checks=checks, now=T0
        )
        inspection_id = inspection.id
    async with world.session() as session:
        faults = (await session.execute(select(FaultReport))).scalars().all()
        assert [(f.seat_id, f.asset_id, f.reported_by) for f in faults] == [(world.seat_a2, pc, "LA1")]
        with pytest.raises(RuleViolation) as caught:
            await record_inspection(
                world.ctx, session, lead, vendor_id=world.vendor_a, day=MONDAY, checks=checks, now=T0
            )
        assert caught.value.error_id == "agents.inspection_exists"
    assert await audit_actions(world, f"vendor:{world.vendor_a}") == [("LA1", "inspection.record")]
    assert inspection_id


async def test_a_missing_inspection_shows_on_the_desk_next_morning(world: World) -> None:
    lead_a, lead_b, admin = await world.user("LA1"), await world.user("LB1"), await world.user("ADM1")
    async with world.session() as session, session.begin():
        await record_inspection(
            world.ctx,
            session,
            lead_a,
            vendor_id=world.vendor_a,
            day=MONDAY,
            checks=[SeatCheck(world.seat_a1, "ok"), SeatCheck(world.seat_a2, "damaged", note="耳麦线断")],
            now=T0,
        )
    tuesday_morning = datetime(2026, 3, 3, 0, 30, tzinfo=UTC)  # 08:30 in Shanghai
    async with world.session() as session:
        assert await missing_this_morning(world.ctx, session, lead_a, now=tuesday_morning) == []
        [missing] = await missing_this_morning(world.ctx, session, lead_b, now=tuesday_morning)
        assert (missing.vendor_code, missing.day, missing.seat_codes) == ("B", MONDAY, ["B-01"])
        assert [m.vendor_code for m in await missing_inspections(session, admin, day=MONDAY)] == ["B"]
        assert [m.vendor_code for m in await missing_inspections(session, admin, day=MONDAY + DAY)] == ["A", "B"]
        # a day that is not a working day misses nothing
        assert await missing_inspections(session, admin, day=MONDAY, weekdays=frozenset({1, 2, 3, 4, 5})) == []


async def test_monthly_rates_with_the_assets_behind_each_number(world: World) -> None:
    tags = [f"PC-{i:03}" for i in range(1, 5)]
    ids = [await register(world, tag) for tag in tags]
    desk = await register(world, "DK-001", "desk", "800.00")
    await issue(world, world.vendor_a, [*ids, desk])
    late = await register(world, "PC-099")
    await issue(world, world.vendor_a, [late], at=datetime(2026, 4, 1, 1, 0, tzinfo=UTC))  # April in Shanghai
    march_5 = datetime(2026, 3, 5, 3, 0, tzinfo=UTC)
    lead = await world.user("LA1")
    async with world.session() as session, session.begin():
        await report_damage(
            world.ctx, session, lead, ids[0], kind="damage", cause="human", description="踩坏", now=march_5
        )
        await report_damage(world.ctx, session, lead, ids[1], kind="loss", description="丢失", now=march_5)
    other_lead = await world.user("LB1")
    async with world.session() as session:
        march = await month_rates(world.ctx, session, lead, vendor_id=world.vendor_a, year=2026, month=3)
        april = await month_rates(world.ctx, session, lead, vendor_id=world.vendor_a, year=2026, month=4)
        with pytest.raises(PermissionDenied):
            await month_rates(world.ctx, session, other_lead, vendor_id=world.vendor_a, year=2026, month=3)
    loss = march.it_loss
    assert (loss.count, loss.base, loss.rate, loss.met) == (2, 4, Decimal("0.5000"), False)
    assert [a.tag for a in loss.assets] == ["PC-001", "PC-002"]
    assert loss.base_tags == tags
    assert [(a.tag, a.causes) for a in march.human_damage.assets] == [("PC-001", ["human"])]
    assert (march.human_damage.count, march.human_damage.met) == (1, False)
    assert (march.fixed_damage.count, march.fixed_damage.base, march.fixed_damage.met) == (0, 1, True)
    # April: the lost PC is gone, the damaged one still held, the late one issued; nothing happened
    assert (april.it_loss.count, april.it_loss.base_tags, april.it_loss.met) == (
        0,
        ["PC-001", "PC-003", "PC-004", "PC-099"],
        True,
    )


async def _delete_request(world: World, work_id: str) -> tuple[int, datetime]:
    effective = T0 + 3 * DAY
    lead, admin = await world.user("LA1"), await world.user("ADM1")
    async with world.session() as session, session.begin():
        request = await request_change(
            world.ctx,
            session,
            lead,
            kind="delete",
            work_id=work_id,
            effective_at=effective,
            reason="离职",
            now=T0,
        )
        request_id = request.id
    async with world.session() as session, session.begin():
        await decide_change(world.ctx, session, admin, request_id, approve=True, now=T0)
    return request_id, effective


async def _apply(world: World, now: datetime) -> list[int]:
    async with world.session() as session, session.begin():
        return await apply_due(world.ctx, session, now)


async def test_a_deletion_waits_until_everything_is_handed_back(world: World) -> None:
    headset = await register(world, "HS-001", "headset", "120.00")
    own_id = await register(world, "ID-AA1", "work_id", None, work_id="AA1")
    await issue(world, world.vendor_a, [headset, own_id])
    await place(world, headset, holder="AA1")
    await place(world, own_id, holder="AA1")
    lead = await world.user("LA1")
    async with world.session() as session, session.begin():
        document = await record_document(world.ctx, session, lead, "AA1", title="外呼业务流程手册", now=T0)
        document_id = document.id
    request_id, effective = await _delete_request(world, "AA1")
    other_lead = await world.user("LB1")
    async with world.session() as session:
        checklist = await offboarding_checklist(session, lead, "AA1")
        assert [i.label for i in checklist.outstanding] == ["headset HS-001", "外呼业务流程手册"]
        with pytest.raises(PermissionDenied):
            await offboarding_checklist(session, other_lead, "AA1")
    assert await _apply(world, effective) == []
    assert await _apply(world, effective + DAY) == []  # still out: retried, noted once
    async with world.session() as session:
        request = await session.get(ChangeRequest, request_id)
        assert request is not None
        assert request.status == "approved"
        assert request.outcome_note is not None
        assert "HS-001" in request.outcome_note
        assert "外呼业务流程手册" in request.outcome_note
    assert (await world.user("AA1")).status == "active"
    async with world.session() as session, session.begin():
        await check_back_asset(world.ctx, session, lead, headset, now=effective + DAY)
    assert await _apply(world, effective + 2 * DAY) == []  # the document is still out
    agent = await world.user("AA1")
    async with world.session() as session:
        with pytest.raises(PermissionDenied):  # an agent does not check documents back
            await return_document(world.ctx, session, agent, document_id, now=effective)
    async with world.session() as session, session.begin():
        await return_document(world.ctx, session, lead, document_id, now=effective + 2 * DAY)
    assert await _apply(world, effective + 3 * DAY) == [request_id]
    assert (await world.user("AA1")).status == "deleted"
    async with world.session() as session:
        assert (await get_asset(session, headset)).state == "issued"  # back in the vendor's stock
        assert (await get_asset(session, own_id)).state == "scrapped"  # the work ID itself is retired
    assert await audit_actions(world, "user:AA1") == [
        ("LA1", "offboarding.document_issue"),
        ("LA1", "user.request"),
        ("ADM1", "user.approve"),
        ("system", "user.apply_postponed"),
        ("system", "user.apply_postponed"),  # the note changed: the headset came back
        ("LA1", "offboarding.document_return"),
        ("system", "user.apply"),
    ]
