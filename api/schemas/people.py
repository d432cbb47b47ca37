"""Work IDs, work-ID requests, login sessions, fault reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class UserOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "work_id": "A1001",
                    "name_masked": "张*",
                    "role": "agent",
                    "vendor_id": 1,
                    "status": "active",
                    "skills": ["mobile-newspaper"],
                    "permissions": None,
                }
            ]
        }
    )

    work_id: str
    name_masked: str
    role: str
    vendor_id: int | None
    status: str
    skills: list[str]
    permissions: list[str] | None


class ChangeRequestIn(BaseModel):
    """A work-ID request (工号申请表, 14.2); fields by kind as in agents.lifecycle.request_change."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "kind": "create_trainee",
                    "work_id": "T2001",
                    "name": "李四",
                    "effective_at": "2026-12-01T01:00:00+00:00",
                    "reason": "新员工入职培训",
                }
            ]
        },
    )

    kind: Literal[
        "create_trainee",
        "create_agent",
        "promote",
        "change_role",
        "change_skills",
        "change_permissions",
        "rename",
        "delete",
    ]
    work_id: str = Field(min_length=1, max_length=32)
    effective_at: AwareDatetime = Field(description="when it takes effect (ISO 8601 with the time zone)")
    reason: str = Field(min_length=1, max_length=1000)
    vendor_id: int | None = Field(default=None, ge=1, le=2**62)
    name: str | None = Field(default=None, max_length=64)
    role: Literal["trainee", "agent", "team_lead", "ops_manager", "qa", "admin"] | None = None
    skills: list[str] | None = Field(default=None, max_length=50)
    permissions: list[str] | None = Field(default=None, max_length=50)
    trainee_work_id: str | None = Field(default=None, max_length=32)
    document_ref: str | None = Field(default=None, max_length=128)


class ChangeRequestOut(BaseModel):
    id: int
    kind: str
    work_id: str
    vendor_id: int | None
    payload: dict[str, Any]
    reason: str
    document_ref: str | None
    requested_by: str
    requested_at: datetime
    effective_at: AwareDatetime = Field(description="when it takes effect (ISO 8601 with the time zone)")
    status: str
    decided_by: str | None
    decided_at: datetime | None


class DecisionIn(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"approve": True, "note": "材料齐全"}]})

    approve: bool
    note: str | None = Field(default=None, max_length=1000)


class SessionOut(BaseModel):
    session_id: int
    work_id: str
    seat_code: str | None
    started_at: datetime
    last_seen_at: datetime
    expires_at: datetime


class FaultIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"seat_id": 12, "asset_id": 40, "description": "耳机无声"}]}
    )

    seat_id: int | None = Field(default=None, ge=1, le=2**62)
    asset_id: int | None = Field(
        default=None, ge=1, le=2**62, description="the asset at fault (the headset, the computer), if known"
    )
    description: str = Field(min_length=1, max_length=2000)


class FaultFixIn(BaseModel):
    resolution: str = Field(min_length=1, max_length=2000)


class FaultOut(BaseModel):
    id: int
    seat_id: int | None
    asset_id: int | None = None
    vendor_id: int | None
    reported_by: str
    description: str
    status: str
    reported_at: datetime
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    fixed_by: str | None
    fixed_at: datetime | None
    resolution: str | None
