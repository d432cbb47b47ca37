"""The permission table: spot checks of the matrix, scoping, narrowing, trainees, and the generated document."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from agents.cli import DOC_PATH, agents
from agents.errors import PermissionDenied
from agents.permissions import (
    PERMISSIONS,
    ROLE_LABELS,
    ActorInfo,
    Role,
    has_permission,
    may_take_call,
    permissions_of,
    render_matrix,
    require,
    require_on,
    role_permissions,
)

REQUIRED = [
    "call.take",
    "call.view",
    "campaign.view",
    "campaign.manage",
    "campaign.launch",
    "lead.import",
    "lead.view",
    "dnc.manage",
    "recording.play",
    "recording.download",
    "pii.unmask",
    "qa.review",
    "qa.view",
    "qa.sheet.manage",
    "user.view",
    "user.request",
    "user.approve",
    "session.force_logout",
    "attendance.view",
    "attendance.manage",
    "leave.approve",
    "fault.report",
    "fault.manage",
    "seat.allocate",
    "seat.loan.request",
    "seat.loan.approve",
    "vendor.manage",
    "audit.view",
    "flow.view",
    "flow.manage",
    "training.record",
    "report.view",
]


def actor(role: str, vendor_id: int | None = 1, **kw: object) -> ActorInfo:
    return ActorInfo(work_id=f"{role}-1", role=role, vendor_id=None if role == "admin" else vendor_id, **kw)  # type: ignore[arg-type]


def test_every_required_permission_is_in_the_table_with_a_description() -> None:
    assert set(REQUIRED) <= set(PERMISSIONS)
    assert all(p.description and p.roles for p in PERMISSIONS.values())


def test_roles_have_their_chinese_labels() -> None:
    assert ROLE_LABELS[Role.TRAINEE] == "培训工号"
    assert ROLE_LABELS[Role.TEAM_LEAD] == "外包主管/班组长"
    assert ROLE_LABELS[Role.ADMIN] == "XX方管理员"
    assert set(ROLE_LABELS) == set(Role)


@pytest.mark.parametrize(
    ("role", "permission", "expected"),
    [
        ("admin", "pii.unmask", True),
        ("ops_manager", "pii.unmask", False),
        ("team_lead", "pii.unmask", False),
        ("qa", "pii.unmask", False),
        ("agent", "call.take", True),
        ("agent", "campaign.launch", False),
        ("team_lead", "campaign.launch", True),
        ("team_lead", "lead.import", True),
        ("qa", "qa.review", True),
        ("team_lead", "qa.review", False),
        ("team_lead", "user.request", True),
        ("team_lead", "user.approve", False),
        ("admin", "user.approve", True),
        ("agent", "session.force_logout", False),
        ("team_lead", "session.force_logout", True),
        ("trainee", "fault.report", True),
        ("agent", "fault.manage", False),
        ("team_lead", "seat.loan.request", True),
        ("team_lead", "seat.loan.approve", False),
        ("admin", "vendor.manage", True),
        ("ops_manager", "vendor.manage", False),
        ("agent", "recording.play", False),
    ],
)
def test_matrix_spot_checks(role: str, permission: str, expected: bool) -> None:
    assert has_permission(actor(role), permission) is expected


def test_only_admins_unmask_pii() -> None:
    assert PERMISSIONS["pii.unmask"].roles == {Role.ADMIN}


def test_admin_holds_everything_but_borrowing_seats() -> None:
    assert set(PERMISSIONS) - role_permissions("admin") == {"seat.loan.request"}


def test_given_other_vendor_when_requiring_then_denied() -> None:
    lead = actor("team_lead", vendor_id=1)
    require(lead, "user.view", vendor_id=1)
    with pytest.raises(PermissionDenied) as caught:
        require(lead, "user.view", vendor_id=2)
    assert caught.value.details["other_vendor"] is True
    assert has_permission(actor("admin"), "user.view", vendor_id=2)


def test_client_owned_objects_are_for_admins_only() -> None:
    with pytest.raises(PermissionDenied):
        require_on(actor("team_lead"), "session.force_logout", None)
    require_on(actor("admin"), "session.force_logout", None)


def test_missing_permission_is_denied_with_a_stable_error_id() -> None:
    with pytest.raises(PermissionDenied) as caught:
        require(actor("agent"), "campaign.launch")
    assert caught.value.error_id == "agents.permission_denied"
    assert "campaign.launch" in caught.value.message


def test_unknown_permission_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown permission"):
        has_permission(actor("admin"), "campaign.luanch")


def test_explicit_subset_narrows_and_never_widens() -> None:
    narrowed = actor("team_lead", permissions=["user.view", "pii.unmask"])
    assert permissions_of(narrowed) == {"user.view"}
    assert not has_permission(narrowed, "campaign.launch")
    assert not has_permission(narrowed, "pii.unmask")


def test_inactive_ids_hold_nothing() -> None:
    assert permissions_of(actor("admin", status="disabled")) == frozenset()
    assert permissions_of(actor("agent", status="deleted")) == frozenset()


@pytest.mark.parametrize(
    ("training_campaign", "simulated", "expected"),
    [(True, True, True), (True, False, False), (False, True, False), (False, False, False)],
)
def test_trainees_take_calls_only_in_training_campaigns_on_the_simulator(
    training_campaign: bool, simulated: bool, expected: bool
) -> None:
    trainee = actor("trainee")
    assert may_take_call(trainee, training_campaign=training_campaign, simulated=simulated) is expected
    assert may_take_call(actor("agent"), training_campaign=training_campaign, simulated=simulated)
    assert not may_take_call(actor("team_lead"), training_campaign=True, simulated=True)


def test_docs_permissions_md_equals_the_rendering() -> None:
    assert DOC_PATH.read_text(encoding="utf-8") == render_matrix(), "run `waihu agents permissions-doc`"


def test_rendering_marks_every_role_of_every_permission() -> None:
    text = render_matrix()
    for name in PERMISSIONS:
        assert f"| `{name}` |" in text
    row = next(line for line in text.splitlines() if line.startswith("| `pii.unmask`"))
    assert row.count("✓") == 1


def test_permissions_doc_check_command() -> None:
    runner = CliRunner()
    result = runner.invoke(agents, ["permissions-doc", "--check"])
    assert result.exit_code == 0, result.output
    stale = DOC_PATH.parent / "does-not-exist.md"
    result = runner.invoke(agents, ["permissions-doc", "--check", "--path", str(stale)])
    assert result.exit_code == 1
    assert "out of date" in result.output
