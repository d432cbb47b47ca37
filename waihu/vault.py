"""The PII vault: encryption at rest and keyed lookup hashes, from one master key file.

One 32-byte master key lives in ``settings.key_file``; HKDF-SHA256 derives a separate key per
purpose (encryption, lookup hashes, audit chain), so a leak of one derived key (say, the lookup key
shared with a DNC matcher) does not expose the others. Key rotation is not supported yet.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from waihu.errors import VaultError
from waihu.pii import PII_KINDS, normalise
from waihu.settings import Settings

__all__ = ["CIPHERTEXT_VERSION", "KEY_BYTES", "Vault", "load_or_create_key"]

KEY_BYTES: Final = 32
CIPHERTEXT_VERSION: Final = 1
_NONCE_BYTES: Final = 12
_TAG_BYTES: Final = 16
_INFO_ENCRYPTION: Final = b"waihu/v1/pii-encryption"
_INFO_LOOKUP: Final = b"waihu/v1/pii-lookup"
_INFO_AUDIT: Final = b"waihu/v1/audit-chain"


def _derive(master: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=info).derive(master)


def _read_key(path: Path) -> bytes:
    try:
        st = path.stat()
    except OSError as exc:
        raise VaultError(
            f"cannot read the key file {path}: {exc.strerror}",
            error_id="vault.key_unreadable",
            details={"path": str(path)},
        ) from None
    if not stat.S_ISREG(st.st_mode):
        raise VaultError(
            f"the key file {path} is not a regular file",
            error_id="vault.key_unreadable",
            details={"path": str(path)},
        )
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise VaultError(
            f"the key file {path} is accessible by group or others (mode {mode:04o}); run: chmod 600 {path}",
            error_id="vault.key_insecure",
            details={"path": str(path), "mode": f"{mode:04o}"},
        )
    try:
        text = path.read_text(encoding="ascii").strip()
        key = base64.b64decode(text, validate=True)
    except OSError as exc:
        raise VaultError(
            f"cannot read the key file {path}: {exc.strerror}",
            error_id="vault.key_unreadable",
            details={"path": str(path)},
        ) from None
    except (UnicodeDecodeError, binascii.Error):
        key = b""
    if len(key) != KEY_BYTES:
        raise VaultError(
            f"the key file {path} is malformed: expected {KEY_BYTES} bytes in base64; "
            "restore it from the backup (a new key cannot decrypt existing data)",
            error_id="vault.key_malformed",
            details={"path": str(path)},
        )
    return key


def _create_key(path: Path) -> None:
    """Write a new key so no process ever sees a half-written file.

    The key goes to a private temporary file (O_EXCL, mode 0600) that is then hard-linked to the
    final name; link() fails if another process won the race, and then we use its key.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = base64.b64encode(secrets.token_bytes(KEY_BYTES)) + b"\n"
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):  # another process won the race: use its key
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_or_create_key(path: Path, *, create: bool = True) -> bytes:
    """The master key from ``path``; a new one is created on first use when ``create`` is true."""
    if not path.exists():
        if not create:
            raise VaultError(
                f"the key file {path} does not exist; set WAIHU_KEY_FILE to the site's key file",
                error_id="vault.key_missing",
                details={"path": str(path)},
            )
        _create_key(path)
    return _read_key(path)


class Vault:
    """Encrypts PII for storage and computes keyed hashes to find it again without decrypting."""

    __slots__ = ("_aead", "_audit_key", "_lookup_key", "default_region")

    def __init__(self, master_key: bytes, *, default_region: str = "CN") -> None:
        if len(master_key) != KEY_BYTES:
            raise VaultError(f"the master key must be {KEY_BYTES} bytes", error_id="vault.key_malformed")
        self._aead = AESGCM(_derive(master_key, _INFO_ENCRYPTION))
        self._lookup_key = _derive(master_key, _INFO_LOOKUP)
        self._audit_key = _derive(master_key, _INFO_AUDIT)
        self.default_region = default_region

    @classmethod
    def from_settings(cls, settings: Settings, *, create: bool = True) -> Vault:
        """The site's vault; creates the key file on first use unless ``create`` is false."""
        key = load_or_create_key(settings.key_file, create=create)
        return cls(key, default_region=settings.default_region)

    def __repr__(self) -> str:
        return f"Vault(default_region={self.default_region!r})"

    @property
    def audit_key(self) -> bytes:
        """The HMAC key of the audit hash chain."""
        return self._audit_key

    def encrypt(self, plaintext: str) -> bytes:
        """``version || nonce || AES-256-GCM(ciphertext + tag)``; a fresh random nonce every time."""
        nonce = secrets.token_bytes(_NONCE_BYTES)
        header = bytes([CIPHERTEXT_VERSION])
        return header + nonce + self._aead.encrypt(nonce, plaintext.encode("utf-8"), header)

    def decrypt(self, blob: bytes) -> str:
        """The plaintext of :meth:`encrypt`'s output; VaultError if it was tampered with or foreign."""
        if len(blob) < 1 + _NONCE_BYTES + _TAG_BYTES or blob[0] != CIPHERTEXT_VERSION:
            raise VaultError("ciphertext is malformed or of an unknown version", error_id="vault.decrypt_failed")
        header, nonce, body = blob[:1], blob[1 : 1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES :]
        try:
            plaintext = self._aead.decrypt(nonce, body, header)
        except InvalidTag:
            raise VaultError(
                "ciphertext failed authentication (tampered with, or encrypted with another key)",
                error_id="vault.decrypt_failed",
            ) from None
        return plaintext.decode("utf-8")

    def lookup_hash(self, value: str, kind: str) -> str:
        """Keyed hash (HMAC-SHA256 hex) of the normalised value, for lookups and DNC matching.

        The kind is part of the hashed input, so a phone and an ID with the same digits differ.
        """
        if kind not in PII_KINDS:
            raise VaultError(
                f"unknown PII kind {kind!r}; expected one of {', '.join(PII_KINDS)}",
                error_id="vault.invalid_value",
            )
        try:
            canonical = normalise(kind, value, self.default_region)
        except ValueError:
            # Never echo the value: it is PII.
            raise VaultError(f"the value is not a valid {kind}", error_id="vault.invalid_value") from None
        message = f"{kind}\x00{canonical}".encode()
        return hmac.new(self._lookup_key, message, hashlib.sha256).hexdigest()
