"""Lead uploads that run in the background, with progress a page can show.

``POST /campaigns/{id}/leads?background=true`` answers 202 at once with an import id; the import runs in
the app's event loop and ``GET /campaigns/{id}/imports/{import_id}`` tells rows done out of the file's
rows, then the report (row errors and duplicates, masked). Jobs live in the process that took the upload
(a restart forgets them; the leads already imported stay) and are kept for an hour after they finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from api.deps import AppState
from dialer.leads import ImportReport, import_leads
from waihu.errors import WaihuError

__all__ = ["ImportJob", "ImportJobs", "imports_of"]

log = logging.getLogger(__name__)

#: how long a finished job's report stays readable (seconds)
_KEEP: Final = 3600.0


@dataclass
class ImportJob:
    id: str
    campaign_id: int
    started_by: str
    state: str = "running"  # running → done | failed
    done: int = 0
    total: int = 0
    report: ImportReport | None = None
    error: dict[str, object] | None = None
    finished_at: float | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class ImportJobs:
    def __init__(self, state: AppState) -> None:
        self.state = state
        self.jobs: dict[str, ImportJob] = {}

    def _forget_old(self) -> None:
        now = asyncio.get_running_loop().time()
        for job_id, job in list(self.jobs.items()):
            if job.finished_at is not None and now - job.finished_at > _KEEP:
                del self.jobs[job_id]

    def start(self, campaign_id: int, data: bytes, actor: str) -> ImportJob:
        self._forget_old()
        job = ImportJob(id=uuid.uuid4().hex, campaign_id=campaign_id, started_by=actor)
        job.total = max(data.count(b"\n") - 1, 0) + (0 if data.endswith(b"\n") or not data else 1)
        self.jobs[job.id] = job
        job.task = asyncio.create_task(self._run(job, data), name=f"lead-import-{job.id[:8]}")
        return job

    async def _run(self, job: ImportJob, data: bytes) -> None:
        state = self.state

        def progress(done: int, total: int) -> None:
            job.done, job.total = done, max(total, done)

        try:
            with tempfile.TemporaryDirectory(prefix="waihu-upload-") as tmp:
                path = Path(tmp) / "leads.csv"
                await asyncio.to_thread(path.write_bytes, data)
                report = await import_leads(
                    state.sessions,
                    state.vault,
                    job.campaign_id,
                    path,
                    region=state.settings.default_region,
                    progress=progress,
                    workers=0,
                )
            async with state.sessions() as session, session.begin():
                await state.audit.append(
                    session,
                    actor=job.started_by,
                    action="lead.import",
                    target=f"campaign:{job.campaign_id}",
                    details={"rows": report.rows, "imported": report.imported, "errors": len(report.errors)},
                )
            job.report, job.state, job.done, job.total = report, "done", report.rows, report.rows
        except WaihuError as exc:
            job.state, job.error = "failed", exc.to_dict()
        except Exception:  # the job reports it; the server log has the trace
            log.exception("lead import %s failed", job.id)
            job.state = "failed"
            job.error = {"error_id": "api.import_failed", "message": "the import failed; see the server log"}
        finally:
            job.finished_at = asyncio.get_running_loop().time()

    async def close(self) -> None:
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
