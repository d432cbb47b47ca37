"""What every agents service needs besides a database session: settings, the audit chain, the vault, a hasher.

Built once at start-up (:meth:`AgentsContext.from_settings`) and passed to each service, so tests can
swap in a cheap password hasher or extra pause reasons without touching globals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from argon2 import PasswordHasher

from waihu.audit import AuditLog
from waihu.settings import Settings
from waihu.vault import Vault

__all__ = ["PAUSE_REASONS", "SYSTEM", "AgentsContext"]

#: the fixed list of pause reasons (第十五条 and the site's practice); extend per site via the context
PAUSE_REASONS: Final[tuple[str, ...]] = ("小休", "培训", "会议", "如厕", "故障")

#: the actor of changes nobody performs by hand (effective-dated requests, shift-end logout)
SYSTEM: Final = "system"


@dataclass(frozen=True, slots=True)
class AgentsContext:
    """Settings, audit log, PII vault and password hasher for the agents services."""

    settings: Settings
    audit: AuditLog
    vault: Vault
    hasher: PasswordHasher = field(default_factory=PasswordHasher)
    pause_reasons: tuple[str, ...] = PAUSE_REASONS

    @classmethod
    def from_settings(cls, settings: Settings, *, hasher: PasswordHasher | None = None) -> AgentsContext:
        """The site's context: the vault from the key file, the audit chain keyed from it."""
        vault = Vault.from_settings(settings)
        return cls(settings=settings, audit=AuditLog(vault.audit_key), vault=vault, hasher=hasher or PasswordHasher())
