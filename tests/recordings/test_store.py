"""Recordings taken from the PBX's spool into the store: 0600 copies with size and SHA-256, checked on open."""

from __future__ import annotations

import asyncio
import hashlib
import os
import stat
import struct
import wave
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from recordings import access
from recordings.errors import RecordingCorrupt, RecordingNotFound
from recordings.models import RecordingFile
from recordings.store import RecordingJob, RecordingKeeper, store_file, verify, wav_layout
from recordings.viewer import Viewer
from waihu.audit import AuditLog
from waihu.db import session_factory
from waihu.migrate import upgrade

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
QA = Viewer("Q001", vendor_id=1)


def write_wav(path: Path, seconds: float, *, rate: int = 8000) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(struct.pack("<h", 1200) * int(seconds * rate))


def unfinished(path: Path) -> None:
    """As MixMonitor leaves a file when Asterisk dies: header sizes never written (0)."""
    data = bytearray(path.read_bytes())
    struct.pack_into("<I", data, 4, 0)
    struct.pack_into("<I", data, 40, 0)
    path.write_bytes(bytes(data))


def test_given_a_finished_wav_when_stored_then_a_0600_copy_with_its_size_and_sha256(tmp_path: Path) -> None:
    source = tmp_path / "spool" / "call-1.wav"
    source.parent.mkdir()
    write_wav(source, 2.5)
    original = source.read_bytes()
    layout = wav_layout(source)
    assert layout is not None
    assert layout.finished
    assert layout.seconds == pytest.approx(2.5)

    stored = store_file(source, tmp_path / "store" / "2026-11-27" / "call-1.wav")

    assert not source.exists()
    data = stored.path.read_bytes()
    assert data == original
    assert stored.size_bytes == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.duration_seconds == pytest.approx(2.5)
    assert not stored.repaired
    info = stored.path.stat()
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert info.st_uid == os.getuid()
    assert stat.S_IMODE(stored.path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "store").stat().st_mode) == 0o700  # the store it made, too
    assert [p.name for p in stored.path.parent.iterdir()] == ["call-1.wav"]  # no partial file left


def test_given_a_recording_never_closed_when_stored_then_its_header_is_repaired(tmp_path: Path) -> None:
    source = tmp_path / "call-2.wav"
    write_wav(source, 1.0)
    unfinished(source)
    layout = wav_layout(source)
    assert layout is not None
    assert not layout.finished

    stored = store_file(source, tmp_path / "store" / "call-2.wav")

    assert stored.repaired
    with wave.open(str(stored.path)) as wav:
        assert wav.getnframes() == 8000
    assert stored.sha256 == hashlib.sha256(stored.path.read_bytes()).hexdigest()


def _row(path: Path, size: int | None, digest: str | None) -> RecordingFile:
    return RecordingFile(
        call_id="call-3",
        vendor_id=1,
        work_id="A001",
        path=str(path),
        answer_offset=0.0,
        size_bytes=size,
        sha256=digest,
        created_at=NOW,
        expires_at=NOW + timedelta(days=180),
    )


def test_given_a_stored_recording_when_changed_or_gone_then_verify_refuses_it(tmp_path: Path) -> None:
    path = tmp_path / "call-3.wav"
    write_wav(path, 1.0)
    data = path.read_bytes()
    row = _row(path, len(data), hashlib.sha256(data).hexdigest())
    verify(row)
    verify(row)  # the second time from the cache of verified files

    path.write_bytes(data[:-2] + b"\x00\x01")  # same size, other content
    with pytest.raises(RecordingCorrupt, match="SHA-256"):
        verify(row)
    path.write_bytes(data[:-100])
    with pytest.raises(RecordingCorrupt, match="bytes"):
        verify(row)
    verify(_row(path, None, None))  # a row without size and hash (the simulator's): nothing to compare
    path.unlink()
    with pytest.raises(RecordingNotFound):
        verify(row)


async def test_given_a_tampered_recording_when_qa_opens_it_then_refused_and_not_served(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await upgrade(engine)
    path = tmp_path / "call-3.wav"
    write_wav(path, 1.0)
    data = path.read_bytes()
    audit = AuditLog(b"k" * 32)
    async with session_factory(engine)() as session, session.begin():
        session.add(_row(path, len(data), hashlib.sha256(data).hexdigest()))
    async with session_factory(engine)() as session, session.begin():
        record = await access.open_recording(session, audit, viewer=QA, call_id="call-3", reason="质检", now=NOW)
        assert record.sha256 is not None
    await asyncio.to_thread(path.write_bytes, data.replace(data[-10:], b"\x7f" * 10))
    async with session_factory(engine)() as session, session.begin():
        with pytest.raises(RecordingCorrupt):
            await access.open_recording(session, audit, viewer=QA, call_id="call-3", reason="再听", now=NOW)


async def test_given_calls_recorded_by_the_pbx_when_collected_then_rows_with_integrity_and_retention(
    sqlite_engine: AsyncEngine, tmp_path: Path
) -> None:
    await upgrade(sqlite_engine)
    factory = session_factory(sqlite_engine)
    spool, store = tmp_path / "spool", tmp_path / "store"
    spool.mkdir()
    keeper = RecordingKeeper(
        factory, spool_dir=spool, store_dir=store, retention=timedelta(days=30), settle_timeout=1.0, poll=0.01
    )
    write_wav(spool / "call-a.wav", 1.5)
    unfinished_path = spool / "call-b.wav"
    write_wav(unfinished_path, 0.5)
    finished_later = unfinished_path.read_bytes()
    unfinished(unfinished_path)
    (spool / "call-c.wav").write_bytes(finished_later[:44])  # header only: MixMonitor wrote no audio
    unfinished(spool / "call-c.wav")

    for call_id in ("call-a", "call-b", "call-c", "call-d"):
        keeper.collect(RecordingJob(call_id, 1, "A001", -0.05, NOW))
    await asyncio.sleep(0.1)
    await asyncio.to_thread(unfinished_path.write_bytes, finished_later)  # MixMonitor closes the file
    await keeper.drain()

    async with factory() as session:
        rows = {r.call_id: r for r in (await session.scalars(select(RecordingFile))).all()}
    assert sorted(rows) == ["call-a", "call-b"]
    assert sorted(keeper.missing) == ["call-c", "call-d"]
    assert keeper.repaired == []  # call-b was closed while the keeper waited
    assert not (spool / "call-c.wav").exists()  # nothing but a header: removed
    a = rows["call-a"]
    assert a.path == str(store / "2026-11-27" / "call-a.wav")
    assert a.duration_seconds == pytest.approx(1.5)
    data = await asyncio.to_thread(Path(a.path).read_bytes)
    assert a.size_bytes == len(data)
    assert a.sha256 == hashlib.sha256(data).hexdigest()
    assert a.answer_offset == pytest.approx(-0.05)
    assert a.expires_at == NOW + timedelta(days=30)
    assert rows["call-b"].duration_seconds == pytest.approx(0.5)
    assert sorted(p.name for p in spool.iterdir()) == []
