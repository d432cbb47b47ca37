"""What routes depend on: the app's resources, a database session, and THE permission dependency.

``require_permission("campaign.launch")`` is the only way a route is protected: it authenticates the
caller (the session cookie, or ``Authorization: Bearer``), checks CSRF on cookie-authenticated changes,
and asks :func:`agents.permissions.require`. Routes never test roles.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Final, Protocol, TypeVar

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from agents.auth import authenticate
from agents.context import AgentsContext
from agents.errors import SessionInvalid
from agents.models import User
from agents.permissions import PERMISSIONS, Role, require
from api.errors import CsrfFailed, NotAuthenticated, ObjectNotFound
from api.metrics import Metrics
from flows import FlowRegistry
from recordings.sheets import SheetRegistry
from recordings.viewer import Viewer
from waihu.audit import AuditLog
from waihu.settings import Settings
from waihu.vault import Vault

__all__ = [
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "SAFE_METHODS",
    "SESSION_COOKIE",
    "AppState",
    "Caller",
    "DbSession",
    "State",
    "csrf_token_for",
    "get_state",
    "own_vendor_object",
    "require_login",
    "require_permission",
]

SESSION_COOKIE: Final = "waihu_session"
CSRF_COOKIE: Final = "waihu_csrf"
CSRF_HEADER: Final = "X-CSRF-Token"
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class AppState:
    """Everything built in the lifespan from validated settings (never at import)."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    vault: Vault
    audit: AuditLog
    flows: FlowRegistry
    sheets: SheetRegistry
    agents: AgentsContext
    metrics: Metrics
    now: Callable[[], datetime]
    extra: dict[str, Any] = field(default_factory=dict)


def get_state(request: Request) -> AppState:
    state = request.app.state.waihu
    assert isinstance(state, AppState), "the app's lifespan has not run"
    return state


State = Annotated[AppState, Depends(get_state)]


async def _db_session(state: State) -> AsyncIterator[AsyncSession]:
    async with state.sessions() as session:
        yield session


DbSession = Annotated[AsyncSession, Depends(_db_session)]


def csrf_token_for(session_token: str) -> str:
    """The CSRF token of a login: derived from its (HttpOnly) session token, so a page cannot forge it."""
    return hmac.new(b"waihu-csrf", session_token.encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Caller:
    """The authenticated work ID of a request, with the request's database session and the app's resources."""

    user: User
    session: AsyncSession
    state: AppState
    token: str
    via_cookie: bool

    @property
    def work_id(self) -> str:
        return self.user.work_id

    @property
    def viewer(self) -> Viewer:
        """The caller as the recordings package sees it (``vendor_id`` None: the client, every vendor)."""
        return Viewer(self.user.work_id, self.user.vendor_id)

    def now(self) -> datetime:
        return self.state.now()


def _token_of(request: Request) -> tuple[str, bool]:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip(), False
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return cookie, True
    raise NotAuthenticated("log in first: send the session cookie or Authorization: Bearer <token>")


async def _authenticated(request: Request, state: AppState, session: AsyncSession) -> Caller:
    token, via_cookie = _token_of(request)
    if via_cookie and request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode("utf-8"), csrf_token_for(token).encode("utf-8")):
            raise CsrfFailed(f"send the {CSRF_HEADER} header with the value of the {CSRF_COOKIE} cookie")
    auth_session = await authenticate(state.agents, session, token, now=state.now())
    user = await session.get(User, auth_session.work_id)
    if user is None:  # pragma: no cover - a session row always names a user (foreign key)
        raise SessionInvalid("the session's work ID is gone; log in again")
    await session.commit()  # the idle timer restarts even when the route only reads
    return Caller(user=user, session=session, state=state, token=token, via_cookie=via_cookie)


def require_permission(permission: str) -> Callable[..., Awaitable[Caller]]:
    """The dependency of every protected route: authenticated, and holding ``permission`` (for its own vendor).

    The returned function carries ``.permission`` so tests can walk every route's permission.
    """
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")

    async def dependency(request: Request, state: State, session: DbSession) -> Caller:
        caller = await _authenticated(request, state, session)
        require(caller.user, permission)
        return caller

    dependency.permission = permission  # type: ignore[attr-defined]
    dependency.__name__ = f"require_{permission.replace('.', '_')}"
    return dependency


async def require_login(request: Request, state: State, session: DbSession) -> Caller:
    """Authenticated, whatever the permissions (logout, one's own profile)."""
    return await _authenticated(request, state, session)


require_login.permission = None  # type: ignore[attr-defined]


class _VendorOwned(Protocol):
    @property
    def vendor_id(self) -> int | None: ...


_Owned = TypeVar("_Owned", bound=_VendorOwned)


async def own_vendor_object(
    caller: Caller, model: type[_Owned], object_id: int, message: str, details: Mapping[str, object] | None = None
) -> _Owned:
    """An object named in a request body must be the caller's vendor's (admins: any; for a vendor's staff the
    client's own objects count as another's): else ``404 api.not_found``, as for an id that does not exist.
    Only admins have no vendor (the users table's ``vendor_unless_admin`` check)."""
    found = await caller.session.get(model, object_id)
    if found is None or (caller.user.role != Role.ADMIN and found.vendor_id != caller.user.vendor_id):
        raise ObjectNotFound(message, details=details)
    return found
