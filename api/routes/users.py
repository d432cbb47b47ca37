"""Work IDs (names masked), work-ID change requests with approvals, open logins and force-logout."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from agents.auth import force_logout
from agents.lifecycle import decide_change, list_requests, request_change
from agents.models import ChangeRequest
from agents.sessions import list_open_sessions
from agents.users import UserView, list_users, show_user
from api.deps import Caller, require_permission
from api.schemas.common import ERRORS, Id, Ok
from api.schemas.people import ChangeRequestIn, ChangeRequestOut, DecisionIn, SessionOut, UserOut
from api.ws import login_ended
from waihu.pii import mask_text

router = APIRouter(tags=["work IDs"], responses=ERRORS)
UserViewer = Annotated[Caller, Depends(require_permission("user.view"))]


def user_out(view: UserView) -> UserOut:
    return UserOut(
        work_id=view.work_id,
        name_masked=view.name_masked,
        role=view.role,
        vendor_id=view.vendor_id,
        status=view.status,
        skills=list(view.skills),
        permissions=None if view.permissions is None else list(view.permissions),
    )


def request_out(request: ChangeRequest) -> ChangeRequestOut:
    payload = {k: v for k, v in request.payload.items() if k != "name_enc"}  # an encrypted name is no use to clients
    return ChangeRequestOut(
        id=request.id,
        kind=request.kind,
        work_id=request.work_id,
        vendor_id=request.vendor_id,
        payload=payload,
        reason=mask_text(request.reason),
        document_ref=request.document_ref,
        requested_by=request.requested_by,
        requested_at=request.requested_at,
        effective_at=request.effective_at,
        status=request.status,
        decided_by=request.decided_by,
        decided_at=request.decided_at,
    )


@router.get("/users", response_model=list[UserOut])
async def get_users(caller: UserViewer) -> list[UserOut]:
    """The vendor's work IDs (admins: all), names masked."""
    return [user_out(v) for v in await list_users(caller.state.agents, caller.session, caller.user)]


@router.get("/users/{work_id}", response_model=UserOut)
async def get_user(work_id: str, caller: UserViewer) -> UserOut:
    """One work ID (another vendor's: 404)."""
    return user_out(await show_user(caller.state.agents, caller.session, caller.user, work_id))


@router.get("/user-requests", response_model=list[ChangeRequestOut])
async def get_requests(
    caller: UserViewer,
    status: Annotated[Literal["pending", "approved", "rejected", "applied", "failed"] | None, Query()] = None,
) -> list[ChangeRequestOut]:
    """Work-ID requests of the vendor (admins: all), newest first."""
    return [request_out(r) for r in await list_requests(caller.session, caller.user, status=status)]


@router.post("/user-requests", response_model=ChangeRequestOut, status_code=201)
async def post_request(
    body: ChangeRequestIn, caller: Annotated[Caller, Depends(require_permission("user.request"))]
) -> ChangeRequestOut:
    """File a work-ID request (14.2: notice periods by kind); another person approves it."""
    request = await request_change(
        caller.state.agents,
        caller.session,
        caller.user,
        kind=body.kind,
        work_id=body.work_id,
        effective_at=body.effective_at,
        reason=body.reason,
        now=caller.now(),
        vendor_id=body.vendor_id,
        name=body.name,
        role=body.role,
        skills=body.skills,
        permissions=body.permissions,
        trainee_work_id=body.trainee_work_id,
        document_ref=body.document_ref,
    )
    await caller.session.commit()
    return request_out(request)


@router.post("/user-requests/{request_id}/decision", response_model=ChangeRequestOut)
async def post_decision(
    request_id: Id, body: DecisionIn, caller: Annotated[Caller, Depends(require_permission("user.approve"))]
) -> ChangeRequestOut:
    """Approve or reject a pending request (never the requester's own)."""
    request = await decide_change(
        caller.state.agents,
        caller.session,
        caller.user,
        request_id,
        approve=body.approve,
        now=caller.now(),
        note=body.note,
    )
    await caller.session.commit()
    return request_out(request)


@router.get("/sessions", response_model=list[SessionOut])
async def get_sessions(caller: UserViewer) -> list[SessionOut]:
    """Open logins of the vendor (admins: all)."""
    views = await list_open_sessions(caller.session, caller.user, now=caller.now())
    return [
        SessionOut(
            session_id=v.session_id,
            work_id=v.work_id,
            seat_code=v.seat_code,
            started_at=v.started_at,
            last_seen_at=v.last_seen_at,
            expires_at=v.expires_at,
        )
        for v in views
    ]


@router.post("/sessions/{work_id}/force-logout", response_model=Ok)
async def post_force_logout(
    work_id: str, caller: Annotated[Caller, Depends(require_permission("session.force_logout"))]
) -> Ok:
    """End another work ID's login (audited)."""
    await force_logout(caller.state.agents, caller.session, caller.user, work_id, now=caller.now())
    await caller.session.commit()
    await login_ended(caller.state, work_id, "forced")
    return Ok()
