"""Tables of the agents package: the organisation, work IDs, logins, agent states, attendance.

The client (XX方) owns seats and sets each vendor's work-ID quota; every work ID except the
client's admins belongs to one vendor. Times are UTC; dates of leave are the site's local dates.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from waihu.db import Base, BigIntPK, UTCDateTime

__all__ = [
    "AgentStateChange",
    "AttendanceRecord",
    "AuthSession",
    "ChangeRequest",
    "FaultReport",
    "LeaveRequest",
    "PaySetting",
    "Seat",
    "SeatLoan",
    "TrainingRecord",
    "User",
    "Vendor",
]


class Vendor(Base):
    """An outsourcing company (外包公司) working on the client's site."""

    __tablename__ = "vendors"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    #: how many work IDs the client allows this vendor (名额限制, 14.5)
    id_quota: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Seat(Base):
    """A seat (坐席) of the client, allocated to one vendor (第十条)."""

    __tablename__ = "seats"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    vendor_id: Mapped[int | None] = mapped_column(ForeignKey("vendors.id"), nullable=True)
    #: the PJSIP endpoint of the desk phone or softphone at this seat, if any
    endpoint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class SeatLoan(Base):
    """A vendor's request to use another vendor's free seat; the client approves (第十条)."""

    __tablename__ = "seat_loans"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    seat_id: Mapped[int] = mapped_column(ForeignKey("seats.id"))
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendors.id"))
    requested_by: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending / approved / rejected
    decided_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class User(Base):
    """A work ID (工号) and the person using it."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "role in ('trainee','agent','team_lead','ops_manager','qa','admin')",
            name="role_known",
        ),
        CheckConstraint("(role = 'admin') = (vendor_id IS NULL)", name="vendor_unless_admin"),
        Index("ix_users_vendor", "vendor_id"),
    )

    work_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    #: the person's name, encrypted with the PII vault (staff names are personal data too)
    name_enc: Mapped[bytes] = mapped_column(LargeBinary)
    role: Mapped[str] = mapped_column(String(16))
    vendor_id: Mapped[int | None] = mapped_column(ForeignKey("vendors.id"), nullable=True)
    #: active / disabled / deleted (deleted IDs are kept for the records that name them)
    status: Mapped[str] = mapped_column(String(16), default="active")
    #: skills (campaigns or lines of business the ID may take calls for)
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: an explicit subset of the role's permissions; None means the role's full set
    permissions: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    live_from: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TrainingRecord(Base):
    """Evidence a trainee needs before becoming an agent (第三条, 第六条)."""

    __tablename__ = "training_records"
    __table_args__ = (
        CheckConstraint(
            "kind in ('ethics','infosec','confidentiality','safety_company','safety_department','safety_post')",
            name="kind_known",
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    work_id: Mapped[str] = mapped_column(ForeignKey("users.work_id"))
    kind: Mapped[str] = mapped_column(String(32))
    passed: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_by: Mapped[str] = mapped_column(String(32))
    document_ref: Mapped[str | None] = mapped_column(String(128), nullable=True)


class ChangeRequest(Base):
    """A work-ID request (工号申请表): create, promote, role/skill/permission change, rename, delete.

    Requester and approver must differ (SOX); changes apply at ``effective_at`` with nobody acting.
    """

    __tablename__ = "change_requests"
    __table_args__ = (Index("ix_change_requests_due", "status", "effective_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    work_id: Mapped[str] = mapped_column(String(32))
    vendor_id: Mapped[int | None] = mapped_column(ForeignKey("vendors.id"), nullable=True)
    payload: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    reason: Mapped[str] = mapped_column(Text)
    document_ref: Mapped[str | None] = mapped_column(String(128), nullable=True)
    requested_by: Mapped[str] = mapped_column(String(32))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: pending / approved / rejected / applied / failed
    status: Mapped[str] = mapped_column(String(16), default="pending")
    decided_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    outcome_note: Mapped[str | None] = mapped_column(Text, nullable=True)


class AuthSession(Base):
    """A login. At most one open session per work ID; the token is stored only as a hash."""

    __tablename__ = "auth_sessions"
    __table_args__ = (Index("ix_auth_sessions_open", "work_id", "ended_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    work_id: Mapped[str] = mapped_column(ForeignKey("users.work_id"))
    seat_id: Mapped[int | None] = mapped_column(ForeignKey("seats.id"), nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: logout / expired / forced / shift_end / seat_change
    end_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    ended_by: Mapped[str | None] = mapped_column(String(32), nullable=True)


class AgentStateChange(Base):
    """Each change of an agent's state, with its time: the record attendance and pacing read."""

    __tablename__ = "agent_state_changes"
    __table_args__ = (
        CheckConstraint(
            "state in ('logged_in','ready','on_call','wrap_up','paused','logged_out')",
            name="state_known",
        ),
        Index("ix_agent_state_changes_work_id_at", "work_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    work_id: Mapped[str] = mapped_column(ForeignKey("users.work_id"))
    session_id: Mapped[int | None] = mapped_column(ForeignKey("auth_sessions.id"), nullable=True)
    seat_id: Mapped[int | None] = mapped_column(ForeignKey("seats.id"), nullable=True)
    state: Mapped[str] = mapped_column(String(16))
    #: for paused: 小休 / 培训 / 会议 / 如厕 / 故障 …
    reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class FaultReport(Base):
    """A fault report (报障单) on a seat or system: open -> acknowledged -> fixed (第十五条)."""

    __tablename__ = "fault_reports"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    seat_id: Mapped[int | None] = mapped_column(ForeignKey("seats.id"), nullable=True)
    vendor_id: Mapped[int | None] = mapped_column(ForeignKey("vendors.id"), nullable=True)
    reported_by: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    acknowledged_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    fixed_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    fixed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    resolution: Mapped[str | None] = mapped_column(Text, nullable=True)


class LeaveRequest(Base):
    """病事假 with its approval (1 day: team lead; 2–3 days: ops manager; more: reported to the client)."""

    __tablename__ = "leave_requests"
    __table_args__ = (CheckConstraint("kind in ('personal','sick')", name="kind_known"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    work_id: Mapped[str] = mapped_column(ForeignKey("users.work_id"))
    kind: Mapped[str] = mapped_column(String(16))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: pending / approved / rejected
    status: Mapped[str] = mapped_column(String(16), default="pending")
    decided_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    reported_to_client_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    certificate_received_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class AttendanceRecord(Base):
    """A raw attendance record: a shift, a login/logout, time away, or a leave (imported or recorded).

    ``start``/``end`` are UTC instants for shift, login, logout and away; leave uses
    ``start_date``/``end_date`` (local dates, inclusive).
    """

    __tablename__ = "attendance_records"
    __table_args__ = (
        CheckConstraint(
            "kind in ('shift','login','logout','away','leave_personal','leave_sick')",
            name="kind_known",
        ),
        Index("ix_attendance_records_work_id_start", "work_id", "start"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    work_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    start: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    end: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    start_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    end_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    note: Mapped[str | None] = mapped_column(String(255), nullable=True)
    source: Mapped[str] = mapped_column(String(64), default="system")


class PaySetting(Base):
    """The money amounts attendance deductions are computed from, per agent (元)."""

    __tablename__ = "pay_settings"
    __table_args__ = (UniqueConstraint("work_id", name="one_per_work_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    work_id: Mapped[str] = mapped_column(String(32))
    daily_base: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    daily_bonus: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    monthly_bonus: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
