"""Dashboards: funnel with conversion and velocity, channel economics, what converts, sales performance,
score health. Each panel is computed by ``leadflow.analytics`` on the batch engine and loaded by HTMX on its
own, so a slow one never holds up the others."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from leadflow.core.permissions import Action
from leadflow.core.timeutil import utcnow
from leadflow.web.auth import WebUser
from leadflow.web.common import available, need, render, web

router = APIRouter(include_in_schema=False)
log = logging.getLogger("leadflow.web")

PANELS: dict[str, str] = {
    "funnel": "Funnel and conversion",
    "velocity": "Velocity (days in and to each stage)",
    "channels": "Channel economics",
    "converts": "What converts",
    "sales": "Sales performance",
    "score-health": "Score health",
}
MAX_ROWS = 25
CACHE_SECONDS = 60.0  # a panel is recomputed at most once a minute (batch work over the whole history)
_CACHE: dict[tuple[str, str, str], tuple[float, dict[str, Any]]] = {}


@router.get("/dashboards")
def dashboards(request: Request, user: WebUser = Depends(need(Action.ANALYTICS_READ))) -> Response:  # noqa: B008
    return render(request, user, "dashboards.html", panels=PANELS)


def _table(rows: list[dict[str, Any]], columns: list[str] | None = None, limit: int = MAX_ROWS) -> dict[str, Any]:
    cols = columns or (list(rows[0]) if rows else [])
    return {"columns": cols, "rows": [[r.get(c) for c in cols] for r in rows[:limit]], "more": max(len(rows) - limit, 0)}


def _bar(labels: list[Any], series: dict[str, list[Any]], horizontal: bool = False, percent: bool = False) -> dict[str, Any]:
    opts: dict[str, Any] = {"plugins": {"legend": {"display": len(series) > 1}}}
    if horizontal:
        opts["indexAxis"] = "y"
    if percent:
        opts["scales"] = {("x" if horizontal else "y"): {"beginAtZero": True, "max": 100}}
    return {"type": "bar", "data": {"labels": [str(x) for x in labels],
                                    "datasets": [{"label": k, "data": v} for k, v in series.items()]},
            "options": opts}


def _pct(x: Any) -> float | None:
    return None if x is None else round(float(x) * 100, 1)


def panel_funnel(data: Any) -> dict[str, Any]:
    from leadflow.analytics.funnel import STAGES, funnel

    rep = funnel(data)
    counts = rep.rows("counts")
    row = counts[0] if counts else {}
    stages = [s for s in STAGES if s in row]
    conv = [r for r in rep.rows("conversions")]
    steps = [r for r in conv if STAGES.index(r["to_stage"]) == STAGES.index(r["from_stage"]) + 1]
    kpis = [(s, row.get(s) or 0) for s in stages]
    return {"kpis": kpis,
            "chart": _bar(stages, {"leads that reached the stage": [row.get(s) or 0 for s in stages]}),
            "table": _table([{"from": r["from_stage"], "to": r["to_stage"], "reached from": r["from_count"],
                              "reached to": r["to_count"], "conversion": _fmt_pct(r["rate"])} for r in steps]),
            "notes": rep.notes}


def _fmt_pct(x: Any) -> str:
    return "—" if x is None else f"{float(x) * 100:.1f}%"


def _fmt_days(x: Any) -> str:
    return "—" if x is None else f"{float(x):.1f} d"


def panel_velocity(data: Any) -> dict[str, Any]:
    from leadflow.analytics.funnel import velocity

    rep = velocity(data)
    rows = rep.rows()
    return {"chart": _bar([r["stage"] for r in rows], {"median days in stage": [r["median_days"] for r in rows],
                                                      "median days from creation": [r["median_days_to"] for r in rows]}),
            "table": _table([{"stage": r["stage"], "entered": r["entered"], "moved on": r["advanced"],
                              "median in stage": _fmt_days(r["median_days"]), "P90 in stage": _fmt_days(r["p90_days"]),
                              "median to stage": _fmt_days(r["median_days_to"])} for r in rows]),
            "notes": rep.notes}


def panel_channels(data: Any) -> dict[str, Any]:
    from leadflow.analytics.channels import channel_economics

    rep = channel_economics(data)
    rows = rep.rows()
    keep = [c for c in (rows[0].keys() if rows else []) if not c.startswith("_")]
    return {"chart": _bar([r.get("channel") or r.get("key") or r.get(keep[0]) for r in rows[:12]],
                          {"leads": [r.get("leads") for r in rows[:12]]}) if rows else None,
            "table": _table([{k: _cell(r.get(k)) for k in keep} for r in rows], keep), "notes": rep.notes}


def panel_converts(data: Any) -> dict[str, Any]:
    from leadflow.analytics.converts import converts

    rep = converts(data, limit=MAX_ROWS)
    rows = rep.rows()
    return {"chart": _bar([f"{r['kind']}: {r['item']}"[:40] for r in rows[:10]], {"lift": [r["lift"] for r in rows[:10]]},
                          horizontal=True) if rows else None,
            "table": _table([{"kind": r["kind"], "item": r["item"], "touched": r["touched"], "converted": r["converted"],
                              "conversion": _fmt_pct(r["conversion"]), "others": _fmt_pct(r["other_conversion"]),
                              "lift": _cell(r["lift"]), "significant": "yes" if r["significant"] else "no"}
                             for r in rows]),
            "notes": rep.notes}


def panel_score_health(data: Any) -> dict[str, Any]:
    from leadflow.analytics.score_health import score_health

    rep = score_health(data)
    grades = rep.rows("grades")
    checks = rep.rows("checks")
    return {"chart": _bar([r.get("grade") for r in grades], {"conversion %": [_pct(r.get("rate")) for r in grades]}),
            "table": _table([{k: _cell(v) for k, v in r.items()} for r in checks]),
            "extra": _table([{k: _cell(v) for k, v in r.items()} for r in rep.rows("engagement_bands")]),
            "notes": rep.notes}


def panel_sales(data: Any, st: Any) -> dict[str, Any]:
    """Per rep: assignments, SLA compliance, speed to lead, acceptance, SQL rate (handoff reports, SQL aggregates)."""
    if not available("leadflow.services.handoff.reports"):
        return {"unavailable": "Sales performance (speed to lead, SLA compliance, SQL rate by rep) is not available "
                               "yet: the handoff reports have not landed in this installation."}
    from leadflow.services.handoff import reports

    with st.session() as s:
        sla = reports.sla_report(s, st.workspace_id)
        speed = reports.speed_to_lead_report(s, st.workspace_id)
        rej = reports.rejection_report(s, st.workspace_id)
        sqlr = {r["rep"]: r for r in reports.sql_rate_report(s, st.workspace_id)["by_rep"]}
    by_speed = speed.get("by_rep", {})
    rows = []
    for r in sla["by_rep"]:
        sp = by_speed.get(r["rep"], {})
        q = sqlr.get(r["rep"], {})
        rows.append({"rep": r["rep"], "assigned": r["assigned"], "touched": r["touched"],
                     "first touch on time": _fmt_pct(r["first_touch_compliance"]),
                     "decision on time": _fmt_pct(r["decision_compliance"]),
                     "median speed to lead": _fmt_min(sp.get("p50_minutes")), "SQL": q.get("sql", 0),
                     "SQL rate": _fmt_pct(q.get("sql_rate"))})
    kpis = [("assigned", sla["assigned"]), ("first touch on time", _fmt_pct(sla["first_touch_compliance"])),
            ("median speed to lead", _fmt_min(speed.get("p50_minutes"))),
            ("SDR acceptance", _fmt_pct(rej["acceptance_rate"]))]
    chart = _bar([r["rep"] for r in rows], {"assigned": [r["assigned"] for r in rows],
                                            "touched": [r["touched"] for r in rows]}) if rows else None
    return {"kpis": kpis, "chart": chart, "table": _table(rows),
            "extra": _table([{"reason": r["label"], "count": r["count"], "share": _fmt_pct(r["share"])}
                             for r in rej["by_reason"]]) if rej["by_reason"] else None}


def _fmt_min(x: Any) -> str:
    if x is None:
        return "—"
    return f"{x:.0f} min" if x < 120 else f"{x / 60:.1f} h"


def _cell(v: Any) -> Any:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:,.3g}" if abs(v) < 1 else f"{v:,.1f}"
    return v


BUILDERS: dict[str, Callable[..., dict[str, Any]]] = {
    "funnel": panel_funnel, "velocity": panel_velocity, "channels": panel_channels, "converts": panel_converts,
    "score-health": panel_score_health,
}


@router.get("/dashboards/{name}")
def dashboard_panel(name: str, request: Request, user: WebUser = Depends(need(Action.ANALYTICS_READ))) -> Response:  # noqa: B008
    st = web(request)
    if name not in PANELS:
        return render(request, user, "error.html", status=404, title="No such dashboard", detail="Unknown panel.")
    if not available("leadflow.analytics.data"):
        return render(request, user, "panel.html", name=name, title=PANELS[name], p={
            "unavailable": "Analytics are not available yet in this installation."})
    key = (st.db.url, st.workspace_id, name)
    hit = _CACHE.get(key)
    if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS and not request.query_params.get("refresh"):
        p = hit[1]
    else:
        try:
            if name == "sales":
                p = panel_sales(None, st)
            else:
                from leadflow.analytics.data import open_analytics

                with open_analytics(st.db.url, st.workspace_id) as data:
                    p = BUILDERS[name](data)
            p["computed_at"] = utcnow()
            _CACHE[key] = (time.monotonic(), p)
        except Exception as exc:  # noqa: BLE001 - one failing panel must not take the page down
            log.exception("dashboard panel %s failed", name)
            p = {"error": f"This panel could not be computed: {type(exc).__name__}: {exc}"}
    return render(request, user, "panel.html", name=name, title=PANELS[name], p=p)
