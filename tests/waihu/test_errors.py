from __future__ import annotations

import pytest

from waihu.errors import AuditError, ConfigError, VaultError, WaihuError


@pytest.mark.parametrize(
    ("cls", "error_id"),
    [
        (WaihuError, "waihu.error"),
        (ConfigError, "config.invalid"),
        (VaultError, "vault.error"),
        (AuditError, "audit.error"),
    ],
)
def test_given_no_error_id_when_raised_then_class_default(cls: type[WaihuError], error_id: str) -> None:
    error = cls("boom")
    assert isinstance(error, WaihuError)
    assert error.error_id == error_id
    assert error.message == str(error) == "boom"
    assert error.details == {}


def test_given_specific_error_id_and_details_when_serialised_then_json_ready() -> None:
    error = VaultError("cannot read", error_id="vault.key_unreadable", details={"path": "/k"})
    assert error.to_dict() == {"error_id": "vault.key_unreadable", "message": "cannot read", "details": {"path": "/k"}}
    assert "vault.key_unreadable" in repr(error)


def test_other_packages_can_subclass() -> None:
    class LeadError(WaihuError):
        default_error_id = "lead.not_found"

    with pytest.raises(WaihuError) as info:
        raise LeadError("no such lead", details={"lead_id": 7})
    assert info.value.error_id == "lead.not_found"
