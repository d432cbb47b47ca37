"""Calls: search, detail (events and script transcript, PII masked unless unmasked with a reason), recordings."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Annotated, BinaryIO

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime

from api import services
from api.deps import Caller, require_permission
from api.errors import RangeNotSatisfiable
from api.schemas.calls import CallOut, ReplayOut
from api.schemas.common import ERRORS, ErrorBody
from recordings.access import open_recording
from recordings.errors import RecordingNotFound

router = APIRouter(tags=["calls"], responses=ERRORS)
CallViewer = Annotated[Caller, Depends(require_permission("call.view"))]

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_CHUNK = 64 * 1024
_AUDIO_TYPES = {".wav": "audio/wav", ".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".gsm": "audio/x-gsm"}


@router.get("/calls", response_model=list[CallOut])
async def search_calls(
    caller: CallViewer,
    since: Annotated[AwareDatetime | None, Query(description="started at or after (ISO 8601 with zone)")] = None,
    until: Annotated[AwareDatetime | None, Query(description="started before")] = None,
    campaign_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    work_id: Annotated[str | None, Query(max_length=32)] = None,
    outcome: Annotated[str | None, Query(max_length=64)] = None,
    phone_suffix: Annotated[
        str | None, Query(pattern=r"^\d{2,4}$", description="the last digits the masked number shows")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[CallOut]:
    """Calls of the caller's vendor (admins: all), newest first; numbers masked."""
    rows = await services.search_calls(
        caller,
        since=_aware(since),
        until=_aware(until),
        campaign_id=campaign_id,
        work_id=work_id,
        outcome=outcome,
        phone_suffix=phone_suffix,
        limit=limit,
        offset=offset,
    )
    return [
        CallOut(
            call_id=a.call_id,
            campaign_id=a.campaign_id,
            vendor_id=vendor_id,
            work_id=a.work_id,
            phone_masked=masked,
            started_at=a.started_at,
            answered_at=a.answered_at,
            ended_at=a.ended_at,
            result=a.result,
            outcome=a.outcome,
            abandoned=a.abandoned,
        )
        for a, masked, vendor_id in rows
    ]


def _aware(moment: datetime | None) -> datetime | None:
    from datetime import UTC

    if moment is not None and (moment.tzinfo is None or moment.utcoffset() is None):
        return moment.replace(tzinfo=UTC)
    return moment


@router.get("/calls/{call_id}", response_model=ReplayOut)
async def get_call(
    call_id: str,
    caller: CallViewer,
    unmask: bool = False,
    reason: Annotated[str | None, Query(max_length=500)] = None,
) -> dict[str, object]:
    """A call with its telephony events and script transcript on one timeline; ``unmask`` needs pii.unmask
    and a reason, and is audited."""
    return await services.call_detail(caller, call_id, permission="call.view", unmask=unmask, reason=reason)


def _parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) byte of a single ``Range: bytes=...``; None for the whole file."""
    if header is None:
        return None
    match = _RANGE.match(header.strip())
    if match is None or (not match.group(1) and not match.group(2)):
        raise RangeNotSatisfiable("only one byte range, bytes=first-last", details={"size": size})
    first_text, last_text = match.groups()
    if not first_text:  # bytes=-N: the last N bytes
        suffix = int(last_text)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable("empty range", details={"size": size})
        return max(size - suffix, 0), size - 1
    first = int(first_text)
    last = min(int(last_text), size - 1) if last_text else size - 1
    if first >= size or first > last:
        raise RangeNotSatisfiable(f"the range starts beyond the file ({size} bytes)", details={"size": size})
    return first, last


async def _chunks(path: Path, first: int, length: int) -> AsyncIterator[bytes]:
    # Opened and closed here, not in a thread: a player drops range requests as it seeks, and Starlette
    # cancels the stream at every await after that, so a file opened or closed by a cancelled thread call
    # would stay open (nobody holds it any more). Opening and closing a local file does not block.
    fh: BinaryIO = path.open("rb")
    try:
        await asyncio.to_thread(fh.seek, first)
        left = length
        while left > 0:
            data = await asyncio.to_thread(fh.read, min(_CHUNK, left))
            if not data:
                break
            left -= len(data)
            yield data
    finally:
        fh.close()


@router.get(
    "/calls/{call_id}/recording",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"audio/wav": {}}, "description": "the whole recording"},
        206: {"content": {"audio/wav": {}}, "description": "the requested byte range"},
        410: {"model": ErrorBody, "description": "deleted past retention"},
        416: {"model": ErrorBody, "description": "range not satisfiable"},
    },
)
async def get_recording(
    call_id: str,
    caller: Annotated[Caller, Depends(require_permission("recording.play"))],
    reason: Annotated[str, Query(min_length=1, max_length=500, description="why you play it (audited)")],
    range_header: Annotated[str | None, Header(alias="Range")] = None,
) -> StreamingResponse:
    """Stream a call's recording with HTTP Range support; every request is written to the audit log."""
    record = await open_recording(
        caller.session, caller.state.audit, viewer=caller.viewer, call_id=call_id, reason=reason, now=caller.now()
    )
    path = Path(record.path)
    try:
        size = (await asyncio.to_thread(path.stat)).st_size
    except OSError:
        raise RecordingNotFound(f"the recording file of call {call_id} is missing", details={"call": call_id}) from None
    span = _parse_range(range_header, size)
    await caller.session.commit()  # the audit entry lands before a byte leaves
    media = _AUDIO_TYPES.get(path.suffix.lower(), "application/octet-stream")
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "no-store"}
    if span is None:
        headers["Content-Length"] = str(size)
        return StreamingResponse(_chunks(path, 0, size), media_type=media, headers=headers)
    first, last = span
    headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    headers["Content-Length"] = str(last - first + 1)
    return StreamingResponse(_chunks(path, first, last - first + 1), status_code=206, media_type=media, headers=headers)
