"""The monthly attendance report (第十七、十八条): JSON or CSV, for the caller's vendor (admins: any)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response

from agents.attendance.report import build_report, report_csv, report_json
from agents.attendance.rules import Month
from agents.org import get_vendor
from agents.permissions import Role, require
from api.deps import Caller, require_permission
from api.errors import ApiError
from api.schemas.common import ERRORS

router = APIRouter(tags=["attendance"], responses=ERRORS)


@router.get(
    "/attendance/report",
    responses={200: {"content": {"application/json": {}, "text/csv": {}}, "description": "one row per agent"}},
)
async def get_report(
    caller: Annotated[Caller, Depends(require_permission("attendance.view"))],
    month: Annotated[str, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", examples=["2026-11"])],
    vendor: Annotated[str | None, Query(max_length=32, description="vendor code (admins)")] = None,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Response:
    """Working days, lateness, absences, leave and the deductions they cost, per agent."""
    user = caller.user
    try:
        parsed = Month.parse(month)
    except ValueError:
        raise ApiError("month is YYYY-MM", error_id="api.month_invalid") from None
    if user.role != Role.ADMIN:
        assert user.vendor_id is not None
        own = (await get_vendor(caller.session, user.vendor_id)).code
        if vendor is not None and vendor != own:
            require(user, "attendance.view", vendor_id=-1)  # another vendor's: answered 404
        vendor = own
    settings = caller.state.settings
    assessments = await build_report(
        caller.session, parsed, zone=settings.zone, minimum_wage=settings.minimum_wage_monthly, vendor=vendor
    )
    if format == "csv":
        return Response(
            report_csv(assessments),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="attendance-{month}.csv"'},
        )
    body: list[dict[str, Any]] = report_json(assessments)
    return JSONResponse(body)
