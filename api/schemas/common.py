"""Shapes shared by every resource: the error body, plain acknowledgements."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field

#: a database id in a path: bounded so no request can overflow a 64-bit column
Id = Annotated[int, Path(ge=1, le=2**62)]


class ErrorBody(BaseModel):
    """Every error answer: a stable ``error_id`` clients match on, a message for humans, details."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "error_id": "dialer.campaign_state",
                    "message": "campaign 3 is stopped: it cannot go to running",
                    "details": {"campaign_id": 3, "state": "stopped", "target": "running", "allowed": []},
                }
            ]
        }
    )

    error_id: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class Ok(BaseModel):
    ok: bool = True


#: the error answers every protected route may give, for OpenAPI
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "not logged in, or the session ended"},
    403: {"model": ErrorBody, "description": "the work ID lacks the permission (or CSRF token missing)"},
    404: {"model": ErrorBody, "description": "no such object, or another vendor's"},
    409: {"model": ErrorBody, "description": "a rule or state machine refuses the action"},
    422: {"model": ErrorBody, "description": "invalid input"},
}
