"""What every analysis returns: named Arrow tables plus the parameters and notes that explain them."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pyarrow as pa

__all__ = ["ALL", "NONE", "Report", "plain"]

#: group / cohort label of "everything" (no breakdown, no cohort)
ALL = "(all)"
#: group label of leads without a value for the breakdown (no source, no owner ...)
NONE = "(none)"


def plain(value: Any) -> Any:
    """A JSON-safe value: NaN / infinity become None, dates ISO strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


@dataclass
class Report:
    """One analysis: ``tables`` (name -> Arrow table, the first is the main one), ``params`` and ``notes``."""

    name: str
    params: dict[str, Any]
    tables: dict[str, pa.Table]
    notes: list[str] = field(default_factory=list)

    @property
    def main(self) -> pa.Table:
        return next(iter(self.tables.values()))

    def rows(self, table: str | None = None) -> list[dict[str, Any]]:
        t = self.tables[table] if table else self.main
        return [{k: plain(v) for k, v in row.items()} for row in t.to_pylist()]

    def to_dict(self) -> dict[str, Any]:
        return {"report": self.name, "params": {k: plain(v) for k, v in self.params.items()},
                "tables": {name: self.rows(name) for name in self.tables}, "notes": list(self.notes)}
