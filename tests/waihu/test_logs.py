from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from waihu.logs import PiiMaskingFilter, configure_logging


class _ListHandler(logging.Handler):
    """Keeps every formatted line, as a file or a log shipper would receive it."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, _ListHandler]]:
    logger = logging.getLogger("tests.waihu.pii")
    handler = _ListHandler()
    handler.addFilter(PiiMaskingFilter())
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield logger, handler
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


def test_given_phone_in_args_when_logged_then_masked(captured: tuple[logging.Logger, _ListHandler]) -> None:
    logger, handler = captured
    logger.info("dialing %s for call %s at %s", "13812345678", "c-20261127-000123", "2026-11-27 15:56:07")
    assert handler.lines == ["dialing 138****5678 for call c-20261127-000123 at 2026-11-27 15:56:07"]


def test_given_pii_in_format_string_and_dict_args_when_logged_then_masked(
    captured: tuple[logging.Logger, _ListHandler],
) -> None:
    logger, handler = captured
    logger.warning("lead %(phone)s id %(id)s", {"phone": "+86 139 1234 5678", "id": "110101199003071234"})
    logger.warning("raw 15012345678 in the message itself")
    assert handler.lines == ["lead 139****5678 id 110***********1234", "raw 150****5678 in the message itself"]


def test_given_phone_in_exception_when_logged_then_traceback_masked(
    captured: tuple[logging.Logger, _ListHandler],
) -> None:
    logger, handler = captured
    try:
        raise ValueError("customer 13912345678 refused, id 110101199003071234")
    except ValueError:
        logger.exception("call %s failed", "c-42")
    (line,) = handler.lines
    assert "13912345678" not in line
    assert "110101199003071234" not in line
    assert "ValueError: customer 139****5678 refused, id 110***********1234" in line
    assert line.startswith("call c-42 failed\nTraceback")


def test_given_stack_info_with_pii_when_logged_then_masked(captured: tuple[logging.Logger, _ListHandler]) -> None:
    logger, handler = captured
    logger.info("with stack", stack_info=True)  # this source line mentions 13712345678
    (line,) = handler.lines
    assert "Stack (most recent call last)" in line
    assert "13712345678" not in line
    assert "137****5678" in line


def test_given_record_when_filtered_then_args_dropped_for_later_handlers() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "to %s", ("13812345678",), None)
    assert PiiMaskingFilter().filter(record) is True
    assert record.msg == "to 138****5678"
    assert record.args is None
    assert record.getMessage() == "to 138****5678"


def test_given_bad_format_args_when_filtered_then_line_kept_without_args() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%d calls to 13812345678", ("many",), None)
    assert PiiMaskingFilter().filter(record) is True
    assert record.getMessage() == "%d calls to 138****5678 (unformattable args)"


def test_configure_logging_is_idempotent_and_masks(
    restore_root_logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("DEBUG")
    configure_logging("WARNING")
    root = restore_root_logger
    ours = [h for h in root.handlers if type(h).__name__ == "_WaihuHandler"]
    assert len(ours) == 1
    assert all(sum(isinstance(f, PiiMaskingFilter) for f in h.filters) == 1 for h in root.handlers)
    assert root.level == logging.WARNING
    logging.getLogger("tests.waihu.root").warning("callback %s", "13812345678")
    err = capsys.readouterr().err
    assert "callback 138****5678" in err
    assert "13812345678" not in err
