"""Report arithmetic: speed-to-lead percentiles and bands, distribution against weights."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: speed-to-lead bands in minutes: [lo, hi)
BANDS: tuple[tuple[str, float, float], ...] = (
    ("0-5 min", 0.0, 5.0), ("5-15 min", 5.0, 15.0), ("15-60 min", 15.0, 60.0), ("60+ min", 60.0, math.inf))


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (``q`` in 0..100), as numpy's default; None for no values."""
    if not values:
        return None
    xs = sorted(values)
    if len(xs) == 1:
        return float(xs[0])
    pos = (len(xs) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return float(xs[lo] + (xs[hi] - xs[lo]) * (pos - lo))


@dataclass(frozen=True, slots=True)
class SpeedToLead:
    count: int
    p50_minutes: float | None
    p95_minutes: float | None
    bands: dict[str, int]
    band_share: dict[str, float]
    untouched: int


def speed_to_lead(minutes: Sequence[float], untouched: int = 0) -> SpeedToLead:
    counts = {name: 0 for name, _, _ in BANDS}
    for m in minutes:
        for name, lo, hi in BANDS:
            if lo <= max(m, 0.0) < hi:
                counts[name] += 1
                break
    n = len(minutes)
    share = {k: (v / n if n else 0.0) for k, v in counts.items()}
    return SpeedToLead(n, percentile(minutes, 50), percentile(minutes, 95), counts, share, untouched)


@dataclass(frozen=True, slots=True)
class ShareRow:
    rep: str
    weight: int
    assigned: int
    expected: float
    share: float
    expected_share: float
    deviation: float  # assigned - expected


def distribution(assigned: Mapping[str, int], weights: Mapping[str, int]) -> list[ShareRow]:
    """Each rep's assignments against what their weight entitles them to (over the reps given)."""
    total = sum(assigned.get(r, 0) for r in weights)
    wsum = sum(weights.values())
    out = []
    for rep in sorted(weights):
        w = weights[rep]
        exp_share = w / wsum if wsum else 0.0
        n = assigned.get(rep, 0)
        out.append(ShareRow(rep, w, n, exp_share * total, n / total if total else 0.0, exp_share, n - exp_share * total))
    return out
