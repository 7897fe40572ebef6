"""Rescore a workspace: every lead under its active scoring models, after a model is activated or on demand.

Two steps, each optional:

1. **Scores** on the batch engine (:func:`leadflow.batch.rescore.rescore`: set-wise expressions on DuckDB):
   fit, grade and engagement as of now for every lead, written to ``score_states`` in chunks. The
   incremental state of those rows is cleared (``state = {}``), so the next event of such a lead replays it
   from the log before folding (the fast path never folds onto a state built under another model).
2. **Stages** (the lifecycle model only): each lead is replayed through the write path
   (:meth:`Ingestor.requalify`), in chunks of ``chunk`` leads, one transaction each, so stage changes the
   new criteria imply are recorded with the model version, and incremental states are rebuilt.

``progress(done, total)`` is called as chunks complete (scores count as one step per chunk written).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from leadflow.batch.rescore import rescore as batch_rescore
from leadflow.core.timeutil import utcnow
from leadflow.services.ingest import Ingestor
from leadflow.services.workspaces import active_models
from leadflow.store.db import Database
from leadflow.store.tables import Lead, ScoreState, Workspace

ProgressFn = Callable[[int, int], None]


@dataclass
class RescoreReport:
    leads: int = 0
    models: list[str] = field(default_factory=list)
    scores_written: int = 0
    requalified: int = 0
    transitions: int = 0


def rescore_workspace(db: Database, workspace_id: str, *, model_key: str | None = None,
                      progress: ProgressFn | None = None, scores: bool = True, stages: bool = True,
                      chunk: int = 1000) -> RescoreReport:
    """Recompute scores (batch engine) and, for the lifecycle model, stages (replay) of every lead."""
    report = RescoreReport()
    with db.session() as s:
        ws = s.get(Workspace, workspace_id)
        if ws is None:
            raise LookupError(f"no workspace {workspace_id}")
        models = [m for m in active_models(s, workspace_id) if model_key is None or m.key == model_key]
        if model_key is not None and not models:
            raise LookupError(f"no active model {model_key!r}")
        lead_ids = list(s.scalars(select(Lead.id).where(Lead.workspace_id == workspace_id).order_by(Lead.id)))
        lifecycle_key = ws.lifecycle_model
    report.leads, report.models = len(lead_ids), [f"{m.key}@v{m.version}" for m in models]
    do_stages = stages and any(m.key == lifecycle_key for m in models)
    chunks = _chunks(lead_ids, chunk)
    total = (len(models) * max(len(chunks), 1) if scores else 0) + (len(chunks) if do_stages else 0)
    done = 0
    tick = progress or (lambda _d, _t: None)
    tick(0, total)
    if scores:
        now = utcnow()
        for m in models:
            table = batch_rescore(db.url, workspace_id, m, now)
            rows = table.to_pylist()
            for part in _chunks(rows, chunk) or [[]]:
                with db.session() as s:
                    _write_scores(s, workspace_id, m.key, m.version, part, now)
                report.scores_written += len(part)
                done += 1
                tick(done, total)
    if do_stages:
        for part in chunks:
            with db.session() as s:
                ws = s.get(Workspace, workspace_id)
                report.transitions += Ingestor(s, ws).requalify(part)
            report.requalified += len(part)
            done += 1
            tick(done, total)
    tick(total, total)
    return report


def _chunks(seq: Sequence, n: int) -> list[Sequence]:
    return [seq[i:i + n] for i in range(0, len(seq), n)]


def _write_scores(s, workspace_id: str, key: str, version: int, rows: list[dict], now) -> None:  # noqa: ANN001
    if not rows:
        return
    dialect = s.get_bind().dialect.name
    ins = pg_insert(ScoreState) if dialect == "postgresql" else sqlite_insert(ScoreState)
    stmt = ins.on_conflict_do_update(
        index_elements=["lead_id", "model_key"],
        set_={c: ins.excluded[c] for c in ("model_version", "fit", "grade", "engagement", "scored_at", "state",
                                            "updated_at")})
    s.execute(stmt, [{"lead_id": r["lead_id"], "model_key": key, "workspace_id": workspace_id,
                      "model_version": version, "fit": r["fit"], "grade": r["grade"],
                      "engagement": r["engagement"], "scored_at": now, "last_event_at": None, "state": {},
                      "updated_at": now} for r in rows])
