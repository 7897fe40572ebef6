"""The full recompute of a workspace: fit, grade and engagement of every lead at one instant.

``rescore`` reads the store with DuckDB (:mod:`leadflow.batch.source`), evaluates the set-wise
expressions (:mod:`leadflow.batch.expressions`) and returns an Arrow table; callers write it back.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pyarrow as pa

from leadflow.batch.expressions import rescore_expr
from leadflow.batch.source import Store, open_store
from leadflow.core.scoring.spec import ScoringModel

__all__ = ["RESULT_SCHEMA", "Progress", "rescore", "rescore_store"]

#: ``progress(step, done, total)``: called before each step and once at the end (done == total).
Progress = Callable[[str, int, int], None]

RESULT_SCHEMA = pa.schema(
    [
        pa.field("lead_id", pa.string(), nullable=False),
        pa.field("fit", pa.float64(), nullable=False),
        pa.field("grade", pa.string(), nullable=False),
        pa.field("engagement", pa.float64(), nullable=False),
    ]
)

_STEPS = ("open", "load", "score", "done")


def rescore(
    database_url: str | Path,
    workspace_id: str,
    model: ScoringModel,
    at: datetime,
    progress: Progress | None = None,
    *,
    schema: str | None = None,
) -> pa.Table:
    """Recompute ``(lead_id, fit, grade, engagement)`` for every lead of ``workspace_id`` at ``at``.

    ``database_url`` is the store's SQLAlchemy URL (``sqlite:///...``, ``postgresql+psycopg://...``) or
    any other source :func:`leadflow.batch.source.open_store` accepts; ``schema`` names a PostgreSQL
    schema other than the URL's ``search_path`` / ``public``. Naive ``at`` is taken to be UTC. The result
    is sorted by ``lead_id``; leads without counted events have engagement ``clamp(0)``.
    """
    report = progress or (lambda _step, _done, _total: None)
    total = len(_STEPS) - 1
    report("open", 0, total)
    store = open_store(database_url, workspace_id, schema=schema, materialize=False)
    try:
        report("load", 1, total)
        store.materialize()
        report("score", 2, total)
        result = rescore_store(store, model, at)
    finally:
        store.close()
    report("done", total, total)
    return result


def rescore_store(store: Store, model: ScoringModel, at: datetime | float) -> pa.Table:
    """The recompute on an already opened :class:`~leadflow.batch.source.Store`."""
    expr = rescore_expr(model, store.leads, store.accounts, store.events, at).order_by("lead_id")
    table = store.con.to_pyarrow(expr)
    return table.select(RESULT_SCHEMA.names).cast(RESULT_SCHEMA)
