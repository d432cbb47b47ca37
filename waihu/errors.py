"""Errors of the shared package, and the root every Waihu package's errors descend from.

Exception tree::

    WaihuError                 every domain error; carries error_id, message, details
    ├── ConfigError            settings missing or invalid       (config.invalid)
    ├── VaultError             PII vault: key file, encryption   (vault.key_unreadable, vault.key_insecure,
    │                                                             vault.key_malformed, vault.key_missing,
    │                                                             vault.decrypt_failed, vault.invalid_value)
    └── AuditError             audit log could not be written    (audit.append_failed)

Other packages subclass ``WaihuError`` (or one of these) in their own ``errors`` module. The
``error_id`` is a stable dotted name that clients may match on; the message is for humans and may
change. Neither the message nor the details may ever contain PII in clear text.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["AuditError", "ConfigError", "VaultError", "WaihuError"]


class WaihuError(Exception):
    """Root of all Waihu domain errors; one handler turns any of them into JSON or a CLI message."""

    #: Default stable identifier of the error class; an instance may carry a more specific one.
    default_error_id: str = "waihu.error"

    def __init__(
        self,
        message: str,
        *,
        error_id: str | None = None,
        details: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_id = error_id or self.default_error_id
        self.details: dict[str, object] = dict(details or {})

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(error_id={self.error_id!r}, message={self.message!r})"

    def to_dict(self) -> dict[str, object]:
        """The JSON body an API or a log line shows for this error."""
        return {"error_id": self.error_id, "message": self.message, "details": dict(self.details)}


class ConfigError(WaihuError):
    """Settings are invalid; the message names the environment variable and how to fix it."""

    default_error_id = "config.invalid"


class VaultError(WaihuError):
    """The PII vault cannot work: key file missing, unreadable, insecure, or a ciphertext is bad."""

    default_error_id = "vault.error"


class AuditError(WaihuError):
    """An audit entry could not be appended (the chain must never fork, so we give up loudly)."""

    default_error_id = "audit.error"
