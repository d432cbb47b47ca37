"""Logging that never writes a customer's phone or ID number (named logs.py so stdlib logging stays visible)."""

from __future__ import annotations

import logging
import sys

from waihu.pii import mask_text

__all__ = ["PiiMaskingFilter", "configure_logging"]

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class PiiMaskingFilter(logging.Filter):
    """Masks PII in the rendered message, the traceback and the stack of every record it sees.

    The message is rendered with its args first (a phone is usually an arg, not in the format
    string), then stored back masked with ``args=None`` so no later handler re-renders the raw
    values. Attach it to handlers: a logger's filters do not see records propagated from children.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the line (nor leak its args)
            message = f"{record.msg!s} (unformattable args)"
        record.msg = mask_text(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        return True


class _WaihuHandler(logging.Handler):
    """Writes to whatever sys.stderr is at emit time (tests and CLI runners swap it).

    Its class also marks the handler configure_logging installed, so a second call adds no other.
    """

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = sys.stderr
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:
            self.handleError(record)


#: libraries that log every step at INFO (transitions: each state's enter and exit callbacks)
QUIET_LIBRARIES = ("transitions", "aiosqlite", "asyncio", "alembic", "panoramisk")  # panoramisk: every AMI message


def configure_logging(level: str | int = "INFO") -> None:
    """Log to stderr through the PII filter; idempotent (a second call only changes the level).

    The filter is also added to handlers already on the root logger, so none of them leaks PII.
    """
    root = logging.getLogger()
    numeric = level if isinstance(level, int) else logging.getLevelNamesMapping()[level.upper()]
    root.setLevel(numeric)
    if not any(isinstance(h, _WaihuHandler) for h in root.handlers):
        handler = _WaihuHandler()
        handler.setFormatter(logging.Formatter(_FORMAT))
        root.addHandler(handler)
    for existing in root.handlers:
        if not any(isinstance(f, PiiMaskingFilter) for f in existing.filters):
            existing.addFilter(PiiMaskingFilter())
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(max(numeric, logging.WARNING))
