"""Work IDs as others see them: lookups, vendor-scoped listings with masked names, training records.

Creating and changing IDs goes through :mod:`agents.lifecycle` (requests, approval, effective time);
:func:`create_user_direct` exists only for bootstrapping a site from the CLI (still quota-checked
and audited).
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agents.context import AgentsContext
from agents.errors import NotFound, PermissionDenied, RuleViolation
from agents.models import TrainingRecord, User
from agents.org import active_id_count, get_vendor
from agents.permissions import ACTIVE, Actor, Role, require, require_on
from waihu.pii import mask_name

__all__ = [
    "TRAINING_KINDS",
    "UserView",
    "check_quota",
    "check_work_id",
    "create_user_direct",
    "generate_initial_password",
    "get_user",
    "list_users",
    "missing_training",
    "record_training",
    "view_user",
]

#: what a trainee must have passed before becoming an agent (第三条: ethics, infosec, confidentiality
#: agreement; 第六条: safety education at company, department/team and post level)
TRAINING_KINDS: Final[tuple[str, ...]] = (
    "ethics",
    "infosec",
    "confidentiality",
    "safety_company",
    "safety_department",
    "safety_post",
)


@dataclass(frozen=True, slots=True)
class UserView:
    """A work ID for screens and CLI output: the name is masked."""

    work_id: str
    name_masked: str
    role: str
    vendor_id: int | None
    status: str
    skills: tuple[str, ...]
    permissions: tuple[str, ...] | None


_WORK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")


def check_work_id(work_id: str) -> None:
    """A work ID is 1-32 letters, digits, ``_``, ``.`` or ``-`` (it appears in logs and audit targets)."""
    if not _WORK_ID.fullmatch(work_id):
        raise RuleViolation(
            "a work ID is 1-32 letters, digits, '_', '.' or '-', starting with a letter or digit",
            error_id="agents.work_id_invalid",
        )


async def get_user(session: AsyncSession, work_id: str) -> User:
    user = await session.get(User, work_id)
    if user is None:
        raise NotFound(f"no work ID {work_id}", details={"work_id": work_id})
    return user


def view_user(ctx: AgentsContext, user: User) -> UserView:
    return UserView(
        work_id=user.work_id,
        name_masked=mask_name(ctx.vault.decrypt(user.name_enc)),
        role=user.role,
        vendor_id=user.vendor_id,
        status=user.status,
        skills=tuple(user.skills or ()),
        permissions=None if user.permissions is None else tuple(user.permissions),
    )


async def list_users(ctx: AgentsContext, session: AsyncSession, actor: Actor) -> list[UserView]:
    """The work IDs the actor may see: its own vendor's (admins: all)."""
    require(actor, "user.view", vendor_id=actor.vendor_id)
    stmt = select(User).order_by(User.work_id)
    if actor.role != Role.ADMIN:
        stmt = stmt.where(User.vendor_id == actor.vendor_id)
    return [view_user(ctx, user) for user in (await session.execute(stmt)).scalars()]


async def show_user(ctx: AgentsContext, session: AsyncSession, actor: Actor, work_id: str) -> UserView:
    """One work ID, if the actor may see it (another vendor's: PermissionDenied)."""
    user = await get_user(session, work_id)
    require_on(actor, "user.view", user.vendor_id)
    return view_user(ctx, user)


async def check_quota(session: AsyncSession, vendor_id: int, *, adding: int = 1, pending: int = 0) -> None:
    """Refuse when the vendor's active IDs plus ``pending`` and ``adding`` would exceed its quota (14.5)."""
    vendor = await get_vendor(session, vendor_id)
    used = await active_id_count(session, vendor_id) + pending
    if used + adding > vendor.id_quota:
        raise RuleViolation(
            f"vendor {vendor.code} has {used} of {vendor.id_quota} work IDs in use or requested; "
            "ask the client for a larger quota",
            error_id="agents.quota_exceeded",
            details={"vendor": vendor.code, "used": used, "quota": vendor.id_quota},
        )


async def missing_training(session: AsyncSession, work_id: str) -> list[str]:
    """The training kinds without a passed record, in :data:`TRAINING_KINDS` order."""
    rows = await session.execute(
        select(TrainingRecord.kind).where(TrainingRecord.work_id == work_id, TrainingRecord.passed.is_(True))
    )
    passed = {kind for (kind,) in rows}
    return [kind for kind in TRAINING_KINDS if kind not in passed]


async def record_training(
    ctx: AgentsContext,
    session: AsyncSession,
    actor: Actor,
    work_id: str,
    kind: str,
    *,
    passed: bool,
    now: datetime,
    document_ref: str | None = None,
) -> TrainingRecord:
    """Record a training or safety-education result (第三条, 第六条) for a work ID of the actor's vendor."""
    if kind not in TRAINING_KINDS:
        raise RuleViolation(
            f"unknown training kind {kind!r}; expected one of {', '.join(TRAINING_KINDS)}",
            error_id="agents.training_kind",
        )
    user = await get_user(session, work_id)
    require_on(actor, "training.record", user.vendor_id)
    record = TrainingRecord(
        work_id=work_id, kind=kind, passed=passed, at=now, recorded_by=actor.work_id, document_ref=document_ref
    )
    session.add(record)
    await session.flush()
    await ctx.audit.append(
        session,
        actor=actor.work_id,
        action="training.record",
        target=f"user:{work_id}",
        details={"kind": kind, "passed": passed, "document_ref": document_ref},
    )
    return record


_ALPHABET: Final = string.ascii_letters + string.digits


def generate_initial_password(length: int = 14) -> str:
    """A random one-time password with letters and digits (the user must change it at first login)."""
    while True:
        candidate = "".join(secrets.choice(_ALPHABET) for _ in range(length))
        if any(c.isalpha() for c in candidate) and any(c.isdigit() for c in candidate):
            return candidate


async def create_user_direct(
    ctx: AgentsContext,
    session: AsyncSession,
    actor: Actor,
    *,
    work_id: str,
    name: str,
    role: str,
    vendor_id: int | None,
    now: datetime,
) -> tuple[User, str]:
    """Bootstrap a work ID without a request (CLI only, client admins): returns the user and a one-time password.

    Day-to-day IDs go through :mod:`agents.lifecycle`; this exists so a new site has its first
    admins and team leads.
    """
    if actor.role != Role.ADMIN:
        raise PermissionDenied("only the client's admins create work IDs directly", details={"work_id": actor.work_id})
    check_work_id(work_id)
    role = Role(role).value
    if (role == Role.ADMIN) != (vendor_id is None):
        raise RuleViolation("admins have no vendor; every other work ID has one", error_id="agents.vendor_invalid")
    if await session.get(User, work_id) is not None:
        raise RuleViolation(f"work ID {work_id} exists", error_id="agents.user_exists")
    if vendor_id is not None:
        await check_quota(session, vendor_id)
    password = generate_initial_password()
    user = User(
        work_id=work_id,
        name_enc=ctx.vault.encrypt(name),
        role=role,
        vendor_id=vendor_id,
        status=ACTIVE,
        skills=[],
        permissions=None,
        password_hash=ctx.hasher.hash(password),
        password_changed_at=now,
        must_change_password=True,
        failed_logins=0,
        live_from=now,
        created_at=now,
    )
    session.add(user)
    await session.flush()
    await ctx.audit.append(
        session,
        actor=actor.work_id,
        action="user.create_direct",
        target=f"user:{work_id}",
        details={"role": role, "vendor_id": vendor_id},
    )
    return user, password
