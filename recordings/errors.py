"""Errors of the recordings package (QA, replay, recordings).

Exception tree (all derive from :class:`waihu.errors.WaihuError`)::

    RecordingsError             recordings.error
    ├── SheetError              qa.sheet_invalid     a scoring-sheet file failed to load; details.problems
    │                                                list file:line:column and a fix for each
    └── SheetNotFound           qa.sheet_not_found   no sheet with that id / version
"""

from __future__ import annotations

from waihu.errors import WaihuError


class RecordingsError(WaihuError):
    default_error_id = "recordings.error"


class SheetError(RecordingsError):
    default_error_id = "qa.sheet_invalid"


class SheetNotFound(RecordingsError):
    default_error_id = "qa.sheet_not_found"
