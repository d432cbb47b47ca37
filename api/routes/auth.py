"""Logins: a session cookie (HttpOnly, SameSite=Strict) plus a CSRF cookie for pages; a bearer token for clients."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from agents.auth import change_password, login, logout
from agents.models import User
from agents.permissions import permissions_of
from api.deps import CSRF_COOKIE, SESSION_COOKIE, Caller, DbSession, State, csrf_token_for, require_login
from api.dialing import dialers_of
from api.schemas.auth import LoginIn, LoginOut, Me, PasswordIn
from api.schemas.common import ERRORS, ErrorBody, Ok

router = APIRouter(tags=["auth"])


def _set_cookies(response: Response, request: Request, token: str, max_age: int) -> str:
    csrf = csrf_token_for(token)
    secure = request.url.scheme == "https"
    response.set_cookie(
        SESSION_COOKIE, token, max_age=max_age, httponly=True, samesite="strict", secure=secure, path="/"
    )
    response.set_cookie(CSRF_COOKIE, csrf, max_age=max_age, httponly=False, samesite="strict", secure=secure, path="/")
    return csrf


@router.post(
    "/auth/login",
    response_model=LoginOut,
    responses={401: {"model": ErrorBody}, 409: {"model": ErrorBody}, 423: {"model": ErrorBody}},
)
async def post_login(body: LoginIn, request: Request, response: Response, state: State, session: DbSession) -> LoginOut:
    """Log in with a work ID and password; lockout, rotation and one session per work ID apply (agents.auth)."""
    result = await login(state.agents, session, body.work_id, body.password, seat_id=body.seat_id, now=state.now())
    user = await session.get(User, result.work_id)
    assert user is not None
    max_age = state.settings.session_idle_minutes * 60
    csrf = _set_cookies(response, request, result.token, max_age)
    return LoginOut(
        token=result.token,
        csrf_token=csrf,
        work_id=user.work_id,
        role=user.role,
        vendor_id=user.vendor_id,
        permissions=sorted(permissions_of(user)),
        expires_at=result.expires_at,
    )


@router.post("/auth/logout", response_model=Ok, responses=ERRORS)
async def post_logout(caller: Annotated[Caller, Depends(require_login)], response: Response) -> Ok:
    """End this login (the agent leaves the platform)."""
    await logout(caller.state.agents, caller.session, caller.token, now=caller.now())
    await caller.session.commit()
    dialers_of(caller.state).agent_left(caller.work_id)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return Ok()


@router.post("/auth/password", response_model=Ok, responses={401: {"model": ErrorBody}, 409: {"model": ErrorBody}})
async def post_password(body: PasswordIn, state: State, session: DbSession) -> Ok:
    """Change a password with the old one (also when it expired, so no login is needed)."""
    await change_password(state.agents, session, body.work_id, body.old_password, body.new_password, now=state.now())
    return Ok()


@router.get("/auth/me", response_model=Me, responses=ERRORS)
async def get_me(caller: Annotated[Caller, Depends(require_login)]) -> Me:
    """Who is logged in, and what they may do."""
    user = caller.user
    return Me(work_id=user.work_id, role=user.role, vendor_id=user.vendor_id, permissions=sorted(permissions_of(user)))
