"""Roles and permissions: one table in code, one function that checks everything.

Every other package asks :func:`require` (or :func:`has_permission`) with a dotted permission name;
nobody tests roles directly, so the table below is the whole policy and ``docs/permissions.md`` is
rendered from it (:func:`render_matrix`; a test keeps the file equal to the rendering).

Scope: the client's admins (XX方) see every vendor; every other role sees only its own vendor's
objects. ``require(actor, p, vendor_id=v)`` refuses when ``v`` is another vendor's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Protocol

from agents.errors import PermissionDenied

__all__ = [
    "ACTIVE",
    "PERMISSIONS",
    "ROLE_LABELS",
    "ROLE_RANK",
    "Actor",
    "ActorInfo",
    "Permission",
    "Role",
    "has_permission",
    "is_lower_role",
    "may_take_call",
    "permissions_of",
    "render_matrix",
    "require",
    "require_on",
    "role_permissions",
]

ACTIVE: Final = "active"


class Role(StrEnum):
    """The six kinds of work ID (工号); the value is what ``users.role`` stores."""

    TRAINEE = "trainee"
    AGENT = "agent"
    TEAM_LEAD = "team_lead"
    OPS_MANAGER = "ops_manager"
    QA = "qa"
    ADMIN = "admin"


ROLE_LABELS: Final[dict[Role, str]] = {
    Role.TRAINEE: "培训工号",
    Role.AGENT: "话务员",
    Role.TEAM_LEAD: "外包主管/班组长",
    Role.OPS_MANAGER: "运营经理",
    Role.QA: "质检",
    Role.ADMIN: "XX方管理员",
}

#: seniority, for 14.3: a move to a lower rank needs a document reference (qa and team_lead are peers)
ROLE_RANK: Final[dict[Role, int]] = {
    Role.TRAINEE: 0,
    Role.AGENT: 1,
    Role.QA: 2,
    Role.TEAM_LEAD: 2,
    Role.OPS_MANAGER: 3,
    Role.ADMIN: 4,
}


class Actor(Protocol):
    """Whoever acts: a ``User`` row, or an :class:`ActorInfo` (the CLI, tests)."""

    @property
    def work_id(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def vendor_id(self) -> int | None: ...
    @property
    def permissions(self) -> list[str] | None: ...
    @property
    def status(self) -> str: ...


@dataclass(frozen=True, slots=True)
class ActorInfo:
    """An actor that is not a loaded ``User`` row, e.g. the operator's CLI (acts as a client admin)."""

    work_id: str
    role: str
    vendor_id: int | None = None
    permissions: list[str] | None = None
    status: str = ACTIVE


@dataclass(frozen=True, slots=True)
class Permission:
    """A dotted permission name, what it allows, and the roles that hold it."""

    name: str
    description: str
    roles: frozenset[Role]


_ALL: Final = frozenset(Role)
_LEADS: Final = frozenset({Role.TEAM_LEAD, Role.OPS_MANAGER, Role.ADMIN})
_MANAGERS: Final = frozenset({Role.OPS_MANAGER, Role.ADMIN})
_ADMIN: Final = frozenset({Role.ADMIN})


def _p(name: str, description: str, roles: Iterable[Role]) -> Permission:
    return Permission(name, description, frozenset(roles))


#: THE table, in the order of docs/permissions.md. The admin (the client) holds all but seat.loan.request.
PERMISSIONS: Final[dict[str, Permission]] = {
    p.name: p
    for p in (
        _p(
            "call.take",
            "Take calls at a seat (trainees: training campaigns on the simulator only)",
            {Role.TRAINEE, Role.AGENT, Role.ADMIN},
        ),
        _p("call.view", "View call records and script transcripts of the vendor", {*_LEADS, Role.QA}),
        _p("campaign.view", "View campaigns and their progress", {*_LEADS, Role.QA}),
        _p("campaign.manage", "Create and edit campaigns (flow, lead list, pacing, compliance)", _LEADS),
        _p("campaign.launch", "Start, pause and stop campaigns", _LEADS),
        _p("lead.import", "Import lead lists", _LEADS),
        _p("lead.view", "View leads (masked) on the lead desk", _LEADS),
        _p("dnc.manage", "Add and remove do-not-call entries", _MANAGERS),
        _p("recording.play", "Play call recordings (audited)", {*_LEADS, Role.QA}),
        _p("recording.download", "Download recording files (audited)", _MANAGERS),
        _p("pii.unmask", "See a customer's phone, name, ID number or address unmasked (audited)", _ADMIN),
        _p("qa.review", "Score calls against the discipline sheet", {Role.QA, Role.ADMIN}),
        _p("qa.view", "View QA scores and reviews", {*_LEADS, Role.QA}),
        _p("qa.sheet.manage", "Edit the QA scoring sheet", {Role.QA, Role.ADMIN}),
        _p("user.view", "View work IDs of the vendor (names masked)", {*_LEADS, Role.QA}),
        _p("user.request", "File work-ID requests (create, promote, change, rename, delete; 14.2)", _LEADS),
        _p("user.reset_password", "Issue a one-time password to a work ID (changed at first login)", _LEADS),
        _p("user.approve", "Approve or reject work-ID requests (14.2: filed with the client)", _ADMIN),
        _p("session.force_logout", "End another work ID's login session (audited)", _LEADS),
        _p("attendance.view", "View attendance records and reports", {*_LEADS, Role.QA}),
        _p("attendance.manage", "Record shifts, import attendance, set pay amounts", _LEADS),
        _p("leave.approve", "Approve sick and personal leave (limits by length: 17.1)", _LEADS),
        _p("fault.report", "File a fault report on a seat or system (15.1)", _ALL),
        _p("fault.manage", "Acknowledge and fix fault reports (the client maintains IT: 15.3)", _ADMIN),
        _p("seat.allocate", "Create seats and allocate them to vendors (第十条)", _ADMIN),
        _p("seat.loan.request", "Ask to use another vendor's free seat (第十条)", {Role.TEAM_LEAD, Role.OPS_MANAGER}),
        _p("seat.loan.approve", "Approve or reject seat loans (第十条)", _ADMIN),
        _p("asset.view", "View assets, issue lists, inspections, damage records and loss rates of the vendor", _LEADS),
        _p(
            "asset.manage",
            "Register assets, issue them to vendors, check returns, send to repair, scrap (第十六条)",
            _ADMIN,
        ),
        _p(
            "asset.confirm",
            "Confirm an issue list for the vendor (16.1 签字确认); place its assets at seats or with people",
            _LEADS,
        ),
        _p("inspection.record", "Record the daily inspection of the vendor's seats (12.2)", _LEADS),
        _p("damage.report", "Report damage to or loss of an asset; the last user comes from the logins (12.2)", _LEADS),
        _p("damage.decide", "Decide the compensation for damage or loss (照价赔偿, 第十一条)", _ADMIN),
        _p("offboarding.check", "Record documents held by staff and check items back when they leave (2.5)", _LEADS),
        _p("vendor.manage", "Create vendors and set their work-ID quota (14.5)", _ADMIN),
        _p("audit.view", "Read and verify the audit log", _ADMIN),
        _p("flow.view", "View call scripts", _ALL),
        _p("flow.manage", "Publish new call-script versions (platform content belongs to the client: 1.2)", _ADMIN),
        _p("training.record", "Record training and safety-education results (第三条, 第六条)", _LEADS),
        _p("report.view", "View operational reports", {*_LEADS, Role.QA}),
    )
}


def _role(value: str) -> Role | None:
    try:
        return Role(value)
    except ValueError:
        return None


def role_permissions(role: str) -> frozenset[str]:
    """Every permission a role holds (empty for an unknown role)."""
    known = _role(role)
    if known is None:
        return frozenset()
    return frozenset(name for name, p in PERMISSIONS.items() if known in p.roles)


def is_lower_role(old: str, new: str) -> bool:
    """True when ``new`` ranks below ``old`` (14.3: needs a document reference)."""
    return ROLE_RANK[Role(new)] < ROLE_RANK[Role(old)]


def permissions_of(user: Actor) -> frozenset[str]:
    """The permissions a work ID holds now: its role's set, narrowed by its explicit subset; none unless active."""
    if user.status != ACTIVE:
        return frozenset()
    granted = role_permissions(user.role)
    if user.permissions is not None:
        granted = granted & frozenset(user.permissions)
    return granted


def _in_scope(actor: Actor, vendor_id: int | None) -> bool:
    return actor.role == Role.ADMIN or vendor_id is None or vendor_id == actor.vendor_id


def has_permission(actor: Actor, permission: str, *, vendor_id: int | None = None) -> bool:
    """True when ``actor`` holds ``permission`` and ``vendor_id`` (if given) is its own vendor (admins: any)."""
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")
    return permission in permissions_of(actor) and _in_scope(actor, vendor_id)


def require(actor: Actor, permission: str, *, vendor_id: int | None = None) -> None:
    """Raise PermissionDenied unless :func:`has_permission`; the one check every package uses."""
    if has_permission(actor, permission, vendor_id=vendor_id):
        return
    other_vendor = permission in permissions_of(actor) and not _in_scope(actor, vendor_id)
    raise PermissionDenied(
        f"{actor.work_id} may not {permission}" + (" for another vendor" if other_vendor else ""),
        details={"work_id": actor.work_id, "permission": permission, "other_vendor": other_vendor},
    )


def require_on(actor: Actor, permission: str, owner_vendor_id: int | None) -> None:
    """Like :func:`require` for an object owned by ``owner_vendor_id``; ``None`` means the client's own object.

    A client-owned object (an admin's work ID, an unallocated seat) is only for admins.
    """
    if owner_vendor_id is None and actor.role != Role.ADMIN:
        raise PermissionDenied(
            f"{actor.work_id} may not {permission} on the client's objects",
            details={"work_id": actor.work_id, "permission": permission, "other_vendor": True},
        )
    require(actor, permission, vendor_id=owner_vendor_id)


def may_take_call(user: Actor, *, training_campaign: bool, simulated: bool) -> bool:
    """Whether the dialer may connect a call to ``user``: trainees only in training campaigns on the simulator."""
    if not has_permission(user, "call.take"):
        return False
    if user.role == Role.TRAINEE:
        return training_campaign and simulated
    return True


# --- docs/permissions.md ------------------------------------------------------------------------

_ROLE_ORDER: Final[Sequence[Role]] = (
    Role.TRAINEE,
    Role.AGENT,
    Role.TEAM_LEAD,
    Role.OPS_MANAGER,
    Role.QA,
    Role.ADMIN,
)


def render_matrix() -> str:
    """The Markdown of ``docs/permissions.md``: the role × permission matrix with descriptions."""
    lines = [
        "# Roles and permissions",
        "",
        "<!-- Generated from agents/permissions.py by `waihu agents permissions-doc`; do not edit by hand. -->",
        "",
        "Every check goes through `agents.permissions.require(actor, permission, vendor_id=...)`.",
        "The client's admins (XX方) see every vendor and hold every permission but `seat.loan.request` (the client",
        "allocates seats; it does not borrow them); every other role sees only its own vendor's objects. A work ID",
        "may carry an explicit subset of its role's permissions (14.3: never more).",
        "Disabled and deleted work IDs hold nothing.",
        "",
        "## Roles",
        "",
        "| role | 名称 | scope |",
        "| --- | --- | --- |",
    ]
    for role in _ROLE_ORDER:
        scope = "all vendors" if role == Role.ADMIN else "own vendor"
        lines.append(f"| `{role.value}` | {ROLE_LABELS[role]} | {scope} |")
    lines += [
        "",
        "## Matrix",
        "",
        "| permission | description | " + " | ".join(f"`{r.value}`" for r in _ROLE_ORDER) + " |",
        "| --- | --- | " + " | ".join(":-:" for _ in _ROLE_ORDER) + " |",
    ]
    for p in PERMISSIONS.values():
        marks = []
        for role in _ROLE_ORDER:
            mark = "✓" if role in p.roles else ""
            if mark and role == Role.TRAINEE and p.name == "call.take":
                mark = "✓¹"
            marks.append(mark)
        lines.append(f"| `{p.name}` | {p.description} | " + " | ".join(marks) + " |")
    lines += [
        "",
        "¹ Trainees take calls only in training campaigns on the simulator, never real leads",
        "(`agents.permissions.may_take_call`).",
        "",
    ]
    return "\n".join(lines)
