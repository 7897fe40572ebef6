"""The tabular path: a lead table from elsewhere (CSV) with a target column -> a :class:`Dataset`.

Column roles are inferred and can be overridden:

* **target** - given (``--target``); must be binary (1/0, true/false, yes/no, y/n); rows where it is
  missing are dropped with a warning;
* **id** - ``--id``, or a column named like an id (``id``, ``... ID``, ``... number``, ``uuid``) whose values
  are all present and distinct; never a feature;
* **time** - ``--time``, or a column named like a date (``date``, ``time``, ``..._at``) whose values parse
  as dates; it orders the temporal split and gives the ``weekday`` / ``hour`` features, plus an optional
  group of point-in-time features (:mod:`leadflow.predictive.timefeatures`: the calendar year as a cohort
  trend, lead volume in the previous 7 / 30 days, and per categorical column the rows sharing the value
  in the previous 30 days and the days since the value first appeared - each from strictly earlier rows
  of the same file only), which training keeps only when they improve the held-out ROC AUC;
* **excluded** - ``--exclude`` (e.g. columns filled in by sales after contact), plus columns whose values
  are nearly all distinct text (free text, other identifiers);
* the rest are features: **numeric** when at least 95 % of the present values parse as numbers,
  **categorical** otherwise.

Missing-value tokens (``""``, ``Select``, ``NA``, ``N/A``, ``nan``, ``null``, ``none``, ``-``, ``?`` by default,
case-insensitive) become missing values.

Leakage warning: a feature is flagged when its name reads like something filled in after the outcome
(tags, quality, profile, status, stage, last activity, won / lost / closed / deal ...), when on its own it
separates the classes almost perfectly (single-feature ROC AUC >= 0.85), or when it is present almost
only for one class (as the deal-side fields of a closed-deals export are). Flagged columns are kept unless
excluded: the warning says which to look at and why.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from leadflow.predictive.dataset import Dataset
from leadflow.predictive.errors import BadTarget, NoFeatures, PredictiveError
from leadflow.predictive.timefeatures import time_features

__all__ = ["DEFAULT_MISSING", "Roles", "leakage_warnings", "load_csv", "read_table"]

DEFAULT_MISSING = frozenset({"", "select", "na", "n/a", "nan", "null", "none", "-", "?", "#n/a"})
_TRUE = {"1", "1.0", "true", "yes", "y", "t"}
_FALSE = {"0", "0.0", "false", "no", "n", "f"}
_ID_NAME = re.compile(r"(^id$|[\s_-]id$|^id[\s_-]|uuid|(^|[\s_-])(number|no)$|_key$)", re.I)
_TIME_NAME = re.compile(r"(date|time|_at$|^at$|timestamp|created|day$)", re.I)
_LEAKY_NAME = re.compile(
    r"(tag|quality|profile|status|stage|last[\s_-]*(notable[\s_-]*)?activity|notable|outcome|result|"
    r"\bwon\b|won_|\blost\b|closed|close_date|deal|reason|converted|sdr|\bsr\b|sr_id|seller)", re.I)
MAX_CSV_BYTES = 500 * 1024 * 1024


@dataclass
class Roles:
    target: str
    id: str | None = None
    time: str | None = None
    excluded: list[str] = field(default_factory=list)
    numeric: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"target": self.target, "id": self.id, "time": self.time, "excluded": self.excluded,
                "numeric": self.numeric, "categorical": self.categorical}


def read_table(path: str | Path) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a CSV file (UTF-8, BOM tolerated; delimiter sniffed among , ; tab)."""
    p = Path(path)
    if not p.is_file():
        raise PredictiveError(f"{path}: no such file")
    if p.stat().st_size > MAX_CSV_BYTES:
        raise PredictiveError(f"{path}: larger than {MAX_CSV_BYTES // 2**20} MiB; sample it first")
    with p.open(newline="", encoding="utf-8-sig") as fh:
        sample = fh.read(64 * 1024)
        fh.seek(0)
        try:
            dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        reader = csv.reader(fh, dialect)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise PredictiveError(f"{path}: empty file") from None
        rows = [r for r in reader if any(c.strip() for c in r)]
    if len(set(header)) != len(header):
        dup = sorted({h for h in header if header.count(h) > 1})
        raise PredictiveError(f"{path}: duplicate column names: {', '.join(dup)}")
    width = len(header)
    for i, r in enumerate(rows):
        if len(r) != width:
            raise PredictiveError(f"{path}: line {i + 2} has {len(r)} fields, the header has {width}")
    return header, rows


def _parse_float(v: str) -> float | None:
    try:
        x = float(v.replace(",", "")) if v.count(",") and v.count(".") else float(v)
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def _parse_time(v: str) -> float | None:
    text = v.strip()
    if not text:
        return None
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        for fmt in ("%d/%m/%Y", "%m/%d/%Y", "%d-%m-%Y", "%d/%m/%Y %H:%M", "%d-%m-%Y %H:%M"):
            try:
                dt = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
        else:
            return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def _target(values: list[str | None], name: str) -> tuple[np.ndarray, np.ndarray, int]:
    """(y, keep mask, rows dropped for a missing target)."""
    keep = np.array([v is not None for v in values])
    seen: set[str] = set()
    y = np.zeros(len(values), dtype=np.int8)
    for i, v in enumerate(values):
        if v is None:
            continue
        low = v.strip().lower()
        if low in _TRUE:
            y[i] = 1
        elif low not in _FALSE:
            seen.add(v)
    if seen:
        shown = ", ".join(repr(s) for s in sorted(seen)[:6])
        raise BadTarget(f"target column {name!r} must be binary (1/0, true/false, yes/no); it also holds "
                        f"{len(seen)} other value(s): {shown}")
    if not keep.any():
        raise BadTarget(f"target column {name!r} is empty")
    return y, keep, int((~keep).sum())


def load_csv(path: str | Path, target: str, *, id_col: str | None = None, time_col: str | None = None,
             exclude: Iterable[str] = (), missing_tokens: Iterable[str] = DEFAULT_MISSING) -> tuple[Dataset, Roles]:
    """Read ``path`` and infer the roles (see the module docstring); the dataset's warnings include the
    leakage check."""
    header, rows = read_table(path)
    return from_rows(header, rows, target, id_col=id_col, time_col=time_col, exclude=exclude,
                     missing_tokens=missing_tokens, source=str(path))


def from_rows(header: Sequence[str], rows: Sequence[Sequence[str]], target: str, *, id_col: str | None = None,
              time_col: str | None = None, exclude: Iterable[str] = (),
              missing_tokens: Iterable[str] = DEFAULT_MISSING, source: str = "<table>") -> tuple[Dataset, Roles]:
    tokens = {t.strip().lower() for t in missing_tokens}
    excluded = list(dict.fromkeys(exclude))
    for name, role in ((target, "target"), (id_col, "--id"), (time_col, "--time"), *((x, "--exclude") for x in excluded)):
        if name is not None and name not in header:
            raise BadTarget(f"{role} column {name!r} is not in {source}; columns: {', '.join(header)}") \
                if role == "target" else PredictiveError(f"{role} column {name!r} is not in {source}; columns: "
                                                         f"{', '.join(header)}")
    if not rows:
        raise PredictiveError(f"{source}: no data rows")
    cols: dict[str, list[str | None]] = {
        h: [None if r[j].strip().lower() in tokens else r[j].strip() for r in rows] for j, h in enumerate(header)}
    y, keep, dropped = _target(cols[target], target)
    roles = Roles(target=target, id=id_col, time=time_col, excluded=excluded)
    if dropped:
        roles.notes.append(f"{dropped} rows without a {target} value dropped")
        cols = {h: [v for v, k in zip(vals, keep, strict=True) if k] for h, vals in cols.items()}
        y = y[keep]
    n = len(y)
    if roles.id is None:
        for h in header:
            vals = cols[h]
            if h != target and h not in excluded and _ID_NAME.search(h) and None not in vals and len(set(vals)) == n:
                roles.id = h
                roles.notes.append(f"{h!r} taken as the id column (named like an id, every value distinct)")
                break
    if roles.time is None:
        for h in header:
            if h in (target, roles.id) or h in excluded or not _TIME_NAME.search(h):
                continue
            present = [v for v in cols[h] if v is not None]
            if present and all(_parse_time(v) is not None for v in present[:200]) and \
                    sum(_parse_time(v) is not None for v in present) >= 0.95 * len(present):
                roles.time = h
                roles.notes.append(f"{h!r} taken as the time column (dates): the split is temporal")
                break
    ds = Dataset(y=y)
    ds.ids = np.array(cols[roles.id] if roles.id else [str(i + 1) for i in range(n)], dtype=object)
    if roles.time:
        t = np.array([np.nan if v is None else (_parse_time(v) or np.nan) for v in cols[roles.time]], dtype=np.float64)
        if np.isnan(t).all():
            raise PredictiveError(f"time column {roles.time!r}: no value parses as a date")
        ds.times = t
        ok = ~np.isnan(t)
        stamps = [datetime.fromtimestamp(x, UTC) for x in t[ok]]
        wd = np.full(n, None, dtype=object)
        wd[ok] = [s.strftime("%a") for s in stamps]
        ds.categorical["weekday"] = wd
        ds.describe["weekday"] = "first seen on a {value}"
        if any(s.hour or s.minute for s in stamps):
            hr = np.full(n, np.nan)
            hr[ok] = [s.hour for s in stamps]
            ds.numeric["hour"] = hr
            ds.describe["hour"] = "first seen at {value}h"
    skip = {target, roles.id, roles.time, *excluded}
    for h in header:
        if h in skip:
            continue
        vals = cols[h]
        present = [v for v in vals if v is not None]
        nums = [_parse_float(v) for v in present]
        if present and sum(x is not None for x in nums) >= 0.95 * len(present):
            ds.numeric[h] = np.array([np.nan if v is None else (_parse_float(v) if _parse_float(v) is not None
                                                                 else np.nan) for v in vals], dtype=np.float64)
            roles.numeric.append(h)
        else:
            distinct = len(set(present))
            if present and distinct > 0.5 * n and distinct > 50:
                roles.excluded.append(h)
                roles.notes.append(f"{h!r} excluded: {distinct} distinct values in {n} rows (free text or an id)")
                continue
            ds.categorical[h] = np.array(vals, dtype=object)
            roles.categorical.append(h)
        ds.describe[h] = f"{h} = {{value}}"
    if not ds.features:
        raise NoFeatures(f"{source}: no feature column left after the target, id, time and excluded columns")
    ds.warnings = roles.notes + leakage_warnings(ds)
    optional: dict[str, list[str]] = {}
    if roles.time and ds.times is not None:
        # added after the leakage check: they derive from the time column and the columns checked above
        cats = {h: v for h, v in ds.categorical.items() if h != "weekday" and len({x for x in v if x is not None}) > 1}
        extra, words = time_features(ds.times, cats)
        extra = {k: v for k, v in extra.items() if k not in ds.numeric and k not in ds.categorical}
        ds.numeric.update(extra)
        ds.describe.update({k: words[k] for k in extra})
        optional = {"time-derived": list(extra)}
    ds.meta = {"source": source, "roles": roles.as_dict(), "missing_tokens": sorted(tokens), "optional_groups": optional}
    return ds, roles


# ---------------------------------------------------------------------------------------- leakage


def _single_auc(ds: Dataset, name: str) -> float:
    from leadflow.predictive.evaluate import roc_auc

    y = ds.y
    if name in ds.numeric:
        v = ds.numeric[name]
        s = np.where(np.isnan(v), np.nanmedian(v) if (~np.isnan(v)).any() else 0.0, v)
    else:
        v = ds.categorical[name]
        keys = np.array(["\x00missing" if x is None else str(x) for x in v], dtype=object)
        base = float(y.mean())
        rate: dict[str, float] = {}
        uniq, inv, counts = np.unique(keys, return_inverse=True, return_counts=True)
        sums = np.bincount(inv, weights=y.astype(float))
        for i, k in enumerate(uniq):
            rate[k] = (sums[i] + 10 * base) / (counts[i] + 10)  # smoothed: rare levels cannot look perfect
        s = np.array([rate[k] for k in keys])
    auc = roc_auc(y, s)
    return max(auc, 1 - auc) if not math.isnan(auc) else 0.5


def leakage_warnings(ds: Dataset) -> list[str]:
    """Warnings for features that look filled in after the outcome (see the module docstring)."""
    if ds.y is None or len(set(ds.y.tolist())) < 2:
        return []
    out: list[str] = []
    y = ds.y.astype(bool)
    for name in ds.features:
        reasons = []
        if _LEAKY_NAME.search(name):
            reasons.append("its name reads like something filled in after contact or the outcome")
        auc = _single_auc(ds, name)
        if auc >= 0.85:
            reasons.append(f"on its own it separates converters with ROC AUC {auc:.2f}")
        v = ds.numeric.get(name)
        present = ~np.isnan(v) if v is not None else np.array([x is not None for x in ds.categorical[name]])
        p_pos, p_neg = present[y].mean(), present[~y].mean()
        if (p_pos >= 0.9 and p_neg <= 0.1) or (p_neg >= 0.9 and p_pos <= 0.1):
            reasons.append(f"present for {p_pos:.0%} of converters and {p_neg:.0%} of the others")
        if reasons:
            out.append(f"possible leakage in {name!r}: " + "; ".join(reasons)
                       + " - exclude it (--exclude) unless it is known before the outcome")
    return out
