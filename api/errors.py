"""Errors of the API, and the one place every error becomes JSON.

Every answer that is not a success has the same body: ``{"error_id", "message", "details"}``.

Exception tree (the API's own; the domain packages keep theirs)::

    WaihuError
    └── ApiError                 api.error
        ├── NotAuthenticated     api.not_authenticated   no session cookie or bearer token (401)
        ├── CsrfFailed           api.csrf_failed         cookie-authenticated change without X-CSRF-Token (403)
        ├── ObjectNotFound       api.not_found           unknown object, or another vendor's (404)
        └── RangeNotSatisfiable  api.range_invalid       a recording byte range outside the file (416)

Statuses of the domain errors (:data:`STATUS_BY_CLASS`): not found 404; permission 403, but 404 when
the object belongs to another vendor (so its existence does not leak); authentication 401; a rule or
state machine refusing the action 409; invalid input 422; a deleted recording 410. An exception that
is no domain error is logged with its traceback and answered ``500 {"error_id": "internal"}``: the
aim is that this never happens, and the schemathesis test holds the API to it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from agents.errors import (
    AccountLocked,
    AttendanceInputError,
    AuthError,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    RuleViolation,
    SessionConflict,
    SessionInvalid,
)
from dialer.errors import (
    AgentAssignmentError,
    BackendError,
    CampaignError,
    CampaignNotFound,
    CampaignStateError,
    LeadImportError,
    LeadListNotFound,
    PacingError,
)
from flows.errors import FlowError, FlowFileError, FlowNotFound, FlowRunError
from recordings.errors import (
    NotVisible,
    RecordingCorrupt,
    RecordingDeleted,
    RecordingNotFound,
    ReviewRefused,
    ScoreInvalid,
    SheetError,
    SheetNotFound,
)
from waihu.errors import ConfigError, VaultError, WaihuError
from waihu.pii import mask_text

__all__ = [
    "STATUS_BY_CLASS",
    "ApiError",
    "CsrfFailed",
    "NotAuthenticated",
    "ObjectNotFound",
    "RangeNotSatisfiable",
    "error_body",
    "install_error_handlers",
    "status_of",
]

log = logging.getLogger(__name__)


class ApiError(WaihuError):
    default_error_id = "api.error"


class NotAuthenticated(ApiError):
    default_error_id = "api.not_authenticated"


class CsrfFailed(ApiError):
    default_error_id = "api.csrf_failed"


class ObjectNotFound(ApiError):
    default_error_id = "api.not_found"


class RangeNotSatisfiable(ApiError):
    default_error_id = "api.range_invalid"


#: the most specific class in an error's MRO decides its status
STATUS_BY_CLASS: Final[Mapping[type[Exception], int]] = {
    WaihuError: 400,
    FlowError: 400,
    ApiError: 422,
    NotAuthenticated: 401,
    CsrfFailed: 403,
    ObjectNotFound: 404,
    RangeNotSatisfiable: 416,
    # agents
    NotFound: 404,
    PermissionDenied: 403,
    RuleViolation: 409,
    AuthError: 401,
    AccountLocked: 423,
    SessionConflict: 409,
    SessionInvalid: 401,
    InvalidTransition: 409,
    AttendanceInputError: 422,
    # dialer
    CampaignError: 422,
    CampaignNotFound: 404,
    LeadListNotFound: 404,
    CampaignStateError: 409,
    AgentAssignmentError: 422,
    LeadImportError: 422,
    PacingError: 422,
    BackendError: 503,
    # flows
    FlowFileError: 422,
    FlowNotFound: 404,
    FlowRunError: 409,
    # recordings
    SheetError: 422,
    SheetNotFound: 404,
    NotVisible: 404,
    ReviewRefused: 409,
    ScoreInvalid: 422,
    RecordingNotFound: 404,
    RecordingDeleted: 410,
    RecordingCorrupt: 409,  # the file no longer matches its stored size / SHA-256: QA must not hear it
    # waihu
    ConfigError: 500,
    VaultError: 500,
}

#: error ids whose class is too general for their meaning
_STATUS_BY_ID: Final[Mapping[str, int]] = {
    "qa.review_not_found": 404,
    "dialer.flow_not_found": 422,
    "dialer.vendor_not_found": 422,
    "vault.invalid_value": 422,
    "recording.reason_required": 422,
    "api.reason_required": 422,
    "agents.session_expired": 401,
}

_HIDDEN: Final = {"error_id": "api.not_found", "message": "not found", "details": {}}


def error_body(error_id: str, message: str, details: Mapping[str, object] | None = None) -> dict[str, object]:
    return {"error_id": error_id, "message": message, "details": dict(details or {})}


def status_of(exc: BaseException) -> int:
    """The HTTP status of a domain error (see the module docstring)."""
    error_id = getattr(exc, "error_id", None)
    if isinstance(error_id, str) and error_id in _STATUS_BY_ID:
        return _STATUS_BY_ID[error_id]
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_CLASS:
            return STATUS_BY_CLASS[cls]
    return 500


def _domain_body(exc: WaihuError | FlowError) -> tuple[int, dict[str, object]]:
    if isinstance(exc, PermissionDenied) and exc.details.get("other_vendor"):
        return 404, dict(_HIDDEN)  # another vendor's object: as if it did not exist
    if isinstance(exc, NotVisible):
        return 404, dict(_HIDDEN)
    body = exc.to_dict() if isinstance(exc, WaihuError) else error_body(exc.error_id, exc.message, exc.details)
    status = status_of(exc)
    if status >= 500:
        log.error("server-side error %s: %s", exc.error_id, exc.message)
        body = error_body(exc.error_id, "the server cannot do this now; the operator has been told", {})
    return status, body


def _json(status: int, body: Mapping[str, object], headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content=dict(body), headers=dict(headers or {}))


def _jsonable(value: Any) -> Any:
    """Validation error entries as plain JSON (their ``ctx`` may hold exceptions); inputs are dropped (PII)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items() if k not in ("input", "url")}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


#: how to fix the commonest validation problems (by pydantic's error type)
_FIXES: Final = {
    "missing": "add it",
    "timezone_aware": "give the time zone, e.g. 2030-01-01T09:00:00+08:00",
    "json_invalid": "send valid JSON",
    "extra_forbidden": "remove it",
}


def validation_message(problems: list[dict[str, Any]]) -> str:
    """One line naming each bad field (up to three) with what is wrong and, where known, how to fix it."""
    parts = []
    for problem in problems[:3]:
        loc = [str(x) for x in problem.get("loc", ()) if x != "body"]
        where = ".".join(loc) if loc else "the body"
        fix = _FIXES.get(str(problem.get("type", "")))
        parts.append(f"{where}: {problem.get('msg', 'invalid')}" + (f" ({fix})" if fix else ""))
    more = f"; and {len(problems) - 3} more" if len(problems) > 3 else ""
    return "the request is invalid: " + "; ".join(parts) + more + " (every problem is in details.problems)"


def install_error_handlers(app: FastAPI) -> None:
    """One handler per kind of failure, all answering the same JSON shape."""

    async def domain(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, WaihuError | FlowError)
        status, body = _domain_body(exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return _json(status, body, headers)

    async def validation(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        problems = _jsonable(list(exc.errors()))
        message = mask_text(validation_message(problems))  # a validator may quote what it was given
        return _json(422, error_body("api.invalid_request", message, {"problems": problems}))

    async def http(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        error_id = {404: "api.not_found", 405: "api.method_not_allowed"}.get(exc.status_code, "api.http_error")
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        return _json(exc.status_code, error_body(error_id, message), exc.headers)

    async def internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return _json(500, error_body("internal", "internal error; the operator has been told"))

    app.add_exception_handler(WaihuError, domain)
    app.add_exception_handler(FlowError, domain)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(StarletteHTTPException, http)
    app.add_exception_handler(Exception, internal)
