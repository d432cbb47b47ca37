from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

_HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"


#: a company phone number as written (digits, an optional leading +, spaces or hyphens); the route also checks
#: it with ``phonenumbers`` in the site's region (WAIHU_DEFAULT_REGION): a valid number or a service short code
_COMPANY_PHONE = r"^\+?[0-9][0-9 -]{1,30}$"
#: the highest abandon-rate cap a campaign may set: the issue's default is 3 %; above 10 % is a typo (1 for 1 %)
MAX_ABANDON_CAP = 0.1
_SAFE_HARBOR_EXAMPLE = "您好，这里是{company}。现在没有空闲的客服，如需咨询请拨打{callback_number}。"


class CampaignIn(BaseModel):
    """A new campaign: a pinned script version and its dialing settings."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "无锡手机报 11月",
                    "flow": "mobile-newspaper-trial@1",
                    "agents": ["A1001", "A1002"],
                    "dial_mode": "progressive",
                    "max_abandon_rate": 0.03,
                    "calling_windows": [["09:00", "12:00"], ["13:30", "20:00"]],
                    "timezone": "Asia/Shanghai",
                    "retry_rules": {"max_attempts": 3, "delays_minutes": {"busy": 30}},
                    "caller_id": "0510-8123 4567",
                    "consent_required": False,
                    "training": False,
                    "safe_harbor_message": _SAFE_HARBOR_EXAMPLE,
                    "callback_number": "10086",
                    "wrap_up_limit_seconds": 60,
                }
            ]
        },
    )

    name: str = Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f]+$")
    flow: str = Field(min_length=1, max_length=80, pattern=r"^[a-z0-9][a-z0-9-]*(@[0-9]{1,6})?$")
    #: required for the client's admins; other roles create for their own vendor
    vendor_id: int | None = Field(default=None, ge=1, le=2**62)
    agents: list[str] = Field(default_factory=list, max_length=500)
    dial_mode: Literal["preview", "progressive", "predictive"] = "progressive"
    max_abandon_rate: float = Field(
        default=0.03,
        gt=0,
        le=MAX_ABANDON_CAP,
        description="the cap on abandoned / answered calls, as a fraction (0.03 is 3 %); at most 0.1",
    )
    calling_windows: list[list[str]] | None = Field(default=None, max_length=12)
    timezone: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$")
    retry_rules: dict[str, Any] | None = None
    caller_id: str | None = Field(
        default=None,
        max_length=32,
        pattern=_COMPANY_PHONE,
        description="the number customers see: a valid phone number or service code of the site's region, "
        "stored as given (trimmed)",
    )
    consent_required: bool = False
    training: bool = False
    safe_harbor_message: str | None = Field(default=None, max_length=500)
    callback_number: str | None = Field(
        default=None,
        max_length=32,
        pattern=_COMPANY_PHONE,
        description="the number an abandoned customer may call back: a valid phone number or service code of the "
        "site's region, stored as given (trimmed)",
    )
    wrap_up_limit_seconds: int = Field(default=60, ge=0, le=3600)


class LeadListOut(BaseModel):
    """A lead list of a campaign: worked (active) or paused, and its leads by status."""

    id: int
    campaign_id: int
    name: str = Field(description="masked where it holds something like a phone number")
    active: bool = Field(description="false: paused, none of its leads is dialed (callbacks included)")
    created_by: str | None
    created_at: datetime
    total: int
    leads: dict[str, int] = Field(description="leads by status: dialable, done, dnc, refused, exhausted")


class LeadListIn(BaseModel):
    """Pause (``active: false``) or resume (``true``) a lead list."""

    model_config = ConfigDict(extra="forbid")

    active: bool


class CampaignStatsOut(BaseModel):
    leads: dict[str, int]
    calls: dict[str, int]
    outcomes: dict[str, int]
    attempts: int
    answered: int
    abandoned: int
    abandon_rate: float


class CampaignOut(BaseModel):
    """A campaign with every setting it was created with (free text masked), and its live stats when read."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 3,
                    "name": "无锡手机报 11月",
                    "vendor_id": 1,
                    "flow": "mobile-newspaper-trial@1",
                    "flow_digest": "5e0c…",
                    "dial_mode": "progressive",
                    "state": "running",
                    "training": False,
                    "agents": ["A1001", "A1002"],
                    "calling_windows": [["09:00", "12:00"], ["13:30", "20:00"]],
                    "timezone": "Asia/Shanghai",
                    "max_abandon_rate": 0.03,
                    "retry_rules": {
                        "max_attempts": 3,
                        "min_gap_minutes": 60,
                        "delays_minutes": {
                            "no_contact": 60,
                            "callback": 0,
                            "busy": 30,
                            "no_answer": 60,
                            "machine": 120,
                        },
                    },
                    "caller_id": "0510-8123 4567",
                    "consent_required": False,
                    "safe_harbor_message": _SAFE_HARBOR_EXAMPLE,
                    "callback_number": "10086",
                    "wrap_up_limit_seconds": 60,
                    "created_by": "TL01",
                    "created_at": "2026-11-27T01:00:00+00:00",
                    "updated_at": "2026-11-27T01:05:00+00:00",
                    "stats": {
                        "leads": {"dialable": 120, "done": 30},
                        "calls": {"answered": 31, "no_answer": 40},
                        "outcomes": {"accepted": 12},
                        "attempts": 71,
                        "answered": 31,
                        "abandoned": 0,
                        "abandon_rate": 0.0,
                    },
                }
            ]
        }
    )

    id: int
    name: str
    vendor_id: int
    flow: str
    flow_digest: str
    dial_mode: str
    state: str
    training: bool
    agents: list[str] = Field(description="the work IDs assigned to the campaign")
    calling_windows: list[list[str]]
    timezone: str
    max_abandon_rate: float
    retry_rules: dict[str, Any] = Field(description="max_attempts, min_gap_minutes, delays_minutes (defaults filled)")
    caller_id: str | None
    consent_required: bool
    safe_harbor_message: str | None = Field(description="the campaign's own message (None: the default plays)")
    callback_number: str | None
    wrap_up_limit_seconds: int
    created_by: str
    created_at: datetime
    updated_at: datetime
    stats: CampaignStatsOut | None = None


class RowIssueOut(BaseModel):
    row: int
    column: str
    reason: str
    value: str


class ImportReportOut(BaseModel):
    """What an upload did; row problems name the line and column, values masked."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "campaign_id": 3,
                    "list_id": 7,
                    "list_name": "11月名单.csv",
                    "rows": 3,
                    "imported": 1,
                    "dnc_skipped": 0,
                    "errors": [{"row": 3, "column": "phone", "reason": "not a valid phone number", "value": "***45"}],
                    "duplicates": [{"row": 4, "column": "phone", "reason": "duplicate", "value": "138****5678"}],
                }
            ]
        }
    )

    campaign_id: int
    list_id: int | None = Field(
        default=None, description="the lead list the rows went to (a report kept from before lead lists has none)"
    )
    list_name: str | None = None
    rows: int
    imported: int
    dnc_skipped: int
    errors: list[RowIssueOut]
    duplicates: list[RowIssueOut]
    encoding: str = Field(
        default="utf-8", description="how the file was read: utf-8, gb18030 (Excel's Chinese CSV), utf-16-le/-be"
    )


ImportJobState = Literal["running", "done", "failed", "interrupted"]


class ImportJobOut(BaseModel):
    """A lead upload (``?background=true``), read from the database: any API process answers, also after a
    restart. ``interrupted``: the server running it stopped first; the leads it wrote stay and the same file
    can be uploaded again (rows already in the campaign come back as duplicates)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "import_id": "9f1c2b7e0a4d4e6f8a1b2c3d4e5f6a7b",
                    "campaign_id": 3,
                    "state": "running",
                    "done": 20000,
                    "total": 50000,
                    "report": None,
                    "error": None,
                }
            ]
        }
    )

    import_id: str
    campaign_id: int
    state: ImportJobState
    done: int = Field(description="rows read so far (saved about once a second)")
    total: int = Field(description="rows in the file (an estimate from its lines until the end)")
    report: ImportReportOut | None = Field(default=None, description="state done: what the import did")
    error: dict[str, object] | None = Field(
        default=None, description="state failed or interrupted: error_id, message (masked), details"
    )


class DncIn(BaseModel):
    #: the example is spaced so no document carries an 11-digit mobile run (the PII scans look for those)
    model_config = ConfigDict(json_schema_extra={"examples": [{"phone": "138 0013 8000", "reason": "客户要求"}]})

    phone: str = Field(min_length=1, max_length=32)
    reason: str | None = Field(default=None, max_length=500)


class DncOut(BaseModel):
    phone_masked: str
    added: bool


class WebhookIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"url": "https://crm.example.com/waihu/calls", "include_pii": False}]},
    )

    url: str = Field(min_length=8, max_length=500, pattern=r"^https?://[^\s/?#]+[^\s]*$")
    #: send the phone and captured PII unmasked (needs pii.unmask; audited)
    include_pii: bool = False


class WebhookOut(BaseModel):
    id: int
    campaign_id: int
    url: str
    include_pii: bool
    active: bool
    created_by: str
    created_at: datetime


class WebhookCreated(WebhookOut):
    """The endpoint and its signing secret, shown this once: verify ``X-Waihu-Signature`` with it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 1,
                    "campaign_id": 3,
                    "url": "https://crm.example.com/waihu/calls",
                    "include_pii": False,
                    "active": True,
                    "created_by": "TL01",
                    "created_at": "2026-11-27T01:00:00+00:00",
                    "secret": "k3J…",
                }
            ]
        }
    )

    secret: str


class DeliveryOut(BaseModel):
    id: int
    call_id: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class LiveAgentOut(BaseModel):
    work_id: str
    state: str = Field(description="ready, reserved (a preview or a promised callback), on_call, wrap_up, paused")
    seconds_in_state: float
    call_id: str | None
    bot: bool


class CampaignLiveOut(BaseModel):
    """What the wallboard shows: the campaign's dialer right now (this process's runner)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "campaign_id": 3,
                    "running": True,
                    "telephony": "sim",
                    "ami_state": None,
                    "error": None,
                    "dial_mode": "progressive",
                    "uptime_seconds": 612.5,
                    "agents": [
                        {
                            "work_id": "A1001",
                            "state": "on_call",
                            "seconds_in_state": 42.0,
                            "call_id": "call-1f",
                            "bot": False,
                        }
                    ],
                    "calls_in_progress": {"ringing": 2, "bridged": 1},
                    "talking": 1,
                    "placed": 40,
                    "answered": 14,
                    "abandoned": 0,
                    "abandon_rate": 0.0,
                    "hour_abandon_rate": 0.0,
                    "max_abandon_rate": 0.03,
                    "outcomes": {"success": 3, "refused": 5},
                }
            ]
        }
    )

    campaign_id: int
    running: bool = Field(description="False when no dialer runs for it in this process (draft, stopped, or done)")
    telephony: str | None = None
    ami_state: str | None = Field(default=None, description="connecting, connected, reconnecting, closed (Asterisk)")
    error: str | None = Field(default=None, description="why the dialer stopped, if it failed")
    dial_mode: str | None = None
    uptime_seconds: float = 0.0
    agents: list[LiveAgentOut] = []
    calls_in_progress: dict[str, int] = {}
    talking: int = 0
    placed: int = 0
    answered: int = 0
    abandoned: int = 0
    abandon_rate: float = 0.0
    hour_abandon_rate: float = Field(default=0.0, description="abandoned / answered over the trailing hour")
    max_abandon_rate: float = 0.0
    outcomes: dict[str, int] = {}


class FunnelStateOut(BaseModel):
    state: str
    title: str | None
    reached: int = Field(description="conversations that showed this screen at least once")
    share: float = Field(description="reached / conversations")
    answers: dict[str, int] = Field(description="times each customer answer was chosen here")


class FunnelOut(BaseModel):
    """How far a campaign's conversations got in its script, screen by screen."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "campaign_id": 3,
                    "flow": "mobile-newspaper-trial@1",
                    "calls": 40,
                    "states": [
                        {
                            "state": "connect",
                            "title": "开场确认机主",
                            "reached": 40,
                            "share": 1.0,
                            "answers": {"是机主": 33, "不是机主": 7},
                        }
                    ],
                    "objections": {"too_expensive": 4},
                    "outcomes": {"trial_accepted": 12, "refused": 15},
                }
            ]
        }
    )

    campaign_id: int
    flow: str
    calls: int = Field(description="conversations counted (answered calls that reached the script)")
    states: list[FunnelStateOut]
    objections: dict[str, int]
    outcomes: dict[str, int]
