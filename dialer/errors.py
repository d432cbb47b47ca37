"""Errors of the dialer package.

Exception tree::

    WaihuError
    └── DialerError                 every dialer error                        (dialer.error)
        ├── BackendError            the telephony backend refused or failed   (dialer.backend_failed)
        │   ├── CallNotFound        no such call, or it already ended         (dialer.call_not_found)
        │   ├── CallStateError      the call is not in a state for that act   (dialer.call_state)
        │   └── DuplicateCallId     originate with a call id already in use    (dialer.duplicate_call_id)
        ├── PacingError             pacing settings or snapshot are invalid    (dialer.pacing_invalid)
        ├── CampaignError           campaign settings invalid, or a reference missing (dialer.campaign_invalid,
        │   │                       dialer.flow_not_found, dialer.vendor_not_found)
        │   ├── CampaignNotFound    no campaign with that id or name           (dialer.campaign_not_found)
        │   ├── CampaignStateError  a transition the state machine refuses     (dialer.campaign_state)
        │   ├── AgentAssignmentError  a work ID that may not work this campaign (dialer.agent_assignment)
        │   └── LeadListNotFound    no such lead list in the campaign          (dialer.list_not_found;
        │                           a list name it cannot take: dialer.list_name, a CampaignError)
        ├── LeadImportError         the file as a whole cannot be imported     (dialer.import_failed,
        │                           dialer.import_encoding: neither UTF-8 nor GB18030, or a broken UTF-16)
        ├── LeaseLost               the lead is no longer leased by this owner (dialer.lease_lost)
        └── FloorError              an agent not on the campaign's floor       (dialer.floor)

Messages and details name call ids, never phone numbers (PII stays out of errors).
"""

from __future__ import annotations

from waihu.errors import WaihuError

__all__ = ["BackendError", "CallNotFound", "CallStateError", "DialerError", "DuplicateCallId", "PacingError"]


class DialerError(WaihuError):
    """Root of the dialer's errors, so a caller can catch the package's failures in one clause."""

    default_error_id = "dialer.error"


class BackendError(DialerError):
    """The telephony backend could not do what was asked (connection lost, PBX refused)."""

    default_error_id = "dialer.backend_failed"


class CallNotFound(BackendError):
    """The backend knows no live call with that id: never originated, or already hung up."""

    default_error_id = "dialer.call_not_found"


class CallStateError(BackendError):
    """The call exists but cannot take this action now (bridging a call that has not answered)."""

    default_error_id = "dialer.call_state"


class DuplicateCallId(BackendError):
    """Our call ids are unique keys for events and records; reusing a live one would mix two calls."""

    default_error_id = "dialer.duplicate_call_id"


class PacingError(DialerError):
    """Pacing settings out of range (an abandon cap above 100%, a negative horizon...)."""

    default_error_id = "dialer.pacing_invalid"


__all__ += [
    "AgentAssignmentError",
    "CampaignError",
    "CampaignNotFound",
    "CampaignStateError",
    "LeadImportError",
    "LeaseLost",
]


class CampaignError(DialerError):
    """A campaign cannot be created or changed as asked; details name the field."""

    default_error_id = "dialer.campaign_invalid"


class CampaignNotFound(CampaignError):
    """No campaign with that id or name."""

    default_error_id = "dialer.campaign_not_found"


class CampaignStateError(CampaignError):
    """The campaign's state machine refuses the transition; details list the allowed targets."""

    default_error_id = "dialer.campaign_state"


class AgentAssignmentError(CampaignError):
    """A work ID of another vendor, of a non-calling role, or a trainee outside a training campaign."""

    default_error_id = "dialer.agent_assignment"


class LeadListNotFound(CampaignError):
    """No lead list with that id (or name) in the campaign."""

    default_error_id = "dialer.list_not_found"


class LeadImportError(DialerError):
    """The lead file cannot be imported at all (unreadable, no header, no ``phone`` column).

    Row-level problems are not errors: they go to the import report while the good rows land.
    """

    default_error_id = "dialer.import_failed"


class LeaseLost(DialerError):
    """The lead's lease expired and another owner took it, or it was released: do not dial or record."""

    default_error_id = "dialer.lease_lost"


class FloorError(DialerError):
    """An agent the campaign's floor does not know (not assigned, or not logged in to it)."""

    default_error_id = "dialer.floor"


__all__ += ["FloorError"]
