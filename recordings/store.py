"""Taking a finished call recording from the PBX into the service's own store: size, SHA-256, 0600.

Asterisk's MixMonitor writes ``<call id>.wav`` into its spool directory as Asterisk's user, and only
closes the file (writing the WAV header's sizes) on its own thread after the hang-up. The
:class:`RecordingKeeper` waits for that, then copies the file into the recordings store, created
by the service user with mode 0600 (a copy, not a rename: a rename would keep Asterisk's owner),
hashing it on the way, and removes the spool file. The ``RecordingFile`` row gets the stored path,
the duration, the size and the SHA-256, which :func:`verify` checks whenever QA opens the file.

A recording whose header was never finished (the PBX was killed mid-call) is kept after
``settle_timeout`` with its header sizes repaired from the audio actually on disk.

Every collection runs as a task the keeper owns; :meth:`RecordingKeeper.drain` awaits them all
(no exception lost), so a campaign's composition calls it after the runner has finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import struct
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from recordings.errors import RecordingCorrupt, RecordingNotFound
from recordings.models import RecordingFile

__all__ = [
    "RecordingJob",
    "RecordingKeeper",
    "StoredRecording",
    "WavLayout",
    "store_file",
    "verify",
    "wav_layout",
]

log = logging.getLogger(__name__)

_CHUNK = 1 << 16


@dataclass(frozen=True, slots=True)
class WavLayout:
    """Where a WAV file's audio is and what its header says about it."""

    byte_rate: int
    data_offset: int
    #: the data chunk's size as the header states it (0 while MixMonitor is still writing)
    data_size: int
    file_size: int

    @property
    def finished(self) -> bool:
        """The header was written at close: its data size is the audio on disk."""
        return self.data_size > 0 and self.data_offset + self.data_size == self.file_size

    @property
    def audio_bytes(self) -> int:
        return max(self.file_size - self.data_offset, 0)

    @property
    def seconds(self) -> float:
        return self.audio_bytes / self.byte_rate if self.byte_rate else 0.0


def wav_layout(path: Path) -> WavLayout | None:
    """The RIFF/WAVE layout of ``path``, or None if it is missing or not (yet) a WAV file."""
    try:
        with path.open("rb") as f:
            head = f.read(4096)
            size = os.fstat(f.fileno()).st_size
    except OSError:
        return None
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    offset, byte_rate = 12, 0
    while offset + 8 <= len(head):
        name, length = head[offset : offset + 4], struct.unpack_from("<I", head, offset + 4)[0]
        body = offset + 8
        if name == b"fmt " and body + 12 <= len(head):
            byte_rate = struct.unpack_from("<I", head, body + 8)[0]
        elif name == b"data":
            return WavLayout(byte_rate=byte_rate, data_offset=body, data_size=length, file_size=size)
        offset = body + length + (length & 1)
    return None


@dataclass(frozen=True, slots=True)
class StoredRecording:
    path: Path
    size_bytes: int
    sha256: str
    duration_seconds: float
    #: the header had to be repaired (the recording was never closed: the PBX died)
    repaired: bool


def _private_dirs(directory: Path) -> None:
    """Create ``directory`` and any missing parents as 0700 (``mkdir(parents=True)`` gives parents the umask's
    mode); directories that already exist are left as they are."""
    missing: list[Path] = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for path in reversed(missing):
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=0o700)
        path.chmod(0o700)  # mkdir's mode is masked by the umask


def store_file(source: Path, target: Path) -> StoredRecording:
    """Copy ``source`` to ``target`` (mode 0600, owned by this process's user), hashing it; blocking.

    A WAV header whose sizes were never written is repaired in the copy. The copy is written to a
    temporary name, synced and renamed, so ``target`` is always whole.
    """
    layout = wav_layout(source)
    if layout is None:
        raise RecordingNotFound(f"{source} is not a WAV file", details={"path": str(source)})
    _private_dirs(target.parent)
    partial = target.with_name(f".{target.name}.partial")
    digest = hashlib.sha256()
    size = 0
    repaired = not layout.finished
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        with os.fdopen(fd, "wb") as out, source.open("rb") as src:
            head = bytearray(src.read(layout.data_offset))
            if repaired:
                struct.pack_into("<I", head, 4, layout.file_size - 8)
                struct.pack_into("<I", head, layout.data_offset - 4, layout.audio_bytes)
            block = bytes(head)
            while block:
                digest.update(block)
                out.write(block)
                size += len(block)
                block = src.read(_CHUNK)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    try:
        source.unlink()
    except OSError as exc:  # the spool directory is not writable for us: Asterisk's copy stays
        log.warning("could not remove %s after storing it: %s", source, exc)
    return StoredRecording(target, size, digest.hexdigest(), layout.seconds, repaired)


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


# Files already verified, by (path, inode, size, mtime): a player's range requests do not re-hash the file.
_verified: dict[tuple[str, int, int, int], str] = {}
_VERIFIED_MAX = 1024


def verify(record: RecordingFile) -> None:
    """Check the file against the size and SHA-256 stored when it was recorded; blocking.

    Raises :class:`RecordingNotFound` if the file is gone and :class:`RecordingCorrupt` if it changed.
    Rows without a stored hash (older recordings, the simulator's) are not checked.
    """
    path = Path(record.path)
    try:
        stat = path.stat()
    except OSError:
        raise RecordingNotFound(
            f"the recording file of call {record.call_id} is missing", details={"call": record.call_id}
        ) from None
    if record.size_bytes is not None and stat.st_size != record.size_bytes:
        raise RecordingCorrupt(
            f"the recording of call {record.call_id} has {stat.st_size} bytes, {record.size_bytes} were stored",
            details={"call": record.call_id},
        )
    if record.sha256 is None:
        return
    key = (str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns)
    if _verified.get(key) == record.sha256:
        return
    digest = _sha256_of(path)
    if digest != record.sha256:
        log.error("recording of call %s fails its SHA-256 check (%s)", record.call_id, path)
        raise RecordingCorrupt(
            f"the recording of call {record.call_id} does not match its SHA-256", details={"call": record.call_id}
        )
    if len(_verified) >= _VERIFIED_MAX:
        _verified.clear()
    _verified[key] = digest


@dataclass(frozen=True, slots=True)
class RecordingJob:
    """One call's recording to collect (plain values: the recordings package does not import the dialer)."""

    call_id: str
    vendor_id: int | None
    work_id: str | None
    #: seconds into the recording at which the customer answered (negative: the recording began after it)
    answer_offset: float
    created_at: datetime

    @classmethod
    def from_events(
        cls,
        call_id: str,
        events: Iterable[tuple[datetime, str, object]],
        *,
        vendor_id: int | None,
        work_id: str | None,
    ) -> RecordingJob | None:
        """The job of a finished call from its ``(wall time, event kind, details)`` log (the runner's
        ``LiveCall.events``), or None if no recording was started."""
        at: dict[str, datetime] = {}
        for moment, kind, _details in events:
            at.setdefault(kind, moment)
        started = at.get("RecordingStarted")
        if started is None:
            return None
        answered = at.get("Answered", started)
        offset = round((answered - started).total_seconds(), 3)
        return cls(call_id, vendor_id, work_id, offset, started)


class RecordingKeeper:
    """Collects each finished recording from the PBX's spool into the store and writes its row.

    ``spool_dir``: where the PBX's files appear, as this host sees them; ``store_dir``: the service's
    recordings directory. ``on_stored`` (tests, progress displays) is called with each stored row.
    """

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        spool_dir: Path,
        store_dir: Path,
        retention: timedelta,
        settle_timeout: float = 8.0,
        poll: float = 0.05,
        on_stored: Callable[[RecordingFile], Awaitable[None]] | None = None,
    ) -> None:
        self.sessions = session_factory
        self.spool_dir = spool_dir
        self.store_dir = store_dir
        self.retention = retention
        self.settle_timeout = settle_timeout
        self.poll = poll
        self.on_stored = on_stored
        self.stored: list[RecordingFile] = []
        self.missing: list[str] = []
        #: call ids whose recording was never closed by the PBX (kept with a repaired header)
        self.repaired: list[str] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._failures: list[BaseException] = []
        # One write at a time: SQLite refuses concurrent writers instead of waiting.
        self._writes = asyncio.Lock()

    def collect(self, job: RecordingJob) -> None:
        """Collect this call's recording in the background (see :meth:`drain`)."""
        task = asyncio.create_task(self._guarded(job), name=f"{job.call_id}-recording")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for every collection started; re-raise the first failure."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self._failures:
            raise self._failures[0]

    async def aclose(self) -> None:
        """Cancel collections still waiting (shutdown) and wait for them."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _guarded(self, job: RecordingJob) -> None:
        try:
            await self._collect(job)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            log.exception("recording of call %s could not be stored", job.call_id)
            self._failures.append(exc)

    async def _collect(self, job: RecordingJob) -> None:
        source = self.spool_dir / f"{job.call_id}.wav"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settle_timeout
        while True:
            layout = await asyncio.to_thread(wav_layout, source)
            if layout is not None and layout.finished:
                break
            if loop.time() >= deadline:
                if layout is None or layout.audio_bytes == 0:
                    log.warning("call %s: no recording (no audio) appeared in %s", job.call_id, self.spool_dir)
                    self.missing.append(job.call_id)
                    if layout is not None:  # a header and nothing else: not worth keeping
                        with contextlib.suppress(OSError):
                            await asyncio.to_thread(source.unlink)
                    return
                log.warning("call %s: recording never closed (PBX gone?): keeping what was written", job.call_id)
                break
            await asyncio.sleep(self.poll)  # MixMonitor closes the file on its own thread: no event to wait on
        day = job.created_at.strftime("%Y-%m-%d")
        stored = await asyncio.to_thread(store_file, source, self.store_dir / day / f"{job.call_id}.wav")
        if stored.repaired:
            self.repaired.append(job.call_id)
        row = RecordingFile(
            call_id=job.call_id,
            vendor_id=job.vendor_id,
            work_id=job.work_id,
            path=str(stored.path),
            duration_seconds=round(stored.duration_seconds, 3),
            size_bytes=stored.size_bytes,
            sha256=stored.sha256,
            answer_offset=job.answer_offset,
            created_at=job.created_at,
            expires_at=job.created_at + self.retention,
        )
        async with self._writes, self.sessions() as session, session.begin():
            session.add(row)
        self.stored.append(row)
        if self.on_stored is not None:
            await self.on_stored(row)
