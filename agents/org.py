"""The organisation: vendors with their work-ID quota (14.5), the client's seats and seat loans (第十条).

Seats belong to the client, who allocates them to vendors; a vendor uses another vendor's free seat
only during a loan the client approved. Services flush and audit; the caller commits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from agents.context import AgentsContext
from agents.errors import NotFound, RuleViolation
from agents.models import Seat, SeatLoan, User, Vendor
from agents.permissions import Actor, require

__all__ = [
    "active_id_count",
    "allocate_seat",
    "create_seat",
    "create_vendor",
    "decide_seat_loan",
    "get_seat",
    "get_vendor",
    "request_seat_loan",
    "seat_usable_by",
    "set_vendor_quota",
    "vendor_by_code",
]


async def get_vendor(session: AsyncSession, vendor_id: int) -> Vendor:
    vendor = await session.get(Vendor, vendor_id)
    if vendor is None:
        raise NotFound(f"no vendor {vendor_id}", details={"vendor_id": vendor_id})
    return vendor


async def vendor_by_code(session: AsyncSession, code: str) -> Vendor:
    vendor = (await session.execute(select(Vendor).where(Vendor.code == code))).scalar_one_or_none()
    if vendor is None:
        raise NotFound(f"no vendor with code {code!r}", details={"code": code})
    return vendor


async def get_seat(session: AsyncSession, seat_id: int) -> Seat:
    seat = await session.get(Seat, seat_id)
    if seat is None:
        raise NotFound(f"no seat {seat_id}", details={"seat_id": seat_id})
    return seat


async def active_id_count(session: AsyncSession, vendor_id: int) -> int:
    """How many of the vendor's work IDs are active: what counts against its quota (14.5)."""
    count = await session.scalar(
        select(func.count()).select_from(User).where(User.vendor_id == vendor_id, User.status == "active")
    )
    return int(count or 0)


async def create_vendor(
    ctx: AgentsContext, session: AsyncSession, actor: Actor, *, code: str, name: str, quota: int, now: datetime
) -> Vendor:
    """A new outsourcing company with its work-ID quota (client admins only)."""
    require(actor, "vendor.manage")
    if quota < 0:
        raise RuleViolation("the quota cannot be negative", error_id="agents.quota_invalid")
    code = code.strip()
    if not code:
        raise RuleViolation("a vendor needs a code", error_id="agents.vendor_invalid")
    if (await session.execute(select(Vendor.id).where(Vendor.code == code))).first() is not None:
        raise RuleViolation(f"vendor code {code!r} is taken", error_id="agents.vendor_exists")
    vendor = Vendor(code=code, name=name, id_quota=quota, created_at=now)
    session.add(vendor)
    await session.flush()
    await ctx.audit.append(
        session, actor=actor.work_id, action="vendor.create", target=f"vendor:{code}", details={"quota": quota}
    )
    return vendor


async def set_vendor_quota(
    ctx: AgentsContext, session: AsyncSession, actor: Actor, vendor_id: int, quota: int, *, now: datetime
) -> Vendor:
    """Change a vendor's quota; IDs already issued stay, new ones are refused while over it."""
    require(actor, "vendor.manage")
    if quota < 0:
        raise RuleViolation("the quota cannot be negative", error_id="agents.quota_invalid")
    vendor = await get_vendor(session, vendor_id)
    old = vendor.id_quota
    vendor.id_quota = quota
    await session.flush()
    await ctx.audit.append(
        session,
        actor=actor.work_id,
        action="vendor.quota",
        target=f"vendor:{vendor.code}",
        details={"old": old, "new": quota, "at": now.isoformat()},
    )
    return vendor


async def create_seat(
    ctx: AgentsContext,
    session: AsyncSession,
    actor: Actor,
    *,
    code: str,
    endpoint: str | None = None,
    vendor_id: int | None = None,
    now: datetime,
) -> Seat:
    """A new seat of the client, optionally allocated to a vendor at once."""
    require(actor, "seat.allocate")
    if (await session.execute(select(Seat.id).where(Seat.code == code))).first() is not None:
        raise RuleViolation(f"seat code {code!r} is taken", error_id="agents.seat_exists")
    if vendor_id is not None:
        await get_vendor(session, vendor_id)
    seat = Seat(code=code, endpoint=endpoint, vendor_id=vendor_id, active=True)
    session.add(seat)
    await session.flush()
    await ctx.audit.append(
        session,
        actor=actor.work_id,
        action="seat.create",
        target=f"seat:{code}",
        details={"vendor_id": vendor_id, "at": now.isoformat()},
    )
    return seat


async def allocate_seat(
    ctx: AgentsContext, session: AsyncSession, actor: Actor, seat_id: int, vendor_id: int | None, *, now: datetime
) -> Seat:
    """Give a seat to a vendor (or take it back: ``None``); the client alone allocates seats."""
    require(actor, "seat.allocate")
    seat = await get_seat(session, seat_id)
    if vendor_id is not None:
        await get_vendor(session, vendor_id)
    old = seat.vendor_id
    seat.vendor_id = vendor_id
    await session.flush()
    await ctx.audit.append(
        session,
        actor=actor.work_id,
        action="seat.allocate",
        target=f"seat:{seat.code}",
        details={"old_vendor_id": old, "vendor_id": vendor_id, "at": now.isoformat()},
    )
    return seat


async def request_seat_loan(
    ctx: AgentsContext,
    session: AsyncSession,
    actor: Actor,
    seat_id: int,
    *,
    starts_at: datetime,
    ends_at: datetime,
    reason: str,
    now: datetime,
) -> SeatLoan:
    """The borrowing vendor's team lead asks to use a seat that is not the vendor's own."""
    if actor.vendor_id is None:
        raise RuleViolation("the client allocates seats; it does not borrow them", error_id="agents.loan_invalid")
    require(actor, "seat.loan.request", vendor_id=actor.vendor_id)
    seat = await get_seat(session, seat_id)
    if seat.vendor_id == actor.vendor_id:
        raise RuleViolation(f"seat {seat.code} is already the vendor's own", error_id="agents.loan_invalid")
    if not ends_at > starts_at or ends_at <= now:
        raise RuleViolation("a loan must end after it starts, in the future", error_id="agents.loan_invalid")
    if not reason.strip():
        raise RuleViolation("a seat loan needs a reason", error_id="agents.loan_invalid")
    loan = SeatLoan(
        seat_id=seat.id,
        vendor_id=actor.vendor_id,
        requested_by=actor.work_id,
        reason=reason,
        starts_at=starts_at,
        ends_at=ends_at,
        status="pending",
    )
    session.add(loan)
    await session.flush()
    await ctx.audit.append(
        session,
        actor=actor.work_id,
        action="seat.loan.request",
        target=f"seat:{seat.code}",
        details={"loan_id": loan.id, "starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat()},
    )
    return loan


async def decide_seat_loan(
    ctx: AgentsContext, session: AsyncSession, actor: Actor, loan_id: int, *, approve: bool, now: datetime
) -> SeatLoan:
    """The client approves or rejects a pending seat loan."""
    require(actor, "seat.loan.approve")
    loan = await session.get(SeatLoan, loan_id)
    if loan is None:
        raise NotFound(f"no seat loan {loan_id}", details={"loan_id": loan_id})
    if loan.status != "pending":
        raise RuleViolation(f"seat loan {loan_id} is already {loan.status}", error_id="agents.already_decided")
    if loan.requested_by == actor.work_id:
        raise RuleViolation("the requester cannot decide their own seat loan", error_id="agents.sod")
    loan.status = "approved" if approve else "rejected"
    loan.decided_by = actor.work_id
    loan.decided_at = now
    await session.flush()
    await ctx.audit.append(
        session,
        actor=actor.work_id,
        action="seat.loan.approve" if approve else "seat.loan.reject",
        target=f"seat_loan:{loan.id}",
        details={"seat_id": loan.seat_id, "vendor_id": loan.vendor_id},
    )
    return loan


async def seat_usable_by(session: AsyncSession, seat_id: int, vendor_id: int | None, at: datetime) -> bool:
    """Whether a work ID of ``vendor_id`` may sit at the seat at ``at`` (the client's admins: any active seat)."""
    seat = await session.get(Seat, seat_id)
    if seat is None or not seat.active:
        return False
    if vendor_id is None or seat.vendor_id == vendor_id:
        return True
    loan = (
        await session.execute(
            select(SeatLoan.id)
            .where(
                SeatLoan.seat_id == seat_id,
                SeatLoan.vendor_id == vendor_id,
                SeatLoan.status == "approved",
                SeatLoan.starts_at <= at,
                SeatLoan.ends_at > at,
            )
            .limit(1)
        )
    ).first()
    return loan is not None
