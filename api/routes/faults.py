"""Fault reports (报障单, 第十五条): agents file them; the client acknowledges and fixes them."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from agents.faults import acknowledge_fault, fix_fault, get_fault, list_faults, report_fault
from agents.models import Asset, FaultReport
from api.deps import Caller, own_vendor_object, require_permission
from api.schemas.common import ERRORS, Id
from api.schemas.people import FaultFixIn, FaultIn, FaultOut
from waihu.pii import mask_text

router = APIRouter(tags=["faults"], responses=ERRORS)
Reporter = Annotated[Caller, Depends(require_permission("fault.report"))]
Manager = Annotated[Caller, Depends(require_permission("fault.manage"))]


def fault_out(f: FaultReport) -> FaultOut:
    """Free text is masked: an agent may have typed a customer's number into it."""
    return FaultOut(
        id=f.id,
        seat_id=f.seat_id,
        asset_id=f.asset_id,
        vendor_id=f.vendor_id,
        reported_by=f.reported_by,
        description=mask_text(f.description),
        status=f.status,
        reported_at=f.reported_at,
        acknowledged_by=f.acknowledged_by,
        acknowledged_at=f.acknowledged_at,
        fixed_by=f.fixed_by,
        fixed_at=f.fixed_at,
        resolution=None if f.resolution is None else mask_text(f.resolution),
    )


@router.get("/faults", response_model=list[FaultOut])
async def get_faults(
    caller: Reporter, status: Annotated[Literal["open", "acknowledged", "fixed"] | None, Query()] = None
) -> list[FaultOut]:
    """The vendor's fault reports (admins: all), newest first."""
    return [fault_out(f) for f in await list_faults(caller.session, caller.user, status=status)]


@router.post("/faults", response_model=FaultOut, status_code=201)
async def post_fault(body: FaultIn, caller: Reporter) -> FaultOut:
    """File a fault on a seat, or on a system (no seat), naming the asset at fault if known (one of the
    reporter's vendor's assets; another's answers 404)."""
    if body.asset_id is not None:
        await own_vendor_object(caller, Asset, body.asset_id, f"no asset {body.asset_id}")
    report = await report_fault(
        caller.state.agents,
        caller.session,
        caller.user,
        seat_id=body.seat_id,
        description=body.description,
        now=caller.now(),
        asset_id=body.asset_id,
    )
    await caller.session.commit()
    return fault_out(report)


@router.get("/faults/{fault_id}", response_model=FaultOut)
async def get_one(fault_id: Id, caller: Reporter) -> FaultOut:
    return fault_out(await get_fault(caller.session, caller.user, fault_id))


@router.post("/faults/{fault_id}/ack", response_model=FaultOut)
async def post_ack(fault_id: Id, caller: Manager) -> FaultOut:
    """The client has seen the report (15.2)."""
    report = await acknowledge_fault(caller.state.agents, caller.session, caller.user, fault_id, now=caller.now())
    await caller.session.commit()
    return fault_out(report)


@router.post("/faults/{fault_id}/fix", response_model=FaultOut)
async def post_fix(fault_id: Id, body: FaultFixIn, caller: Manager) -> FaultOut:
    report = await fix_fault(
        caller.state.agents, caller.session, caller.user, fault_id, resolution=body.resolution, now=caller.now()
    )
    await caller.session.commit()
    return fault_out(report)
