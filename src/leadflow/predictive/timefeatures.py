"""Point-in-time features from a table's time column: each row's values use only rows that came **strictly
before** it (earlier time; rows at the same time do not see each other), so appending later rows never
changes an earlier row's features and nothing from after a row's own time reaches it.

* ``calendar_year`` - the row's time as a fractional year (2018.25): the trend across cohorts, so a model
  can tell an old cohort from a recent one instead of blaming the channels that happened to run then;
* ``trailing_count`` - how many earlier rows fall in the trailing window (all rows: lead volume; or only
  the rows sharing the row's value of a categorical column: how busy that source or landing page is);
* ``first_seen_age`` - days since the row's value of a categorical column first appeared (0 for its
  first row; a new campaign or landing page against an established one).

No label is used. The tabular path (:mod:`leadflow.predictive.tabular`) adds them as an *optional group*:
training keeps them only when they improve the held-out ROC AUC (see :mod:`leadflow.predictive.train`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np

__all__ = ["calendar_year", "first_seen_age", "time_features", "trailing_count"]

DAY = 86400.0
VOLUME_WINDOWS = (7, 30)
CATEGORY_WINDOW = 30
MAX_CATEGORY_COLUMNS = 10


def _keys(values: Sequence[object] | np.ndarray | None, n: int) -> np.ndarray:
    if values is None:
        return np.zeros(n, dtype=object)
    return np.array([None if v is None else str(v) for v in values], dtype=object)


def calendar_year(times: np.ndarray) -> np.ndarray:
    """Epoch seconds -> fractional calendar year (NaN stays NaN)."""
    out = np.full(len(times), np.nan)
    for i, t in enumerate(times):
        if np.isnan(t):
            continue
        d = datetime.fromtimestamp(float(t), UTC)
        start = datetime(d.year, 1, 1, tzinfo=UTC).timestamp()
        end = datetime(d.year + 1, 1, 1, tzinfo=UTC).timestamp()
        out[i] = d.year + (float(t) - start) / (end - start)
    return out


def trailing_count(times: np.ndarray, window_days: float, keys: Sequence[object] | np.ndarray | None = None
                   ) -> np.ndarray:
    """Per row: the rows with time in ``[t - window, t)`` (and the same key, when ``keys`` are given).

    Rows without a time get NaN; rows with a missing key (``None``) get NaN.
    """
    times = np.asarray(times, dtype=np.float64)
    n = len(times)
    k = _keys(keys, n)
    out = np.full(n, np.nan)
    ok = ~np.isnan(times) & np.array([x is not None for x in k], dtype=bool) if n else np.zeros(0, dtype=bool)
    groups: dict[object, list[int]] = {}
    for i in np.flatnonzero(ok):
        groups.setdefault(k[i], []).append(int(i))
    for idx_list in groups.values():
        idx = np.array(idx_list)
        t = times[idx]
        s = np.sort(t)
        out[idx] = np.searchsorted(s, t, side="left") - np.searchsorted(s, t - window_days * DAY, side="left")
    return out


def first_seen_age(times: np.ndarray, keys: Sequence[object] | np.ndarray) -> np.ndarray:
    """Per row: days since the first row with the same key (0 for the earliest ones); NaN without a time or
    a key."""
    times = np.asarray(times, dtype=np.float64)
    k = _keys(keys, len(times))
    out = np.full(len(times), np.nan)
    first: dict[object, float] = {}
    for i in range(len(times)):
        if k[i] is not None and not np.isnan(times[i]):
            first[k[i]] = min(first.get(k[i], np.inf), float(times[i]))
    for i in range(len(times)):
        if k[i] is not None and not np.isnan(times[i]):
            out[i] = (times[i] - first[k[i]]) / DAY
    return out


def time_features(times: np.ndarray, categorical: dict[str, np.ndarray]
                  ) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The time-derived feature columns of a table and their description templates: the calendar year,
    lead volume over the trailing windows, and for each of the first ``MAX_CATEGORY_COLUMNS`` columns of
    ``categorical`` the trailing count of rows sharing the value and the value's age."""
    cols: dict[str, np.ndarray] = {"calendar year": calendar_year(times)}
    words = {"calendar year": "first seen in {value} (cohort trend)"}
    for w in VOLUME_WINDOWS:
        name = f"rows in the previous {w} days"
        cols[name] = trailing_count(times, w)
        words[name] = f"{{value}} rows in the {w} days before"
    for col, values in list(categorical.items())[:MAX_CATEGORY_COLUMNS]:
        name = f"{col}: rows in the previous {CATEGORY_WINDOW} days"
        cols[name] = trailing_count(times, CATEGORY_WINDOW, values)
        words[name] = f"{{value}} rows with the same {col} in the {CATEGORY_WINDOW} days before"
        name = f"{col}: days since first seen"
        cols[name] = first_seen_age(times, values)
        words[name] = f"this {col} first seen {{value}} days before"
    return cols, words
