"""Parsing import files (CSV or JSON Lines) into clean, typed records. No database access.

``parse_file`` reads a whole file into a :class:`ParsedFile`; ``iter_parsed`` streams it in chunks, so a
multi-million-row events file never sits in memory. Every row is validated on its own: a bad row becomes
one or more :class:`RowError` and is left out, the others are returned (a row with any error is rejected
whole, never half-imported).

Row numbers: ``RowError.row`` is the 1-based **line number in the file** where the row starts, as a text
editor shows it. In a CSV file the header is line 1, so the first data row is normally row 2 (blank lines
and cells spanning several lines shift later rows, and the line number stays right). In a JSON Lines file
it is the line of the object. Row 0 means the file as a whole (e.g. an empty CSV file).

Values: text is stripped and empty cells are "not given" (``None``); naive timestamps are taken in
``assume_tz`` (UTC by default) and returned as aware UTC datetimes; numbers accept thousands separators
(``1,200,000``) and, for money, a currency sign/code and k/M/B suffixes (``$5M``). The comma is always a
thousands separator and the dot the decimal point.

Files: the format comes from the extension (``.csv``/``.tsv``/``.txt``, ``.jsonl``/``.ndjson``/``.json``,
optionally ``.gz``) unless ``fmt`` is given. Text is UTF-8 (a BOM is skipped; a UTF-16 BOM switches to
UTF-16) unless ``encoding`` is given; a row containing bytes that do not decode is rejected, naming the
encoding, and the rest of the file is read. The CSV delimiter is sniffed from the header line
(``,`` ``;`` tab ``|``) unless ``delimiter`` is given.
"""

from __future__ import annotations

import csv
import functools
import gzip
import itertools
import json
import math
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from functools import partial
from pathlib import Path
from typing import IO, Any, Literal
from urllib.parse import urlsplit

from leadflow.core.events import PROPERTY_SCHEMAS, EventRejected, normalize_email, validate_event
from leadflow.core.scoring.rules import FREE_MAIL_DOMAINS
from leadflow.core.timeutil import parse_ts, utcnow
from leadflow.services.importing.mapping import (
    HAS_PROPERTIES,
    REQUIRED,
    ColumnResolver,
    check_kind,
    map_lead_status,
    map_result,
    map_stage,
)
from leadflow.store import tables

Kind = Literal["leads", "accounts", "events", "outcomes"]
Format = Literal["csv", "jsonl"]

#: The keys of the records each kind returns, in order.
RECORD_KEYS: dict[str, tuple[str, ...]] = {
    "leads": (
        "email", "first_name", "last_name", "title", "seniority", "department", "phone", "country", "source",
        "medium", "campaign", "landing_page", "consent", "unsubscribed", "company_domain", "company_name",
        "owner", "stage", "lead_status", "created_at", "properties",
    ),
    "accounts": ("domain", "name", "industry", "employee_count", "annual_revenue", "country", "owner", "properties"),
    "events": ("type", "occurred_at", "received_at", "message_id", "email", "anonymous_id", "properties", "flags"),
    "outcomes": ("email", "result", "amount", "currency", "closed_at", "reason"),
}

#: Records of these kinds are merged when the key repeats within one file.
DEDUPE_KEY = {"leads": "email", "accounts": "domain"}

DEFAULT_MAX_ERRORS = 10_000
_SHOWN = 200  # characters of a bad value kept in RowError.value
_BAD_BYTES = re.compile("[\udc80-\udcff]")  # bytes that did not decode (surrogateescape)


class ImportFileError(ValueError):
    """The file as a whole cannot be read (unknown format, a JSON array instead of JSON Lines, ...)."""


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem with one row. ``row`` is the file line number where the row starts (0 = whole file);
    ``column`` the source column (or JSON key) at fault, when one is; ``value`` the offending value as text
    (shortened to 200 characters)."""

    row: int
    column: str | None
    value: str | None
    reason: str

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row else "file"
        return f"{where}, column {self.column!r}: {self.reason}" if self.column else f"{where}: {self.reason}"


@dataclass(slots=True)
class ParsedFile:
    """A parsed file. ``records`` are the clean rows (keys: ``RECORD_KEYS[kind]``); ``columns`` maps each
    source column (JSON key) to its target field, ``"properties.<name>"`` or ``None`` (ignored);
    ``rows_read`` counts non-blank data rows, ``rows_rejected`` those with errors; ``warnings`` are
    file-level notes (merged duplicates, errors not listed past ``max_errors``, unused mapping keys)."""

    kind: str
    records: list[dict[str, Any]]
    errors: list[RowError]
    columns: dict[str, str | None]
    rows_read: int
    rows_rejected: int = 0
    warnings: list[str] = field(default_factory=list)
    fmt: str = "csv"


@dataclass(slots=True)
class Chunk:
    """One chunk of a stream. Unpacks as ``records, errors``; ``warnings`` are the file-level notes that
    arose while reading it (the last chunk carries the end-of-file ones: duplicate counts, errors past
    ``max_errors``); ``rows_read``/``rows_rejected`` count this chunk's data rows."""

    records: list[dict[str, Any]]
    errors: list[RowError]
    warnings: list[str] = field(default_factory=list)
    rows_read: int = 0
    rows_rejected: int = 0

    def __iter__(self) -> Iterator[Any]:
        yield self.records
        yield self.errors


# --- values -------------------------------------------------------------------------------------------

def _show(value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def _q(value: Any) -> str:
    """A value quoted for a message: ``'abc'`` (long text shortened)."""
    if isinstance(value, str) and len(value) > 80:
        value = value[:77] + "..."
    return repr(value)


def _text(value: Any, max_len: int | None = None) -> str:
    if isinstance(value, str):
        text = value.strip()
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int | float):
        text = str(value)
    else:
        raise ValueError(f"{_q(value)} is not text")
    if max_len is not None and len(text) > max_len:
        raise ValueError(f"{_q(text)} is {len(text)} characters long, more than the {max_len} allowed")
    return text


_SEPARATORS = re.compile(r"[,_\s\u00a0\u202f']")
_INT_RE = re.compile(r"[+-]?\d+(?:\.0*)?")


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{_q(value)} is not a whole number")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and _INT_RE.fullmatch(text := _SEPARATORS.sub("", value)):
        number = int(text.split(".")[0])
    else:
        raise ValueError(f"{_q(value)} is not a whole number")
    if number < 0:
        raise ValueError(f"{_q(value)} is negative")
    return number


_CURRENCY_SIGNS = re.compile(r"[$€£¥₹]")
_CURRENCY_CODE = re.compile(r"^[A-Za-z]{3}\s*|\s*[A-Za-z]{3}$")
_MONEY_RE = re.compile(r"([+-]?)(\d+(?:\.\d*)?|\.\d+)(k|m|mm|mn|b|bn)?", re.IGNORECASE)
_MULTIPLIERS = {"k": 1e3, "m": 1e6, "mm": 1e6, "mn": 1e6, "b": 1e9, "bn": 1e9}


def _money(value: Any) -> float:
    """An amount: ``1200000``, ``1,200,000``, ``$1.2M``, ``EUR 5k``, ``2.5bn``; never negative."""
    bad = ValueError(f"{_q(value)} is not an amount (e.g. 1200000, 1,200,000 or $1.2M)")
    if isinstance(value, bool):
        raise bad
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        text = _CURRENCY_CODE.sub("", value.strip())
        text = _SEPARATORS.sub("", _CURRENCY_SIGNS.sub("", text))
        match = _MONEY_RE.fullmatch(text)
        if match is None:
            raise bad
        sign, digits, suffix = match.groups()
        number = float(digits) * (_MULTIPLIERS[suffix.lower()] if suffix else 1.0)
        if sign == "-":
            number = -number
    else:
        raise bad
    if not math.isfinite(number):
        raise bad
    if number < 0:
        raise ValueError(f"{_q(value)} is negative")
    return number


_TRUE = frozenset({"true", "yes", "y", "t", "1", "on"})
_FALSE = frozenset({"false", "no", "n", "f", "0", "off"})


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise ValueError(f"{_q(value)} is not true or false (expected true/false, yes/no or 1/0)")


_EPOCH_RE = re.compile(r"\d{9,13}(?:\.\d+)?")


def _datetime(value: Any, tz: tzinfo = UTC) -> datetime:
    """ISO 8601 text (a date alone is midnight), epoch seconds/milliseconds or a datetime, as aware UTC.
    Naive values are read in ``tz``."""
    bad = ValueError(f"{_q(value)} is not an ISO 8601 date or time (e.g. 2024-05-01 or 2024-05-01T12:00:00Z)")
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, bool):
        raise bad
    elif isinstance(value, int | float):
        try:
            return parse_ts(value)
        except (ValueError, OverflowError, OSError):
            raise bad from None
    elif isinstance(value, str):
        text = value.strip()
        if _EPOCH_RE.fullmatch(text):
            return parse_ts(float(text))
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            if text[-1:] not in ("Z", "z"):
                raise bad from None
            try:
                parsed = datetime.fromisoformat(text[:-1] + "+00:00")
            except ValueError:
                raise bad from None
    else:
        raise bad
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(UTC)


_DOMAIN_RE = re.compile(r"(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?")


def normalize_domain(value: Any) -> str:
    """A domain from a domain, website URL or email address: lowercase, without scheme, ``www.``, port,
    path or trailing dot; internationalised names in their ASCII (punycode) form. ``ValueError`` if none."""
    if not isinstance(value, str):
        raise ValueError(f"{_q(value)} is not a domain or website address")
    return _domain(value.strip())


@functools.lru_cache(maxsize=65536)
def _domain(text: str) -> str:
    bad = ValueError(f"{_q(text)} is not a domain or website address")
    try:
        host = urlsplit(text if "://" in text else "//" + text).hostname or ""
    except ValueError:
        raise bad from None
    host = host.strip(".")
    if host.startswith("www."):
        host = host[4:]
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise bad from None
    if not _DOMAIN_RE.fullmatch(host):
        raise bad
    return host


def _email(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{_q(value)} is not an email address")
    try:
        email = normalize_email(value)
    except EventRejected as exc:
        raise ValueError(exc.reason) from None
    if len(email) > 320:
        raise ValueError(f"{_q(email)} is longer than the 320 characters an email address may have")
    return email


_CURRENCY_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR"}


def _currency(value: Any) -> str:
    text = _text(value).upper()
    text = _CURRENCY_SYMBOLS.get(text, text)
    if not re.fullmatch(r"[A-Z]{3}", text):
        raise ValueError(f"{_q(value)} is not a 3-letter currency code (e.g. EUR, USD)")
    return text


def _stage(value: Any) -> str | None:
    return map_stage(_text(value))


def _lead_status(value: Any) -> tuple[str | None, str | None]:
    return map_lead_status(_text(value))


def _result(value: Any) -> str:
    return map_result(_text(value))


def _json_object(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str):
        try:
            obj = json.loads(value, parse_constant=_no_constant)
        except ValueError as exc:
            raise ValueError(f"is not valid JSON ({exc})") from None
        if isinstance(obj, dict):
            return obj
    raise ValueError("must be a JSON object, e.g. {\"plan\": \"pro\"}")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _number(value: str) -> int | float:
    text = value.strip()
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"{_q(value)} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{_q(value)} is not a number")
    return number


def _max_len(table: type, name: str) -> int | None:
    column = table.__table__.c.get(name)  # type: ignore[attr-defined]
    return getattr(column.type, "length", None) if column is not None else None


def _texts(table: type, *names: str, **renamed: str) -> dict[str, Callable[[Any], Any]]:
    out: dict[str, Callable[[Any], Any]] = {n: partial(_text, max_len=_max_len(table, n)) for n in names}
    out.update({key: partial(_text, max_len=_max_len(table, col)) for key, col in renamed.items()})
    return out


def _parsers(kind: str, tz: tzinfo) -> dict[str, Callable[[Any], Any]]:
    dt = partial(_datetime, tz=tz)
    if kind == "leads":
        return {
            "email": _email,
            **_texts(tables.Lead, "first_name", "last_name", "title", "seniority", "department", "phone",
                     "country", "source", "medium", "campaign", "landing_page", "owner"),
            "company_name": partial(_text, max_len=_max_len(tables.Account, "name")),
            "consent": _bool,
            "unsubscribed": _bool,
            "company_domain": normalize_domain,
            "stage": _stage,
            "lead_status": _lead_status,
            "created_at": dt,
        }
    if kind == "accounts":
        return {
            "domain": normalize_domain,
            **_texts(tables.Account, "name", "industry", "country", "owner"),
            "employee_count": _int,
            "annual_revenue": _money,
        }
    if kind == "outcomes":
        return {
            "email": _email,
            "result": _result,
            "amount": _money,
            "currency": _currency,
            "closed_at": dt,
            "reason": _text,
        }
    return {}


#: Typed custom properties (a leads file's company columns).
_PROPERTY_PARSERS: dict[str, dict[str, Callable[[Any], Any]]] = {
    "leads": {
        "industry": partial(_text, max_len=_max_len(tables.Account, "industry")),
        "employee_count": _int,
        "annual_revenue": _money,
    },
}


# --- files --------------------------------------------------------------------------------------------

_FORMATS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}


def _suffixes(path: Path) -> tuple[str, bool]:
    name = path.name.lower()
    gz = name.endswith(".gz")
    if gz:
        name = name[:-3]
    return os.path.splitext(name)[1], gz


def detect_format(path: str | os.PathLike[str]) -> Format:
    """``'csv'`` or ``'jsonl'`` from the file name (a ``.gz`` suffix is looked through)."""
    ext, _ = _suffixes(Path(path))
    if ext in _FORMATS:
        return _FORMATS[ext]  # type: ignore[return-value]
    if ext in (".xlsx", ".xls", ".numbers", ".ods"):
        raise ImportFileError(f"{Path(path).name}: spreadsheets cannot be imported directly; export the sheet as CSV")
    raise ImportFileError(f"cannot tell the format of {Path(path).name!r} from its extension; pass fmt='csv' or 'jsonl'")


def _open_text(path: Path, encoding: str | None, newline: str | None) -> IO[str]:
    _, gz = _suffixes(path)
    opener: Callable[..., Any] = gzip.open if gz else open
    if encoding is None:
        with opener(path, "rb") as raw:
            head = raw.read(4)
        encoding = "utf-16" if head[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
    return opener(path, "rt", encoding=encoding, errors="surrogateescape", newline=newline)


def _sniff_delimiter(line: str, path: Path) -> str:
    ext, _ = _suffixes(path)
    if ext == ".tsv":
        return "\t"
    counts = {d: line.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


# --- the stream ---------------------------------------------------------------------------------------

class ParsedStream:
    """An iterable of :class:`Chunk` ``(records, errors)`` over one file; iterate it once.

    While and after iterating, ``columns``, ``rows_read``, ``rows_rejected`` and ``warnings`` describe the
    file so far (for JSON Lines ``columns`` grows as new keys appear; ``warnings`` is complete at the end).

    Duplicates (leads by email, accounts by domain) are merged into the first record, later non-empty
    values winning. With ``dedupe='chunk'`` (the default, memory-bounded) that happens within a chunk; a
    key that repeats one from an earlier chunk is yielded again (counted in ``warnings``) and must be stored
    as an upsert where ``None`` means "not given". ``dedupe='file'`` merges across the whole file, updating
    records already yielded in place (``parse_file`` uses it, as it holds every record anyway).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        kind: Kind,
        *,
        mapping: Mapping[str, str | None] | None = None,
        fmt: Format | None = None,
        received_at: datetime | None = None,
        chunk_size: int = 5000,
        encoding: str | None = None,
        delimiter: str | None = None,
        assume_tz: tzinfo = UTC,
        allow_custom_types: bool = True,
        future_policy: Literal["clamp", "reject"] = "clamp",
        max_errors: int | None = DEFAULT_MAX_ERRORS,
        limit: int | None = None,
        dedupe: Literal["chunk", "file"] = "chunk",
    ) -> None:
        self.kind: str = check_kind(kind)
        self.path = Path(path)
        if fmt is not None and fmt not in ("csv", "jsonl"):
            raise ImportFileError(f"unknown format {fmt!r} (expected 'csv' or 'jsonl')")
        self.fmt: str = fmt or detect_format(self.path)
        if not self.path.is_file():
            raise FileNotFoundError(f"no such file: {self.path}")
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        if dedupe not in ("chunk", "file"):
            raise ValueError("dedupe must be 'chunk' or 'file'")
        if future_policy not in ("clamp", "reject"):
            raise ValueError("future_policy must be 'clamp' or 'reject'")
        self.received_at = received_at or utcnow()
        self.chunk_size = chunk_size
        self.encoding = encoding
        self.delimiter = delimiter
        self.assume_tz = assume_tz
        self.allow_custom_types = allow_custom_types
        self.future_policy = future_policy
        self.max_errors = max_errors
        self.limit = limit
        self.dedupe = dedupe
        self._resolver = ColumnResolver(self.kind, mapping, slug_properties=self.fmt == "csv")
        self.columns: dict[str, str | None] = self._resolver.columns
        self.rows_read = 0
        self.rows_rejected = 0
        self.warnings: list[str] = []
        self.duplicates_merged = 0
        self.duplicates_repeated = 0
        self._errors_kept = 0
        self._errors_dropped = 0
        self._bad_lines: set[int] = set()
        self._parsers = _parsers(self.kind, assume_tz)
        self._prop_parsers = _PROPERTY_PARSERS.get(self.kind, {})
        self._started = False
        self._warned = 0

    def __iter__(self) -> Iterator[Chunk]:
        if self._started:
            raise RuntimeError("a ParsedStream can be iterated only once")
        self._started = True
        return self._run()

    # -- driver

    def _run(self) -> Iterator[Chunk]:
        records: list[dict[str, Any]] = []
        errors: list[RowError] = []
        rows = rejected = 0
        key_name = DEDUPE_KEY.get(self.kind)
        merged: dict[Any, tuple[dict[str, Any], set[str]]] = {}
        earlier: set[Any] = set()
        # A full chunk waits for the next row, so the last chunk (which carries the end-of-file warnings)
        # is never followed by an empty one.
        pending: Chunk | None = None
        source = self._csv_rows() if self.fmt == "csv" else self._jsonl_rows()
        for row, item, is_row in source:
            if pending is not None:
                yield pending
                pending = None
            if isinstance(item, RowError):
                self._keep(errors, [item])
                rejected += is_row
                self.rows_rejected += is_row
            else:
                record, provided, row_errors = self._build(item, row)
                if row_errors:
                    self._keep(errors, row_errors)
                    rejected += 1
                    self.rows_rejected += 1
                elif key_name is None:
                    records.append(record)
                else:
                    key = record[key_name]
                    if key in merged:
                        _merge(*merged[key], record, provided)
                        self.duplicates_merged += 1
                    else:
                        if key in earlier:
                            self.duplicates_repeated += 1
                        merged[key] = (record, provided)
                        records.append(record)
            rows += is_row
            if rows >= self.chunk_size:
                pending = self._chunk(records, errors, rows, rejected)
                records, errors, rows, rejected = [], [], 0, 0
                if self.dedupe == "chunk" and key_name is not None:
                    earlier.update(merged)
                    merged.clear()
        self._finish(key_name)
        if pending is not None:
            pending.warnings.extend(self.warnings[self._warned:])
            self._warned = len(self.warnings)
            yield pending
        elif records or errors or rows or self._warned < len(self.warnings):
            yield self._chunk(records, errors, rows, rejected)

    def _chunk(self, records: list[dict[str, Any]], errors: list[RowError], rows: int, rejected: int) -> Chunk:
        warnings = self.warnings[self._warned:]
        self._warned = len(self.warnings)
        return Chunk(records, errors, warnings, rows, rejected)

    def _keep(self, errors: list[RowError], new: list[RowError]) -> None:
        for error in new:
            if self.max_errors is None or self._errors_kept < self.max_errors:
                errors.append(error)
                self._errors_kept += 1
            else:
                self._errors_dropped += 1

    def _finish(self, key_name: str | None) -> None:
        if self.duplicates_merged:
            self.warnings.append(
                f"{self.duplicates_merged} rows repeated an {key_name} seen earlier in the file and were merged "
                "into the earlier record (later non-empty values win)"
            )
        if self.duplicates_repeated:
            self.warnings.append(
                f"{self.duplicates_repeated} rows repeated an {key_name} from an earlier chunk and were passed on "
                "again; store them as upserts (later non-empty values win)"
            )
        if self._errors_dropped:
            self.warnings.append(f"{self._errors_dropped} more errors were not listed (max_errors={self.max_errors})")
        for key in self._resolver.unused_mapping_keys():
            self.warnings.append(f"the mapping names column {key!r}, which is not in the file")

    # -- sources: yield (row, cells | RowError, is_data_row)

    def _track(self, lines: IO[str]) -> Iterator[str]:
        bad = self._bad_lines
        for number, line in enumerate(lines, 1):
            if _BAD_BYTES.search(line):
                bad.add(number)
            yield line

    def _encoding_error(self, row: int) -> RowError:
        encoding = self.encoding or "UTF-8"
        return RowError(row, None, None, f"the row contains bytes that are not valid {encoding} text; "
                                         "re-save the file as UTF-8 or pass its encoding (e.g. encoding='cp1252')")

    def _csv_rows(self) -> Iterator[tuple[int, Any, bool]]:
        with _open_text(self.path, self.encoding, newline="") as handle:
            lines = self._track(handle)
            head: list[str] = []
            for line in lines:
                head.append(line)
                if line.strip():
                    break
            if not head or not head[-1].strip():
                yield 0, RowError(0, None, None, "the file is empty (no header row)"), False
                return
            delimiter = self.delimiter or _sniff_delimiter(head[-1], self.path)
            reader = csv.reader(itertools.chain(head, lines), delimiter=delimiter)
            header: list[str] | None = None
            active: list[tuple[int, str, str]] = []
            width = 0
            previous = 0
            while True:
                try:
                    fields = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    start, previous = previous + 1, reader.line_num
                    if header is None:
                        yield start, RowError(start, None, None, f"unreadable CSV header: {exc}"), False
                        return
                    self.rows_read += 1
                    yield start, RowError(start, None, None, f"unreadable CSV row: {exc}"), True
                    continue
                start, previous = previous + 1, reader.line_num
                if not any(fields):
                    continue
                if header is None:
                    header = [name.strip() for name in fields]
                    header[0] = header[0].lstrip("\ufeff").strip()
                    width = len(header)
                    problems = self._read_header(header, start)
                    if problems:
                        for problem in problems:
                            yield start, problem, False
                        return
                    active = [(i, name, t) for i, name in enumerate(header) if (t := self.columns[name]) is not None]
                    continue
                if self.limit is not None and self.rows_read >= self.limit:
                    return
                self.rows_read += 1
                if self._bad_lines and any(n in self._bad_lines for n in range(start, previous + 1)):
                    yield start, self._encoding_error(start), True
                    continue
                if len(fields) != width and (len(fields) < width or any(f.strip() for f in fields[width:])):
                    reason = (f"the row has {len(fields)} fields but the header has {width} "
                              "(ragged row: check quoting and delimiters)")
                    yield start, RowError(start, None, None, reason), True
                    continue
                yield start, [(name, target, fields[i]) for i, name, target in active], True

    def _read_header(self, header: list[str], line: int) -> list[RowError]:
        seen: set[str] = set()
        for name in header:
            if name in seen:
                self.warnings.append(
                    f"column {name!r} appears more than once in the header; the first non-empty value is used"
                )
            seen.add(name)
            self._resolver.resolve(name)
        targets = set(self.columns.values())
        problems = [
            RowError(line, None, None, f"no column maps to {name!r}, which is required; "
                                        f"map one with mapping={{'<column>': {name!r}}}")
            for name in REQUIRED[self.kind]
            if name not in targets
        ]
        if self.kind == "events" and not targets & {"email", "anonymous_id"}:
            problems.append(RowError(line, None, None, "no column maps to 'email' or 'anonymous_id'; "
                                                       "an event needs one of them"))
        return problems

    def _jsonl_rows(self) -> Iterator[tuple[int, Any, bool]]:
        resolve = self._resolver.resolve
        first = True
        with _open_text(self.path, self.encoding, newline=None) as handle:
            for number, line in enumerate(handle, 1):
                text = line.strip()
                if not text:
                    continue
                if first:
                    first = False
                    if text.startswith("["):
                        raise ImportFileError(f"{self.path.name} holds a JSON array, not JSON Lines "
                                              "(one JSON object per line)")
                if self.limit is not None and self.rows_read >= self.limit:
                    return
                self.rows_read += 1
                if _BAD_BYTES.search(text):
                    yield number, self._encoding_error(number), True
                    continue
                try:
                    obj = json.loads(text, parse_constant=_no_constant)
                except ValueError as exc:
                    msg = f"{exc.msg} (column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else str(exc)
                    yield number, RowError(number, None, _show(text), f"malformed JSON: {msg}"), True
                    continue
                if not isinstance(obj, dict):
                    reason = f"the line is a JSON {type(obj).__name__}, not an object"
                    yield number, RowError(number, None, _show(text), reason), True
                    continue
                yield number, [(key, t, value) for key, value in obj.items() if (t := resolve(key)) is not None], True

    # -- records

    def _build(self, cells: list[tuple[str, str, Any]], row: int) -> tuple[dict[str, Any], set[str], list[RowError]]:
        if self.kind == "events":
            record, errors = self._build_event(cells, row)
            return record, set(), errors
        return self._build_record(cells, row)

    def _build_record(self, cells: list[tuple[str, str, Any]], row: int
                      ) -> tuple[dict[str, Any], set[str], list[RowError]]:
        kind = self.kind
        record: dict[str, Any] = dict.fromkeys(RECORD_KEYS[kind])
        provided: set[str] = set()
        done: set[str] = set()
        failed: set[str] = set()
        column_of: dict[str, str] = {}
        errors: list[RowError] = []
        json_props: dict[str, Any] = {}
        column_props: dict[str, Any] = {}
        implied_stage = None
        parsers = self._parsers
        for column, target, raw in cells:
            column_of.setdefault(target, column)
            if raw is None or (raw.__class__ is str and (not raw or raw.isspace())):
                continue
            if target == "properties":
                try:
                    for key, value in _json_object(raw).items():
                        json_props.setdefault(key, value)
                except ValueError as exc:
                    errors.append(RowError(row, column, _show(raw), str(exc)))
            elif target.startswith("properties."):
                name = target[len("properties."):]
                if name in column_props:
                    continue
                parser = self._prop_parsers.get(name)
                if parser is None:
                    column_props[name] = raw.strip() if isinstance(raw, str) else raw
                    continue
                try:
                    column_props[name] = parser(raw)
                except ValueError as exc:
                    errors.append(RowError(row, column, _show(raw), str(exc)))
            elif target not in done:
                done.add(target)
                try:
                    value = parsers[target](raw)
                except ValueError as exc:
                    errors.append(RowError(row, column, _show(raw), str(exc)))
                    failed.add(target)
                    continue
                if target == "lead_status":
                    value, implied_stage = value
                if value is not None:
                    record[target] = value
                    provided.add(target)
        if kind == "leads":
            if record["stage"] is None and implied_stage is not None and "stage" not in done:
                record["stage"] = implied_stage
                provided.add("stage")
            if record["company_domain"] is None and record["email"] is not None:
                domain = record["email"].rpartition("@")[2]
                if domain not in FREE_MAIL_DOMAINS:
                    try:
                        record["company_domain"] = normalize_domain(domain)
                    except ValueError:
                        pass
        for name in REQUIRED[kind]:
            if record[name] is None and name not in failed:
                errors.append(RowError(row, column_of.get(name), None, f"{name} is required"))
        if kind in HAS_PROPERTIES:
            record["properties"] = {**json_props, **column_props}
        return record, provided, errors

    def _build_event(self, cells: list[tuple[str, str, Any]], row: int) -> tuple[dict[str, Any], list[RowError]]:
        raw: dict[str, Any] = {}
        column_of: dict[str, str] = {}
        json_props: dict[str, Any] = {}
        json_column: str | None = None
        column_props: dict[str, Any] = {}
        errors: list[RowError] = []
        given: set[str] = set()
        for column, target, value in cells:
            if value.__class__ is str:
                value = value.strip()
                if not value:
                    column_of.setdefault(target, column)
                    continue
            elif value is None:
                column_of.setdefault(target, column)
                continue
            if target != "properties":
                if target in given:
                    continue  # an earlier column already gave it
                given.add(target)
            if target == "properties":
                try:
                    for key, item in _json_object(value).items():
                        json_props.setdefault(key, item)
                except ValueError as exc:
                    errors.append(RowError(row, column, _show(value), str(exc)))
                json_column = json_column or column
            elif target.startswith("properties."):
                column_props[target[11:]] = value
                column_of[target] = column
            else:
                raw[target] = value
                column_of[target] = column
        etype = raw.get("type")
        if etype.__class__ is str:
            etype = raw["type"] = _event_type(etype)
            if self.fmt == "csv" and column_props:
                for key in _NUMERIC_PROPERTIES.get(etype, ()):
                    value = column_props.get(key)
                    if value.__class__ is str:
                        try:
                            column_props[key] = _number(value)
                        except ValueError as exc:
                            errors.append(RowError(row, column_of[f"properties.{key}"], _show(value), str(exc)))
        if "occurred_at" in raw:
            try:
                raw["occurred_at"] = _datetime(raw["occurred_at"], self.assume_tz)
            except ValueError as exc:
                errors.append(RowError(row, column_of["occurred_at"], _show(raw["occurred_at"]), str(exc)))
        if errors:
            return {}, errors
        raw["properties"] = {**json_props, **column_props} if json_props else column_props
        try:
            event = validate_event(raw, received_at=self.received_at, allow_custom_types=self.allow_custom_types,
                                   future_policy=self.future_policy)
        except EventRejected as exc:
            column = column_of.get(exc.field)
            if column is None and exc.field.startswith("properties"):
                column = json_column
            if exc.field.startswith("properties."):
                shown = raw["properties"].get(exc.field[len("properties."):])
            else:
                shown = raw.get(exc.field)
            return {}, [RowError(row, column, _show(shown), str(exc))]
        return {
            "type": event.type,
            "occurred_at": event.occurred_at,
            "received_at": event.received_at,
            "message_id": event.message_id,
            "email": event.email,
            "anonymous_id": event.anonymous_id,
            "properties": event.properties if type(event.properties) is dict else dict(event.properties),
            "flags": event.flags,
        }, []


@functools.lru_cache(maxsize=4096)
def _event_type(value: str) -> str:
    """``"Page View"`` -> ``"page_view"`` (validate_event checks the result)."""
    return re.sub(r"[\s-]+", "_", value.strip()).lower()


#: Event type -> properties its schema wants as numbers (CSV cells are text and are converted).
_NUMERIC_PROPERTIES: dict[str, tuple[str, ...]] = {
    etype: tuple(key for key, types in schema.items() if int in types or float in types)
    for etype, schema in PROPERTY_SCHEMAS.items()
}


def _merge(record: dict[str, Any], provided: set[str], later: dict[str, Any], later_provided: set[str]) -> None:
    """Merge a later duplicate into ``record`` in place: values the later row gave win, gaps are filled."""
    for key, value in later.items():
        if key == "properties":
            record["properties"].update(value)
        elif key in later_provided:
            record[key] = value
            provided.add(key)
        elif record[key] is None and value is not None:
            record[key] = value


# --- entry points -------------------------------------------------------------------------------------

def iter_parsed(
    path: str | os.PathLike[str],
    kind: Kind,
    *,
    mapping: Mapping[str, str | None] | None = None,
    fmt: Format | None = None,
    received_at: datetime | None = None,
    chunk_size: int = 5000,
    encoding: str | None = None,
    delimiter: str | None = None,
    assume_tz: tzinfo = UTC,
    allow_custom_types: bool = True,
    future_policy: Literal["clamp", "reject"] = "clamp",
    max_errors: int | None = DEFAULT_MAX_ERRORS,
    limit: int | None = None,
    dedupe: Literal["chunk", "file"] = "chunk",
) -> ParsedStream:
    """Stream ``path`` as :class:`Chunk` ``(records, errors)`` pairs of at most ``chunk_size`` data rows.

    ``for records, errors in (stream := iter_parsed(...)): ...`` then read ``stream.rows_read``,
    ``stream.warnings``, ``stream.columns``. Arguments as for :func:`parse_file`.
    """
    return ParsedStream(
        path, kind, mapping=mapping, fmt=fmt, received_at=received_at, chunk_size=chunk_size, encoding=encoding,
        delimiter=delimiter, assume_tz=assume_tz, allow_custom_types=allow_custom_types,
        future_policy=future_policy, max_errors=max_errors, limit=limit, dedupe=dedupe,
    )


def parse_file(
    path: str | os.PathLike[str],
    kind: Kind,
    *,
    mapping: Mapping[str, str | None] | None = None,
    fmt: Format | None = None,
    received_at: datetime | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    assume_tz: tzinfo = UTC,
    allow_custom_types: bool = True,
    future_policy: Literal["clamp", "reject"] = "clamp",
    max_errors: int | None = DEFAULT_MAX_ERRORS,
    limit: int | None = None,
) -> ParsedFile:
    """Parse a whole file of ``kind`` ('leads', 'accounts', 'events', 'outcomes').

    ``mapping``: source column -> target field, ``"properties.<name>"``, ``"properties"`` (a JSON column) or
    ``None`` (ignore), overriding automatic recognition. ``received_at``: the import time stamped on events
    (default now). ``assume_tz``: the zone of naive timestamps. ``allow_custom_types``/``future_policy``:
    passed to :func:`leadflow.core.events.validate_event`. ``max_errors``: errors kept (the rest counted in
    ``warnings``). ``limit``: stop after this many data rows (a preview).
    """
    stream = ParsedStream(
        path, kind, mapping=mapping, fmt=fmt, received_at=received_at, chunk_size=50_000, encoding=encoding,
        delimiter=delimiter, assume_tz=assume_tz, allow_custom_types=allow_custom_types,
        future_policy=future_policy, max_errors=max_errors, limit=limit, dedupe="file",
    )
    records: list[dict[str, Any]] = []
    errors: list[RowError] = []
    for chunk in stream:
        records.extend(chunk.records)
        errors.extend(chunk.errors)
    return ParsedFile(
        kind=stream.kind, records=records, errors=errors, columns=dict(stream.columns), rows_read=stream.rows_read,
        rows_rejected=stream.rows_rejected, warnings=list(stream.warnings), fmt=stream.fmt,
    )
