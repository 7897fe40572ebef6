"""Dashboards: funnel with conversion and velocity, channel economics, what converts, sales performance,
score health. Each panel is computed by ``leadflow.analytics`` on the batch engine and loaded by HTMX on its
own, so a slow one never holds up the others.

The selection (date range, funnel breakdown and cohort view) lives in the URL's query string, so a view can be
shared and the back button returns to the previous one: ``range`` (a preset: ``all``, ``30d``, ``90d``,
``year``; or ``custom``), ``from`` / ``to`` (``YYYY-MM-DD``, UTC days, both inclusive), ``by`` (a funnel
breakdown) and ``cohort`` (``month``). Presets stay relative in the page URL ("last 30 days" is the last 30
days on the day the link is opened); each panel is requested with the resolved dates, which are part of its
cache key.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

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
CACHE_SECONDS = 60.0  # a panel is recomputed at most once a minute per selection (batch work over the history)
CACHE_MAX = 256  # cached panels kept (a selection is one key per panel)
_CACHE: dict[tuple[Any, ...], tuple[float, dict[str, Any]]] = {}
_CACHE_LOCK = threading.Lock()

# ------------------------------------------------------------------------------------------ the selection
RANGES: dict[str, str] = {"all": "All time", "30d": "Last 30 days", "90d": "Last 90 days", "year": "This year",
                          "custom": "Custom dates"}
#: funnel breakdowns (leadflow.analytics.funnel.DIMENSIONS) with their labels; "" = none
BREAKDOWNS: dict[str, str] = {"": "None", "source": "Source", "medium": "Medium", "campaign": "Campaign",
                              "landing_page": "Landing page", "owner": "Owner", "segment": "Segment"}
COHORTS: dict[str, str] = {"": "Whole range", "month": "Monthly cohorts"}
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2999, 12, 31)
_DAY_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
#: panels about leads (their created date); the others filter on their own periods
LEAD_PANELS = ("funnel", "velocity", "converts", "score-health")


@dataclass(frozen=True)
class Selection:
    """What the dashboards show: a resolved date range (``since`` / ``until``, None: open) and the funnel's
    breakdown and cohort view. ``errors`` maps a field (range, from, to, by, cohort) to a message; ``typed``
    keeps what was typed in the date fields so an invalid value is shown back for fixing."""

    range: str = "all"
    since: date | None = None
    until: date | None = None
    by: str | None = None
    cohort: str | None = None
    errors: dict[str, str] = field(default_factory=dict)
    typed: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def field_text(self, name: str) -> str:
        """The value to show in the ``from`` / ``to`` field (what was typed when it is invalid)."""
        if name in self.typed:
            return self.typed[name]
        d = self.since if name == "from" else self.until
        return d.isoformat() if d else ""

    def page_params(self) -> dict[str, str]:
        """The page's canonical query (presets stay relative; defaults left out)."""
        out: dict[str, str] = {}
        if self.range in ("30d", "90d", "year"):
            out["range"] = self.range
        elif self.range == "custom":
            if self.since is None and self.until is None:
                out["range"] = "custom"
            if self.since:
                out["from"] = self.since.isoformat()
            if self.until:
                out["to"] = self.until.isoformat()
        if self.by:
            out["by"] = self.by
        if self.cohort:
            out["cohort"] = self.cohort
        return out

    def page_url(self) -> str:
        q = urlencode(self.page_params())
        return f"/dashboards?{q}" if q else "/dashboards"

    def panel_params(self, name: str) -> dict[str, str]:
        """A panel's query: the resolved dates, and the breakdown and view for the funnel only."""
        out = {k: v.isoformat() for k, v in (("from", self.since), ("to", self.until)) if v is not None}
        if name == "funnel":
            out.update({k: v for k, v in (("by", self.by), ("cohort", self.cohort)) if v})
        return out

    def panel_url(self, name: str) -> str:
        q = urlencode(self.panel_params(name))
        return f"/dashboards/{name}?{q}" if q else f"/dashboards/{name}"

    def cache_key(self, name: str) -> tuple[Any, ...]:
        return (name, self.since, self.until, *((self.by, self.cohort) if name == "funnel" else ()))

    def span(self) -> str:
        if self.since is None and self.until is None:
            return "all time"
        if self.until is None:
            return f"from {self.since.isoformat()}"
        if self.since is None:
            return f"up to {self.until.isoformat()}"
        return f"{self.since.isoformat()} to {self.until.isoformat()}"

    def describe(self) -> str:
        """One line saying what is shown, e.g. 'Last 30 days (2026-03-02 to 2026-03-31), funnel by source'."""
        text = RANGES[self.range] if self.range in ("all", "30d", "90d", "year") else "Custom dates"
        if self.since is not None or self.until is not None:
            text += f" ({self.span()}, UTC)"
        if self.by:
            text += f"; funnel by {BREAKDOWNS[self.by].lower()}"
        if self.cohort:
            text += "; funnel by monthly cohort"
        return text

    def scope(self, name: str) -> str:
        """What the date range applies to in one panel."""
        if name in LEAD_PANELS:
            return "All leads." if self.since is None and self.until is None else f"Leads created {self.span()} (UTC)."
        if name == "channels":
            return ("All spend periods." if self.since is None and self.until is None
                    else f"Spend periods overlapping {self.span()} (UTC), with the leads each period bought.")
        return ("All assignments and decisions." if self.since is None and self.until is None
                else f"Assignments and decisions made {self.span()} (UTC).")


def _day(raw: str, label: str, errors: dict[str, str], key: str) -> date | None:
    if not raw:
        return None
    shown = raw if len(raw) <= 40 else raw[:40] + "…"
    try:
        if not _DAY_RE.fullmatch(raw):
            raise ValueError
        d = date.fromisoformat(raw)
    except ValueError:
        errors[key] = f"{label}: “{shown}” is not a date; use YYYY-MM-DD, e.g. 2026-03-31."
        return None
    if not FIRST_DAY <= d <= LAST_DAY:
        errors[key] = f"{label}: {d.isoformat()} is out of range ({FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()})."
        return None
    return d


def preset_range(name: str, today: date) -> tuple[date | None, date | None]:
    """``30d`` / ``90d``: the last 30 / 90 days including today; ``year``: 1 January to today; ``all``: open."""
    if name == "30d":
        return today - timedelta(days=29), today
    if name == "90d":
        return today - timedelta(days=89), today
    if name == "year":
        return date(today.year, 1, 1), today
    return None, None


def parse_selection(params: Mapping[str, str], today: date) -> Selection:
    """The dashboards' selection from a query string. A preset ``range`` wins over ``from`` / ``to``; without
    one (or with ``custom``) the dates given are used. Every problem is reported by field, nothing raised."""
    errors: dict[str, str] = {}
    typed: dict[str, str] = {}
    rng = (params.get("range") or "").strip().lower()
    raw_from, raw_to = (params.get("from") or "").strip(), (params.get("to") or "").strip()
    since = until = None
    if rng and rng not in RANGES:
        errors["range"] = f"Period: unknown choice “{rng[:40]}”; pick one from the list."
        rng = "custom"
    if rng in ("all", "30d", "90d", "year"):
        since, until = preset_range(rng, today)
    else:
        since = _day(raw_from, "From", errors, "from")
        until = _day(raw_to, "To", errors, "to")
        for key, raw in (("from", raw_from), ("to", raw_to)):
            if key in errors:
                typed[key] = raw
        if since is not None and until is not None and since > until:
            errors["to"] = f"To ({until.isoformat()}) is before From ({since.isoformat()}): pick a later day."
        rng = "custom" if (rng == "custom" or raw_from or raw_to) else "all"
    by = (params.get("by") or "").strip()
    if by not in BREAKDOWNS:
        errors["by"] = f"Breakdown: unknown choice “{by[:40]}”; pick one from the list."
        by = ""
    cohort = (params.get("cohort") or "").strip()
    if cohort not in COHORTS:
        errors["cohort"] = f"View: unknown choice “{cohort[:40]}”; pick one from the list."
        cohort = ""
    return Selection(range=rng, since=since, until=until, by=by or None, cohort=cohort or None, errors=errors,
                     typed=typed)


@router.get("/dashboards")
def dashboards(request: Request, user: WebUser = Depends(need(Action.ANALYTICS_READ))) -> Response:  # noqa: B008
    sel = parse_selection(request.query_params, utcnow().date())
    resp = render(request, user, "dashboards.html", status=200 if sel.ok else 400, panels=PANELS, sel=sel,
                  ranges=RANGES, breakdowns=BREAKDOWNS, cohorts=COHORTS, first_day=FIRST_DAY.isoformat(),
                  last_day=LAST_DAY.isoformat())
    if request.headers.get("hx-request") == "true" and not request.headers.get("hx-history-restore-request"):
        # the address bar shows the canonical selection (no empty fields); an invalid one is not pushed
        resp.headers["HX-Push-Url"] = sel.page_url() if sel.ok else "false"
    return resp


def _table(rows: list[dict[str, Any]], columns: list[str] | None = None, limit: int = MAX_ROWS,
           caption: str | None = None) -> dict[str, Any]:
    cols = columns or (list(rows[0]) if rows else [])
    return {"columns": cols, "rows": [[r.get(c) for c in cols] for r in rows[:limit]], "more": max(len(rows) - limit, 0),
            "caption": caption}


def _bar(labels: list[Any], series: dict[str, list[Any]], horizontal: bool = False, percent: bool = False) -> dict[str, Any]:
    opts: dict[str, Any] = {"plugins": {"legend": {"display": len(series) > 1}}}
    if horizontal:
        opts["indexAxis"] = "y"
    if percent:
        opts["scales"] = {("x" if horizontal else "y"): {"beginAtZero": True, "max": 100}}
    return {"type": "bar", "data": {"labels": [str(x) for x in labels],
                                    "datasets": [{"label": k, "data": v} for k, v in series.items()]},
            "options": opts}


def _line(labels: list[Any], series: dict[str, list[Any]], percent: bool = True) -> dict[str, Any]:
    y: dict[str, Any] = {"beginAtZero": True}
    if percent:
        y["max"] = 100
        y["title"] = {"display": True, "text": "% of the cohort's leads"}
    return {"type": "line", "data": {"labels": [str(x) for x in labels],
                                     "datasets": [{"label": k, "data": v, "spanGaps": True} for k, v in series.items()]},
            "options": {"plugins": {"legend": {"display": True}}, "scales": {"y": y}}}


def _pct(x: Any) -> float | None:
    return None if x is None else round(float(x) * 100, 1)


def _share(n: Any, of: Any) -> float | None:
    return _pct(n / of) if of else None


TOP_GROUPS = 6  # series drawn in a breakdown chart (the table lists every group)
CHART_STAGES = ("mql", "sql", "customer")  # the cohort chart: share of each cohort's leads that reached these


def panel_funnel(data: Any, sel: Selection | None = None) -> dict[str, Any]:
    """Counts per stage and step conversion; with a breakdown and / or the monthly cohort view, one row per
    group / cohort (counts table, then conversion to the next stage) and a chart comparing them."""
    from leadflow.analytics.funnel import STAGES, funnel

    sel = sel or Selection()
    rep = funnel(data, by=sel.by, cohort=sel.cohort, since=sel.since, until=sel.until)
    counts = rep.rows("counts")
    if not counts:
        return {"empty": "No leads were created in this range." if sel.since or sel.until
                else "No leads yet: import some, or load the demo data (leadflow demo).", "notes": rep.notes}
    stages = list(STAGES)
    total = {s: sum(int(r.get(s) or 0) for r in counts) for s in ["leads", *stages]}
    kpis = [(s, total[s]) for s in stages]
    rates = {(r["group"], r["cohort"], r["from_stage"], r["to_stage"]): r["rate"] for r in rep.rows("conversions")}
    steps = list(zip(stages, stages[1:], strict=False))
    if not sel.by and not sel.cohort:
        row = counts[0]
        return {"kpis": kpis,
                "chart": _bar(stages, {"leads that reached the stage": [row.get(s) or 0 for s in stages]}),
                "table": _table([{"from": a, "to": b, "reached from": row.get(a) or 0, "reached to": row.get(b) or 0,
                                  "conversion": _fmt_pct(rates.get((row["group"], row["cohort"], a, b)))}
                                 for a, b in steps], caption="Conversion to the next stage"),
                "notes": rep.notes}
    size = {}
    for r in counts:
        size[r["group"]] = size.get(r["group"], 0) + int(r["leads"] or 0)
    order = sorted(size, key=lambda g: (-size[g], g))  # biggest groups first; cohorts in time order within
    rank = {g: i for i, g in enumerate(order)}
    counts.sort(key=lambda r: (rank[r["group"]], r["cohort"]))
    dim = BREAKDOWNS[sel.by].lower() if sel.by else None
    keys = ([dim] if dim else []) + (["cohort"] if sel.cohort else [])

    def ident(r: dict[str, Any]) -> dict[str, Any]:
        return {**({dim: r["group"]} if dim else {}), **({"cohort": r["cohort"]} if sel.cohort else {})}

    count_rows = [{**ident(r), "leads": r["leads"], **{s: r.get(s) or 0 for s in stages}} for r in counts]
    conv_rows = [{**ident(r), **{f"{a} → {b}": _fmt_pct(rates.get((r["group"], r["cohort"], a, b))) for a, b in steps},
                  "all → customer": _fmt_pct((r.get("customer") or 0) / r["leads"] if r["leads"] else None)}
                 for r in counts]
    cohorts = sorted({r["cohort"] for r in counts})
    if sel.cohort and not sel.by:
        by_c = {r["cohort"]: r for r in counts}
        chart = _line(cohorts, {f"reached {s}": [_share(by_c[c].get(s) or 0, by_c[c]["leads"]) for c in cohorts]
                                for s in CHART_STAGES})
    elif sel.cohort:
        cell = {(r["group"], r["cohort"]): r for r in counts}
        chart = _line(cohorts, {f"{g}: reached mql": [_share((cell[(g, c)].get("mql") or 0), cell[(g, c)]["leads"])
                                                      if (g, c) in cell else None for c in cohorts]
                                for g in order[:TOP_GROUPS]})
    else:
        by_g = {r["group"]: r for r in counts}
        chart = _bar(stages, {g: [_share(by_g[g].get(s) or 0, by_g[g]["leads"]) for s in stages]
                              for g in order[:TOP_GROUPS]}, percent=True)
        chart["options"]["scales"]["y"]["title"] = {"display": True, "text": "% of the group's leads"}
    what = " and ".join(x for x in (f"by {dim}" if dim else "", "by monthly cohort" if sel.cohort else "") if x)
    return {"kpis": kpis, "chart": chart,
            "table": _table(count_rows, [*keys, "leads", *stages], caption=f"Leads that reached each stage, {what}"),
            "extra": _table(conv_rows, caption=f"Conversion to the next stage, {what}"),
            "notes": [*rep.notes, *([f"chart: the {TOP_GROUPS} biggest groups"] if len(order) > TOP_GROUPS else [])]}


def _fmt_pct(x: Any) -> str:
    return "—" if x is None else f"{float(x) * 100:.1f}%"


def _fmt_days(x: Any) -> str:
    return "—" if x is None else f"{float(x):.1f} d"


def panel_velocity(data: Any, sel: Selection | None = None) -> dict[str, Any]:
    from leadflow.analytics.funnel import velocity

    sel = sel or Selection()
    rep = velocity(data, since=sel.since, until=sel.until)
    rows = rep.rows()
    return {"chart": _bar([r["stage"] for r in rows], {"median days in stage": [r["median_days"] for r in rows],
                                                      "median days from creation": [r["median_days_to"] for r in rows]}),
            "table": _table([{"stage": r["stage"], "entered": r["entered"], "moved on": r["advanced"],
                              "median in stage": _fmt_days(r["median_days"]), "P90 in stage": _fmt_days(r["p90_days"]),
                              "median to stage": _fmt_days(r["median_days_to"])} for r in rows]),
            "notes": rep.notes}


def panel_channels(data: Any, sel: Selection | None = None) -> dict[str, Any]:
    from leadflow.analytics.channels import channel_economics

    sel = sel or Selection()
    rep = channel_economics(data, since=sel.since, until=sel.until)
    rows = rep.rows()
    keep = [c for c in (rows[0].keys() if rows else []) if not c.startswith("_")]
    return {"chart": _bar([r.get("channel") or r.get("key") or r.get(keep[0]) for r in rows[:12]],
                          {"leads": [r.get("leads") for r in rows[:12]]}) if rows else None,
            "table": _table([{k: _cell(r.get(k)) for k in keep} for r in rows], keep), "notes": rep.notes}


def panel_converts(data: Any, sel: Selection | None = None) -> dict[str, Any]:
    from leadflow.analytics.converts import converts

    sel = sel or Selection()
    rep = converts(data, limit=MAX_ROWS, since=sel.since, until=sel.until)
    rows = rep.rows()
    return {"chart": _bar([f"{r['kind']}: {r['item']}"[:40] for r in rows[:10]], {"lift": [r["lift"] for r in rows[:10]]},
                          horizontal=True) if rows else None,
            "table": _table([{"kind": r["kind"], "item": r["item"], "touched": r["touched"], "converted": r["converted"],
                              "conversion": _fmt_pct(r["conversion"]), "others": _fmt_pct(r["other_conversion"]),
                              "lift": _cell(r["lift"]), "significant": "yes" if r["significant"] else "no"}
                             for r in rows]),
            "notes": rep.notes}


def panel_score_health(data: Any, sel: Selection | None = None) -> dict[str, Any]:
    from leadflow.analytics.score_health import score_health

    sel = sel or Selection()
    rep = score_health(data, since=sel.since, until=sel.until)
    grades = rep.rows("grades")
    checks = rep.rows("checks")
    return {"chart": _bar([r.get("grade") for r in grades], {"conversion %": [_pct(r.get("rate")) for r in grades]}),
            "table": _table([{k: _cell(v) for k, v in r.items()} for r in checks]),
            "extra": _table([{k: _cell(v) for k, v in r.items()} for r in rep.rows("engagement_bands")]),
            "notes": rep.notes}


def _instants(sel: Selection) -> tuple[datetime | None, datetime | None]:
    """The selection's days as ``[since, until)`` instants (UTC), as the handoff reports take them."""
    since = datetime(sel.since.year, sel.since.month, sel.since.day, tzinfo=UTC) if sel.since else None
    until = (datetime(sel.until.year, sel.until.month, sel.until.day, tzinfo=UTC) + timedelta(days=1)
             if sel.until else None)
    return since, until


def panel_sales(data: Any, st: Any, sel: Selection | None = None) -> dict[str, Any]:
    """Per rep: assignments, SLA compliance, speed to lead, acceptance, SQL rate (handoff reports, SQL aggregates)."""
    if not available("leadflow.services.handoff.reports"):
        return {"unavailable": "Sales performance (speed to lead, SLA compliance, SQL rate by rep) is not available "
                               "yet: the handoff reports have not landed in this installation."}
    from leadflow.services.handoff import reports

    since, until = _instants(sel or Selection())
    with st.session() as s:
        sla = reports.sla_report(s, st.workspace_id, since, until)
        speed = reports.speed_to_lead_report(s, st.workspace_id, since, until)
        rej = reports.rejection_report(s, st.workspace_id, since, until)
        sqlr = {r["rep"]: r for r in reports.sql_rate_report(s, st.workspace_id, since, until)["by_rep"]}
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


def _cache_get(key: tuple[Any, ...]) -> dict[str, Any] | None:
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
    return hit[1] if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS else None


def _cache_put(key: tuple[Any, ...], value: dict[str, Any]) -> None:
    now = time.monotonic()
    with _CACHE_LOCK:
        _CACHE[key] = (now, value)
        if len(_CACHE) > CACHE_MAX:  # drop the expired, then the oldest
            for k in [k for k, (t, _) in _CACHE.items() if now - t >= CACHE_SECONDS]:
                del _CACHE[k]
            for k in sorted(_CACHE, key=lambda k: _CACHE[k][0])[:max(len(_CACHE) - CACHE_MAX, 0)]:
                del _CACHE[k]


@router.get("/dashboards/{name}")
def dashboard_panel(name: str, request: Request, user: WebUser = Depends(need(Action.ANALYTICS_READ))) -> Response:  # noqa: B008
    st = web(request)
    if name not in PANELS:
        return render(request, user, "error.html", status=404, title="No such dashboard", detail="Unknown panel.")
    sel = parse_selection(request.query_params, utcnow().date())
    if not sel.ok:
        return render(request, user, "panel.html", status=400, name=name, title=PANELS[name],
                      p={"error": " ".join(sel.errors.values())})
    if not available("leadflow.analytics.data"):
        return render(request, user, "panel.html", name=name, title=PANELS[name], p={
            "unavailable": "Analytics are not available yet in this installation."})
    key = (st.db.url, st.workspace_id, *sel.cache_key(name))
    p = None if request.query_params.get("refresh") else _cache_get(key)
    if p is None:
        try:
            if name == "sales":
                p = panel_sales(None, st, sel)
            else:
                from leadflow.analytics.data import open_analytics

                with open_analytics(st.db.url, st.workspace_id) as data:
                    p = BUILDERS[name](data, sel)
            p["computed_at"] = utcnow()
            p["scope"] = sel.scope(name)
            _cache_put(key, p)
        except Exception as exc:  # noqa: BLE001 - one failing panel must not take the page down
            log.exception("dashboard panel %s failed", name)
            p = {"error": f"This panel could not be computed: {type(exc).__name__}: {exc}"}
    return render(request, user, "panel.html", name=name, title=PANELS[name], p=p)
