"""Tables of the shared package: the append-only, hash-chained audit log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from waihu.db import Base, BigIntPK, UTCDateTime

__all__ = ["AuditEntry"]


class AuditEntry(Base):
    """One audited event. Rows are never updated or deleted (database triggers refuse it).

    ``hash`` is HMAC-SHA256 over the row's content and ``prev_hash``, so editing, inserting or
    deleting a row breaks the chain (see :mod:`waihu.audit`).
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        CheckConstraint("seq >= 1", name="seq_positive"),
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_actor", "actor"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(64))  # work ID, or "system"
    action: Mapped[str] = mapped_column(String(64))  # dotted, e.g. "auth.login", "pii.unmask"
    target: Mapped[str] = mapped_column(String(255))
    details: Mapped[str] = mapped_column(Text)  # canonical JSON text, exactly as hashed
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    def __repr__(self) -> str:
        return f"AuditEntry(id={self.id!r}, seq={self.seq!r}, action={self.action!r}, actor={self.actor!r})"
