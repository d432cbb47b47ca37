"""Calls, recordings, QA reviews, sheets and reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class CallOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "call_id": "c-3-17-1",
                    "campaign_id": 3,
                    "vendor_id": 1,
                    "work_id": "A1001",
                    "phone_masked": "138****5678",
                    "started_at": "2026-11-27T02:00:00+00:00",
                    "answered_at": "2026-11-27T02:00:07+00:00",
                    "ended_at": "2026-11-27T02:03:10+00:00",
                    "result": "answered",
                    "outcome": "accepted",
                    "abandoned": False,
                }
            ]
        }
    )

    call_id: str | None
    campaign_id: int
    vendor_id: int
    work_id: str | None
    phone_masked: str | None
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    result: str
    outcome: str | None
    abandoned: bool


class ReplayOut(BaseModel):
    """A call on one timeline (see recordings.calllog.assemble); PII masked unless unmasked with a reason."""

    model_config = ConfigDict(extra="allow")

    call_id: str
    campaign_id: int | None
    vendor_id: int | None
    agent: str | None
    flow: dict[str, Any]
    outcome: dict[str, Any] | None
    captured: dict[str, Any]
    timeline: list[dict[str, Any]]


class SheetItemOut(BaseModel):
    id: str
    label: str
    source: str | None
    points: int
    auto: str | None


class SheetOut(BaseModel):
    ref: str
    id: str
    version: int
    title: str
    max_points: int
    items: list[SheetItemOut]


class ReviewStartIn(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"call_id": "c-3-17-1", "sheet": "discipline"}]})

    call_id: str = Field(min_length=1, max_length=64)
    sheet: str = Field(default="discipline", min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9-]*(@[0-9]{1,6})?$")


class ScoreIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"item_id": "greeting", "points": 1, "comment": None, "at": 3.5}]}
    )

    item_id: str = Field(min_length=1, max_length=64)
    points: int = Field(ge=0, le=1000)
    comment: str | None = Field(default=None, max_length=2000)
    at: float | None = Field(default=None, ge=0, le=86400)


class AckIn(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"accept": True, "comment": "已阅"}]})

    accept: bool = True
    comment: str | None = Field(default=None, max_length=2000)


class CloseIn(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"note": "复听后维持原评分"}]})

    note: str | None = Field(
        default=None, max_length=2000, description="how a dispute was settled (required for a disputed review)"
    )


class ReviewOut(BaseModel):
    id: int
    call_id: str
    vendor_id: int | None
    work_id: str
    campaign_id: int | None
    flow_ref: str | None
    reviewer: str
    sheet: str
    items: dict[str, dict[str, Any]]
    total: int
    max_total: int
    state: str
    agent_comment: str | None
    created_at: datetime
    submitted_at: datetime | None
    acknowledged_at: datetime | None


class ScoreRowOut(BaseModel):
    key: str
    period: str
    reviews: int
    points: int
    max_points: int
    percent: float


class MissedOut(BaseModel):
    item_id: str
    times: int


class SampleCallOut(BaseModel):
    """One call picked for review; the number masked, as in every call list."""

    call_id: str
    campaign_id: int
    work_id: str
    phone_masked: str | None
    started_at: datetime
    talk_seconds: float
    outcome: str | None
    outcome_category: str | None
    missed_checkpoints: int
    #: how much the draw favoured it (short calls, refusals, missed checkpoints weigh more)
    weight: float
    #: the newest review of this call, if one was started
    review_id: int | None
    review_state: str | None


class SampleAgentOut(BaseModel):
    work_id: str
    #: the agent's reviewable calls that week (reached the agent, have a script transcript)
    calls: int
    picked: list[SampleCallOut]


class SampleOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "week": "2026-W48",
                    "since": "2026-11-22T16:00:00+00:00",
                    "until": "2026-11-29T16:00:00+00:00",
                    "per_agent": 5,
                    "campaign_id": None,
                    "agents": [
                        {
                            "work_id": "A1001",
                            "calls": 42,
                            "picked": [
                                {
                                    "call_id": "c-3-17-1",
                                    "campaign_id": 3,
                                    "work_id": "A1001",
                                    "phone_masked": "138****5678",
                                    "started_at": "2026-11-27T02:00:00+00:00",
                                    "talk_seconds": 21.5,
                                    "outcome": "refused",
                                    "outcome_category": "refused",
                                    "missed_checkpoints": 1,
                                    "weight": 8.0,
                                    "review_id": None,
                                    "review_state": None,
                                }
                            ],
                        }
                    ],
                }
            ]
        }
    )

    #: the ISO week, in the site's time zone
    week: str
    since: datetime
    until: datetime
    per_agent: int
    campaign_id: int | None
    agents: list[SampleAgentOut]
