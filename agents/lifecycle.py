"""Work-ID requests (工号申请表, 第十四条): filed, approved by someone else, applied at their effective time.

- 14.2: trainee IDs during training (no notice); an agent ID (a new one replacing the trainee ID, or
  the trainee ID promoted) at least 7 days ahead; skill, permission and role changes, renames and
  deletions at least 3 days ahead.
- 14.3: an ID's rights never exceed its role (``change_permissions`` only narrows); a move to a
  lower role carries a document reference; requester and approver differ (the source's SOX rule).
- 14.5: a vendor's active IDs stay within the quota the client set.
- 第三条/第六条: a trainee becomes an agent only with ethics, infosec, confidentiality and the three
  safety-education levels passed.

A deletion waits for off-boarding (2.5, :mod:`agents.assets.offboarding`): while the person still has
items or documents out it stays approved, noted with what is out, and is retried at every run.

Requests, decisions and applications are audited. :func:`apply_due` runs with nobody acting (actor
``system``); each request applies in its own savepoint, so one failure (noted on the request) does
not stop the others. Services flush; the caller commits.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from agents.assets.offboarding import check_offboarding, retire_work_id_assets
from agents.context import SYSTEM, AgentsContext
from agents.errors import AgentsError, NotFound, OffboardingIncomplete, RuleViolation
from agents.models import ChangeRequest, User
from agents.org import get_vendor
from agents.permissions import ACTIVE, Actor, Role, is_lower_role, require, require_on, role_permissions
from agents.sessions import close_session, open_session_of
from agents.users import check_quota, check_work_id, get_user, missing_training

__all__ = [
    "NOTICE",
    "Kind",
    "apply_due",
    "decide_change",
    "get_request",
    "list_requests",
    "request_change",
]


class Kind(StrEnum):
    CREATE_TRAINEE = "create_trainee"
    CREATE_AGENT = "create_agent"
    PROMOTE = "promote"
    CHANGE_ROLE = "change_role"
    CHANGE_SKILLS = "change_skills"
    CHANGE_PERMISSIONS = "change_permissions"
    RENAME = "rename"
    DELETE = "delete"


#: minimum time between filing a request and its effective time (14.2)
NOTICE: Final[dict[Kind, timedelta]] = {
    Kind.CREATE_TRAINEE: timedelta(0),
    Kind.CREATE_AGENT: timedelta(days=7),
    Kind.PROMOTE: timedelta(days=7),
    Kind.CHANGE_ROLE: timedelta(days=3),
    Kind.CHANGE_SKILLS: timedelta(days=3),
    Kind.CHANGE_PERMISSIONS: timedelta(days=3),
    Kind.RENAME: timedelta(days=3),
    Kind.DELETE: timedelta(days=3),
}

_CREATES: Final = (Kind.CREATE_TRAINEE, Kind.CREATE_AGENT)
_OPEN: Final = ("pending", "approved")


def _violation(message: str, error_id: str, **details: Any) -> RuleViolation:
    return RuleViolation(message, error_id=error_id, details=details)


async def get_request(session: AsyncSession, request_id: int) -> ChangeRequest:
    request = await session.get(ChangeRequest, request_id)
    if request is None:
        raise NotFound(f"no work-ID request {request_id}", details={"request_id": request_id})
    return request


async def _pending_creates(session: AsyncSession, vendor_id: int, *, excluding: int | None = None) -> int:
    """New IDs requested but not applied yet: they will count against the quota."""
    stmt = select(func.count()).where(
        ChangeRequest.vendor_id == vendor_id,
        ChangeRequest.kind == Kind.CREATE_TRAINEE.value,
        ChangeRequest.status.in_(_OPEN),
    )
    if excluding is not None:
        stmt = stmt.where(ChangeRequest.id != excluding)
    return int(await session.scalar(stmt) or 0)


async def _open_create_for(session: AsyncSession, request: ChangeRequest) -> bool:
    """Whether another open request already creates this work ID."""
    stmt = select(ChangeRequest.id).where(
        ChangeRequest.work_id == request.work_id,
        ChangeRequest.kind.in_([k.value for k in _CREATES]),
        ChangeRequest.status.in_(_OPEN),
    )
    if request.id is not None:
        stmt = stmt.where(ChangeRequest.id != request.id)
    return (await session.execute(stmt.limit(1))).first() is not None


async def _require_training(session: AsyncSession, trainee_id: str) -> None:
    missing = await missing_training(session, trainee_id)
    if missing:
        raise _violation(
            f"{trainee_id} cannot become an agent yet: no passed record of {', '.join(missing)} (第三条, 第六条)",
            "agents.training_missing",
            work_id=trainee_id,
            missing=missing,
        )


async def _require_trainee(session: AsyncSession, work_id: str) -> User:
    user = await get_user(session, work_id)
    if user.role != Role.TRAINEE or user.status != ACTIVE:
        raise _violation(f"{work_id} is not an active trainee ID", "agents.not_trainee", work_id=work_id)
    return user


async def _require_active(session: AsyncSession, work_id: str) -> User:
    user = await get_user(session, work_id)
    if user.status != ACTIVE:
        raise _violation(f"work ID {work_id} is {user.status}", "agents.user_inactive", work_id=work_id)
    return user


def _str_list(value: object) -> list[str] | None:
    """A JSON list of strings from a payload (``None`` stays ``None``)."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise _violation("malformed request payload", "agents.request_invalid")
    return [str(item) for item in value]


def _check_role_change(user: User, new_role: str, document_ref: str | None) -> None:
    try:
        role = Role(new_role)
    except ValueError:
        raise _violation(f"unknown role {new_role!r}", "agents.role_invalid") from None
    if Role.ADMIN in (role, user.role):
        raise _violation("admins are the client's staff; vendor IDs cannot become admins", "agents.role_invalid")
    if role == user.role:
        raise _violation(f"{user.work_id} is already {role.value}", "agents.role_invalid")
    if user.role == Role.TRAINEE and role != Role.TRAINEE:
        raise _violation(
            "a trainee becomes an agent by a promote request (training records checked)", "agents.use_promote"
        )
    if is_lower_role(user.role, role) and not (document_ref and document_ref.strip()):
        raise _violation(
            f"moving {user.work_id} from {user.role} down to {role.value} needs a document reference (14.3)",
            "agents.document_required",
        )


def _check_permissions(role: str, permissions: Sequence[str] | None) -> list[str] | None:
    if permissions is None:
        return None
    extra = sorted(set(permissions) - role_permissions(role))
    if extra:
        raise _violation(
            f"the role {role} does not include {', '.join(extra)}: a work ID's rights never exceed its role (14.3)",
            "agents.permissions_exceed_role",
            extra=extra,
        )
    return sorted(set(permissions))


async def _validate(session: AsyncSession, request: ChangeRequest, *, applying: bool) -> User | None:
    """Check a request against the current data; the target user when it exists."""
    kind = Kind(request.kind)
    payload = request.payload
    if kind in _CREATES:
        if await session.get(User, request.work_id) is not None:
            raise _violation(f"work ID {request.work_id} exists", "agents.user_exists", work_id=request.work_id)
        if not applying and await _open_create_for(session, request):
            raise _violation(
                f"work ID {request.work_id} is already requested", "agents.user_exists", work_id=request.work_id
            )
        assert request.vendor_id is not None
        if kind == Kind.CREATE_TRAINEE:
            pending = 0 if applying else await _pending_creates(session, request.vendor_id, excluding=request.id)
            await check_quota(session, request.vendor_id, pending=pending)
        else:
            trainee = await _require_trainee(session, str(payload["trainee_work_id"]))
            if trainee.vendor_id != request.vendor_id:
                raise _violation("the trainee ID belongs to another vendor", "agents.vendor_mismatch")
            await _require_training(session, trainee.work_id)
        return None
    user = await _require_active(session, request.work_id)
    if kind == Kind.PROMOTE:
        await _require_trainee(session, user.work_id)
        await _require_training(session, user.work_id)
    elif kind == Kind.CHANGE_ROLE:
        _check_role_change(user, str(payload["role"]), request.document_ref)
    elif kind == Kind.CHANGE_PERMISSIONS:
        _check_permissions(user.role, _str_list(payload["permissions"]))
    return user


async def request_change(
    ctx: AgentsContext,
    session: AsyncSession,
    actor: Actor,
    *,
    kind: Kind | str,
    work_id: str,
    effective_at: datetime,
    reason: str,
    now: datetime,
    vendor_id: int | None = None,
    name: str | None = None,
    role: str | None = None,
    skills: Sequence[str] | None = None,
    permissions: Sequence[str] | None = None,
    trainee_work_id: str | None = None,
    document_ref: str | None = None,
) -> ChangeRequest:
    """File a work-ID request; it waits for another person's approval, then applies at ``effective_at``.

    Per kind: ``create_trainee`` (``vendor_id``, ``name``), ``create_agent`` (``trainee_work_id``: the new
    agent ID replaces that trainee ID), ``promote``, ``change_role`` (``role``; ``document_ref`` when
    lower), ``change_skills`` (``skills``), ``change_permissions`` (``permissions``: a subset of the
    role's, or ``None`` for all of them), ``rename`` (``name``), ``delete``.
    """
    try:
        kind = Kind(kind)
    except ValueError:
        raise _violation(f"unknown request kind {kind!r}", "agents.request_invalid") from None
    if not reason.strip():
        raise _violation("a request needs a reason", "agents.request_invalid")
    payload: dict[str, object] = {}
    if kind in _CREATES:
        check_work_id(work_id)
        if kind == Kind.CREATE_AGENT:
            if not trainee_work_id:
                raise _violation(
                    "an agent ID is requested for a trainee: give trainee_work_id", "agents.request_invalid"
                )
            trainee = await get_user(session, trainee_work_id)
            vendor_id = trainee.vendor_id
            payload["trainee_work_id"] = trainee_work_id
        else:
            if vendor_id is None and actor.role != Role.ADMIN:
                vendor_id = actor.vendor_id
            if vendor_id is None:
                raise _violation("a trainee ID belongs to a vendor: give vendor_id", "agents.request_invalid")
            if not (name and name.strip()):
                raise _violation("a new work ID needs the person's name", "agents.request_invalid")
            payload["name_enc"] = base64.b64encode(ctx.vault.encrypt(name.strip())).decode("ascii")
        if vendor_id is not None:
            await get_vendor(session, vendor_id)
        require_on(actor, "user.request", vendor_id)
    else:
        target = await get_user(session, work_id)
        vendor_id = target.vendor_id
        require_on(actor, "user.request", vendor_id)
        if kind == Kind.CHANGE_ROLE:
            if not role:
                raise _violation("give the new role", "agents.request_invalid")
            payload["role"] = role
        elif kind == Kind.CHANGE_SKILLS:
            if skills is None:
                raise _violation("give the new skills", "agents.request_invalid")
            payload["skills"] = sorted({s.strip() for s in skills if s.strip()})
        elif kind == Kind.CHANGE_PERMISSIONS:
            payload["permissions"] = None if permissions is None else list(permissions)
        elif kind == Kind.RENAME:
            if not (name and name.strip()):
                raise _violation("give the new name", "agents.request_invalid")
            payload["name_enc"] = base64.b64encode(ctx.vault.encrypt(name.strip())).decode("ascii")
    if effective_at < now:
        raise _violation("the effective time is in the past", "agents.notice_period")
    notice = NOTICE[kind]
    if effective_at - now < notice:
        raise _violation(
            f"a {kind.value} request must be filed at least {notice.days} days before it takes effect (14.2)",
            "agents.notice_period",
            notice_days=notice.days,
            effective_at=effective_at.isoformat(),
        )
    request = ChangeRequest(
        kind=kind.value,
        work_id=work_id,
        vendor_id=vendor_id,
        payload=payload,
        reason=reason,
        document_ref=document_ref,
        requested_by=actor.work_id,
        requested_at=now,
        effective_at=effective_at,
        status="pending",
    )
    await _validate(session, request, applying=False)
    session.add(request)
    await session.flush()
    await ctx.audit.append(
        session,
        actor=actor.work_id,
        action="user.request",
        target=f"user:{work_id}",
        details=_audit_details(request),
    )
    return request


def _audit_details(request: ChangeRequest) -> dict[str, object]:
    shown = {k: v for k, v in request.payload.items() if k != "name_enc"}  # names are PII: never in the audit
    return {
        "request_id": request.id,
        "kind": request.kind,
        "vendor_id": request.vendor_id,
        "effective_at": request.effective_at.isoformat(),
        "document_ref": request.document_ref,
        **shown,
    }


async def decide_change(
    ctx: AgentsContext,
    session: AsyncSession,
    actor: Actor,
    request_id: int,
    *,
    approve: bool,
    now: datetime,
    note: str | None = None,
) -> ChangeRequest:
    """Approve or reject a pending request; the approver is never the requester nor the subject (SOX, 14.3)."""
    request = await get_request(session, request_id)
    require_on(actor, "user.approve", request.vendor_id)
    if actor.work_id == request.requested_by:
        raise _violation(
            f"{actor.work_id} filed request {request_id} and cannot also decide it (separation of duties)",
            "agents.sod",
            request_id=request_id,
        )
    if actor.work_id == request.work_id:
        raise _violation("nobody decides a request about their own work ID", "agents.sod", request_id=request_id)
    if request.status != "pending":
        raise _violation(f"request {request_id} is already {request.status}", "agents.already_decided")
    if approve:
        await _validate(session, request, applying=False)
    request.status = "approved" if approve else "rejected"
    request.decided_by = actor.work_id
    request.decided_at = now
    if note:
        request.outcome_note = note
    await session.flush()
    await ctx.audit.append(
        session,
        actor=actor.work_id,
        action="user.approve" if approve else "user.reject",
        target=f"user:{request.work_id}",
        details={"request_id": request_id, "kind": request.kind, "note": note},
    )
    return request


async def _end_open_session(
    ctx: AgentsContext, session: AsyncSession, work_id: str, reason: str, now: datetime
) -> None:
    auth_session = await open_session_of(session, work_id)
    if auth_session is not None:
        await close_session(ctx, session, auth_session, reason=reason, by=SYSTEM, at=now)


async def _apply(ctx: AgentsContext, session: AsyncSession, request: ChangeRequest, now: datetime) -> None:
    user = await _validate(session, request, applying=True)
    kind = Kind(request.kind)
    payload = request.payload
    if kind in _CREATES:
        if kind == Kind.CREATE_TRAINEE:
            name_enc = base64.b64decode(str(payload["name_enc"]))
            role, skills = Role.TRAINEE, []
        else:
            trainee = await get_user(session, str(payload["trainee_work_id"]))
            name_enc, role, skills = trainee.name_enc, Role.AGENT, list(trainee.skills or [])
            trainee.status = "disabled"  # the agent ID replaces the training ID
            await _end_open_session(ctx, session, trainee.work_id, "replaced", now)
        session.add(
            User(
                work_id=request.work_id,
                name_enc=name_enc,
                role=role.value,
                vendor_id=request.vendor_id,
                status=ACTIVE,
                skills=skills,
                permissions=None,
                password_hash=None,  # a team lead issues a one-time password (agents.auth.issue_password)
                password_changed_at=None,
                must_change_password=True,
                failed_logins=0,
                live_from=now,
                created_at=now,
            )
        )
        return
    assert user is not None
    if kind == Kind.PROMOTE:
        user.role, user.permissions, user.live_from = Role.AGENT.value, None, now
    elif kind == Kind.CHANGE_ROLE:
        user.role, user.permissions = str(payload["role"]), None
    elif kind == Kind.CHANGE_SKILLS:
        user.skills = _str_list(payload["skills"]) or []
    elif kind == Kind.CHANGE_PERMISSIONS:
        user.permissions = _check_permissions(user.role, _str_list(payload["permissions"]))
    elif kind == Kind.RENAME:
        user.name_enc = base64.b64decode(str(payload["name_enc"]))
    elif kind == Kind.DELETE:
        await check_offboarding(session, user.work_id)  # 2.5: everything handed back first (else postponed)
        user.status = "deleted"
        user.password_hash = None
        await _end_open_session(ctx, session, user.work_id, "deleted", now)
        await retire_work_id_assets(ctx, session, user.work_id, actor=SYSTEM, now=now)


async def apply_due(ctx: AgentsContext, session: AsyncSession, now: datetime) -> list[int]:
    """Apply every approved request whose effective time has come; the ids applied (failed ones get a note).

    Idempotent: an applied or failed request is never picked again. On PostgreSQL the rows are locked
    (SKIP LOCKED), so two schedulers never apply one request twice.
    """
    due = (
        (
            await session.execute(
                select(ChangeRequest)
                .where(ChangeRequest.status == "approved", ChangeRequest.effective_at <= now)
                .order_by(ChangeRequest.effective_at, ChangeRequest.id)
                .with_for_update(skip_locked=True)
            )
        )
        .scalars()
        .all()
    )
    applied: list[int] = []
    for request in due:
        request_id, work_id, kind = request.id, request.work_id, request.kind
        try:
            async with session.begin_nested():
                await _apply(ctx, session, request, now)
                request.status = "applied"
                request.applied_at = now
                await session.flush()
                await ctx.audit.append(
                    session,
                    actor=SYSTEM,
                    action="user.apply",
                    target=f"user:{work_id}",
                    details={"request_id": request_id, "kind": kind, "effective_at": request.effective_at.isoformat()},
                )
            applied.append(request_id)
        except OffboardingIncomplete as exc:
            # 2.5: the deletion waits (stays approved) until everything is handed back; noted and audited once
            await session.refresh(request)
            if request.outcome_note != exc.message:
                request.outcome_note = exc.message
                await session.flush()
                await ctx.audit.append(
                    session,
                    actor=SYSTEM,
                    action="user.apply_postponed",
                    target=f"user:{work_id}",
                    details={"request_id": request_id, "kind": kind, "error_id": exc.error_id, **exc.details},
                )
        except AgentsError as exc:
            await session.refresh(request)
            request.status = "failed"
            request.applied_at = now
            request.outcome_note = exc.message
            await session.flush()
            await ctx.audit.append(
                session,
                actor=SYSTEM,
                action="user.apply_failed",
                target=f"user:{work_id}",
                details={"request_id": request_id, "kind": kind, "error_id": exc.error_id, "note": exc.message},
            )
    return applied


async def list_requests(session: AsyncSession, actor: Actor, *, status: str | None = None) -> list[ChangeRequest]:
    """The work-ID requests the actor may see: its vendor's (admins: all), newest first."""
    require(actor, "user.view", vendor_id=actor.vendor_id)
    stmt = select(ChangeRequest).order_by(ChangeRequest.requested_at.desc(), ChangeRequest.id.desc())
    if actor.role != Role.ADMIN:
        stmt = stmt.where(ChangeRequest.vendor_id == actor.vendor_id)
    if status is not None:
        stmt = stmt.where(ChangeRequest.status == status)
    return list((await session.execute(stmt)).scalars())
