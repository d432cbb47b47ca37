from __future__ import annotations

import asyncio
from datetime import UTC

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from waihu.audit import GENESIS_HASH, AuditLog, ChainHead, VerifyReport
from waihu.db import session_factory
from waihu.errors import AuditError
from waihu.models import AuditEntry

CHAIN_KEY = b"k" * 32


@pytest.fixture
def log() -> AuditLog:
    return AuditLog(CHAIN_KEY)


async def _append(engine: AsyncEngine, log: AuditLog, count: int) -> list[AuditEntry]:
    entries = []
    async with session_factory(engine)() as session, session.begin():
        for i in range(count):
            entries.append(
                await log.append(
                    session,
                    actor="A0017",
                    action="pii.unmask",
                    target=f"lead:{i + 1}",
                    details={"field": "phone", "n": i},
                )
            )
    return entries


async def _verify(engine: AsyncEngine, log: AuditLog, anchor: ChainHead | None = None) -> VerifyReport:
    async with session_factory(engine)() as session:
        return await log.verify(session, anchor=anchor)


async def _as_attacker(engine: AsyncEngine, *statements: str) -> None:
    """Someone with DDL rights: drops the append-only triggers, then runs ``statements``."""
    if engine.dialect.name == "sqlite":
        drop = ["DROP TRIGGER audit_log_no_update", "DROP TRIGGER audit_log_no_delete"]
    else:
        drop = ["DROP TRIGGER audit_log_no_update_delete ON audit_log"]
    async with engine.begin() as connection:
        for statement in (*drop, *statements):
            await connection.execute(text(statement))


async def test_append_builds_a_contiguous_chain(migrated_engine: AsyncEngine, log: AuditLog) -> None:
    entries = await _append(migrated_engine, log, 3)
    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[0].prev_hash == GENESIS_HASH
    assert entries[1].prev_hash == entries[0].hash
    assert entries[2].prev_hash == entries[1].hash
    assert all(len(e.hash) == 64 and e.id is not None for e in entries)
    assert entries[0].details == '{"field":"phone","n":0}'
    assert entries[0].at.tzinfo == UTC

    report = await _verify(migrated_engine, log)
    assert report.ok
    assert report.rows == 3
    assert report.head == ChainHead(3, entries[2].hash)


async def test_empty_log_verifies_with_genesis_head(migrated_engine: AsyncEngine, log: AuditLog) -> None:
    report = await _verify(migrated_engine, log)
    assert report.ok
    assert report.rows == 0
    assert report.head == ChainHead(0, GENESIS_HASH)


async def test_hash_survives_the_database_roundtrip(migrated_engine: AsyncEngine, log: AuditLog) -> None:
    (entry,) = await _append(migrated_engine, log, 1)
    async with session_factory(migrated_engine)() as session:
        stored = (await session.scalars(select(AuditEntry))).one()
        assert stored.at == entry.at
        assert stored.hash == log.compute_hash(
            seq=stored.seq,
            at=stored.at,
            actor=stored.actor,
            action=stored.action,
            target=stored.target,
            details=stored.details,
            prev_hash=stored.prev_hash,
        )
        assert await log.head(session) == ChainHead(1, entry.hash)


async def test_append_is_part_of_the_callers_transaction(migrated_engine: AsyncEngine, log: AuditLog) -> None:
    await _append(migrated_engine, log, 2)
    async with session_factory(migrated_engine)() as session:
        async with session.begin():
            await log.append(session, actor="system", action="campaign.start", target="campaign:1")
            await session.rollback()
        assert (await session.scalar(select(func.count()).select_from(AuditEntry))) == 2
    more = await _append(migrated_engine, log, 1)
    assert more[0].seq == 3
    assert (await _verify(migrated_engine, log)).ok


async def test_given_edited_details_when_verifying_then_row_named(migrated_engine: AsyncEngine, log: AuditLog) -> None:
    entries = await _append(migrated_engine, log, 5)
    await _as_attacker(migrated_engine, 'UPDATE audit_log SET details = \'{"field":"name"}\' WHERE seq = 3')
    report = await _verify(migrated_engine, log)
    assert not report.ok
    (problem,) = report.problems
    assert (problem.kind, problem.row_id, problem.seq) == ("hash_mismatch", entries[2].id, 3)
    assert str(problem).startswith(f"row id={entries[2].id} seq=3: hash mismatch")


async def test_given_deleted_middle_row_when_verifying_then_gap_named(
    migrated_engine: AsyncEngine, log: AuditLog
) -> None:
    entries = await _append(migrated_engine, log, 5)
    await _as_attacker(migrated_engine, "DELETE FROM audit_log WHERE seq = 3")
    (problem,) = (await _verify(migrated_engine, log)).problems
    assert (problem.kind, problem.row_id, problem.seq) == ("seq_gap", entries[3].id, 4)
    assert "seq 3 missing" in problem.message


async def test_given_deleted_rows_when_verifying_then_range_named(migrated_engine: AsyncEngine, log: AuditLog) -> None:
    await _append(migrated_engine, log, 8)
    await _as_attacker(migrated_engine, "DELETE FROM audit_log WHERE seq IN (5, 6)")
    (problem,) = (await _verify(migrated_engine, log)).problems
    assert problem.seq == 7
    assert "seq 5..6 missing" in str(problem)


async def test_given_deleted_and_renumbered_rows_when_verifying_then_caught(
    migrated_engine: AsyncEngine, log: AuditLog
) -> None:
    await _append(migrated_engine, log, 4)
    await _as_attacker(
        migrated_engine,
        "DELETE FROM audit_log WHERE seq = 2",
        "UPDATE audit_log SET seq = seq - 1 WHERE seq > 2",
    )
    report = await _verify(migrated_engine, log)
    assert {(p.kind, p.seq) for p in report.problems} >= {("hash_mismatch", 2), ("hash_mismatch", 3)}


async def test_given_forged_row_when_verifying_then_named(migrated_engine: AsyncEngine, log: AuditLog) -> None:
    entries = await _append(migrated_engine, log, 3)
    # Inserting needs no DDL rights: the triggers allow INSERT. Without the key the hash is a guess.
    async with migrated_engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO audit_log (seq, at, actor, action, target, details, prev_hash, hash) "
                "VALUES (4, CURRENT_TIMESTAMP, 'A0001', 'auth.login', 'x', '{}', :prev, :forged)"
            ),
            {"prev": entries[-1].hash, "forged": "f" * 64},
        )
    report = await _verify(migrated_engine, log)
    (problem,) = report.problems
    assert (problem.kind, problem.seq) == ("hash_mismatch", 4)
    assert "forged" in problem.message
    assert report.head.seq == 4


async def test_given_forged_row_signed_with_another_key_when_verifying_then_named(
    migrated_engine: AsyncEngine, log: AuditLog
) -> None:
    await _append(migrated_engine, log, 2)
    await _append(migrated_engine, AuditLog(b"x" * 32), 1)
    (problem,) = (await _verify(migrated_engine, log)).problems
    assert (problem.kind, problem.seq) == ("hash_mismatch", 3)


async def test_given_relinked_row_when_verifying_then_prev_hash_named(
    migrated_engine: AsyncEngine, log: AuditLog
) -> None:
    entries = await _append(migrated_engine, log, 3)
    await _as_attacker(migrated_engine, f"UPDATE audit_log SET prev_hash = '{'1' * 64}' WHERE seq = 2")
    kinds = {(p.kind, p.row_id) for p in (await _verify(migrated_engine, log)).problems}
    assert kinds == {("hash_mismatch", entries[1].id), ("prev_hash_mismatch", entries[1].id)}


@pytest.mark.postgres
async def test_given_duplicate_seq_when_verifying_then_inserted_row_named(
    pg_engine: AsyncEngine, log: AuditLog
) -> None:
    from waihu.migrate import upgrade

    await upgrade(pg_engine)
    entries = await _append(pg_engine, log, 3)
    async with pg_engine.begin() as connection:
        await connection.execute(text("ALTER TABLE audit_log DROP CONSTRAINT uq_audit_log_seq"))
        await connection.execute(
            text(
                "INSERT INTO audit_log (seq, at, actor, action, target, details, prev_hash, hash) "
                "VALUES (2, now(), 'A0001', 'auth.login', 'x', '{}', :prev, :forged)"
            ),
            {"prev": entries[0].hash, "forged": "e" * 64},
        )
    problems = (await _verify(pg_engine, log)).problems
    assert {p.kind for p in problems} == {"hash_mismatch", "seq_duplicate"}
    assert all(p.seq == 2 and p.row_id not in {e.id for e in entries} for p in problems)


async def test_given_truncated_tail_when_verifying_with_anchor_then_caught(
    migrated_engine: AsyncEngine, log: AuditLog
) -> None:
    await _append(migrated_engine, log, 5)
    anchor = (await _verify(migrated_engine, log)).head
    await _as_attacker(migrated_engine, "DELETE FROM audit_log WHERE seq >= 4")
    assert (await _verify(migrated_engine, log)).ok  # the chain alone cannot tell
    report = await _verify(migrated_engine, log, anchor=anchor)
    (problem,) = report.problems
    assert problem.kind == "tail_truncated"
    assert "seq 4..5 missing at the end" in str(problem)


async def test_given_anchor_when_chain_grew_then_ok(migrated_engine: AsyncEngine, log: AuditLog) -> None:
    await _append(migrated_engine, log, 2)
    anchor = (await _verify(migrated_engine, log)).head
    await _append(migrated_engine, log, 2)
    assert (await _verify(migrated_engine, log, anchor=anchor)).ok
    rewritten = ChainHead(anchor.seq, "a" * 64)
    (problem,) = (await _verify(migrated_engine, log, anchor=rewritten)).problems
    assert (problem.kind, problem.seq) == ("anchor_mismatch", 2)


async def test_concurrent_appends_keep_one_chain(migrated_engine: AsyncEngine, log: AuditLog) -> None:
    sessions = session_factory(migrated_engine)

    async def one(i: int) -> int:
        async with sessions() as session, session.begin():
            entry = await log.append(session, actor=f"A{i:04d}", action="auth.login", target=f"agent:{i}")
            await asyncio.sleep(0)  # hold the transaction open a little, as real work would
            return entry.seq

    seqs = await asyncio.gather(*(one(i) for i in range(20)))
    assert sorted(seqs) == list(range(1, 21))
    report = await _verify(migrated_engine, log)
    assert report.ok, [str(p) for p in report.problems]
    assert report.rows == 20


async def test_append_refuses_empty_actor(migrated_engine: AsyncEngine, log: AuditLog) -> None:
    async with session_factory(migrated_engine)() as session:
        with pytest.raises(AuditError) as info:
            await log.append(session, actor="", action="auth.login", target="x")
    assert info.value.error_id == "audit.invalid_entry"


def test_chain_key_must_be_long_enough() -> None:
    with pytest.raises(ValueError, match="too short"):
        AuditLog(b"short")


class _NoLockAuditLog(AuditLog):
    async def _lock(self, session: object) -> None:
        return None


@pytest.mark.postgres
async def test_without_the_lock_unique_seq_and_retry_still_keep_one_chain(pg_engine: AsyncEngine) -> None:
    from waihu.migrate import upgrade

    await upgrade(pg_engine)
    log = _NoLockAuditLog(CHAIN_KEY)
    sessions = session_factory(pg_engine)
    started = asyncio.Event()

    async def one(i: int) -> int:
        async with sessions() as session, session.begin():
            await session.execute(text("SELECT 1"))
            await started.wait()  # all read the same head, then race for the same seq
            entry = await log.append(session, actor=f"A{i:04d}", action="auth.login", target=f"agent:{i}")
            return entry.seq

    tasks = [asyncio.create_task(one(i)) for i in range(5)]
    await asyncio.sleep(0.05)
    started.set()
    assert sorted(await asyncio.gather(*tasks)) == [1, 2, 3, 4, 5]
    assert (await _verify(pg_engine, log)).ok
