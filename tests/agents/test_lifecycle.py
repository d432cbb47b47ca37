"""Work-ID requests (第十四条): notice periods, SoD, document references, narrowing, training, effective dates."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from agents.context import AgentsContext
from agents.errors import PermissionDenied, RuleViolation
from agents.lifecycle import apply_due, decide_change, list_requests, request_change
from agents.models import ChangeRequest, TrainingRecord
from agents.permissions import permissions_of
from agents.users import TRAINING_KINDS, record_training
from waihu.migrate import upgrade
from waihu.models import AuditEntry

from .conftest import T0, World, build_world

DAY = timedelta(days=1)


async def _request(world: World, requester: str, **kw: Any) -> int:
    actor = await world.user(requester)
    kw.setdefault("reason", "site need")
    kw.setdefault("now", T0)
    async with world.session() as session, session.begin():
        return (await request_change(world.ctx, session, actor, **kw)).id


async def _decide(world: World, approver: str, request_id: int, *, approve: bool = True) -> None:
    actor = await world.user(approver)
    async with world.session() as session, session.begin():
        await decide_change(world.ctx, session, actor, request_id, approve=approve, now=T0)


async def _apply(world: World, now: Any) -> list[int]:
    async with world.session() as session, session.begin():
        return await apply_due(world.ctx, session, now)


async def _train(world: World, work_id: str, kinds: tuple[str, ...] = TRAINING_KINDS) -> None:
    lead = await world.user("LA1")
    async with world.session() as session, session.begin():
        for kind in kinds:
            await record_training(world.ctx, session, lead, work_id, kind, passed=True, now=T0)


@pytest.mark.parametrize(
    ("kind", "extra", "notice"),
    [
        ("promote", {}, 7 * DAY),
        ("change_skills", {"skills": ["edu"]}, 3 * DAY),
        ("delete", {}, 3 * DAY),
        ("rename", {"name": "李四"}, 3 * DAY),
    ],
)
async def test_notice_periods_have_exact_boundaries(
    sqlite_world: World, kind: str, extra: dict[str, Any], notice: timedelta
) -> None:
    world = sqlite_world
    target = "TA1" if kind == "promote" else "AA1"
    await _train(world, "TA1")
    with pytest.raises(RuleViolation) as caught:
        await _request(world, "LA1", kind=kind, work_id=target, effective_at=T0 + notice - timedelta(hours=1), **extra)
    assert caught.value.error_id == "agents.notice_period"
    await _request(world, "LA1", kind=kind, work_id=target, effective_at=T0 + notice, **extra)


async def test_seven_days_exactly_is_enough_and_six_days_23_hours_is_not_for_an_agent_id(world: World) -> None:
    await _train(world, "TA1")
    with pytest.raises(RuleViolation, match="at least 7 days"):
        await _request(
            world,
            "LA1",
            kind="create_agent",
            work_id="AA9",
            trainee_work_id="TA1",
            effective_at=T0 + 6 * DAY + timedelta(hours=23),
        )
    await _request(world, "LA1", kind="create_agent", work_id="AA9", trainee_work_id="TA1", effective_at=T0 + 7 * DAY)


async def test_trainee_ids_need_no_notice(world: World) -> None:
    request_id = await _request(world, "LA1", kind="create_trainee", work_id="TA2", name="李四", effective_at=T0)
    await _decide(world, "ADM1", request_id)
    assert await _apply(world, T0) == [request_id]
    trainee = await world.user("TA2")
    assert (trainee.role, trainee.vendor_id, trainee.status) == ("trainee", world.vendor_a, "active")
    assert world.ctx.vault.decrypt(trainee.name_enc) == "李四"
    async with world.session() as session:
        details = (
            await session.execute(select(AuditEntry.details).where(AuditEntry.action == "user.request"))
        ).scalar_one()
    assert "李四" not in details
    assert "name_enc" not in details


async def test_the_requester_cannot_approve_their_own_request(world: World) -> None:
    request_id = await _request(
        world, "ADM1", kind="change_skills", work_id="AA1", skills=["x"], effective_at=T0 + 3 * DAY
    )
    with pytest.raises(RuleViolation) as caught:
        await _decide(world, "ADM1", request_id)
    assert caught.value.error_id == "agents.sod"
    assert "separation of duties" in caught.value.message
    await _decide(world, "ADM2", request_id)


async def test_approval_needs_the_approve_permission(world: World) -> None:
    request_id = await _request(
        world, "LA1", kind="change_skills", work_id="AA1", skills=["x"], effective_at=T0 + 3 * DAY
    )
    for who in ("OA1", "AA2", "LB1"):
        with pytest.raises(PermissionDenied):
            await _decide(world, who, request_id)


async def test_a_lead_cannot_request_changes_for_another_vendor_or_an_agent_at_all(world: World) -> None:
    with pytest.raises(PermissionDenied):
        await _request(world, "LB1", kind="delete", work_id="AA1", effective_at=T0 + 3 * DAY)
    with pytest.raises(PermissionDenied):
        await _request(
            world, "LB1", kind="create_trainee", work_id="TB9", vendor_id=world.vendor_a, name="x", effective_at=T0
        )
    with pytest.raises(PermissionDenied):
        await _request(world, "AA2", kind="delete", work_id="AA1", effective_at=T0 + 3 * DAY)
    lead_b = await world.user("LB1")
    async with world.session() as session:
        await _request(world, "LA1", kind="delete", work_id="AA2", effective_at=T0 + 3 * DAY)
        assert await list_requests(session, lead_b) == []


async def test_a_move_to_a_lower_role_needs_a_document_reference(world: World) -> None:
    with pytest.raises(RuleViolation) as caught:
        await _request(world, "OA1", kind="change_role", work_id="LA1", role="agent", effective_at=T0 + 3 * DAY)
    assert caught.value.error_id == "agents.document_required"
    request_id = await _request(
        world,
        "OA1",
        kind="change_role",
        work_id="LA1",
        role="agent",
        document_ref="HR-2026-031",
        effective_at=T0 + 3 * DAY,
    )
    await _decide(world, "ADM1", request_id)
    await _apply(world, T0 + 3 * DAY)
    assert (await world.user("LA1")).role == "agent"
    # upwards needs no document
    await _request(world, "OA1", kind="change_role", work_id="AA1", role="team_lead", effective_at=T0 + 3 * DAY)


async def test_a_trainee_becomes_an_agent_by_promotion_not_by_a_role_change(world: World) -> None:
    with pytest.raises(RuleViolation) as caught:
        await _request(world, "LA1", kind="change_role", work_id="TA1", role="agent", effective_at=T0 + 3 * DAY)
    assert caught.value.error_id == "agents.use_promote"


async def test_permission_changes_only_narrow_within_the_role(world: World) -> None:
    with pytest.raises(RuleViolation) as caught:
        await _request(
            world,
            "OA1",
            kind="change_permissions",
            work_id="LA1",
            permissions=["user.view", "pii.unmask"],
            effective_at=T0 + 3 * DAY,
        )
    assert caught.value.error_id == "agents.permissions_exceed_role"
    assert caught.value.details["extra"] == ["pii.unmask"]
    request_id = await _request(
        world,
        "OA1",
        kind="change_permissions",
        work_id="LA1",
        permissions=["user.view", "campaign.view"],
        effective_at=T0 + 3 * DAY,
    )
    await _decide(world, "ADM1", request_id)
    await _apply(world, T0 + 3 * DAY)
    assert permissions_of(await world.user("LA1")) == {"user.view", "campaign.view"}


async def test_promotion_waits_for_all_six_training_records_and_names_the_missing(world: World) -> None:
    await _train(world, "TA1", ("ethics", "infosec", "safety_company"))
    async with world.session() as session, session.begin():
        session.add(TrainingRecord(work_id="TA1", kind="safety_post", passed=False, at=T0, recorded_by="LA1"))
    with pytest.raises(RuleViolation) as caught:
        await _request(world, "LA1", kind="promote", work_id="TA1", effective_at=T0 + 7 * DAY)
    assert caught.value.error_id == "agents.training_missing"
    assert caught.value.details["missing"] == ["confidentiality", "safety_department", "safety_post"]
    assert "confidentiality, safety_department, safety_post" in caught.value.message
    await _train(world, "TA1", ("confidentiality", "safety_department", "safety_post"))
    request_id = await _request(world, "LA1", kind="promote", work_id="TA1", effective_at=T0 + 7 * DAY)
    await _decide(world, "ADM1", request_id)
    await _apply(world, T0 + 7 * DAY)
    assert (await world.user("TA1")).role == "agent"


async def test_an_agent_id_replaces_the_trainee_id(world: World) -> None:
    await _train(world, "TA1")
    request_id = await _request(
        world, "LA1", kind="create_agent", work_id="AA9", trainee_work_id="TA1", effective_at=T0 + 7 * DAY
    )
    await _decide(world, "ADM1", request_id)
    assert await _apply(world, T0 + 7 * DAY) == [request_id]
    agent, trainee = await world.user("AA9"), await world.user("TA1")
    assert (agent.role, agent.vendor_id, agent.password_hash) == ("agent", world.vendor_a, None)
    assert agent.name_enc == trainee.name_enc
    assert trainee.status == "disabled"


async def test_effective_dated_changes_apply_at_their_time_once_and_are_audited(world: World) -> None:
    effective = T0 + 3 * DAY
    request_id = await _request(
        world, "LA1", kind="change_skills", work_id="AA1", skills=["edu", "news"], effective_at=effective
    )
    assert await _apply(world, effective) == []  # not approved yet
    await _decide(world, "ADM1", request_id)
    assert await _apply(world, effective - timedelta(microseconds=1)) == []
    assert (await world.user("AA1")).skills == []
    assert await _apply(world, effective) == [request_id]
    assert (await world.user("AA1")).skills == ["edu", "news"]
    assert await _apply(world, effective + DAY) == []
    async with world.session() as session:
        request = await session.get(ChangeRequest, request_id)
        assert request is not None
        assert (request.status, request.applied_at, request.decided_by) == ("applied", effective, "ADM1")
        rows = (
            await session.execute(
                select(AuditEntry.actor, AuditEntry.action)
                .where(AuditEntry.target == "user:AA1")
                .order_by(AuditEntry.seq)
            )
        ).all()
        assert [tuple(r) for r in rows] == [
            ("LA1", "user.request"),
            ("ADM1", "user.approve"),
            ("system", "user.apply"),
        ]
        assert (await world.ctx.audit.verify(session)).ok


async def test_rejected_requests_keep_their_note_and_never_apply(world: World) -> None:
    request_id = await _request(world, "LA1", kind="delete", work_id="AA1", effective_at=T0 + 3 * DAY)
    admin = await world.user("ADM1")
    async with world.session() as session, session.begin():
        await decide_change(world.ctx, session, admin, request_id, approve=False, now=T0, note="still needed")
    assert await _apply(world, T0 + 4 * DAY) == []
    async with world.session() as session:
        request = await session.get(ChangeRequest, request_id)
        assert request is not None
        assert (request.status, request.outcome_note) == ("rejected", "still needed")
    assert (await world.user("AA1")).status == "active"


async def test_a_request_that_no_longer_fits_fails_with_a_note_and_others_still_apply(world: World) -> None:
    admin = await world.user("ADM1")
    first = await _request(world, "LA1", kind="create_trainee", work_id="TA2", name="李四", effective_at=T0 + DAY)
    second = await _request(world, "LA1", kind="change_skills", work_id="AA1", skills=["x"], effective_at=T0 + 3 * DAY)
    await _decide(world, "ADM1", first)
    await _decide(world, "ADM2", second)
    async with world.session() as session, session.begin():
        from agents.org import set_vendor_quota

        await set_vendor_quota(world.ctx, session, admin, world.vendor_a, 6, now=T0)
    assert await _apply(world, T0 + 3 * DAY) == [second]
    async with world.session() as session:
        request = await session.get(ChangeRequest, first)
        assert request is not None
        assert request.status == "failed"
        assert request.outcome_note is not None
        assert "quota" in request.outcome_note
        failed = (
            await session.execute(select(AuditEntry).where(AuditEntry.action == "user.apply_failed"))
        ).scalar_one()
        assert failed.actor == "system"
        assert (await world.ctx.audit.verify(session)).ok


async def test_deletion_ends_the_open_session(world: World) -> None:
    from agents.auth import login

    from .conftest import PASSWORD

    async with world.session() as session:
        await login(world.ctx, session, "AA1", PASSWORD, seat_id=world.seat_a1, now=T0)
    request_id = await _request(world, "LA1", kind="delete", work_id="AA1", effective_at=T0 + 3 * DAY)
    await _decide(world, "ADM1", request_id)
    await _apply(world, T0 + 3 * DAY)
    user = await world.user("AA1")
    assert (user.status, user.password_hash) == ("deleted", None)
    from agents.sessions import current_state

    async with world.session() as session:
        assert (await current_state(session, "AA1")).state == "logged_out"


async def test_new_work_ids_have_a_safe_shape(sqlite_world: World) -> None:
    for bad in ("", "has space", "x" * 33, "-lead"):
        with pytest.raises(RuleViolation) as caught:
            await _request(sqlite_world, "LA1", kind="create_trainee", work_id=bad, name="李四", effective_at=T0)
        assert caught.value.error_id == "agents.work_id_invalid"


@pytest.mark.postgres
async def test_two_schedulers_apply_each_request_once(ctx: AgentsContext, pg_engine: AsyncEngine) -> None:
    await upgrade(pg_engine)
    world = await build_world(ctx, pg_engine)
    ids = [
        await _request(world, "LA1", kind="change_skills", work_id=w, skills=["edu"], effective_at=T0 + 3 * DAY)
        for w in ("AA1", "AA2")
    ]
    for request_id in ids:
        await _decide(world, "ADM1", request_id)
    results = await asyncio.gather(_apply(world, T0 + 3 * DAY), _apply(world, T0 + 3 * DAY))
    assert sorted(results[0] + results[1]) == ids
    async with world.session() as session:
        applied = (await session.execute(select(AuditEntry).where(AuditEntry.action == "user.apply"))).scalars().all()
        assert len(applied) == 2


async def test_a_work_id_is_requested_once(sqlite_world: World) -> None:
    await _request(sqlite_world, "LA1", kind="create_trainee", work_id="TA2", name="李四", effective_at=T0)
    with pytest.raises(RuleViolation) as caught:
        await _request(sqlite_world, "OA1", kind="create_trainee", work_id="TA2", name="王五", effective_at=T0)
    assert caught.value.error_id == "agents.user_exists"
