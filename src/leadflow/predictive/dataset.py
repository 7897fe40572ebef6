"""The in-memory training / scoring table: numeric and categorical feature columns, ids, times, a target.

Plain NumPy arrays (no data-frame library): numeric columns are ``float64`` with NaN for missing values,
categorical columns are ``object`` arrays of ``str`` or ``None``. ``describe`` gives each feature words for
explanations (``"{value} pricing page views in the last 7 days"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Dataset"]


@dataclass
class Dataset:
    numeric: dict[str, np.ndarray] = field(default_factory=dict)
    categorical: dict[str, np.ndarray] = field(default_factory=dict)
    ids: np.ndarray = field(default_factory=lambda: np.array([], dtype=object))
    y: np.ndarray | None = None
    times: np.ndarray | None = None  # epoch seconds (float64): the prediction time of each row
    describe: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def features(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    def subset(self, idx: np.ndarray | Sequence[int]) -> Dataset:
        idx = np.asarray(idx)
        return Dataset(
            numeric={k: v[idx] for k, v in self.numeric.items()},
            categorical={k: v[idx] for k, v in self.categorical.items()},
            ids=self.ids[idx],
            y=None if self.y is None else self.y[idx],
            times=None if self.times is None else self.times[idx],
            describe=dict(self.describe),
            warnings=list(self.warnings),
            meta={k: v[idx] if isinstance(v, np.ndarray) and len(v) == len(self) else v
                  for k, v in self.meta.items()},
        )

    def drop(self, names: Sequence[str]) -> Dataset:
        gone = set(names)
        out = self.subset(np.arange(len(self)))
        out.numeric = {k: v for k, v in out.numeric.items() if k not in gone}
        out.categorical = {k: v for k, v in out.categorical.items() if k not in gone}
        return out

    def row(self, i: int) -> dict[str, Any]:
        """Feature values of row ``i`` (NaN -> None)."""
        out: dict[str, Any] = {}
        for k, v in self.numeric.items():
            x = float(v[i])
            out[k] = None if np.isnan(x) else x
        for k, v in self.categorical.items():
            out[k] = v[i]
        return out
