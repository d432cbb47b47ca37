"""Errors of the agents package.

Exception tree (all derive from :class:`waihu.errors.WaihuError`: stable ``error_id``, message, details)::

    AgentsError                 agents.error
    ├── NotFound                agents.not_found          no such work ID, vendor, seat, request …
    ├── PermissionDenied        agents.permission_denied  the actor's role lacks the permission, or
    │                                                     the object belongs to another vendor
    ├── RuleViolation           agents.rule_violation     a site rule refuses the action (notice period,
    │                                                     SoD, quota, training records, seat change
    │                                                     without a fault report …); error_id names the rule
    │   └── OffboardingIncomplete agents.offboarding_incomplete  a work ID's deletion waits: items or
    │                                                     documents still out (2.5); details.outstanding
    ├── AuthError               agents.auth_failed        wrong work ID or password (never says which)
    │   ├── AccountLocked       agents.locked             too many failures; details.locked_until
    │   ├── PasswordExpired     agents.password_expired   must change the password first
    │   └── SessionConflict     agents.session_conflict   already logged in at another seat
    ├── SessionInvalid          agents.session_invalid    token unknown, expired or ended
    ├── InvalidTransition       agents.invalid_state      e.g. on_call -> ready without wrap-up
    └── AttendanceInputError    attendance.bad_input      a bad CSV row or setting; details say where
"""

from __future__ import annotations

from waihu.errors import WaihuError


class AgentsError(WaihuError):
    default_error_id = "agents.error"


class NotFound(AgentsError):
    default_error_id = "agents.not_found"


class PermissionDenied(AgentsError):
    default_error_id = "agents.permission_denied"


class RuleViolation(AgentsError):
    default_error_id = "agents.rule_violation"


class OffboardingIncomplete(RuleViolation):
    """A deletion is postponed (not failed) until the person handed everything back."""

    default_error_id = "agents.offboarding_incomplete"


class AuthError(AgentsError):
    default_error_id = "agents.auth_failed"


class AccountLocked(AuthError):
    default_error_id = "agents.locked"


class PasswordExpired(AuthError):
    default_error_id = "agents.password_expired"


class SessionConflict(AuthError):
    default_error_id = "agents.session_conflict"


class SessionInvalid(AgentsError):
    default_error_id = "agents.session_invalid"


class InvalidTransition(AgentsError):
    default_error_id = "agents.invalid_state"


class AttendanceInputError(AgentsError):
    default_error_id = "attendance.bad_input"
