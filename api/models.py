"""Tables of the API: webhook endpoints per campaign, and the log of every delivery with its retries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from waihu.db import Base, BigIntPK, UTCDateTime

__all__ = ["DELIVERY_STATES", "WebhookDelivery", "WebhookEndpoint"]

DELIVERY_STATES = ("pending", "delivered", "failed")


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
