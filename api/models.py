"""Tables of the API: webhook endpoints per campaign, the log of every delivery with its retries, and the
background lead uploads (their progress and report, readable by every API process)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
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

__all__ = ["DELIVERY_STATES", "IMPORT_STATES", "LeadImportJob", "WebhookDelivery", "WebhookEndpoint"]

DELIVERY_STATES = ("pending", "delivered", "failed")
#: running → done | failed; interrupted: the process that ran it stopped first (the leads it wrote stay)
IMPORT_STATES = ("running", "done", "failed", "interrupted")


class WebhookEndpoint(Base):
    """Where a campaign's finished calls are POSTed, signed with HMAC-SHA256 under ``secret``."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_campaign", "campaign_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(500))
    #: the signing secret, encrypted with the PII vault (shown to the creator once)
    secret_enc: Mapped[bytes] = mapped_column(LargeBinary)
    #: the integration may receive PII unmasked (set only by a work ID holding pii.unmask; audited)
    include_pii: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WebhookDelivery(Base):
    """One finished call for one endpoint: pending until a 2xx, retried with backoff, failed after the last try."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "call_id", name="uq_webhook_deliveries_endpoint_call"),
        CheckConstraint("status in ('pending','delivered','failed')", name="status_known"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    call_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class LeadImportJob(Base):
    """A lead upload (``POST /campaigns/{id}/leads``): its progress while it runs, then its report or error.

    ``report`` is the API's answer (``ImportReportOut``: counts and row issues with masked values), never the
    file's rows; ``heartbeat_at`` is renewed while the owning process works on it, so another process can
    tell a job still running from one its process left behind.
    """

    __tablename__ = "lead_import_jobs"
    __table_args__ = (
        CheckConstraint("state in ('running','done','failed','interrupted')", name="state_known"),
        Index("ix_lead_import_jobs_campaign", "campaign_id", "created_at"),
        Index("ix_lead_import_jobs_state", "state"),
    )

    #: the uuid4 hex the API answers as ``import_id``
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    #: the work ID that uploaded the file
    started_by: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default="running")
    #: rows read so far, out of ``total`` (the file's lines until the end, then its rows)
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    # none_as_null: a job without a report has SQL NULL here, not the JSON value null
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    error_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: masked (waihu.pii.mask_text): a header line may be a customer's row
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
