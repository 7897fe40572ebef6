"""The analyses by name, for the faces (CLI, API, web): ``run(url, workspace_id, name, **params)``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from leadflow.analytics.channels import channel_economics
from leadflow.analytics.converts import converts
from leadflow.analytics.data import AnalyticsData, open_analytics
from leadflow.analytics.deals import deals
from leadflow.analytics.funnel import funnel, velocity
from leadflow.analytics.report import Report
from leadflow.analytics.sales import sales
from leadflow.analytics.score_health import score_health

__all__ = ["REPORTS", "run"]

REPORTS: dict[str, Callable[..., Report]] = {
    "funnel": funnel,
    "velocity": velocity,
    "channels": channel_economics,
    "converts": converts,
    "score-health": score_health,
    "sales": sales,
    "deals": deals,
}


def run(source: str | Path, workspace_id: str, name: str, **params: Any) -> Report:
    """Open the store, compute one report, close. ``None`` parameters take the report's default."""
    try:
        fn = REPORTS[name]
    except KeyError:
        raise ValueError(f"unknown report {name!r}; known: {', '.join(REPORTS)}") from None
    data: AnalyticsData
    with open_analytics(source, workspace_id) as data:
        return fn(data, **{k: v for k, v in params.items() if v is not None})
