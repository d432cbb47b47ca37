"""Logins: argon2 passwords with a policy and rotation, lockout, one session per work ID, expiring tokens.

14.4: a work ID is for its owner only, who keeps the password and changes it regularly. 7.7: agents
leave the platform at the end of their shift, so open logins end then.

Transactions: :func:`login` and :func:`change_password` COMMIT the session they are given (a refused
login must still record the failure count and its audit row before the error propagates); pass them a
session without an open ``session.begin()`` block. Every other service flushes and the caller commits.
Passwords and tokens are never logged, audited or put in an error; tokens are stored only as SHA-256.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agents.context import SYSTEM, AgentsContext
from agents.errors import (
    AccountLocked,
    AuthError,
    NotFound,
    PasswordExpired,
    RuleViolation,
    SessionConflict,
    SessionInvalid,
)
from agents.models import AuthSession, User
from agents.org import get_seat, seat_usable_by
from agents.permissions import ACTIVE, Actor, require_on
from agents.sessions import (
    State,
    check_seat_change,
    check_seat_free,
    close_session,
    current_state,
    open_session_of,
    record_state,
)
from agents.shifts import local_day, shift_for
from agents.users import generate_initial_password, get_user

__all__ = [
    "BAD_CREDENTIALS",
    "LoginResult",
    "authenticate",
    "change_password",
    "check_password_policy",
    "end_idle_sessions",
    "end_sessions_at_shift_end",
    "force_logout",
    "hash_token",
    "issue_password",
    "login",
    "logout",
    "password_expired",
]

#: the one message of every credential failure: it never says whether the work ID exists
BAD_CREDENTIALS: Final = "wrong work ID or password"
_TOKEN_BYTES: Final = 32


@dataclass(frozen=True, slots=True)
class LoginResult:
    """A successful login. ``token`` is shown to the client once; only its hash is stored."""

    token: str
    session_id: int
    work_id: str
    seat_id: int | None
    expires_at: datetime


def hash_token(token: str) -> str:
    """What the database keeps of a token: its SHA-256 (tokens are random, so no salt is needed)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _verify(ctx: AgentsContext, stored: str, password: str) -> bool:
    try:
        return ctx.hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def password_expired(ctx: AgentsContext, user: User, now: datetime) -> bool:
    """Rotation (14.4): a password must be changed when flagged, or when it is ``password_max_age_days`` old."""
    if user.must_change_password or user.password_changed_at is None:
        return True
    return now - user.password_changed_at >= timedelta(days=ctx.settings.password_max_age_days)


def check_password_policy(ctx: AgentsContext, new: str, *, work_id: str, previous_hash: str | None) -> None:
    """Raise RuleViolation listing every rule the new password breaks (without echoing it)."""
    problems: list[str] = []
    minimum = ctx.settings.password_min_length
    if len(new) < minimum:
        problems.append(f"at least {minimum} characters")
    if not any(c.isalpha() for c in new) or not any(c.isdigit() for c in new):
        problems.append("letters and digits")
    if work_id.casefold() in new.casefold():
        problems.append("must not contain the work ID")
    if previous_hash is not None and _verify(ctx, previous_hash, new):
        problems.append("must differ from the previous password")
    if problems:
        raise RuleViolation(
            "the new password does not meet the policy: " + "; ".join(problems),
            error_id="agents.password_policy",
            details={"problems": problems},
        )


async def _audit(
    ctx: AgentsContext, session: AsyncSession, actor: str, action: str, target: str, **details: object
) -> None:
    await ctx.audit.append(session, actor=actor, action=action, target=target, details=details)


async def _check_credentials(
    ctx: AgentsContext, session: AsyncSession, work_id: str, password: str, *, now: datetime, purpose: str
) -> User:
    """The active user whose password this is; failures are counted, locked, audited and COMMITTED before raising."""
    user = await session.get(User, work_id, with_for_update=True)
    if user is None or user.status != ACTIVE or user.password_hash is None:
        ctx.hasher.hash(password)  # as slow as a verify: timing does not tell whether the ID exists
        # an unknown "work ID" may be a mistyped password: never store it
        actor, target = ("anonymous", "user:unknown") if user is None else (work_id, f"user:{work_id}")
        reason = "unknown" if user is None else ("inactive" if user.status != ACTIVE else "no_password")
        await _audit(ctx, session, actor, "auth.login_failed", target, reason=reason, purpose=purpose)
        await session.commit()
        raise AuthError(BAD_CREDENTIALS)
    if user.locked_until is not None and now < user.locked_until:
        locked_until = user.locked_until
        await _audit(ctx, session, work_id, "auth.login_refused", f"user:{work_id}", reason="locked", purpose=purpose)
        await session.commit()
        raise AccountLocked(
            f"work ID locked until {locked_until.isoformat()} after too many failed logins",
            details={"locked_until": locked_until.isoformat()},
        )
    if not _verify(ctx, user.password_hash, password):
        user.failed_logins = (user.failed_logins or 0) + 1
        failures = user.failed_logins
        if failures >= ctx.settings.login_max_failures:
            locked_until = now + timedelta(minutes=ctx.settings.login_lockout_minutes)
            user.locked_until = locked_until
            user.failed_logins = 0
            await _audit(
                ctx,
                session,
                work_id,
                "auth.locked",
                f"user:{work_id}",
                failures=failures,
                until=locked_until.isoformat(),
            )
            await session.commit()
            raise AccountLocked(
                f"work ID locked until {locked_until.isoformat()} after too many failed logins",
                details={"locked_until": locked_until.isoformat()},
            )
        await _audit(
            ctx,
            session,
            work_id,
            "auth.login_failed",
            f"user:{work_id}",
            reason="password",
            failures=failures,
            purpose=purpose,
        )
        await session.commit()
        raise AuthError(BAD_CREDENTIALS)
    user.failed_logins = 0
    user.locked_until = None
    if ctx.hasher.check_needs_rehash(user.password_hash):
        user.password_hash = ctx.hasher.hash(password)
    return user


async def login(
    ctx: AgentsContext,
    session: AsyncSession,
    work_id: str,
    password: str,
    *,
    seat_id: int | None,
    now: datetime,
) -> LoginResult:
    """Log a work ID in at a seat; COMMITS (see the module docstring).

    Raises AuthError (wrong ID or password: one message), AccountLocked, PasswordExpired (change it with
    :func:`change_password`, then log in), SessionConflict (already logged in at a seat, or the seat is
    taken), RuleViolation (a seat not the vendor's, or a seat change within the shift without a fault
    report).
    """
    user = await _check_credentials(ctx, session, work_id, password, now=now, purpose="login")
    try:
        return await _open_session(ctx, session, user, seat_id=seat_id, now=now)
    except (PasswordExpired, SessionConflict, RuleViolation, NotFound) as exc:
        await session.rollback()
        # the credentials were right: the failure count resets even though no session opens
        user = await get_user(session, work_id)
        user.failed_logins = 0
        user.locked_until = None
        await _audit(ctx, session, work_id, "auth.login_refused", f"user:{work_id}", reason=exc.error_id)
        await session.commit()
        raise


async def _open_session(
    ctx: AgentsContext, session: AsyncSession, user: User, *, seat_id: int | None, now: datetime
) -> LoginResult:
    work_id = user.work_id
    if password_expired(ctx, user, now):
        raise PasswordExpired("the password must be changed before logging in", details={"work_id": work_id})
    existing = await open_session_of(session, work_id, for_update=True)
    if existing is not None:
        if now < existing.expires_at:
            seat_code = (await get_seat(session, existing.seat_id)).code if existing.seat_id is not None else None
            where = f"at seat {seat_code}" if seat_code else "without a seat"
            raise SessionConflict(
                f"{work_id} is already logged in {where}; log out there, or ask a team lead to end that session",
                details={"work_id": work_id, "seat": seat_code},
            )
        await close_session(ctx, session, existing, reason="expired", by=SYSTEM, at=existing.expires_at)
    if seat_id is not None:
        seat = await get_seat(session, seat_id)
        if not seat.active or not await seat_usable_by(session, seat_id, user.vendor_id, now):
            raise RuleViolation(
                f"seat {seat.code} is not the vendor's and no approved loan covers it (第十条)",
                error_id="agents.seat_not_allowed",
                details={"seat": seat.code},
            )
        await check_seat_free(session, seat, work_id=work_id, now=now)
        previous = await _previous_seat_this_shift(ctx, session, work_id, now)
        if previous is not None and previous != seat_id:
            await check_seat_change(ctx, session, work_id=work_id, old_seat_id=previous, now=now)
    token = secrets.token_urlsafe(_TOKEN_BYTES)
    expires_at = now + timedelta(minutes=ctx.settings.session_idle_minutes)
    auth_session = AuthSession(
        token_hash=hash_token(token),
        work_id=work_id,
        seat_id=seat_id,
        started_at=now,
        expires_at=expires_at,
        last_seen_at=now,
    )
    session.add(auth_session)
    await session.flush()
    await record_state(session, auth_session, State.LOGGED_IN, at=now)
    await _audit(ctx, session, work_id, "auth.login", f"user:{work_id}", session_id=auth_session.id, seat_id=seat_id)
    await session.commit()
    return LoginResult(token, auth_session.id, work_id, seat_id, expires_at)


async def _previous_seat_this_shift(
    ctx: AgentsContext, session: AsyncSession, work_id: str, now: datetime
) -> int | None:
    """The seat of the agent's last login that ended within the current shift (or local day), if any."""
    window = await shift_for(session, ctx.settings, work_id, now)
    since = window.start if window is not None and window.start <= now else local_day(ctx.settings, now)[0]
    row = (
        await session.execute(
            select(AuthSession.seat_id)
            .where(
                AuthSession.work_id == work_id,
                AuthSession.ended_at.is_not(None),
                AuthSession.ended_at >= since,
                AuthSession.seat_id.is_not(None),
            )
            .order_by(AuthSession.ended_at.desc())
            .limit(1)
        )
    ).first()
    return None if row is None else row[0]


async def change_password(
    ctx: AgentsContext, session: AsyncSession, work_id: str, old: str, new: str, *, now: datetime
) -> None:
    """Change the password (also when it expired); the old one is checked like a login. COMMITS."""
    user = await _check_credentials(ctx, session, work_id, old, now=now, purpose="change_password")
    try:
        check_password_policy(ctx, new, work_id=work_id, previous_hash=user.password_hash)
    except RuleViolation:
        await session.commit()  # keep the reset failure count
        raise
    user.password_hash = ctx.hasher.hash(new)
    user.password_changed_at = now
    user.must_change_password = False
    await _audit(ctx, session, work_id, "auth.password_changed", f"user:{work_id}")
    await session.commit()


async def issue_password(
    ctx: AgentsContext, session: AsyncSession, actor: Actor, work_id: str, *, now: datetime
) -> str:
    """A one-time password for a work ID of the actor's vendor (new ID, forgotten password); unlocks it.

    The owner must change it at the next login. Returned once; the caller shows it to the owner only.
    """
    user = await get_user(session, work_id)
    require_on(actor, "user.reset_password", user.vendor_id)
    if user.status != ACTIVE:
        raise RuleViolation(f"work ID {work_id} is {user.status}", error_id="agents.user_inactive")
    password = generate_initial_password()
    user.password_hash = ctx.hasher.hash(password)
    user.password_changed_at = now
    user.must_change_password = True
    user.failed_logins = 0
    user.locked_until = None
    await _audit(ctx, session, actor.work_id, "auth.password_issued", f"user:{work_id}")
    return password


async def authenticate(ctx: AgentsContext, session: AsyncSession, token: str, *, now: datetime) -> AuthSession:
    """The open session of a token, its idle timer restarted; SessionInvalid if unknown, ended or idle too long."""
    auth_session = (
        await session.execute(select(AuthSession).where(AuthSession.token_hash == hash_token(token)))
    ).scalar_one_or_none()
    if auth_session is None or auth_session.ended_at is not None:
        raise SessionInvalid("the session is unknown or has ended; log in again")
    if now >= auth_session.expires_at:
        raise SessionInvalid("the session expired after inactivity; log in again", error_id="agents.session_expired")
    auth_session.last_seen_at = now
    auth_session.expires_at = now + timedelta(minutes=ctx.settings.session_idle_minutes)
    await session.flush()
    return auth_session


async def logout(ctx: AgentsContext, session: AsyncSession, token: str, *, now: datetime) -> None:
    """End the token's session (the agent leaves the platform, 7.7)."""
    auth_session = await authenticate(ctx, session, token, now=now)
    await close_session(ctx, session, auth_session, reason="logout", by=auth_session.work_id, at=now)


async def force_logout(ctx: AgentsContext, session: AsyncSession, actor: Actor, work_id: str, *, now: datetime) -> None:
    """A team lead, ops manager or admin of the work ID's vendor ends its open session (audited)."""
    user = await get_user(session, work_id)
    require_on(actor, "session.force_logout", user.vendor_id)
    auth_session = await open_session_of(session, work_id, for_update=True)
    if auth_session is None:
        raise NotFound(f"{work_id} has no open session", details={"work_id": work_id})
    await close_session(
        ctx, session, auth_session, reason="forced", by=actor.work_id, at=now, action="auth.force_logout"
    )


async def end_idle_sessions(ctx: AgentsContext, session: AsyncSession, now: datetime) -> list[int]:
    """Close sessions past their idle expiry (ended at the expiry time) so records show when they really ended."""
    rows = (
        (
            await session.execute(
                select(AuthSession).where(AuthSession.ended_at.is_(None), AuthSession.expires_at <= now)
            )
        )
        .scalars()
        .all()
    )
    for auth_session in rows:
        await close_session(ctx, session, auth_session, reason="expired", by=SYSTEM, at=auth_session.expires_at)
    return [s.id for s in rows]


async def end_sessions_at_shift_end(ctx: AgentsContext, session: AsyncSession, now: datetime) -> list[int]:
    """7.7: end every open login whose agent's shift has ended; an agent on a call or in wrap-up is left to
    finish and is logged out at the next run.
    """
    rows = (await session.execute(select(AuthSession).where(AuthSession.ended_at.is_(None)))).scalars().all()
    ended: list[int] = []
    for auth_session in rows:
        window = await shift_for(session, ctx.settings, auth_session.work_id, auth_session.started_at)
        if window is None or now < window.end:
            continue
        state = await current_state(session, auth_session.work_id)
        if state.state in (State.ON_CALL, State.WRAP_UP):
            continue
        await close_session(ctx, session, auth_session, reason="shift_end", by=SYSTEM, at=now)
        ended.append(auth_session.id)
    return ended
