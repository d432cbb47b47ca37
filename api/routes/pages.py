"""The pages: ``/login``, ``/console`` (the agent console) and ``/static/…``; not part of the OpenAPI document.

A page is HTML plus ES modules that call the JSON API with the session cookie and the CSRF header
(``static/js/api.js``). The console page checks the login itself: without one it sends the browser to
``/login``; a work ID that does not take calls goes to ``/desk`` (the team lead's page).
"""

from __future__ import annotations

import functools
import json
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from agents.auth import authenticate
from agents.models import User
from agents.permissions import permissions_of
from agents.sessions import current_state
from api.deps import SESSION_COOKIE, State
from api.errors import ObjectNotFound
from api.pages import PAGES_DIR, STATIC_DIR
from waihu.errors import WaihuError

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

#: what pages may load: only this origin (the websocket included); no inline script, no framing
_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-cache",
}
_STATIC_TYPES: Final = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
_CONFIG_SLOT: Final = "{{WAIHU_CONFIG}}"


@functools.cache
def _page_text(name: str) -> str:
    """A page's HTML, read once: the files are part of the installed package."""
    return (PAGES_DIR / name).read_text(encoding="utf-8")


def _page(name: str, config: dict[str, Any] | None = None) -> HTMLResponse:
    html = _page_text(name)
    if config is not None:
        # JSON inside <script type="application/json">: "</" must not close the element
        html = html.replace(_CONFIG_SLOT, json.dumps(config, ensure_ascii=False).replace("</", "<\\/"))
    return HTMLResponse(html, headers=dict(_HEADERS))


async def _user_of(request: Request, state: State) -> User | None:
    """The user of the page's session cookie, or None (no cookie, ended or idle session)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    async with state.sessions() as session:
        try:
            auth_session = await authenticate(state.agents, session, token, now=state.now())
        except WaihuError:
            return None
        user = await session.get(User, auth_session.work_id)
        await session.commit()
        return user


@router.get("/")
async def root() -> RedirectResponse:
    return RedirectResponse("/login", status_code=303)


@router.get("/login")
async def login_page() -> HTMLResponse:
    """登录: the form, the forced password change, then the page of the work ID's role."""
    return _page("login.html")


@router.get("/console", response_model=None)
async def console_page(request: Request, state: State) -> Response:
    """坐席工作台: the agent console (needs ``call.take``)."""
    user = await _user_of(request, state)
    if user is None:
        return RedirectResponse("/login", status_code=303)
    if "call.take" not in permissions_of(user):
        return RedirectResponse("/desk", status_code=303)
    async with state.sessions() as session:
        now = await current_state(session, user.work_id, now=state.now())
    config = {
        "work_id": user.work_id,
        "role": user.role,
        "state": now.state.value,
        "reason": now.reason,
        "pause_reasons": list(state.agents.pause_reasons),
    }
    return _page("console.html", config)


#: what a work ID needs to open the team-lead desk (QA holds reports and read-only campaigns)
_DESK_NEEDS: Final = frozenset({"campaign.view", "qa.view", "asset.view"})


@router.get("/desk", response_model=None)
async def desk_page(request: Request, state: State) -> Response:
    """组长工作台: campaigns, the live wallboard, reports and site operations (team leads, ops managers,
    admins; QA sees what its permissions allow). The page shows only what the permissions passed here allow;
    the API checks every call again."""
    user = await _user_of(request, state)
    if user is None:
        return RedirectResponse("/login", status_code=303)
    granted = permissions_of(user)
    if not granted & _DESK_NEEDS:
        return RedirectResponse("/console", status_code=303)
    local = state.now().astimezone(state.settings.zone)
    config = {
        "work_id": user.work_id,
        "role": user.role,
        "vendor_id": user.vendor_id,
        "permissions": sorted(granted),
        "timezone": state.settings.timezone,
        "today": local.date().isoformat(),
    }
    return _page("desk.html", config)


@router.get("/qa", response_model=None)
async def qa_page(request: Request, state: State) -> Response:
    """质检回放: search calls, replay one (recording + script steps on a timeline), score it (needs ``qa.view``;
    scoring needs ``qa.review``, the player ``recording.play``). An agent is sent to their own reviews."""
    user = await _user_of(request, state)
    if user is None:
        return RedirectResponse("/login", status_code=303)
    granted = permissions_of(user)
    if "qa.view" not in granted:
        return RedirectResponse("/reviews" if "call.take" in granted else "/desk", status_code=303)
    config = {
        "work_id": user.work_id,
        "role": user.role,
        "timezone": state.settings.timezone,
        "can_review": "qa.review" in granted,
        "can_play": "recording.play" in granted,
        "has_desk": bool(granted & _DESK_NEEDS),
    }
    return _page("qa.html", config)


@router.get("/reviews", response_model=None)
async def reviews_page(request: Request, state: State) -> Response:
    """我的质检: the agent's reviewed calls, acknowledged or disputed here (needs ``call.take``)."""
    user = await _user_of(request, state)
    if user is None:
        return RedirectResponse("/login", status_code=303)
    granted = permissions_of(user)
    if "call.take" not in granted:
        return RedirectResponse("/qa" if "qa.view" in granted else "/desk", status_code=303)
    config = {"work_id": user.work_id, "role": user.role, "timezone": state.settings.timezone}
    return _page("reviews.html", config)


@router.get("/static/{path:path}")
async def static(path: str) -> FileResponse:
    """The pages' CSS and ES modules (no build step: the files as they are in the package)."""
    target = (STATIC_DIR / path).resolve()
    media = _STATIC_TYPES.get(target.suffix)
    if media is None or not target.is_relative_to(STATIC_DIR) or not target.is_file():
        raise ObjectNotFound(f"no static file {path!r}")
    return FileResponse(target, media_type=media, headers=dict(_HEADERS))
