"""The audit log: append-only and hash-chained, so tampering is evident.

Each entry's ``hash`` is HMAC-SHA256, under the chain key (derived from the vault's master key),
of the canonical JSON of ``{seq, at, actor, action, target, details, prev_hash}``; ``prev_hash`` is
the previous entry's hash (64 zeros for the first). Without the key nobody can forge a row; a
row edited, inserted or deleted breaks the chain where it happened, and :meth:`AuditLog.verify`
names it.

The chain cannot show that rows were cut off its *end*: the shortened chain is still valid. Record
the head (seq, hash) that ``verify`` reports somewhere outside the database (a ticket, a signed
mail, another system) and pass it back as ``anchor`` to detect truncation.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from waihu.db import utcnow
from waihu.errors import AuditError
from waihu.models import AuditEntry

__all__ = [
    "ADVISORY_LOCK_KEY",
    "GENESIS_HASH",
    "AuditLog",
    "ChainHead",
    "Problem",
    "VerifyReport",
    "canonical_json",
]

GENESIS_HASH: Final = "0" * 64
# pg_advisory_xact_lock key that serialises appenders on PostgreSQL ("waihuaud" in ASCII).
ADVISORY_LOCK_KEY: Final = 0x7761_6968_7561_7564
APPEND_ATTEMPTS: Final = 5
_VERIFY_BATCH: Final = 1000


def canonical_json(value: Any) -> str:
    """One text per value: sorted keys, no spaces, UTF-8 kept, no NaN; what gets hashed."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The last entry of the chain; kept outside the database it detects truncation."""

    seq: int
    hash: str

    def __str__(self) -> str:
        return f"seq={self.seq}, hash={self.hash}"


@dataclass(frozen=True, slots=True)
class Problem:
    """One break in the chain: the row it was found at and what is wrong there."""

    kind: str  # hash_mismatch, seq_duplicate, seq_out_of_range, seq_gap, prev_hash_mismatch, ...
    message: str
    row_id: int | None = None
    seq: int | None = None

    def __str__(self) -> str:
        where = f"row id={self.row_id} seq={self.seq}" if self.row_id is not None else "chain"
        return f"{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """What :meth:`AuditLog.verify` found; ``head`` is what to anchor externally."""

    rows: int
    head: ChainHead
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(slots=True)
class _Row:
    id: int
    seq: int
    at: datetime
    actor: str
    action: str
    target: str
    details: str
    prev_hash: str
    hash: str


def _seq_range(first: int, last: int) -> str:
    return f"seq {first}" if first == last else f"seq {first}..{last}"


class AuditLog:
    """Appends to and verifies the audit chain; build one at start-up from ``Vault.audit_key``."""

    def __init__(self, chain_key: bytes) -> None:
        if len(chain_key) < 16:
            raise ValueError("the chain key is too short")
        self._key = chain_key

    def compute_hash(
        self,
        *,
        seq: int,
        at: datetime,
        actor: str,
        action: str,
        target: str,
        details: str,
        prev_hash: str,
    ) -> str:
        """The HMAC of one entry; ``details`` is the stored canonical JSON text."""
        payload = canonical_json(
            {
                "seq": seq,
                "at": _iso(at),
                "actor": actor,
                "action": action,
                "target": target,
                "details": details,
                "prev_hash": prev_hash,
            }
        )
        return hmac.new(self._key, payload.encode("utf-8"), hashlib.sha256).hexdigest()

    async def _lock(self, session: AsyncSession) -> None:
        """Serialise appenders for the rest of the caller's transaction, before reading the head.

        PostgreSQL: a transaction-scoped advisory lock. SQLite: a no-op write takes the database's
        write lock now (waiting up to busy_timeout) rather than at the INSERT, where a stale read
        snapshot would fail instead of waiting.
        """
        dialect = session.get_bind().dialect.name
        if dialect == "postgresql":
            await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
        elif dialect == "sqlite":
            await session.execute(text("UPDATE audit_log SET seq = seq WHERE 0"))

    async def append(
        self,
        session: AsyncSession,
        *,
        actor: str,
        action: str,
        target: str,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        """Append one entry inside the caller's transaction (the caller commits).

        Put the audited change and its entry in one transaction: both persist or neither does.
        ``details`` must be JSON-serialisable and must not hold clear-text PII (mask it or use
        the vault's lookup hash). Expects READ COMMITTED on PostgreSQL (the default). On SQLite,
        append early in the transaction: once it has read, another writer's commit makes taking the
        write lock fail ("database is locked") instead of wait.
        """
        if not actor or not action:
            raise AuditError("actor and action are required", error_id="audit.invalid_entry")
        details_text = canonical_json(dict(details or {}))
        await session.flush()  # the caller's pending changes fail on their own, not in our retry loop
        await self._lock(session)
        last_error: IntegrityError | None = None
        for _attempt in range(APPEND_ATTEMPTS):
            try:
                async with session.begin_nested():
                    head = await self._head(session)
                    seq = head.seq + 1
                    at = utcnow()
                    entry = AuditEntry(
                        seq=seq,
                        at=at,
                        actor=actor,
                        action=action,
                        target=target,
                        details=details_text,
                        prev_hash=head.hash,
                        hash=self.compute_hash(
                            seq=seq,
                            at=at,
                            actor=actor,
                            action=action,
                            target=target,
                            details=details_text,
                            prev_hash=head.hash,
                        ),
                    )
                    session.add(entry)
                    await session.flush()
                return entry
            except IntegrityError as exc:  # another appender took this seq: read the head again
                last_error = exc
        raise AuditError(
            f"could not append to the audit log after {APPEND_ATTEMPTS} attempts",
            error_id="audit.append_failed",
            details={"action": action},
        ) from last_error

    async def _head(self, session: AsyncSession) -> ChainHead:
        row = (
            await session.execute(select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1))
        ).first()
        return ChainHead(0, GENESIS_HASH) if row is None else ChainHead(row.seq, row.hash)

    async def head(self, session: AsyncSession) -> ChainHead:
        """The current last entry (seq 0 and 64 zeros when the log is empty)."""
        return await self._head(session)

    async def verify(self, session: AsyncSession, *, anchor: ChainHead | None = None) -> VerifyReport:
        """Walk every row by seq and report each break, naming the row and what is wrong.

        ``anchor`` is a head recorded earlier outside the database; it lets verify detect rows
        cut off the end of the chain, which the chain alone cannot show.
        """
        columns = (
            AuditEntry.id,
            AuditEntry.seq,
            AuditEntry.at,
            AuditEntry.actor,
            AuditEntry.action,
            AuditEntry.target,
            AuditEntry.details,
            AuditEntry.prev_hash,
            AuditEntry.hash,
        )
        stmt = select(*columns).order_by(AuditEntry.seq, AuditEntry.id).execution_options(yield_per=_VERIFY_BATCH)
        problems: list[Problem] = []
        rows = 0
        expected_seq = 1
        chain_hash = GENESIS_HASH  # hash of the last row accepted into the chain
        chain_id: int | None = None
        head = ChainHead(0, GENESIS_HASH)
        anchor_seen = False
        result = await session.stream(stmt)
        async for raw in result:
            row = _Row(*raw)
            rows += 1
            head = ChainHead(row.seq, row.hash)

            def report(kind: str, message: str, row: _Row = row) -> None:
                problems.append(Problem(kind=kind, message=message, row_id=row.id, seq=row.seq))

            expected_hash = self.compute_hash(
                seq=row.seq,
                at=row.at,
                actor=row.actor,
                action=row.action,
                target=row.target,
                details=row.details,
                prev_hash=row.prev_hash,
            )
            if not hmac.compare_digest(expected_hash, row.hash):
                report("hash_mismatch", "hash mismatch: content edited, or row forged without the chain key")
            if row.seq < 1:
                report("seq_out_of_range", f"seq {row.seq} is out of range: row inserted")
                continue
            if row.seq < expected_seq:
                report("seq_duplicate", f"duplicate seq {row.seq} (already held by id={chain_id}): row inserted")
                continue
            if row.seq > expected_seq:
                gap = _seq_range(expected_seq, row.seq - 1)
                report("seq_gap", f"{gap} missing: rows deleted before this row")
            elif not hmac.compare_digest(row.prev_hash, chain_hash):
                before = "the genesis hash" if row.seq == 1 else f"the hash of seq {row.seq - 1} (id={chain_id})"
                report(
                    "prev_hash_mismatch",
                    f"prev_hash does not match {before}: a row before was deleted, replaced or re-linked",
                )
            if anchor is not None and row.seq == anchor.seq:
                anchor_seen = True
                if not hmac.compare_digest(row.hash, anchor.hash):
                    report("anchor_mismatch", "hash differs from the external anchor: the chain was rewritten")
            expected_seq = row.seq + 1
            chain_hash = row.hash
            chain_id = row.id
        if anchor is not None and not anchor_seen and anchor.seq >= expected_seq:
            problems.append(
                Problem(
                    kind="tail_truncated",
                    message=(
                        f"{_seq_range(expected_seq, anchor.seq)} missing at the end of the log: "
                        f"tail truncated (anchor seq={anchor.seq})"
                    ),
                )
            )
        return VerifyReport(rows=rows, head=head, problems=tuple(problems))
