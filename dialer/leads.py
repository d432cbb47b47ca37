"""Lead import from CSV: validate, normalise, de-duplicate, encrypt, and land the good rows fast.

A bad row never stops the import: it goes to the report (row, column, reason, the value masked)
while the other rows land in batches. Duplicates (within the file, or already in the campaign,
by keyed hash) and numbers on the DNC list are reported and skipped, never inserted.

Speed (``bench/lead_import.py``, ≥ 20,000 rows/s wanted): phones take the fast path of
:mod:`dialer.phones`; the file is cut into pieces at record boundaries and each piece is parsed and
prepared (validated, hashed, encrypted) in forked worker processes, at a lower priority than the
parent, whose event loop routes the rows (errors, DNC, duplicates) and writes batch N while batch
N+1 is prepared: ``executemany`` per batch (one transaction each, constants inlined, a large page
cache for the random inserts into the unique hash index) on SQLite, ``COPY`` (asyncpg
``copy_records_to_table``) on PostgreSQL. A batch that meets a concurrent import of the same number
falls back to row-by-row ``ON CONFLICT DO NOTHING`` and reports the rows refused as duplicates.

Encodings: a BOM says UTF-8 or UTF-16 (LE/BE; transcoded to UTF-8 in a temporary file first); without
one the file must be strict UTF-8, else strict GB18030 (a superset of GBK, what Chinese Excel saves
as "CSV"), checked over the whole file before any row lands (the pass that counts lines for the
progress bar). The report names the encoding when it is not UTF-8. A file that is neither is refused
with the byte offset and line of its first byte that is not UTF-8; nothing is ever decoded with
replacement characters, and a field that already holds U+FFFD (garbled by an earlier conversion) is
a row error.

Quotes: a quoted field may span lines (legal CSV), up to :data:`_MAX_RECORD_LINES` lines and
:data:`_MAX_RECORD_CHARS` characters. A quote that does not close within that, or before the end of
the file, is a row error (row, column, reason and how to fix it) and reading resumes at the next line,
so the rows after it still land.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import csv
import io
import json
import logging
import multiprocessing
import os
import re
import tempfile
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from dialer.errors import CampaignNotFound, LeadImportError
from dialer.lists import clean_name, open_list
from dialer.models import Campaign, DncEntry, Lead
from dialer.phones import PhoneHasher, mask_e164, phone_hasher, validate_phone
from waihu.db import utcnow
from waihu.pii import mask_phone
from waihu.vault import Vault

__all__ = [
    "KNOWN_COLUMNS",
    "ImportReport",
    "ProgressCallback",
    "RowIssue",
    "decrypt_variables",
    "import_leads",
]

log = logging.getLogger(__name__)

KNOWN_COLUMNS: Final = ("phone", "name", "timezone", "consent", "consent_ref")
_TRUE: Final = frozenset({"1", "true", "yes", "y", "t", "是", "同意"})
_FALSE: Final = frozenset({"", "0", "false", "no", "n", "f", "否", "不同意"})
#: the file goes to the preparers in pieces of this size (~15,000 rows of a typical lead file)
_PIECE_BYTES: Final = 512 * 1024
#: pieces prepared ahead of the inserts, with workers
_AHEAD: Final = 6
_WORKER_NICENESS: Final = 5
_SHOWABLE: Final = re.compile(r"[A-Za-z0-9_/+\-:.]{1,40}")
_DIGIT_RUN: Final = re.compile(r"\d{5}")
_SAFE_STAMP: Final = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{1,6})?")
#: SQLite page cache of the importing connection (KiB), restored afterwards
_SQLITE_IMPORT_CACHE_KIB: Final = 256 * 1024
_JSON: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
#: files bigger than this are prepared in worker processes (small ones are not worth a fork)
_PARALLEL_MIN_BYTES: Final = 4 * 1024 * 1024
#: a quoted field may span lines; a record longer than this has an unclosed quote (a row error)
_MAX_RECORD_LINES: Final = 20
_MAX_RECORD_CHARS: Final = 8192
#: a quote followed by more lines or bytes than a record may hold before the next quote
_LONG_QUOTE: Final = re.compile(rb'"(?=(?:[^"\n]*\n){%d}|[^"]{%d})' % (_MAX_RECORD_LINES, _MAX_RECORD_CHARS + 1))
#: how much of the file the encoding check decodes at a time
_SCAN_BYTES: Final = 1 << 20
_BOMS: Final = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_FIX_ENCODING: Final = (
    'save it as UTF-8: in Excel "Save As" → "CSV UTF-8 (逗号分隔)(*.csv)"; in WPS or a text editor choose '
    "the UTF-8 encoding"
)
_COLUMNS: Final = (
    "campaign_id",
    "list_id",
    "phone_enc",
    "phone_hash",
    "phone_masked",
    "name_enc",
    "variables_enc",
    "timezone",
    "status",
    "attempts",
    "next_attempt_at",
    "consent",
    "consent_ref",
    "consent_at",
    "created_at",
)

ProgressCallback = Callable[[int, int], None]
"""Called as ``progress(rows_done, rows_total)``; the total counts lines, so it is an estimate."""


@dataclass(frozen=True, slots=True)
class RowIssue:
    """A row not imported: its line in the file (the header is line 1), the column, why, the value masked."""

    row: int
    column: str
    reason: str
    value: str

    def __str__(self) -> str:
        shown = f" ({self.value})" if self.value else ""
        return f"row {self.row}, column {self.column}: {self.reason}{shown}"


@dataclass(slots=True)
class ImportReport:
    """What an import did. Holds masked values only: safe to print, log or hand to the API."""

    campaign_id: int
    #: the list the rows went to (``list_name``: its name)
    list_id: int = 0
    list_name: str = ""
    rows: int = 0
    #: the file's text encoding: utf-8 (with or without a BOM), gb18030, utf-16-le or utf-16-be
    encoding: str = "utf-8"
    imported: int = 0
    dnc_skipped: int = 0
    errors: list[RowIssue] = field(default_factory=list)
    duplicates: list[RowIssue] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def encoding_note(self) -> str | None:
        """What to tell the operator about the file's encoding: None for UTF-8."""
        if self.encoding == "utf-8":
            return None
        return f"the file is not UTF-8: it was read as {self.encoding.upper()}"

    def summary(self) -> str:
        note = f"; {self.encoding_note}" if self.encoding_note else ""
        return (
            f"{self.rows} rows: {self.imported} imported, {len(self.duplicates)} duplicates, "
            f"{self.dnc_skipped} on the DNC list, {len(self.errors)} errors ({self.elapsed_s:.1f} s){note}"
        )


# A prepared good row: (line, phone_hash, phone_enc, phone_masked, name_enc, variables_enc, timezone,
# consent, consent_ref). Plain tuples: they cross process boundaries by pickle.
_Prepared = tuple[int, str, bytes, str, bytes | None, bytes | None, str | None, bool, str | None]


def _shown(value: str) -> str:
    """A rejected non-phone value as the report may show it: short ASCII tokens without long digit runs.

    A misaligned row can put a name or a number in any column, so anything else is not echoed.
    """
    return value if _SHOWABLE.fullmatch(value) and not _DIGIT_RUN.search(value) else "(hidden)"


@dataclass(frozen=True, slots=True)
class _Layout:
    names: tuple[str, ...]
    width: int
    phone: int
    name: int | None
    timezone: int | None
    consent: int | None
    consent_ref: int | None
    variables: tuple[tuple[str, int], ...]


class _Preparer:
    """Turns raw CSV rows into insertable tuples or row issues; lives in each worker process."""

    def __init__(self, vault: Vault, region: str, layout: _Layout, encoding: str = "utf-8") -> None:
        self.vault = vault
        self.region = region
        self.layout = layout
        #: how the pieces decode (checked over the whole file before: never a replacement character)
        self.encoding = encoding
        self.hasher: PhoneHasher = phone_hasher(vault)
        self._zones: dict[str, bool] = {}

    def _zone_ok(self, name: str) -> bool:
        known = self._zones.get(name)
        if known is None:
            try:
                ZoneInfo(name)
                known = True
            except (ZoneInfoNotFoundError, ValueError):
                known = False
            self._zones[name] = known
        return known

    def prepare(self, first_line: int, piece: bytes) -> list[_Prepared | RowIssue]:
        """Prepare the rows of a piece of the file that starts at line ``first_line`` and ends between records."""
        return self.prepare_rows(_rows(first_line, piece, self.encoding, self.layout.names))

    def prepare_rows(self, chunk: Iterable[tuple[int, list[str] | RowIssue]]) -> list[_Prepared | RowIssue]:
        lay = self.layout
        encrypt = self.vault.encrypt
        out: list[_Prepared | RowIssue] = []
        for line, row in chunk:
            if isinstance(row, RowIssue):
                out.append(row)
                continue
            if len(row) != lay.width:
                out.append(RowIssue(line, "*", f"expected {lay.width} fields, found {len(row)}", ""))
                continue
            raw_phone = row[lay.phone]
            if not raw_phone.strip():
                out.append(RowIssue(line, "phone", "missing", ""))
                continue
            e164 = validate_phone(raw_phone, self.region)
            if e164 is None:
                out.append(RowIssue(line, "phone", "not a valid phone number", mask_phone(raw_phone)))
                continue
            zone: str | None = None
            if lay.timezone is not None:
                zone = row[lay.timezone].strip() or None
                if zone is not None and not self._zone_ok(zone):
                    out.append(RowIssue(line, "timezone", "unknown time zone", _shown(zone)))
                    continue
            consent = False
            if lay.consent is not None:
                flag = row[lay.consent].strip().lower()
                if flag in _TRUE:
                    consent = True
                elif flag not in _FALSE:
                    out.append(RowIssue(line, "consent", "expected yes/no (1/0, true/false)", _shown(flag)))
                    continue
            consent_ref = (row[lay.consent_ref].strip() or None) if lay.consent_ref is not None else None
            if consent_ref is not None and len(consent_ref) > 128:
                out.append(RowIssue(line, "consent_ref", "longer than 128 characters", ""))
                continue
            name = row[lay.name].strip() if lay.name is not None else ""
            variables = {key: row[index] for key, index in lay.variables}
            out.append(
                (
                    line,
                    self.hasher(e164),
                    encrypt(e164),
                    mask_e164(e164),
                    encrypt(name) if name else None,
                    encrypt(_JSON.encode(variables)) if variables else None,
                    zone,
                    consent,
                    consent_ref,
                )
            )
        return out


_worker: _Preparer | None = None


def _init_worker(preparer: _Preparer) -> None:
    global _worker
    _worker = preparer
    # the writer (the parent's event loop and database thread) is the pipeline's bottleneck: let it win the CPU
    with contextlib.suppress(OSError):
        os.nice(_WORKER_NICENESS)


def _prepare_in_worker(first_line: int, piece: bytes) -> list[_Prepared | RowIssue]:
    assert _worker is not None, "worker not initialised"
    return _worker.prepare(first_line, piece)


def decrypt_variables(vault: Vault, lead: Lead) -> dict[str, str]:
    """A lead's extra CSV columns, decrypted (for the script's texts; mask before showing PII)."""
    if lead.variables_enc is None:
        return {}
    value = json.loads(vault.decrypt(lead.variables_enc))
    return {str(k): str(v) for k, v in value.items()}


def lead_variables(vault: Vault, lead: Lead) -> tuple[str, dict[str, str]]:
    """A lead's number (E.164) and the values its script may use: the extra columns, the name and the
    national number as ``phone`` — clear text, for the runtime to mask on screen."""
    number = vault.decrypt(lead.phone_enc)
    values = decrypt_variables(vault, lead)
    if lead.name_enc:
        values.setdefault("name", vault.decrypt(lead.name_enc))
    values.setdefault("phone", number[3:] if number.startswith("+86") else number)
    return number, values


def _layout(header: list[str]) -> _Layout:
    names = [h.strip().lstrip("\ufeff").strip().lower() for h in header]
    seen: set[str] = set()
    for column in names:
        if not column:
            raise LeadImportError("the header has an empty column name", details={"header": names})
        if column in seen:
            raise LeadImportError(f"the header names column {column!r} twice", details={"column": column})
        seen.add(column)
    if "phone" not in seen:
        raise LeadImportError(
            "the file has no `phone` column; the header must name it (optional: name, timezone, consent, consent_ref)",
            details={"header": names},
        )

    def at(column: str) -> int | None:
        return names.index(column) if column in seen else None

    variables = tuple((column, i) for i, column in enumerate(names) if column not in KNOWN_COLUMNS)
    return _Layout(
        names=tuple(names),
        width=len(names),
        phone=names.index("phone"),
        name=at("name"),
        timezone=at("timezone"),
        consent=at("consent"),
        consent_ref=at("consent_ref"),
        variables=variables,
    )


def _sort(
    prepared: list[_Prepared | RowIssue],
    report: ImportReport,
    dnc: set[str],
    existing: set[str],
    seen: dict[str, int],
    pending: list[_Prepared],
) -> None:
    """Route each prepared row: error, DNC skip, duplicate (of the campaign or an earlier row), or to insert."""
    for item in prepared:
        report.rows += 1
        if isinstance(item, RowIssue):
            report.errors.append(item)
            continue
        digest = item[1]
        if digest in dnc:
            report.dnc_skipped += 1
        elif digest in existing:
            report.duplicates.append(RowIssue(item[0], "phone", "already in the campaign", item[3]))
        elif digest in seen:
            report.duplicates.append(RowIssue(item[0], "phone", f"duplicate of row {seen[digest]}", item[3]))
        else:
            seen[digest] = item[0]
            pending.append(item)


class _OpenQuote(Exception):
    """The record being read has a quote that does not close: too many lines or characters, or the end."""

    def __init__(self, at_end: bool) -> None:
        super().__init__("unclosed quote")
        self.at_end = at_end


#: a record read: (index of its first line, index after its last line, its fields — or the csv.Error, or
#: an _OpenQuote for a record with an unclosed quote, or None for one cut off by the end of a partial text)
_Record = tuple[int, int, "list[str] | csv.Error | _OpenQuote | None"]


def _records(lines: list[str], final: bool) -> Iterator[_Record]:
    """The CSV records of ``lines``, with csv's own quoting, but no quoted field runs on for ever.

    The reader pulls lines from a feed that knows where the current record began: a record that needs
    more than :data:`_MAX_RECORD_LINES` lines or :data:`_MAX_RECORD_CHARS` characters, or more lines than
    there are, has an unclosed quote: it is reported as such and reading resumes at the line after its
    first. With ``final`` false the text is a part of the file and a record cut off by its end is
    yielded as ``None`` (the caller reads more). A single-line record costs one generator step.
    """
    n = len(lines)
    pos = 0  # the next line the reader takes
    start = 0  # the first line of the record being read

    def feed() -> Iterator[str]:
        nonlocal pos
        while pos < n:
            if pos > start and (
                pos - start >= _MAX_RECORD_LINES or sum(map(len, lines[start : pos + 1])) > _MAX_RECORD_CHARS
            ):
                raise _OpenQuote(at_end=False)
            pos += 1
            yield lines[pos - 1]
        if pos > start:  # the reader wants another line for an open quoted field: there is none
            raise _OpenQuote(at_end=True)

    while start < n:
        reader = csv.reader(feed())
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except _OpenQuote as exc:
                if exc.at_end and not final:
                    yield start, start, None
                    return
                yield start, start + 1, exc
                pos = start = start + 1  # resync: the line after the one that opened the quote
                break
            except csv.Error as exc:
                yield start, pos, exc
                start = pos
                continue
            yield start, pos, row
            start = pos


def _open_quote_column(line: str, names: tuple[str, ...]) -> str:
    """The column whose quote does not close: the last field of its line, read alone."""
    index = len(next(csv.reader([line]), [""])) - 1
    return names[index] if 0 <= index < len(names) else f"column {index + 1}"


def _unclosed(line: int, exc: _OpenQuote, text: str, names: tuple[str, ...]) -> RowIssue:
    where = (
        "before the end of the file"
        if exc.at_end
        else f"within {_MAX_RECORD_LINES} lines or {_MAX_RECORD_CHARS} characters"
    )
    return RowIssue(
        line,
        _open_quote_column(text, names),
        f"unclosed quote: the quoted field that opens on this row does not close {where}; the row is "
        'skipped and the import went on from the next line. Fix: add the closing quote (") or remove the '
        'opening one; a quote inside a field is written twice ("")',
        "",
    )


def _rows(
    first_line: int, piece: bytes, encoding: str = "utf-8", names: tuple[str, ...] = ()
) -> Iterator[tuple[int, list[str] | RowIssue]]:
    """The CSV records of a piece with their line numbers (a record's last line); a bad one becomes a RowIssue."""
    text = piece.decode(encoding)  # strict: the whole file decoded cleanly before
    garbled = "\ufffd" in text
    lines = io.StringIO(text, newline="").readlines()
    for begin, end, row in _records(lines, final=True):
        line = first_line + end - 1
        if isinstance(row, list):
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # blank line
            if garbled and (bad := next((i for i, f in enumerate(row) if "\ufffd" in f), None)) is not None:
                column = names[bad] if bad < len(names) else f"column {bad + 1}"
                yield (
                    line,
                    RowIssue(
                        line,
                        column,
                        "holds the replacement character U+FFFD: the text was garbled by an earlier conversion; "
                        "fix the value in the original file",
                        "",
                    ),
                )
                continue
            yield line, row
        elif isinstance(row, _OpenQuote):
            yield first_line + begin, _unclosed(first_line + begin, row, lines[begin], names)
        elif isinstance(row, csv.Error):
            yield line, RowIssue(line, "*", f"malformed CSV line: {row}", "")


def _record_end(buf: bytes) -> int:
    """Where to cut ``buf`` so no quoted field is split: after the last newline with balanced quotes, or 0."""
    end = buf.rfind(b"\n")
    while end >= 0:
        if buf.count(b'"', 0, end) % 2 == 0:
            return end + 1
        end = buf.rfind(b"\n", 0, end)
    return 0


def _exact_record_end(buf: bytes, encoding: str) -> int:
    """Where to cut ``buf`` (which starts at a record) after its last whole record, reading it as CSV.

    For a buffer where counting quotes finds no cut: an unclosed quote flips the count for the rest of
    the file, but the reader resumes after it, and so does the cut.
    """
    head = buf[: buf.rfind(b"\n") + 1]
    if not head:
        return 0
    lines = io.StringIO(head.decode(encoding), newline="").readlines()
    done = 0
    for begin, end, row in _records(lines, final=False):
        if row is None:
            done = begin
            break
        done = end
    else:
        return len(head)
    return len("".join(lines[:done]).encode(encoding))


def _cut(buf: bytes, encoding: str) -> int:
    """Where to cut ``buf`` (which starts at a record) between records, or 0 to read more first.

    Counting quotes is right unless a quote never closes: then the count is off for the rest of the
    file while the reader resumes after it. An opening quote (by the count) followed by more lines or
    bytes than a record may hold, without another quote, is such a quote: the records are read then.
    """
    if b'"' not in buf:
        return buf.rfind(b"\n") + 1
    quotes, before = 0, 0
    for found in _LONG_QUOTE.finditer(buf):
        quotes += buf.count(b'"', before, found.start())
        before = found.start()
        if quotes % 2 == 0:
            return _exact_record_end(buf, encoding)
    cut = _record_end(buf)
    if not cut and len(buf) >= _PIECE_BYTES:  # no balanced newline in a whole piece: read the records
        cut = _exact_record_end(buf, encoding)
    return cut


def _pieces(fh: BinaryIO, first_line: int, encoding: str = "utf-8") -> Iterator[tuple[int, bytes]]:
    """The rest of the file in pieces of about ``_PIECE_BYTES``, each ending between records."""
    line = first_line
    buf = b""
    while block := fh.read(_PIECE_BYTES):
        buf += block
        cut = _cut(buf, encoding)
        if cut:
            piece, buf = buf[:cut], buf[cut:]
            yield line, piece
            line += piece.count(b"\n")
    if buf:
        yield line, buf


def _read_header(fh: BinaryIO, name: str, encoding: str = "utf-8") -> list[str]:
    raw = fh.readline()
    for _ in range(_MAX_RECORD_LINES):  # a quoted newline inside the header
        if not raw.count(b'"') % 2 or not (more := fh.readline()):
            break
        raw += more
    if raw.count(b'"') % 2:
        raise LeadImportError(
            f"the header of {name} has a quote that does not close; fix the header line", details={"file": name}
        )
    if not raw.strip():
        raise LeadImportError(f"{name} is empty: expected a header line", details={"file": name})
    try:
        return next(csv.reader([raw.decode(encoding).lstrip("\ufeff").rstrip("\r\n")]))
    except csv.Error as exc:
        raise LeadImportError(f"cannot read the header of {name}: {exc}", details={"file": name}) from None


@dataclass(frozen=True, slots=True)
class _Source:
    """The file as the pipeline reads it: UTF-8 or GB18030 bytes (UTF-16 transcoded), and what it was."""

    fh: BinaryIO
    lines: int
    #: what the report says: utf-8, gb18030, utf-16-le, utf-16-be
    encoding: str
    #: how the pipeline decodes fh
    decode_as: str


class _BadByte(Exception):
    def __init__(self, offset: int, line: int) -> None:
        super().__init__(offset, line)
        self.offset = offset
        self.line = line


def _scan(fh: BinaryIO, codec: str, start: int, sink: BinaryIO | None = None) -> int:
    """Decode the file from ``start`` strictly with ``codec`` and count its lines (``sink``: gets the text
    as UTF-8). Raises _BadByte with the offset and line of the first byte that does not decode."""
    fh.seek(start)
    base, lines, carry = start, 0, b""
    while True:
        block = fh.read(_SCAN_BYTES)
        data = carry + block
        if not data:
            return lines
        try:
            text = data.decode(codec)
            carry = b""
        except UnicodeDecodeError as exc:
            if block and exc.end == len(data) and len(data) - exc.start <= 4:  # a character cut by the block
                text, carry = data[: exc.start].decode(codec), data[exc.start :]
            else:
                before = data[: exc.start].decode(codec).count("\n")
                raise _BadByte(base + exc.start, lines + before + 1) from None
        lines += text.count("\n")
        base += len(data) - len(carry)
        if sink is not None:
            sink.write(text.encode("utf-8"))
        if not block and carry:  # cut off at the end of the file
            raise _BadByte(base, lines + 1)


def _open_csv(path: Path) -> _Source:
    """The file checked and opened for reading in pieces: its encoding, and its line count (for progress)."""
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise LeadImportError(f"cannot read {path.name}: {exc.strerror}", details={"file": path.name}) from None
    try:
        return _check_encoding(fh, path.name)
    except BaseException:
        fh.close()
        raise


def _check_encoding(fh: BinaryIO, name: str) -> _Source:
    head = fh.read(4)
    bom = next(((mark, codec) for mark, codec in _BOMS if head.startswith(mark)), None)
    if bom is not None and bom[1].startswith("utf-16"):
        mark, codec = bom
        out: BinaryIO = tempfile.TemporaryFile()  # noqa: SIM115 - returned open, closed by the caller
        try:
            lines = _scan(fh, codec, len(mark), sink=out)
        except _BadByte as bad:
            out.close()
            raise LeadImportError(
                f"{name} starts as {codec.upper()} text (its byte-order mark says so) but byte {bad.offset} "
                f"(line {bad.line}) is not {codec.upper()}; {_FIX_ENCODING}",
                error_id="dialer.import_encoding",
                details={"file": name, "encoding": codec, "byte_offset": bad.offset, "line": bad.line},
            ) from None
        fh.close()
        out.seek(0)
        return _Source(out, lines, codec, "utf-8")
    start = len(bom[0]) if bom is not None else 0
    try:
        lines = _scan(fh, "utf-8", start)
        fh.seek(0)
        return _Source(fh, lines, "utf-8", "utf-8")
    except _BadByte as bad:
        if bom is not None:  # a UTF-8 byte-order mark: no other encoding is plausible
            first, gb = bad, None
        else:
            first = bad
            try:
                lines = _scan(fh, "gb18030", 0)
                fh.seek(0)
                return _Source(fh, lines, "gb18030", "gb18030")
            except _BadByte as gb_bad:
                gb = gb_bad
    tried = "UTF-8" if gb is None else "UTF-8 or GB18030 (GBK)"
    raise LeadImportError(
        f"{name} is not {tried} text: byte {first.offset} (line {first.line}) is the first that is not UTF-8, and "
        f"the file cannot be read without garbling names and numbers; {_FIX_ENCODING}",
        error_id="dialer.import_encoding",
        details={
            "file": name,
            "byte_offset": first.offset,
            "line": first.line,
            "tried": ["utf-8"] if gb is None else ["utf-8", "gb18030"],
        },
    )


class _Writer:
    """Inserts prepared rows in batches, one transaction each, the fastest way the database offers."""

    def __init__(self, connection: AsyncConnection, campaign_id: int, list_id: int, now: datetime) -> None:
        self.connection = connection
        self.campaign_id = campaign_id
        self.list_id = list_id
        self.now = now
        self.dialect = connection.dialect.name
        processor = Lead.__table__.c.created_at.type.dialect_impl(connection.dialect).bind_processor(connection.dialect)
        self.now_db: Any = processor(now) if processor is not None else now
        names = ", ".join(_COLUMNS)
        # SQLite: the values common to every row are literals (an int, a fixed status, our own timestamp),
        # so each row binds 9 parameters instead of 14
        stamp = self.now_db if isinstance(self.now_db, str) and _SAFE_STAMP.fullmatch(self.now_db) else None
        self.sqlite_sql = (
            f"INSERT INTO leads ({names}) VALUES ({int(campaign_id)}, {int(list_id)}, ?, ?, ?, ?, ?, ?, 'dialable', 0, "
            f"'{stamp}', ?, ?, ?, '{stamp}')"
            if stamp is not None
            else f"INSERT INTO leads ({names}) VALUES ({', '.join('?' for _ in _COLUMNS)})"
        )
        self._literal_stamp = stamp is not None
        self._cache_size: Any = None

    async def __aenter__(self) -> _Writer:
        if self.dialect == "sqlite":
            # the unique (campaign, phone hash) index takes random inserts: keep it in memory, not re-read
            self._cache_size = await self.connection.scalar(text("PRAGMA cache_size"))
            await self.connection.exec_driver_sql(f"PRAGMA cache_size=-{_SQLITE_IMPORT_CACHE_KIB}")
            await self.connection.commit()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self.dialect == "sqlite" and self._cache_size is not None:
            await self.connection.rollback()
            await self.connection.exec_driver_sql(f"PRAGMA cache_size={int(self._cache_size)}")
            await self.connection.commit()

    def _record(self, p: _Prepared, now: Any) -> tuple[Any, ...]:
        return (
            self.campaign_id,
            self.list_id,
            p[2],
            p[1],
            p[3],
            p[4],
            p[5],
            p[6],
            "dialable",
            0,
            now,
            p[7],
            p[8],
            now if p[7] else None,
            now,
        )

    async def write(self, rows: list[_Prepared]) -> list[_Prepared]:
        """Insert ``rows``; returns those refused as already present (a concurrent import added them)."""
        try:
            if self.dialect == "postgresql":
                await self._copy(rows)
            else:
                await self._executemany(rows)
            return []
        except IntegrityError:
            pass
        except Exception as exc:  # asyncpg's UniqueViolationError, raised outside SQLAlchemy by COPY
            if type(exc).__name__ != "UniqueViolationError":
                raise
        return await self._one_by_one(rows)

    async def _executemany(self, rows: list[_Prepared]) -> None:
        now = self.now_db
        if self._literal_stamp:
            records = [(p[2], p[1], p[3], p[4], p[5], p[6], p[7], p[8], now if p[7] else None) for p in rows]
        else:
            records = [self._record(p, now) for p in rows]
        async with self.connection.begin():
            await self.connection.exec_driver_sql(self.sqlite_sql, records)

    async def _copy(self, rows: list[_Prepared]) -> None:
        raw = await self.connection.get_raw_connection()
        driver: Any = raw.driver_connection
        records = [self._record(p, self.now) for p in rows]
        await driver.copy_records_to_table("leads", records=records, columns=list(_COLUMNS))  # one statement: atomic

    async def _one_by_one(self, rows: list[_Prepared]) -> list[_Prepared]:
        insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        refused: list[_Prepared] = []
        for p in rows:
            values = dict(zip(_COLUMNS, self._record(p, self.now), strict=True))
            stmt = insert(Lead).values(values).on_conflict_do_nothing(index_elements=["campaign_id", "phone_hash"])
            async with self.connection.begin():
                result = await self.connection.execute(stmt)
            if result.rowcount == 0:
                refused.append(p)
        return refused


def _executor(path: Path, workers: int | None, preparer: _Preparer) -> Executor | None:
    if workers is None:
        cpus = os.cpu_count() or 1
        workers = min(cpus, 4) if path.stat().st_size >= _PARALLEL_MIN_BYTES else 0
    if workers < 1 or "fork" not in multiprocessing.get_all_start_methods():
        return None
    # fork: the workers inherit the vault's keys without them ever being pickled or written anywhere
    return ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context("fork"), initializer=_init_worker, initargs=(preparer,)
    )


async def _campaign_sets(session: AsyncSession, campaign_id: int) -> tuple[set[str], set[str]]:
    existing = set((await session.scalars(select(Lead.phone_hash).where(Lead.campaign_id == campaign_id))).all())
    dnc = set((await session.scalars(select(DncEntry.phone_hash))).all())
    return existing, dnc


async def import_leads(
    session_factory: async_sessionmaker[AsyncSession],
    vault: Vault,
    campaign_id: int,
    csv_path: Path | str,
    *,
    region: str = "CN",
    progress: ProgressCallback | None = None,
    batch_size: int = 20_000,
    workers: int | None = None,
    list_name: str | None = None,
    file_name: str | None = None,
    created_by: str | None = None,
) -> ImportReport:
    """Import a CSV of leads into a campaign; the good rows land even when others fail.

    The file has a header; ``phone`` is required, ``name``, ``timezone``, ``consent`` and
    ``consent_ref`` are optional, every other column becomes an encrypted lead variable.
    ``workers``: processes preparing rows (None: one per CPU, at most 4, for files of 4 MB and more,
    else 0; 0: prepare in this process). Workers are forked so the vault's keys are inherited,
    never pickled. ``progress(done, total)`` is called after each piece.

    The rows go to the campaign's list ``list_name`` (made if missing), or to a new list named after the file
    (``file_name``, the uploaded file's own name, else the file's): see :mod:`dialer.lists`. ``created_by``: the
    work ID the list is made for. A file that cannot be read at all leaves no new list behind.
    """
    path = Path(csv_path)
    started = time.perf_counter()
    report = ImportReport(campaign_id=campaign_id)
    async with session_factory() as session:
        if await session.get(Campaign, campaign_id) is None:
            raise CampaignNotFound(f"no campaign with id {campaign_id}", details={"campaign_id": campaign_id})
        if list_name is not None:
            clean_name(list_name)  # a name it cannot take fails before the file is read
        existing, dnc = await _campaign_sets(session, campaign_id)
    source = _open_csv(path)
    report.encoding = source.encoding
    total = max(source.lines - 1, 0)
    with source.fh as fh:
        header = _read_header(fh, path.name, source.decode_as)
        preparer = _Preparer(vault, region, _layout(header), source.decode_as)
        seen: dict[str, int] = {}
        pending: list[_Prepared] = []
        executor = _executor(path, workers, preparer)
        engine = session_factory.kw["bind"]
        now = utcnow()
        try:
            async with session_factory() as session, session.begin():
                name = file_name or path.name
                target = await open_list(
                    session, campaign_id, name=list_name, file_name=name, created_by=created_by, now=now
                )
                report.list_id, report.list_name = target.id, target.name
            async with engine.connect() as connection, _Writer(connection, campaign_id, target.id, now) as writer:
                inflight: asyncio.Task[None] | None = None

                async def write(batch: list[_Prepared]) -> None:
                    refused = await writer.write(batch)
                    report.imported += len(batch) - len(refused)
                    for p in refused:
                        report.duplicates.append(RowIssue(p[0], "phone", "already in the campaign", p[3]))

                try:
                    async with contextlib.aclosing(_prepared_chunks(fh, executor, preparer)) as chunks:
                        async for prepared in chunks:
                            _sort(prepared, report, dnc, existing, seen, pending)
                            if len(pending) >= batch_size:
                                # one batch is written while the next is prepared
                                if inflight is not None:
                                    await inflight
                                inflight = asyncio.create_task(write(pending))
                                pending = []
                            if progress is not None:
                                progress(report.rows, max(total, report.rows))
                    if inflight is not None:
                        await inflight
                    if pending:
                        await write(pending)
                finally:
                    if inflight is not None and not inflight.done():
                        inflight.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await inflight
        finally:
            if executor is not None:
                executor.shutdown(wait=True, cancel_futures=True)
    report.elapsed_s = time.perf_counter() - started
    if progress is not None:
        progress(report.rows, report.rows)
    log.info("lead import into campaign %s: %s", campaign_id, report.summary())
    return report


async def _prepared_chunks(
    fh: BinaryIO, executor: Executor | None, preparer: _Preparer
) -> AsyncGenerator[list[_Prepared | RowIssue], None]:
    """Prepared pieces in file order; with workers, a few pieces are prepared ahead of the inserts."""
    pieces = _pieces(fh, first_line=2, encoding=preparer.encoding)
    if executor is None:
        for first_line, piece in pieces:
            yield preparer.prepare(first_line, piece)
            await asyncio.sleep(0)  # let the insert of the previous batch proceed
        return
    ahead: deque[Future[list[_Prepared | RowIssue]]] = deque()
    try:
        for first_line, piece in pieces:
            ahead.append(executor.submit(_prepare_in_worker, first_line, piece))
            if len(ahead) >= _AHEAD:
                yield await asyncio.wrap_future(ahead.popleft())
        while ahead:
            yield await asyncio.wrap_future(ahead.popleft())
    finally:
        for future in ahead:
            future.cancel()
