from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class LoginIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"work_id": "A1001", "password": "s3cret-Pass9", "seat_id": None}]}
    )

    work_id: str = Field(min_length=1, max_length=32)
    password: str = Field(min_length=1, max_length=256)
    seat_id: int | None = Field(default=None, ge=1, le=2**62)


class LoginOut(BaseModel):
    """The bearer token (API clients) and the CSRF token (pages); pages also get both as cookies."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "token": "q0L3…",
                    "token_type": "bearer",
                    "csrf_token": "9f2c…",
                    "work_id": "A1001",
                    "role": "team_lead",
                    "vendor_id": 1,
                    "permissions": ["campaign.view", "campaign.launch"],
                    "expires_at": "2026-11-27T10:00:00+00:00",
                }
            ]
        }
    )

    token: str
    token_type: str = "bearer"
    csrf_token: str
    work_id: str
    role: str
    vendor_id: int | None
    permissions: list[str]
    expires_at: datetime


class PasswordIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"work_id": "A1001", "old_password": "Old-pass1", "new_password": "N3w-pass"}]}
    )

    work_id: str = Field(min_length=1, max_length=32)
    old_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256)


class Me(BaseModel):
    work_id: str
    role: str
    vendor_id: int | None
    permissions: list[str]
