"""Leave requests (病事假) and their approval chain (17.1(1)).

One day: the vendor's team lead; two to three days: the ops manager; more than three: the ops
manager approves and the client is told (``reported_to_client_at``). The client's admin may
approve any leave. The approver is never the requester and belongs to the requester's vendor
(admins excepted). The approver must hold ``leave.approve`` (checked by
``agents.permissions.require_on``, so narrowed permissions count) as well as a role senior enough for
the length. Sick leave of more than three days needs a medical certificate within two
working days of its end, else the report counts those days as absence. Every decision is audited.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agents.attendance.rules import approver_roles
from agents.errors import AttendanceInputError, NotFound, PermissionDenied, RuleViolation
from agents.models import LeaveRequest, User
from agents.permissions import require_on
from waihu.audit import AuditLog

__all__ = [
    "APPROVE_PERMISSION",
    "LEAVE_KINDS",
    "approve",
    "leave_days",
    "record_certificate",
    "reject",
    "request_leave",
]

LEAVE_KINDS = ("personal", "sick")
#: the permission (agents/permissions.py) every approver and rejecter must hold, besides the chain's role
APPROVE_PERMISSION = "leave.approve"
_ACTIVE = "active"


def leave_days(request: LeaveRequest) -> int:
    """Calendar days of the request, inclusive: what decides the approver (17.1(1))."""
    return (request.end_date - request.start_date).days + 1


async def _user(session: AsyncSession, work_id: str) -> User:
    user = await session.get(User, work_id)
    if user is None:
        raise NotFound(f"no work ID {work_id}", error_id="agents.not_found", details={"work_id": work_id})
    return user


async def _request(session: AsyncSession, request: LeaveRequest | int) -> LeaveRequest:
    if isinstance(request, LeaveRequest):
        return request
    found = await session.scalar(select(LeaveRequest).where(LeaveRequest.id == request))
    if found is None:
        raise NotFound(f"no leave request {request}", details={"leave_request": request})
    return found


async def request_leave(
    session: AsyncSession,
    *,
    work_id: str,
    kind: str,
    start_date: date,
    end_date: date,
    reason: str | None,
    now: datetime,
    audit: AuditLog | None = None,
) -> LeaveRequest:
    """File a leave request (病事假需事先提出申请) in the caller's transaction; it starts pending."""
    if kind not in LEAVE_KINDS:
        raise AttendanceInputError(f"unknown leave kind {kind!r}; expected personal or sick", details={"kind": kind})
    if end_date < start_date:
        raise AttendanceInputError("the leave ends before it starts", details={"start": str(start_date)})
    user = await _user(session, work_id)
    if user.status != _ACTIVE:
        raise RuleViolation(f"work ID {work_id} is {user.status}", error_id="attendance.user_inactive")
    request = LeaveRequest(
        work_id=work_id,
        kind=kind,
        start_date=start_date,
        end_date=end_date,
        reason=reason,
        requested_at=now,
        status="pending",
    )
    session.add(request)
    await session.flush()
    if audit is not None:
        await audit.append(
            session,
            actor=work_id,
            action="attendance.leave_requested",
            target=f"leave:{request.id}",
            details={"kind": kind, "start": start_date.isoformat(), "end": end_date.isoformat()},
        )
    return request


async def _check_approver(session: AsyncSession, request: LeaveRequest, approver: str) -> tuple[User, bool]:
    """Who may decide this request (17.1(1)), in this order.

    Not the requester (SoD); an active work ID; the permission ``leave.approve`` on the requester's
    vendor, asked of :func:`agents.permissions.require_on` like every other check (so a work ID whose
    permissions were narrowed without it never approves, and only the client's admins decide for
    another vendor or for an admin); then the chain: a role senior enough for the leave's length.
    """
    if request.status != "pending":
        raise RuleViolation(
            f"leave request {request.id} is already {request.status}",
            error_id="attendance.leave_not_pending",
            details={"leave_request": request.id, "status": request.status},
        )
    if approver == request.work_id:
        raise RuleViolation(
            "nobody approves their own leave",
            error_id="attendance.leave_sod",
            details={"leave_request": request.id},
        )
    user = await _user(session, approver)
    requester = await _user(session, request.work_id)
    if user.status != _ACTIVE:
        raise PermissionDenied(f"work ID {approver} is {user.status}", error_id="attendance.approver_inactive")
    try:
        require_on(user, APPROVE_PERMISSION, requester.vendor_id)
    except PermissionDenied as denied:
        if denied.details.get("other_vendor"):
            raise PermissionDenied(
                "the approver belongs to another vendor",
                error_id="attendance.other_vendor",
                details={**denied.details, "leave_request": request.id},
            ) from denied
        raise
    days = leave_days(request)
    roles, report_to_client = approver_roles(days)
    if user.role not in roles:
        raise PermissionDenied(
            f"a leave of {days} day(s) needs one of {', '.join(sorted(roles))}; {approver} is {user.role}",
            error_id="attendance.approver_role",
            details={"days": days, "roles": sorted(roles), "role": user.role},
        )
    return user, report_to_client


async def approve(
    session: AsyncSession,
    request: LeaveRequest | int,
    approver: str,
    *,
    now: datetime,
    audit: AuditLog | None = None,
) -> LeaveRequest:
    """Approve a pending request; more than three days is marked reported to the client (17.1(1))."""
    leave = await _request(session, request)
    _user_row, report_to_client = await _check_approver(session, leave, approver)
    leave.status = "approved"
    leave.decided_by = approver
    leave.decided_at = now
    if report_to_client:
        leave.reported_to_client_at = now
    await session.flush()
    if audit is not None:
        await audit.append(
            session,
            actor=approver,
            action="attendance.leave_approved",
            target=f"leave:{leave.id}",
            details={
                "work_id": leave.work_id,
                "kind": leave.kind,
                "days": leave_days(leave),
                "reported_to_client": report_to_client,
            },
        )
    return leave


async def reject(
    session: AsyncSession,
    request: LeaveRequest | int,
    approver: str,
    *,
    now: datetime,
    audit: AuditLog | None = None,
) -> LeaveRequest:
    """Reject a pending request (the same people may reject who may approve it)."""
    leave = await _request(session, request)
    await _check_approver(session, leave, approver)
    leave.status = "rejected"
    leave.decided_by = approver
    leave.decided_at = now
    await session.flush()
    if audit is not None:
        await audit.append(
            session,
            actor=approver,
            action="attendance.leave_rejected",
            target=f"leave:{leave.id}",
            details={"work_id": leave.work_id, "kind": leave.kind, "days": leave_days(leave)},
        )
    return leave


async def record_certificate(
    session: AsyncSession,
    request: LeaveRequest | int,
    *,
    received_at: datetime,
    recorded_by: str,
    audit: AuditLog | None = None,
) -> LeaveRequest:
    """Note when the medical certificate arrived; the report checks it against the deadline."""
    leave = await _request(session, request)
    if leave.kind != "sick":
        raise RuleViolation("a medical certificate belongs to sick leave", error_id="attendance.not_sick_leave")
    leave.certificate_received_at = received_at
    await session.flush()
    if audit is not None:
        await audit.append(
            session,
            actor=recorded_by,
            action="attendance.certificate_received",
            target=f"leave:{leave.id}",
            details={"work_id": leave.work_id},
        )
    return leave
