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
    "Asset",
    "AssetEvent",
    "AttendanceRecord",
    "AuthSession",
    "ChangeRequest",
    "DamageRecord",
    "FaultReport",
    "HandoverDocument",
    "Inspection",
    "InspectionItem",
    "IssueList",
    "IssueListItem",
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
    #: the asset at fault, if known (issue 9; ``assets.id``, checked by the service: a plain column, so the
    #: migration adds it without rebuilding the table on SQLite)
    asset_id: Mapped[int | None] = mapped_column(BigIntPK, nullable=True)


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


# --- site operations (issue 9): IT assets, issue lists, inspections, damage and loss, off-boarding ----------
#
# 第十一条 to 第十三条, 第十六条 and 2.5 of the source. The client (XX方) owns every asset and issues it to a vendor
# against a list the vendor's team lead confirms; assets are inspected daily, damage and loss name the last user,
# and a work ID is deleted only when its person handed back everything. Services: agents.assets.


class Asset(Base):
    """An asset of the client: an IT asset (computer, headset, phone, work ID …) or a fixed asset (desk, chair …).

    ``vendor_id`` is the vendor it is issued to (None while in the client's stock); ``seat_id`` the seat it
    stands at and ``holder_work_id`` the person who holds it (a headset, a work ID), when placed.
    """

    __tablename__ = "assets"
    __table_args__ = (
        CheckConstraint("category in ('it','fixed')", name="category_known"),
        CheckConstraint("state in ('in_stock','issued','in_use','under_repair','scrapped','lost')", name="state_known"),
        Index("ix_assets_vendor_state", "vendor_id", "state"),
        Index("ix_assets_holder", "holder_work_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    tag: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(8))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: the price the vendor pays if it is damaged or lost (照价赔偿, 第十一条), 元
    value: Mapped[Decimal | None] = mapped_column(Numeric(10, 2), nullable=True)
    state: Mapped[str] = mapped_column(String(16), default="in_stock")
    vendor_id: Mapped[int | None] = mapped_column(ForeignKey("vendors.id"), nullable=True)
    seat_id: Mapped[int | None] = mapped_column(ForeignKey("seats.id"), nullable=True)
    holder_work_id: Mapped[str | None] = mapped_column(ForeignKey("users.work_id"), nullable=True)
    #: for kind ``work_id``: the work ID this asset stands for
    work_id: Mapped[str | None] = mapped_column(ForeignKey("users.work_id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AssetEvent(Base):
    """Every change of an asset's state or place, with the state after it: the history rates are computed from."""

    __tablename__ = "asset_events"
    __table_args__ = (Index("ix_asset_events_asset_at", "asset_id", "at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_state: Mapped[str] = mapped_column(String(16))
    vendor_id: Mapped[int | None] = mapped_column(ForeignKey("vendors.id"), nullable=True)
    seat_id: Mapped[int | None] = mapped_column(ForeignKey("seats.id"), nullable=True)
    holder_work_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)


class IssueList(Base):
    """A list of assets issued to a vendor (16.1): open until the vendor's team lead confirms it (签字确认).

    The confirmation (who, when, the reference of the stamped form) replaces the signed paper; returns are
    checked against the list (16.2).
    """

    __tablename__ = "issue_lists"
    __table_args__ = (CheckConstraint("status in ('open','confirmed','closed')", name="status_known"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendors.id"))
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default="open")
    confirmed_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: the reference of the vendor's stamped confirmation (盖章), if any
    document_ref: Mapped[str | None] = mapped_column(String(128), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    closed_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class IssueListItem(Base):
    """One asset on an issue list: pending -> issued (or refused at confirmation) -> returned / damaged / missing."""

    __tablename__ = "issue_list_items"
    __table_args__ = (
        CheckConstraint("status in ('pending','refused','issued','returned','damaged','missing')", name="status_known"),
        UniqueConstraint("list_id", "asset_id", name="one_asset_per_list"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("issue_lists.id"))
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    #: why the vendor refused it, or what the return check found
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    checked_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Inspection(Base):
    """A vendor's daily inspection of its seats (12.2), one per vendor and site-local working day."""

    __tablename__ = "inspections"
    __table_args__ = (UniqueConstraint("vendor_id", "day", name="one_per_vendor_day"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendors.id"))
    day: Mapped[date] = mapped_column(Date)
    inspected_by: Mapped[str] = mapped_column(String(32))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    note: Mapped[str | None] = mapped_column(Text, nullable=True)


class InspectionItem(Base):
    """What the inspection found at one seat: ok, a fault, a damaged asset or a missing item (with a note)."""

    __tablename__ = "inspection_items"
    __table_args__ = (
        CheckConstraint("result in ('ok','fault','damaged','missing_item')", name="result_known"),
        UniqueConstraint("inspection_id", "seat_id", name="one_per_seat"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id"))
    seat_id: Mapped[int] = mapped_column(ForeignKey("seats.id"))
    result: Mapped[str] = mapped_column(String(16))
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("assets.id"), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)


class DamageRecord(Base):
    """Damage to or loss of an asset (人为损坏(丢失)处理表, 12.2) with its last user and the compensation decision.

    ``last_work_id`` comes from the session records of the seat (the last work ID logged in there before
    ``occurred_at``) or, for an asset held by a person, from the holder; ``last_user_source`` says which.
    """

    __tablename__ = "damage_records"
    __table_args__ = (
        CheckConstraint("kind in ('damage','loss')", name="kind_known"),
        CheckConstraint("cause in ('human','wear','unknown')", name="cause_known"),
        CheckConstraint("last_user_source in ('seat_session','holder','none')", name="source_known"),
        CheckConstraint("compensation in ('pending','charged','waived')", name="compensation_known"),
        Index("ix_damage_records_vendor_occurred", "vendor_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"))
    vendor_id: Mapped[int | None] = mapped_column(ForeignKey("vendors.id"), nullable=True)
    seat_id: Mapped[int | None] = mapped_column(ForeignKey("seats.id"), nullable=True)
    kind: Mapped[str] = mapped_column(String(8))
    cause: Mapped[str] = mapped_column(String(8))
    description: Mapped[str] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reported_by: Mapped[str] = mapped_column(String(32))
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_work_id: Mapped[str | None] = mapped_column(ForeignKey("users.work_id"), nullable=True)
    last_session_id: Mapped[int | None] = mapped_column(ForeignKey("auth_sessions.id"), nullable=True)
    last_user_source: Mapped[str] = mapped_column(String(16))
    fault_id: Mapped[int | None] = mapped_column(ForeignKey("fault_reports.id"), nullable=True)
    #: 照价赔偿: pending until the client decides; the amount the vendor pays (元)
    compensation: Mapped[str] = mapped_column(String(16), default="pending")
    amount: Mapped[Decimal | None] = mapped_column(Numeric(10, 2), nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    decision_note: Mapped[str | None] = mapped_column(Text, nullable=True)


class HandoverDocument(Base):
    """A document or file of the client's held by a vendor's staff member, to hand back on leaving (2.5)."""

    __tablename__ = "handover_documents"
    __table_args__ = (Index("ix_handover_documents_work_id", "work_id", "returned_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    work_id: Mapped[str] = mapped_column(ForeignKey("users.work_id"))
    vendor_id: Mapped[int | None] = mapped_column(ForeignKey("vendors.id"), nullable=True)
    title: Mapped[str] = mapped_column(String(128))
    issued_by: Mapped[str] = mapped_column(String(32))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    checked_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
