"""Channel spend in: validation (CSV files or API records) and storage, one transaction per import.

A record has ``channel``, the period as ``period_start`` + ``period_end`` (ISO dates, inclusive) or
``period`` (a month, ``YYYY-MM``), ``amount`` (a finite number >= 0) and ``currency`` (ISO 4217, 3 letters;
``default_currency`` when the column is absent or empty). Every invalid record is reported (row number,
field, reason) and nothing is stored. A channel and period already stored is replaced (its amount and
currency updated): importing the same file twice stores it once.
"""

from __future__ import annotations

import calendar
import csv
import io
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadflow.core.timeutil import utcnow
from leadflow.store.spend_tables import ChannelSpend
from leadflow.store.tables import new_id

__all__ = ["SpendError", "SpendRejected", "SpendRow", "SpendSummary", "list_spend", "parse_spend",
           "read_spend_csv", "store_spend"]

_CURRENCY = re.compile(r"^[A-Z]{3}$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
MAX_CHANNEL = 200


@dataclass(frozen=True)
class SpendRow:
    channel: str
    period_start: date
    period_end: date
    amount: float
    currency: str


@dataclass(frozen=True)
class SpendError:
    row: int  # 1-based record number (a CSV file's header is not counted)
    field: str
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.field}: {self.reason}"


class SpendRejected(ValueError):
    def __init__(self, errors: list[SpendError]) -> None:
        self.errors = errors
        shown = "; ".join(str(e) for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(f"{len(errors)} invalid spend rows, nothing stored: {shown}{more}")


@dataclass
class SpendSummary:
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    channels: list[str] = field(default_factory=list)


def _date(value: Any, name: str, errors: list[SpendError], row: int) -> date | None:
    if isinstance(value, date):
        return value
    text = str(value or "").strip()
    if not text:
        errors.append(SpendError(row, name, "missing"))
        return None
    try:
        return date.fromisoformat(text[:10] if len(text) > 10 and text[10] in "T " else text)
    except ValueError:
        errors.append(SpendError(row, name, f"{text!r} is not an ISO date (YYYY-MM-DD)"))
        return None


def parse_spend(records: Iterable[Mapping[str, Any]], *, default_currency: str | None = None) -> list[SpendRow]:
    """Validate records; raises :class:`SpendRejected` listing every invalid one."""
    errors: list[SpendError] = []
    out: list[SpendRow] = []
    seen: dict[tuple[str, date, date], int] = {}
    for n, rec in enumerate(records, start=1):
        bad = len(errors)
        channel = str(rec.get("channel") or "").strip()
        if not channel:
            errors.append(SpendError(n, "channel", "missing"))
        elif len(channel) > MAX_CHANNEL:
            errors.append(SpendError(n, "channel", f"longer than {MAX_CHANNEL} characters"))
        start = end = None
        month = str(rec.get("period") or "").strip()
        if month and not (rec.get("period_start") or rec.get("period_end")):
            m = _MONTH.match(month)
            if not m or not 1 <= int(m.group(2)) <= 12:
                errors.append(SpendError(n, "period", f"{month!r} is not a month (YYYY-MM)"))
            else:
                y, mo = int(m.group(1)), int(m.group(2))
                start, end = date(y, mo, 1), date(y, mo, calendar.monthrange(y, mo)[1])
        else:
            start = _date(rec.get("period_start"), "period_start", errors, n)
            end = _date(rec.get("period_end"), "period_end", errors, n)
            if start and end and end < start:
                errors.append(SpendError(n, "period_end", f"{end} is before period_start {start}"))
        raw_amount = rec.get("amount")
        amount: float | None = None
        if raw_amount is None or str(raw_amount).strip() == "":
            errors.append(SpendError(n, "amount", "missing"))
        elif isinstance(raw_amount, bool):
            errors.append(SpendError(n, "amount", "not a number"))
        else:
            try:
                amount = float(str(raw_amount).strip().replace(",", "")) if isinstance(raw_amount, str) \
                    else float(raw_amount)
            except (TypeError, ValueError):
                errors.append(SpendError(n, "amount", f"{raw_amount!r} is not a number"))
            else:
                if not math.isfinite(amount) or amount < 0:
                    errors.append(SpendError(n, "amount", f"{raw_amount!r} must be a finite number >= 0"))
        currency = str(rec.get("currency") or default_currency or "").strip().upper()
        if not currency:
            errors.append(SpendError(n, "currency", "missing (give a currency column or a default currency)"))
        elif not _CURRENCY.match(currency):
            errors.append(SpendError(n, "currency", f"{currency!r} is not a 3-letter ISO 4217 code"))
        if len(errors) > bad or start is None or end is None or amount is None:
            continue
        key = (channel, start, end)
        if key in seen:
            errors.append(SpendError(n, "period", f"{channel} {start}..{end} already given in row {seen[key]}"))
            continue
        seen[key] = n
        out.append(SpendRow(channel, start, end, amount, currency))
    if errors:
        raise SpendRejected(errors)
    return out


def read_spend_csv(source: str | Path | io.TextIOBase, *, default_currency: str | None = None) -> list[SpendRow]:
    """Parse and validate a spend CSV file (a header row with the column names above; UTF-8)."""
    if isinstance(source, str | Path):
        with open(source, newline="", encoding="utf-8-sig") as fh:
            return read_spend_csv(fh, default_currency=default_currency)
    reader = csv.DictReader(source)
    names = {(c or "").strip().lower() for c in reader.fieldnames or []}
    missing = [c for c in ("channel", "amount") if c not in names]
    if "period" not in names and not {"period_start", "period_end"} <= names:
        missing.append("period_start/period_end (or period)")
    if missing:
        raise SpendRejected([SpendError(0, "header", f"missing column {', '.join(missing)}")])
    rows = ({(k or "").strip().lower(): v for k, v in r.items()} for r in reader)
    return parse_spend(rows, default_currency=default_currency)


def store_spend(session: Session, workspace_id: str, rows: Sequence[SpendRow], *, origin: str = "api"
                ) -> SpendSummary:
    """Insert or replace the rows (by channel and period) in the caller's transaction."""
    summary = SpendSummary(rows=len(rows))
    if not rows:
        return summary
    now = utcnow()
    channels = sorted({r.channel for r in rows})
    existing: dict[tuple[str, date, date], ChannelSpend] = {}
    for i in range(0, len(channels), 500):
        for row in session.scalars(select(ChannelSpend).where(ChannelSpend.workspace_id == workspace_id,
                                                              ChannelSpend.channel.in_(channels[i:i + 500]))):
            existing[(row.channel, row.period_start, row.period_end)] = row
    new = []
    for r in rows:
        cur = existing.get((r.channel, r.period_start, r.period_end))
        if cur is None:
            new.append({"id": new_id(), "workspace_id": workspace_id, "channel": r.channel,
                        "period_start": r.period_start, "period_end": r.period_end, "amount": r.amount,
                        "currency": r.currency, "origin": origin, "created_at": now, "updated_at": now})
        else:
            cur.amount, cur.currency, cur.origin, cur.updated_at = r.amount, r.currency, origin, now
            summary.updated += 1
    if new:
        session.execute(ChannelSpend.__table__.insert(), new)
    session.flush()
    summary.inserted = len(new)
    summary.channels = channels
    return summary


def list_spend(session: Session, workspace_id: str) -> list[dict[str, Any]]:
    rows = session.scalars(select(ChannelSpend).where(ChannelSpend.workspace_id == workspace_id)
                           .order_by(ChannelSpend.channel, ChannelSpend.period_start, ChannelSpend.period_end))
    return [{"channel": r.channel, "period_start": r.period_start.isoformat(), "period_end": r.period_end.isoformat(),
             "amount": r.amount, "currency": r.currency, "origin": r.origin} for r in rows]
