"""The leave approval chain (17.1(1)) on SQLite and PostgreSQL: who may approve 1, 2, 3, 4 days; SoD; vendor;
the permission ``leave.approve`` asked of agents.permissions (narrowed permissions count)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from agents.attendance.leave import approve, record_certificate, reject, request_leave
from agents.errors import AttendanceInputError, NotFound, PermissionDenied, RuleViolation
from agents.models import LeaveRequest, User
from tests.agents.attendance.conftest import NOW, Org
from waihu.audit import AuditLog
from waihu.db import session_factory
from waihu.models import AuditEntry

START = date(2026, 3, 2)
AUDIT = AuditLog(b"k" * 32)


async def _decide(org: Org, days: int, approver: str, *, requester: str = "a1", kind: str = "personal") -> LeaveRequest:
    async with session_factory(org.engine)() as session, session.begin():
        leave = await request_leave(
            session,
            work_id=requester,
            kind=kind,
            start_date=START,
            end_date=START + timedelta(days=days - 1),
            reason="family",
            now=NOW,
        )
        return await approve(session, leave, approver, now=NOW, audit=AUDIT)


CASES = [
    # (days, approver, allowed): 1 day team lead or higher; 2-3 days ops manager or admin; qa and agents never
    (1, "t1", True),
    (1, "o1", True),
    (2, "t1", False),
    (2, "o1", True),
    (3, "t1", False),
    (3, "o1", True),
    (4, "t1", False),
    (4, "o1", True),
    (4, "ad", True),
]


async def test_who_may_approve(org: Org) -> None:
    for days, approver, allowed in CASES:
        if not allowed:
            with pytest.raises(PermissionDenied) as caught:
                await _decide(org, days, approver)
            assert caught.value.error_id == "attendance.approver_role", (days, approver)
            continue
        leave = await _decide(org, days, approver)
        assert (leave.status, leave.decided_by, leave.decided_at) == ("approved", approver, NOW)
        # more than three days: the client is told (三天以上报XX方知晓)
        assert (leave.reported_to_client_at is not None) is (days > 3), (days, approver)


@pytest.mark.parametrize("approver", ["q1", "a2"])
async def test_agents_and_qa_never_approve_they_lack_the_permission(org: Org, approver: str) -> None:
    with pytest.raises(PermissionDenied) as caught:
        await _decide(org, 1, approver)
    assert caught.value.error_id == "agents.permission_denied"  # agents.permissions.require's refusal
    assert caught.value.details["permission"] == "leave.approve"


async def _narrow(org: Org, work_id: str, permissions: list[str] | None) -> None:
    async with session_factory(org.engine)() as session, session.begin():
        user = await session.get(User, work_id)
        assert user is not None
        user.permissions = permissions


@pytest.mark.parametrize(("approver", "days"), [("t1", 1), ("o1", 2), ("o1", 4)])
async def test_a_lead_whose_permissions_are_narrowed_without_leave_approve_cannot_decide(
    org: Org, approver: str, days: int
) -> None:
    # Issue 3: permissions live in one table, checked by one function everywhere; a work ID may carry a
    # narrower subset of its role's permissions (14.3), and the role alone no longer lets it approve.
    await _narrow(org, approver, ["attendance.view", "user.view"])
    with pytest.raises(PermissionDenied) as caught:
        await _decide(org, days, approver)
    assert caught.value.error_id == "agents.permission_denied"
    assert caught.value.details == {"work_id": approver, "permission": "leave.approve", "other_vendor": False}
    async with session_factory(org.engine)() as session, session.begin():
        leave = await request_leave(
            session, work_id="a1", kind="sick", start_date=START, end_date=START, reason=None, now=NOW
        )
        with pytest.raises(PermissionDenied):
            await reject(session, leave, approver, now=NOW)  # rejecting is deciding too
        assert leave.status == "pending"


async def test_a_narrowed_lead_that_keeps_leave_approve_still_follows_the_chain(org: Org) -> None:
    await _narrow(org, "t1", ["leave.approve"])
    assert (await _decide(org, 1, "t1")).status == "approved"
    with pytest.raises(PermissionDenied) as caught:
        await _decide(org, 2, "t1")  # two days: still the ops manager's (17.1(1))
    assert caught.value.error_id == "attendance.approver_role"
    # an explicit subset never widens: an agent listing leave.approve still holds nothing of it
    await _narrow(org, "a2", ["leave.approve"])
    with pytest.raises(PermissionDenied) as refused:
        await _decide(org, 1, "a2")
    assert refused.value.error_id == "agents.permission_denied"


async def test_a_disabled_approver_is_refused(org: Org) -> None:
    async with session_factory(org.engine)() as session, session.begin():
        user = await session.get(User, "o1")
        assert user is not None
        user.status = "disabled"
    with pytest.raises(PermissionDenied) as caught:
        await _decide(org, 2, "o1")
    assert caught.value.error_id == "attendance.approver_inactive"


async def test_nobody_approves_their_own_leave(org: Org) -> None:
    with pytest.raises(RuleViolation) as caught:
        await _decide(org, 2, "o1", requester="o1")
    assert caught.value.error_id == "attendance.leave_sod"


async def test_the_approver_must_be_of_the_requesters_vendor(org: Org) -> None:
    with pytest.raises(PermissionDenied) as caught:
        await _decide(org, 2, "o2")
    assert caught.value.error_id == "attendance.other_vendor"
    assert caught.value.details["other_vendor"] is True
    with pytest.raises(PermissionDenied) as one_day:
        await _decide(org, 1, "o2")  # even a leave its role could approve
    assert one_day.value.error_id == "attendance.other_vendor"
    with pytest.raises(PermissionDenied) as admins_leave:
        await _decide(org, 1, "o1", requester="ad")  # an admin's leave is the client's: admins only
    assert admins_leave.value.error_id == "attendance.other_vendor"
    leave = await _decide(org, 2, "ad", requester="b1")  # the client's admin: any vendor
    assert leave.status == "approved"


async def test_a_decided_request_cannot_be_decided_again_and_everything_is_audited(org: Org) -> None:
    leave = await _decide(org, 1, "t1")
    async with session_factory(org.engine)() as session, session.begin():
        with pytest.raises(RuleViolation) as caught:
            await reject(session, leave.id, "o1", now=NOW, audit=AUDIT)
        assert caught.value.error_id == "attendance.leave_not_pending"
    async with session_factory(org.engine)() as session:
        entries = (await session.scalars(select(AuditEntry).order_by(AuditEntry.seq))).all()
        assert [(e.actor, e.action, e.target) for e in entries] == [
            ("t1", "attendance.leave_approved", f"leave:{leave.id}")
        ]
        assert (await AUDIT.verify(session)).ok


async def test_reject_and_certificate(org: Org) -> None:
    async with session_factory(org.engine)() as session, session.begin():
        leave = await request_leave(
            session, work_id="a1", kind="sick", start_date=START, end_date=START, reason=None, now=NOW, audit=AUDIT
        )
        await reject(session, leave.id, "t1", now=NOW, audit=AUDIT)
        await record_certificate(session, leave.id, received_at=NOW, recorded_by="t1", audit=AUDIT)
    async with session_factory(org.engine)() as session:
        stored = await session.get(LeaveRequest, leave.id)
        assert stored is not None
        assert (stored.status, stored.certificate_received_at) == ("rejected", NOW)
        actions = (await session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq))).all()
        assert actions == ["attendance.leave_requested", "attendance.leave_rejected", "attendance.certificate_received"]


async def test_bad_requests(org: Org) -> None:
    async with session_factory(org.engine)() as session:
        with pytest.raises(AttendanceInputError):
            await request_leave(
                session, work_id="a1", kind="holiday", start_date=START, end_date=START, reason=None, now=NOW
            )
        with pytest.raises(AttendanceInputError):
            await request_leave(
                session,
                work_id="a1",
                kind="sick",
                start_date=START,
                end_date=START - timedelta(1),
                reason=None,
                now=NOW,
            )
        with pytest.raises(NotFound):
            await request_leave(
                session, work_id="zz", kind="sick", start_date=START, end_date=START, reason=None, now=NOW
            )
        with pytest.raises(NotFound):
            await approve(session, 999, "t1", now=NOW)
        personal = await request_leave(
            session, work_id="a1", kind="personal", start_date=START, end_date=START, reason=None, now=NOW
        )
        with pytest.raises(RuleViolation):
            await record_certificate(session, personal, received_at=NOW, recorded_by="t1")
