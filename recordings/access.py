"""Playing and downloading recordings: every access audited with who and why; integrity checked (size and
SHA-256 stored when the call was recorded); retention with tombstones."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from recordings.errors import RecordingDeleted, RecordingNotFound, ReviewRefused
from recordings.models import RecordingFile
from recordings.store import verify
from recordings.viewer import Viewer
from waihu.audit import AuditLog


async def open_recording(
    session: AsyncSession,
    audit: AuditLog,
    *,
    viewer: Viewer,
    call_id: str,
    reason: str,
    download: bool = False,
    now: datetime,
    check: bool = True,
) -> RecordingFile:
    """The recording of a call, after writing who opens it and why to the audit log.

    ``check``: the file must still have the size and SHA-256 stored when it was recorded (else
    :class:`~recordings.errors.RecordingCorrupt`; a file gone is :class:`RecordingNotFound`); a
    file is hashed once per change, not on each of a player's range requests.
    """
    if not reason.strip():
        raise ReviewRefused("say why you open this recording", error_id="recording.reason_required")
    record = await session.scalar(select(RecordingFile).where(RecordingFile.call_id == call_id))
    if record is None or not viewer.may_see(record.vendor_id):
        raise RecordingNotFound(f"no recording for call {call_id}", details={"call": call_id})
    if record.deleted_at is not None:
        raise RecordingDeleted(
            f"the recording of call {call_id} was deleted on {record.deleted_at:%Y-%m-%d} ({record.deleted_reason})",
            details={"call": call_id, "deleted_at": record.deleted_at.isoformat()},
        )
    if check:
        await asyncio.to_thread(verify, record)
    await audit.append(
        session,
        actor=viewer.work_id,
        action="recording.download" if download else "recording.play",
        target=f"call:{call_id}",
        details={"reason": reason.strip(), "at": now.isoformat()},
    )
    return record


async def purge_expired(session: AsyncSession, audit: AuditLog, *, now: datetime) -> list[str]:
    """Delete recordings past their retention; the rows stay as tombstones. Returns the call ids."""
    expired = (
        await session.scalars(
            select(RecordingFile).where(RecordingFile.expires_at <= now, RecordingFile.deleted_at.is_(None))
        )
    ).all()
    done = []
    for record in expired:
        await asyncio.to_thread(Path(record.path).unlink, missing_ok=True)
        record.deleted_at, record.deleted_reason = now, "retention"
        done.append(record.call_id)
    if done:
        await session.flush()
        await audit.append(
            session, actor="system", action="recording.purge", target="recordings", details={"calls": done}
        )
    return done
