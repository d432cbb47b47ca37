"""Tables of the recordings package: recording files (with tombstones) and QA reviews.

A call's record, its transcript and its recording are tied together by the call id; the vendor
and agent are copied here so QA can scope and report without reaching into the dialer's tables.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from waihu.db import Base, BigIntPK, UTCDateTime

__all__ = ["QaReview", "RecordingFile"]


class RecordingFile(Base):
    """One recording of a call. Deleting it past retention keeps this row as a tombstone."""

    __tablename__ = "recording_files"
    __table_args__ = (
        UniqueConstraint("call_id", name="one_per_call"),
        Index("ix_recording_files_expires", "expires_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(64))
    vendor_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    work_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    path: Mapped[str] = mapped_column(Text)
    duration_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: the file's size and SHA-256 (hex) when it was stored; opening it checks both (tampering, truncation)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: seconds into the recording at which the customer answered (the replay timeline's zero)
    answer_offset: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    deleted_reason: Mapped[str | None] = mapped_column(String(64), nullable=True)


class QaReview(Base):
    """A reviewer's scoring of one call against one sheet version.

    ``items`` maps item id -> {"points", "max", "comment", "at" (offset into the recording), "auto"}.
    States: draft -> submitted -> acknowledged (by the agent) or disputed -> closed.
    """

    __tablename__ = "qa_reviews"
    __table_args__ = (
        CheckConstraint("state in ('draft','submitted','acknowledged','disputed','closed')", name="state_known"),
        Index("ix_qa_reviews_agent", "work_id", "created_at"),
        Index("ix_qa_reviews_vendor", "vendor_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(64))
    vendor_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    work_id: Mapped[str] = mapped_column(String(32))
    campaign_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    flow_ref: Mapped[str | None] = mapped_column(String(80), nullable=True)
    reviewer: Mapped[str] = mapped_column(String(32))
    sheet_id: Mapped[str] = mapped_column(String(64))
    sheet_version: Mapped[int] = mapped_column(Integer)
    items: Mapped[dict[str, dict[str, object]]] = mapped_column(JSON, default=dict)
    total: Mapped[int] = mapped_column(Integer, default=0)
    max_total: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16), default="draft")
    agent_comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
