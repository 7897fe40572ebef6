"""File import orchestration: parse (``importing``), then store through the :class:`Ingestor`.

One file is one transaction: if any row is invalid, nothing is stored (unless ``skip_invalid``), and a
database error half-way rolls everything back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from leadflow.core.events import ValidEvent
from leadflow.core.timeutil import utcnow
from leadflow.services.importing.readers import RowError, iter_parsed
from leadflow.services.ingest import Ingestor
from leadflow.store.db import Database
from leadflow.store.tables import Workspace

KINDS = ("accounts", "leads", "events", "outcomes")


class ImportRejected(ValueError):
    def __init__(self, path: str, errors: list[RowError]) -> None:
        self.path = path
        self.errors = errors
        super().__init__(f"{path}: {len(errors)} invalid rows; nothing was stored (use --skip-invalid to store the valid rows)")


@dataclass
class ImportSummary:
    kind: str
    rows: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    transitions: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def import_file(db: Database, workspace_id: str, path: str | Path, kind: str, *, mapping: dict[str, str] | None = None,
                fmt: str | None = None, skip_invalid: bool = False, chunk_size: int = 5000,
                allow_custom_types: bool = True, future_policy: str = "clamp",
                progress: Callable[[int], Any] | None = None, received_at: datetime | None = None) -> ImportSummary:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    received_at = received_at or utcnow()
    summary = ImportSummary(kind)
    with db.session() as s:
        ing = Ingestor(s, s.get(Workspace, workspace_id), allow_custom_types=allow_custom_types,
                       future_policy=future_policy)
        for chunk in iter_parsed(str(path), kind, mapping=mapping, fmt=fmt, received_at=received_at,
                                 chunk_size=chunk_size, allow_custom_types=allow_custom_types,
                                 future_policy=future_policy):  # type: ignore[arg-type]
            summary.rows += chunk.rows_read
            summary.rejected += chunk.rows_rejected
            summary.warnings.extend(chunk.warnings)
            summary.errors.extend(chunk.errors)
            if not (summary.errors and not skip_invalid):
                _store(ing, kind, chunk.records, summary)
            # else: keep parsing to report every error; nothing is stored
            if progress:
                progress(chunk.rows_read)
        if summary.errors and not skip_invalid:
            raise ImportRejected(str(path), summary.errors)
    return summary


def _store(ing: Ingestor, kind: str, records: list[dict[str, Any]], summary: ImportSummary) -> None:
    if not records:
        return
    if kind == "accounts":
        ing.upsert_accounts(records)
        summary.stored += len(records)
    elif kind == "leads":
        ing.upsert_leads(records)
        summary.stored += len(records)
    elif kind == "outcomes":
        ing.record_outcomes(records)
        summary.stored += len(records)
    else:
        items = [(i, ValidEvent(type=r["type"], occurred_at=r["occurred_at"], received_at=r["received_at"],
                                message_id=r.get("message_id"), email=r.get("email"), anonymous_id=r.get("anonymous_id"),
                                properties=r.get("properties") or {}, flags=tuple(r.get("flags") or ())))
                 for i, r in enumerate(records)]
        rep = ing.ingest_valid(items)
        summary.stored += rep.count("accepted")
        summary.duplicates += rep.count("duplicate")
        summary.transitions += rep.transitions
