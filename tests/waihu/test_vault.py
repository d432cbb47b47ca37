from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from waihu.errors import VaultError
from waihu.settings import Settings
from waihu.vault import KEY_BYTES, Vault, load_or_create_key

FIXED_KEY = bytes(range(32))


def _settings(key_file: Path) -> Settings:
    return Settings(key_file=key_file, database_url="sqlite+aiosqlite://")


def test_given_no_key_file_when_first_used_then_created_0600_with_parent(tmp_path: Path) -> None:
    key_file = tmp_path / "var" / "sub" / "waihu.key"
    Vault.from_settings(_settings(key_file))
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(base64.b64decode(key_file.read_text().strip(), validate=True)) == KEY_BYTES
    assert [p.name for p in key_file.parent.iterdir()] == ["waihu.key"]  # no temporary file left


def test_given_key_file_when_used_again_then_same_key(tmp_path: Path) -> None:
    key_file = tmp_path / "waihu.key"
    first = Vault.from_settings(_settings(key_file))
    content = key_file.read_bytes()
    second = Vault.from_settings(_settings(key_file))
    assert key_file.read_bytes() == content
    assert second.decrypt(first.encrypt("张三")) == "张三"
    assert first.lookup_hash("13812345678", "phone") == second.lookup_hash("13812345678", "phone")
    assert first.audit_key == second.audit_key


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_given_key_file_readable_by_others_when_loading_then_refused(tmp_path: Path, mode: int) -> None:
    key_file = tmp_path / "waihu.key"
    load_or_create_key(key_file)
    key_file.chmod(mode)
    with pytest.raises(VaultError) as info:
        Vault.from_settings(_settings(key_file))
    assert info.value.error_id == "vault.key_insecure"
    assert f"chmod 600 {key_file}" in info.value.message


@pytest.mark.parametrize("content", [b"", b"not base64 !!!", base64.b64encode(b"short") + b"\n", b"\xff\xfe"])
def test_given_malformed_key_file_when_loading_then_refused(tmp_path: Path, content: bytes) -> None:
    key_file = tmp_path / "waihu.key"
    fd = os.open(key_file, os.O_CREAT | os.O_WRONLY, 0o600)
    os.write(fd, content)
    os.close(fd)
    with pytest.raises(VaultError) as info:
        load_or_create_key(key_file)
    assert info.value.error_id == "vault.key_malformed"


def test_given_key_path_is_a_directory_when_loading_then_unreadable(tmp_path: Path) -> None:
    with pytest.raises(VaultError) as info:
        load_or_create_key(tmp_path)
    assert info.value.error_id == "vault.key_unreadable"


def test_given_missing_key_and_no_create_when_loading_then_refused(tmp_path: Path) -> None:
    key_file = tmp_path / "waihu.key"
    with pytest.raises(VaultError) as info:
        Vault.from_settings(_settings(key_file), create=False)
    assert info.value.error_id == "vault.key_missing"
    assert not key_file.exists()


def test_encrypt_decrypt_roundtrip_with_fresh_nonce() -> None:
    vault = Vault(FIXED_KEY)
    first, second = vault.encrypt("北京市海淀区中关村大街27号"), vault.encrypt("北京市海淀区中关村大街27号")
    assert first != second  # random nonce
    assert first[0] == 1
    assert len(first) > 1 + 12 + 16
    assert "中关村".encode() not in first
    assert vault.decrypt(first) == vault.decrypt(second) == "北京市海淀区中关村大街27号"
    assert vault.decrypt(vault.encrypt("")) == ""


@given(st.text())
def test_encrypt_decrypt_roundtrip_any_text(text: str) -> None:
    vault = Vault(FIXED_KEY)
    assert vault.decrypt(vault.encrypt(text)) == text


@pytest.mark.parametrize("position", [0, 1, 12, 13, -1])
def test_given_tampered_ciphertext_when_decrypting_then_vault_error(position: int) -> None:
    vault = Vault(FIXED_KEY)
    blob = bytearray(vault.encrypt("13812345678"))
    blob[position] ^= 0x01
    with pytest.raises(VaultError) as info:
        vault.decrypt(bytes(blob))
    assert info.value.error_id == "vault.decrypt_failed"
    assert "13812345678" not in str(info.value)
    assert "13812345678" not in repr(info.value.details)


@pytest.mark.parametrize("blob", [b"", b"\x01", b"\x01" + bytes(27)])
def test_given_truncated_ciphertext_when_decrypting_then_vault_error(blob: bytes) -> None:
    with pytest.raises(VaultError, match="malformed"):
        Vault(FIXED_KEY).decrypt(blob)


def test_given_other_key_when_decrypting_then_vault_error() -> None:
    blob = Vault(FIXED_KEY).encrypt("张三")
    with pytest.raises(VaultError) as info:
        Vault(bytes(32)).decrypt(blob)
    assert info.value.error_id == "vault.decrypt_failed"


def test_lookup_hash_is_equal_for_one_phone_written_differently() -> None:
    vault = Vault(FIXED_KEY)
    hashes = {
        vault.lookup_hash(written, "phone")
        for written in ("138 1234 5678", "+86 13812345678", "13812345678", "+86-138-1234-5678", "008613812345678")
    }
    assert len(hashes) == 1
    (digest,) = hashes
    assert len(digest) == 64
    assert int(digest, 16) >= 0


def test_lookup_hash_differs_for_different_values_kinds_and_keys() -> None:
    vault = Vault(FIXED_KEY)
    phone = vault.lookup_hash("13812345678", "phone")
    assert vault.lookup_hash("13812345679", "phone") != phone
    assert Vault(bytes(32)).lookup_hash("13812345678", "phone") != phone
    assert vault.lookup_hash("13812345678", "id_number") != phone  # the kind is hashed too


def test_lookup_hash_normalises_names_and_ids() -> None:
    vault = Vault(FIXED_KEY)
    assert vault.lookup_hash(" 张三 ", "name") == vault.lookup_hash("张三", "name")
    assert vault.lookup_hash("11010119900307123x", "id_number") == vault.lookup_hash(" 11010119900307123X", "id_number")


def test_lookup_hash_uses_default_region() -> None:
    cn, us = Vault(FIXED_KEY, default_region="CN"), Vault(FIXED_KEY, default_region="US")
    assert cn.lookup_hash("4155552671", "phone") != us.lookup_hash("4155552671", "phone")
    assert us.lookup_hash("4155552671", "phone") == us.lookup_hash("+1 415 555 2671", "phone")


def test_given_bad_value_or_kind_when_hashing_then_vault_error_without_value() -> None:
    vault = Vault(FIXED_KEY)
    with pytest.raises(VaultError) as info:
        vault.lookup_hash("call me maybe", "phone")
    assert info.value.error_id == "vault.invalid_value"
    assert "maybe" not in info.value.message
    with pytest.raises(VaultError, match="unknown PII kind"):
        vault.lookup_hash("x", "email")


def test_derived_keys_are_separate_and_not_shown() -> None:
    vault = Vault(FIXED_KEY)
    assert len(vault.audit_key) == 32
    assert vault.audit_key != FIXED_KEY
    assert vault.audit_key != Vault(bytes(32)).audit_key
    assert FIXED_KEY.hex() not in repr(vault)


def test_given_wrong_master_key_length_when_building_then_refused() -> None:
    with pytest.raises(VaultError):
        Vault(b"short")
