"""Tables of the dialer: campaigns, their agents, leads, the internal DNC list and call attempts.

Customer PII never sits in clear text: a lead's phone and name are encrypted with the vault, found
again through a keyed hash (``phone_hash``, also the DNC key) and shown through ``phone_masked``.
Every dial leaves a :class:`CallAttempt`; the compliance gates read those rows, across campaigns.
Times are UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from waihu.db import Base, BigIntPK, UTCDateTime

__all__ = [
    "CAMPAIGN_STATES",
    "DEFAULT_CALLING_WINDOWS",
    "DEFAULT_RETRY_RULES",
    "DIAL_MODES",
    "DNC_SOURCES",
    "LEAD_STATUSES",
    "CallAttempt",
    "CallEventRow",
    "Campaign",
    "CampaignAgent",
    "DncEntry",
    "Lead",
    "LeadList",
    "default_retry_rules",
]

DIAL_MODES: Final = ("preview", "progressive", "predictive")
CAMPAIGN_STATES: Final = ("draft", "running", "paused", "stopped", "completed")
#: dialable: may be leased when due; done: reached a final outcome; dnc / refused: never again;
#: exhausted: out of attempts
LEAD_STATUSES: Final = ("dialable", "done", "dnc", "refused", "exhausted")
DNC_SOURCES: Final = ("import", "manual", "call")
DEFAULT_CALLING_WINDOWS: Final = (("09:00", "12:00"), ("13:30", "20:00"))
#: delays_minutes: wait before the next attempt, by outcome category or by a dial result without
#: an outcome (busy, no_answer, machine, failed, abandoned); never shorter than min_gap_minutes
DEFAULT_RETRY_RULES: Final[dict[str, Any]] = {
    "max_attempts": 3,
    "min_gap_minutes": 60,
    "delays_minutes": {"no_contact": 60, "callback": 0, "busy": 30, "no_answer": 60, "machine": 120},
}


def default_retry_rules() -> dict[str, Any]:
    """A fresh copy of the default retry rules (JSON columns must not share a mutable default)."""
    return {**DEFAULT_RETRY_RULES, "delays_minutes": dict(DEFAULT_RETRY_RULES["delays_minutes"])}


def _default_windows() -> list[list[str]]:
    return [list(w) for w in DEFAULT_CALLING_WINDOWS]


def _in(values: tuple[str, ...]) -> str:
    return ",".join(f"'{v}'" for v in values)


class Campaign(Base):
    """A campaign: whom a vendor's agents call, with which pinned script, when and how often."""

    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint(f"dial_mode in ({_in(DIAL_MODES)})", name="dial_mode_known"),
        CheckConstraint(f"state in ({_in(CAMPAIGN_STATES)})", name="state_known"),
        CheckConstraint("max_abandon_rate > 0 and max_abandon_rate <= 1", name="abandon_rate_range"),
        Index("ix_campaigns_vendor_state", "vendor_id", "state"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendors.id"))
    #: the script is pinned at creation: id, version and the digest of the file(s) it was compiled from
    flow_id: Mapped[str] = mapped_column(String(64))
    flow_version: Mapped[int] = mapped_column(Integer)
    flow_digest: Mapped[str] = mapped_column(String(64))
    dial_mode: Mapped[str] = mapped_column(String(16), default="progressive")
    max_abandon_rate: Mapped[float] = mapped_column(Float, default=0.03)
    #: [["09:00","12:00"], ["13:30","20:00"]]: local times in the lead's time zone, end exclusive
    calling_windows: Mapped[list[list[str]]] = mapped_column(JSON, default=_default_windows)
    #: the zone of leads that have none of their own
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    retry_rules: Mapped[dict[str, Any]] = mapped_column(JSON, default=default_retry_rules)
    caller_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    consent_required: Mapped[bool] = mapped_column(Boolean, default=False)
    #: training campaigns run on the simulator only, for trainees: they never reach a customer
    training: Mapped[bool] = mapped_column(Boolean, default=False)
    safe_harbor_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    callback_number: Mapped[str | None] = mapped_column(String(32), nullable=True)
    wrap_up_limit_seconds: Mapped[int] = mapped_column(Integer, default=60)
    state: Mapped[str] = mapped_column(String(16), default="draft")
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CampaignAgent(Base):
    """A work ID assigned to a campaign."""

    __tablename__ = "campaign_agents"
    __table_args__ = (UniqueConstraint("campaign_id", "work_id", name="uq_campaign_agents_campaign_work"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    work_id: Mapped[str] = mapped_column(ForeignKey("users.work_id"))


class LeadList(Base):
    """A batch of a campaign's leads, as uploaded (one per import unless the import names a list to add to).

    A list is worked or paused on its own: the dialer leases no lead of a paused list, its promised callbacks
    included, until the list is resumed; counts and results can be read per list.
    """

    __tablename__ = "lead_lists"
    __table_args__ = (UniqueConstraint("campaign_id", "name", name="uq_lead_lists_campaign_name"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: the work ID that made it (an upload through the API); None: the command line or the migration
    created_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Lead(Base):
    """One customer to call in one campaign; leased before it is dialed so nobody dials it twice."""

    __tablename__ = "leads"
    __table_args__ = (
        UniqueConstraint("campaign_id", "phone_hash", name="uq_leads_campaign_phone"),
        CheckConstraint(f"status in ({_in(LEAD_STATUSES)})", name="status_known"),
        Index("ix_leads_due", "campaign_id", "status", "next_attempt_at"),
        Index("ix_leads_list", "list_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    #: the list the lead came in (migration 0011; every import sets it, and the migration gave the leads
    #: imported before it a list per campaign. Nullable only because SQLite cannot add a NOT NULL reference.)
    list_id: Mapped[int | None] = mapped_column(ForeignKey("lead_lists.id", ondelete="CASCADE"), nullable=True)
    #: E.164 number, encrypted with the vault
    phone_enc: Mapped[bytes] = mapped_column(LargeBinary)
    #: keyed hash of the number (Vault.lookup_hash(..., "phone")): de-duplication and DNC matching
    phone_hash: Mapped[str] = mapped_column(String(64))
    phone_masked: Mapped[str] = mapped_column(String(32))
    name_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    #: the extra CSV columns as an encrypted JSON object (they may hold PII)
    variables_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    #: IANA zone of the customer; None: the campaign's
    timezone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="dialable")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: consent proof: whether, where it is recorded (a form id, a recording, a contract) and when
    consent: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_ref: Mapped[str | None] = mapped_column(String(128), nullable=True)
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_outcome: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: the agent who promised the callback: it goes to them when they are working (migration 0008)
    callback_agent: Mapped[str | None] = mapped_column(String(32), nullable=True)


class DncEntry(Base):
    """A number never to be called again (internal do-not-call list), by keyed hash only."""

    __tablename__ = "dnc"
    __table_args__ = (CheckConstraint(f"source in ({_in(DNC_SOURCES)})", name="source_known"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    phone_hash: Mapped[str] = mapped_column(String(64), unique=True)
    source: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    added_by: Mapped[str] = mapped_column(String(32))
    #: the call that ended in do_not_call, for source "call"
    call_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CallAttempt(Base):
    """One dial and how it ended: the record the frequency caps and the abandon rule read."""

    __tablename__ = "call_attempts"
    __table_args__ = (
        Index("ix_call_attempts_phone_started", "phone_hash", "started_at"),
        Index("ix_call_attempts_campaign_started", "campaign_id", "started_at"),
        Index("ix_call_attempts_lead", "lead_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id", ondelete="SET NULL"), nullable=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    phone_hash: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: how the dial ended: answered, busy, no_answer, machine, failed, abandoned …
    result: Mapped[str] = mapped_column(String(32))
    #: the telephony cause (Q.850 code or backend text), if any
    cause: Mapped[str | None] = mapped_column(String(64), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(64), nullable=True)
    outcome_category: Mapped[str | None] = mapped_column(String(32), nullable=True)
    abandoned: Mapped[bool] = mapped_column(Boolean, default=False)
    call_id: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    # -- the conversation, for calls that reached an agent (migration 0005) --
    work_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    bridged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    wrap_up_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: the pinned script version the agent followed, when its run started, and its transcript
    flow_ref: Mapped[str | None] = mapped_column(String(80), nullable=True)
    flow_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # none_as_null: a call nobody talked on has SQL NULL here, not the JSON value null
    transcript: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    tags: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    #: values the agent captured, encrypted (a capture field may hold PII)
    captured_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    recording_path: Mapped[str | None] = mapped_column(Text, nullable=True)


class CallEventRow(Base):
    """Each telephony event of a call with its time: the call record's own timeline."""

    __tablename__ = "call_events"
    __table_args__ = (Index("ix_call_events_call", "call_id", "at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(32))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
