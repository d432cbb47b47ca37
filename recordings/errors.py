"""Errors of the recordings package (QA, replay, recordings).

Exception tree (all derive from :class:`waihu.errors.WaihuError`)::

    RecordingsError             recordings.error
    ├── SheetError              qa.sheet_invalid     a scoring-sheet file failed to load; details.problems
    │                                                list file:line:column and a fix for each
    ├── SheetNotFound           qa.sheet_not_found   no sheet with that id / version
    ├── NotVisible              qa.not_visible       the call, review or recording belongs to a vendor the
    │                                                viewer may not see (reported as not found)
    ├── ReviewRefused           qa.review_refused    the review's state or the actor does not allow it
    ├── ScoreInvalid            qa.score_invalid     points out of range, unknown item, missing scores
    ├── RecordingNotFound       recording.not_found  no recording for that call
    ├── RecordingDeleted        recording.deleted    deleted past retention; details.deleted_at
    └── RecordingCorrupt        recording.corrupt    the file no longer matches the size / SHA-256 stored
                                                     when it was recorded (tampered with or truncated)
"""

from __future__ import annotations

from waihu.errors import WaihuError


class RecordingsError(WaihuError):
    default_error_id = "recordings.error"


class SheetError(RecordingsError):
    default_error_id = "qa.sheet_invalid"


class SheetNotFound(RecordingsError):
    default_error_id = "qa.sheet_not_found"


class NotVisible(RecordingsError):
    default_error_id = "qa.not_visible"


class ReviewRefused(RecordingsError):
    default_error_id = "qa.review_refused"


class ScoreInvalid(RecordingsError):
    default_error_id = "qa.score_invalid"


class RecordingNotFound(RecordingsError):
    default_error_id = "recording.not_found"


class RecordingDeleted(RecordingsError):
    default_error_id = "recording.deleted"


class RecordingCorrupt(RecordingsError):
    default_error_id = "recording.corrupt"
