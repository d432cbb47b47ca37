"""Health and metrics: unauthenticated, for load balancers and Prometheus."""

from __future__ import annotations

import logging
from importlib.metadata import PackageNotFoundError, version

from fastapi import APIRouter, Response
from sqlalchemy import text

from api.deps import State
from api.dialing import dialers_of
from api.metrics import CONTENT_TYPE
from api.schemas.system import StatusOut
from waihu import migrate

router = APIRouter(tags=["system"])
log = logging.getLogger(__name__)


def _version() -> str:
    try:
        return version("waihu")
    except PackageNotFoundError:  # pragma: no cover - running from a tree that was never installed
        return "unknown"


@router.get("/status", response_model=StatusOut)
async def get_status(state: State, response: Response) -> StatusOut:
    """Database reachable, the code's version, and whether the database is at the latest migration (503 if not)."""
    heads = sorted(migrate.heads())
    try:
        async with state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        current = sorted(await migrate.current(state.engine))
        database = "ok"
    except Exception as exc:  # the status route reports the failure instead of failing
        log.warning("status: database unreachable: %s", type(exc).__name__)
        current, database = [], "unreachable"
    at_head = database == "ok" and current == heads
    ok = database == "ok" and at_head
    if not ok:
        response.status_code = 503
    return StatusOut(
        ok=ok,
        version=_version(),
        database=database,
        migrations={"current": current, "head": heads, "at_head": at_head},
    )


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE: {}}}})
async def get_metrics(state: State) -> Response:
    """Prometheus text: calls by result, abandon rate per campaign, agents by state, request latencies, and
    per live campaign its AMI connection, floor, calls in progress and trailing-hour abandon rate."""
    async with state.sessions() as session:
        await state.metrics.refresh(session, state.now())
    pool = dialers_of(state)
    state.metrics.live({cid: snap for cid in list(pool.live) if (snap := pool.snapshot(cid)) is not None})
    return Response(state.metrics.render(), media_type=CONTENT_TYPE)
