"""Lead uploads as jobs kept in the database, with progress a page can show from any API process.

``POST /campaigns/{id}/leads?background=true`` answers 202 at once with an import id; the import runs in the
event loop of the process that took the upload, and ``GET /campaigns/{id}/imports/{import_id}`` (from any
process sharing the database, also after a restart) reads the job's row in ``lead_import_jobs``: rows done out
of the file's rows, then the report (counts, row errors and duplicates with masked values: what the API
answers, never the file's rows) or the error. An upload without ``background`` runs the same job and answers
its report.

The job's writes are short transactions of their own, never one inside another of the same task (on SQLite
every transaction begins IMMEDIATE: one writer, and a task that waits on itself deadlocks): the row before the
202, the progress at most once a second by a flusher task beside the import (the importer writes its batches
in its own transactions; the flusher waits its turn between them), then the final state with the audit entry.
The flusher also renews ``heartbeat_at`` while the job runs, so a ``running`` row whose heartbeat is older
than :data:`STALE_AFTER` was left by a process that is gone: it becomes ``interrupted`` (error
``api.import_interrupted``, saying how many rows were read) when an app starts and when a GET reads it. A
process that stops cleanly marks its own jobs at once. A fresh heartbeat is left alone: with several API
processes on one database it is another process's live job. The leads an interrupted job wrote stay, and
uploading the same file again is safe: rows whose number (by keyed hash) is already in the campaign come
back as duplicates, never imported twice (:mod:`dialer.leads`).

Finished jobs are kept: each is the record of an upload, and its report holds masked values only. The
in-memory :class:`ImportJob` exists only while its import runs in this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import AppState
from api.models import LeadImportJob
from dialer.leads import ImportReport, RowIssue, import_leads
from waihu.errors import WaihuError
from waihu.pii import mask_text

__all__ = [
    "INTERRUPTED",
    "PROGRESS_EVERY",
    "STALE_AFTER",
    "ImportJob",
    "ImportJobs",
    "error_of",
    "imports_of",
    "read_job",
    "report_json",
    "upload_name",
]

log = logging.getLogger(__name__)

#: the least time between two progress writes of one job (seconds)
PROGRESS_EVERY: Final = 1.0
#: the heartbeat is renewed this often (seconds) even when no row was read since the last write
HEARTBEAT_EVERY: Final = 10.0
#: a running job whose heartbeat is older than this was left behind by its process
STALE_AFTER: Final = timedelta(seconds=60)
#: the error of a job whose process stopped before it finished
INTERRUPTED: Final = "api.import_interrupted"
_FINAL_TRIES: Final = 3
#: the longest upload name kept (characters; at most 4 bytes each, under the file systems' 255 bytes)
MAX_NAME: Final = 60
DEFAULT_NAME: Final = "leads.csv"


def upload_name(filename: str | None) -> str:
    """The client's file name as messages name it and the temporary copy is called: the last path part only,
    characters other than letters, digits, ``.``, ``-``, ``_``, ``(``, ``)`` and spaces made ``_``, no leading
    dots, at most :data:`MAX_NAME` characters (the extension kept); ``leads.csv`` when nothing is left."""
    base = unicodedata.normalize("NFKC", filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch if ch.isalnum() or ch in "._-() " else "_" for ch in base).strip(" ").lstrip(".")
    if not name.strip("_ ."):
        return DEFAULT_NAME
    if len(name) > MAX_NAME:
        stem, dot, ext = name.rpartition(".")
        suffix = f".{ext[:10]}" if dot and stem else ""
        name = (stem if suffix else name)[: MAX_NAME - len(suffix) - 1] + "…" + suffix
    return name


@dataclass
class ImportJob:
    """A job while its import runs in this process: live counters, then the in-memory report or error."""

    id: str
    campaign_id: int
    started_by: str
    state: str = "running"  # running → done | failed | interrupted
    done: int = 0
    total: int = 0
    report: ImportReport | None = None
    error: dict[str, object] | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)
    #: the uploaded file's name (:func:`upload_name`): the importer's messages name it
    file_name: str = DEFAULT_NAME
    #: the lead list to add to (None: a new list named after the file)
    list_name: str | None = None


def report_json(report: ImportReport) -> dict[str, Any]:
    """The report as the API answers it (``ImportReportOut``): counts and row issues, values already masked."""

    def issues(items: list[RowIssue]) -> list[dict[str, Any]]:
        return [{"row": i.row, "column": i.column, "reason": i.reason, "value": i.value} for i in items]

    return {
        "campaign_id": report.campaign_id,
        "list_id": report.list_id,
        "list_name": mask_text(report.list_name),
        "rows": report.rows,
        "imported": report.imported,
        "dnc_skipped": report.dnc_skipped,
        "errors": issues(report.errors),
        "duplicates": issues(report.duplicates),
        "encoding": report.encoding,
    }


def error_of(job: LeadImportJob) -> dict[str, object] | None:
    """The job's error as the API answers it."""
    if job.error_id is None:
        return None
    return {"error_id": job.error_id, "message": job.error_message or "", "details": {}}


def _error(error_id: str, message: str) -> dict[str, object]:
    # a message may quote the header line, which can be a customer's row: mask what looks like PII
    return {"error_id": error_id, "message": mask_text(message), "details": {}}


def _interrupted(done: int, total: int, why: str) -> dict[str, object]:
    return _error(
        INTERRUPTED,
        f"the import stopped after reading {done} of {total} rows ({why}); the leads it had written stay. "
        "Upload the same file again to import the rest: rows already in the campaign come back as duplicates, "
        "never imported twice",
    )


def _interrupt(row: LeadImportJob, now: datetime) -> None:
    error = _interrupted(row.done, row.total, "the server running it stopped")
    row.state, row.error_id, row.error_message = "interrupted", str(error["error_id"]), str(error["message"])
    row.finished_at = now


def _stale(row: LeadImportJob, now: datetime) -> bool:
    return row.state == "running" and row.heartbeat_at < now - STALE_AFTER


async def read_job(session: AsyncSession, import_id: str, *, now: datetime) -> LeadImportJob | None:
    """The job's row; one left running by a process that is gone is marked interrupted in ``session``
    (the caller commits)."""
    row = await session.get(LeadImportJob, import_id)
    if row is not None and _stale(row, now):
        _interrupt(row, now)
        await session.flush()
    return row


class ImportJobs:
    """The imports this process runs; their rows are the truth every process reads."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        #: the jobs running in this process
        self.jobs: dict[str, ImportJob] = {}
        self.progress_every = PROGRESS_EVERY

    async def start(
        self, campaign_id: int, data: bytes, actor: str, file_name: str | None = None, list_name: str | None = None
    ) -> ImportJob:
        """Write the job's row, then start its import. Call it outside any transaction of the calling task.

        ``file_name``: the client's name for the file (sanitised here), which error messages and the new lead
        list's name take; ``list_name``: the campaign's list to add to instead (made if missing)."""
        job = ImportJob(
            id=uuid.uuid4().hex,
            campaign_id=campaign_id,
            started_by=actor,
            file_name=upload_name(file_name),
            list_name=list_name,
        )
        job.total = max(data.count(b"\n") - 1, 0) + (0 if data.endswith(b"\n") or not data else 1)
        now = self.state.now()
        async with self.state.sessions() as session, session.begin():
            session.add(
                LeadImportJob(
                    id=job.id,
                    campaign_id=campaign_id,
                    started_by=actor,
                    state="running",
                    done=0,
                    total=job.total,
                    created_at=now,
                    heartbeat_at=now,
                )
            )
        self.jobs[job.id] = job
        job.task = asyncio.create_task(self._run(job, data), name=f"lead-import-{job.id[:8]}")
        return job

    async def interrupt_abandoned(self) -> int:
        """Start-up: jobs whose process is gone (stale heartbeat) become interrupted. Returns how many.

        Best effort: a database that cannot answer now does not stop the app (a GET marks such jobs later).
        """
        now = self.state.now()
        try:
            async with self.state.sessions() as session, session.begin():
                rows = (
                    await session.scalars(
                        select(LeadImportJob).where(
                            LeadImportJob.state == "running", LeadImportJob.heartbeat_at < now - STALE_AFTER
                        )
                    )
                ).all()
                for row in rows:
                    _interrupt(row, now)
        except (SQLAlchemyError, OSError) as exc:
            log.warning("lead imports left running were not checked at start-up: %s", type(exc).__name__)
            return 0
        for row in rows:
            log.warning("lead import %s (campaign %s) was interrupted at row %s", row.id, row.campaign_id, row.done)
        return len(rows)

    async def _import(self, job: ImportJob, data: bytes) -> ImportReport:
        state = self.state

        def progress(done: int, total: int) -> None:
            job.done, job.total = done, max(total, done)

        with tempfile.TemporaryDirectory(prefix="waihu-upload-") as tmp:
            path = Path(tmp) / job.file_name
            await asyncio.to_thread(path.write_bytes, data)
            return await import_leads(
                state.sessions,
                state.vault,
                job.campaign_id,
                path,
                region=state.settings.default_region,
                progress=progress,
                workers=0,
                list_name=job.list_name,
                created_by=job.started_by,
            )

    async def _run(self, job: ImportJob, data: bytes) -> None:
        stop = asyncio.Event()
        flusher = asyncio.create_task(self._flush(job, stop), name=f"lead-import-progress-{job.id[:8]}")
        cancelled = False
        try:
            try:
                report = await self._import(job, data)
            except asyncio.CancelledError:  # the app is stopping: say so in the job's row, then stop
                cancelled = True
                task = asyncio.current_task()
                if task is not None:
                    task.uncancel()  # the writes below run; the cancellation is raised again at the end
                job.state, job.error = "interrupted", _interrupted(job.done, job.total, "the server stopped")
            except WaihuError as exc:
                job.state, job.error = "failed", _error(exc.error_id, exc.message)
            except Exception:  # the job reports it; the server log has the trace
                log.exception("lead import %s failed", job.id)
                job.state, job.error = "failed", _error("api.import_failed", "the import failed; see the server log")
            else:
                job.report, job.state, job.done, job.total = report, "done", report.rows, report.rows
            finally:
                stop.set()
                await flusher  # its last write is over before the final one
            await self._finish(job)
        finally:
            self.jobs.pop(job.id, None)
        if cancelled:
            raise asyncio.CancelledError

    async def _flush(self, job: ImportJob, stop: asyncio.Event) -> None:
        """Write the job's progress and heartbeat, at most once per ``progress_every``, until ``stop``."""
        loop = asyncio.get_running_loop()
        written = (job.done, job.total)
        written_at = loop.time()
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.progress_every)
                return
            seen = (job.done, job.total)
            if seen == written and loop.time() - written_at < HEARTBEAT_EVERY:
                continue
            try:
                async with self.state.sessions() as session, session.begin():
                    # running again if another process took it for abandoned: this process is alive
                    await session.execute(
                        update(LeadImportJob)
                        .where(LeadImportJob.id == job.id, LeadImportJob.state.in_(("running", "interrupted")))
                        .values(
                            state="running",
                            done=seen[0],
                            total=seen[1],
                            heartbeat_at=self.state.now(),
                            error_id=None,
                            error_message=None,
                            finished_at=None,
                        )
                    )
            except (SQLAlchemyError, OSError) as exc:
                log.warning("lead import %s: progress not saved (%s); trying again", job.id, type(exc).__name__)
                continue
            written, written_at = seen, loop.time()

    async def _finish(self, job: ImportJob) -> None:
        """The final state, the report or error, and (for a done job) the audit entry, in one transaction."""
        state = self.state
        error = job.error or {}
        for attempt in range(1, _FINAL_TRIES + 1):
            now = state.now()
            try:
                async with state.sessions() as session, session.begin():
                    if job.report is not None:
                        report = job.report
                        await state.audit.append(
                            session,
                            actor=job.started_by,
                            action="lead.import",
                            target=f"campaign:{job.campaign_id}",
                            details={
                                "import_id": job.id,
                                "rows": report.rows,
                                "imported": report.imported,
                                "errors": len(report.errors),
                            },
                        )
                    await session.execute(
                        update(LeadImportJob)
                        .where(LeadImportJob.id == job.id)
                        .values(
                            state=job.state,
                            done=job.done,
                            total=job.total,
                            report=report_json(job.report) if job.report is not None else None,
                            error_id=error.get("error_id"),
                            error_message=error.get("message"),
                            heartbeat_at=now,
                            finished_at=now,
                        )
                    )
                return
            except (SQLAlchemyError, OSError):
                if attempt < _FINAL_TRIES:
                    log.warning("lead import %s: the final state is not saved yet; trying again", job.id)
                    await asyncio.sleep(1.0)
                    continue
                log.exception("lead import %s: could not save its final state", job.id)
                if job.state == "done":  # the leads landed, but without their audit entry: say it failed
                    job.state = "failed"
                    job.error = _error("api.import_failed", "the import's record was not saved; see the server log")

    async def close(self) -> None:
        """Shutdown: the running imports stop; each marks its row interrupted on the way out."""
        tasks = [job.task for job in self.jobs.values() if job.task is not None and not job.task.done()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def imports_of(state: AppState) -> ImportJobs:
    jobs = state.extra.get("imports")
    if not isinstance(jobs, ImportJobs):
        jobs = ImportJobs(state)
        state.extra["imports"] = jobs
    return jobs
