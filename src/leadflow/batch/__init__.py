"""The batch engine: the full recompute as set-wise Ibis expressions, on DuckDB by default.

* :mod:`leadflow.batch.expressions` - fit, engagement and per-rule expressions (backend-neutral Ibis);
* :mod:`leadflow.batch.source` - the store's tables in DuckDB (SQLite / PostgreSQL scanners loaded offline,
  DuckDB files, Parquet, Arrow), normalised;
* :mod:`leadflow.batch.rescore` - ``rescore(database_url, workspace_id, model, at)`` -> Arrow table.
"""

from leadflow.batch.expressions import engagement_expr, fit_expr, per_rule_expr, rescore_expr
from leadflow.batch.rescore import rescore, rescore_store
from leadflow.batch.source import Store, from_arrow, open_store

__all__ = [
    "Store",
    "engagement_expr",
    "fit_expr",
    "from_arrow",
    "open_store",
    "per_rule_expr",
    "rescore",
    "rescore_expr",
    "rescore_store",
]
