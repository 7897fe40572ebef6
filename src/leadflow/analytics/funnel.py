"""Funnel and velocity: how many leads reach each stage, conversion between every pair of stages, time in stage.

Definitions (the same everywhere in leadflow's analytics):

* A lead **reached** a funnel stage (subscriber, lead, MQL, SAL, SQL, opportunity, customer) when it ever
  entered that stage *or any later one* - from its stage history (superseded rows excluded), its won
  outcomes (customer, at the close time) and its current stage. A lead moved straight from MQL to customer
  therefore counts as having reached SAL, SQL and opportunity too: the funnel is cumulative, so every
  conversion rate is between 0 and 1. Nurture and disqualified are side exits, not funnel stages.
* Conversion from stage A to a later stage B = leads that reached B / leads that reached A.
* **Cohort**: the calendar month (UTC) of the lead's creation (``created_at``, e.g. the first contact).
* ``since`` / ``until`` (dates, both inclusive, UTC) keep the leads created in that range; everything those
  leads did counts, whenever it happened (:meth:`AnalyticsData.created_between`).
* **Time in stage** S: from the lead's first entry into S to its first later entry into a later funnel
  stage (only leads that actually entered S and moved on count). **Time to stage** S: from the lead's
  creation to its first entry into S. Medians and P90 are linear-interpolation quantiles (``quantile_cont``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from leadflow.analytics.data import AnalyticsData, month_expr
from leadflow.analytics.report import ALL, NONE, Report
from leadflow.core.lifecycle import FUNNEL, Stage

__all__ = ["DIMENSIONS", "funnel", "grouped", "velocity"]

#: breakdowns a funnel can be split by (lead attributes; ``segment`` see :mod:`leadflow.analytics.data`)
DIMENSIONS = ("source", "medium", "campaign", "landing_page", "owner", "segment")
STAGES = tuple(s.value for s in FUNNEL)
DAY = 86400.0


def _check(by: str | None, cohort: str | None) -> None:
    if by is not None and by not in DIMENSIONS:
        raise ValueError(f"by must be one of {', '.join(DIMENSIONS)}, got {by!r}")
    if cohort not in (None, "month", "week"):
        raise ValueError(f"cohort must be month or week, got {cohort!r}")


def grouped(table: ir.Table, by: str | None, cohort: str | None, created: str = "created_t") -> ir.Table:
    """``table`` with ``group`` (the breakdown value, ``(none)`` when missing) and ``cohort`` columns."""
    group = ibis.coalesce(table[by], ibis.literal(NONE)) if by else ibis.literal(ALL)
    coh = month_expr(table[created], cohort) if cohort else ibis.literal(ALL)
    return table.mutate(group=group.cast("string"), cohort=coh.cast("string"))


def _stage_list(stages: Sequence[str | Stage] | None) -> list[str]:
    if not stages:
        return list(STAGES)
    out = []
    for s in stages:
        v = Stage(s).value
        if v not in STAGES:
            raise ValueError(f"{v} is not a funnel stage (funnel: {', '.join(STAGES)})")
        out.append(v)
    return sorted(set(out), key=STAGES.index)


def _range_note(since: date | None, until: date | None) -> list[str]:
    if since is None and until is None:
        return []
    return [f"leads created {since.isoformat() if since else 'any time'} to {until.isoformat() if until else 'now'} "
            "(UTC, inclusive)"]


def funnel(data: AnalyticsData, *, by: str | None = None, cohort: str | None = None,
           stages: Sequence[str | Stage] | None = None, since: date | None = None,
           until: date | None = None) -> Report:
    """Counts per stage and conversion between every pair of stages, per breakdown value and cohort.

    Tables: ``counts`` (group, cohort, leads, one column per stage: leads that reached it) and
    ``conversions`` (group, cohort, from_stage, to_stage, from_count, to_count, rate).
    """
    _check(by, cohort)
    names = _stage_list(stages)
    data = data.created_between(since, until)
    r = grouped(data.reach(), by, cohort)
    agg = r.group_by(["group", "cohort"]).aggregate(
        leads=r.count(), **{s: (r.max_idx >= STAGES.index(s)).cast("int64").sum() for s in names})
    counts = agg.order_by(["group", "cohort"]).to_pyarrow()
    conv: dict[str, list] = {k: [] for k in ("group", "cohort", "from_stage", "to_stage", "from_count",
                                             "to_count", "rate")}
    for row in counts.to_pylist():  # every pair, on the aggregated counts (a few rows)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                n_a, n_b = int(row[a] or 0), int(row[b] or 0)
                for k, v in (("group", row["group"]), ("cohort", row["cohort"]), ("from_stage", a),
                             ("to_stage", b), ("from_count", n_a), ("to_count", n_b),
                             ("rate", n_b / n_a if n_a else None)):
                    conv[k].append(v)
    conversions = pa.table(conv, schema=pa.schema([
        ("group", pa.string()), ("cohort", pa.string()), ("from_stage", pa.string()), ("to_stage", pa.string()),
        ("from_count", pa.int64()), ("to_count", pa.int64()), ("rate", pa.float64())]))
    return Report("funnel", {"by": by, "cohort": cohort, "stages": names, "since": since, "until": until},
                  {"counts": counts, "conversions": conversions},
                  ["cumulative funnel: a lead that reached a later stage counts as having reached the earlier ones",
                   "cohort = month (UTC) of the lead's creation", *_range_note(since, until)])


def velocity(data: AnalyticsData, *, by: str | None = None, cohort: str | None = None,
             since: date | None = None, until: date | None = None) -> Report:
    """Median and P90 days in each stage and from creation to each stage, per breakdown value and cohort.

    Table ``velocity``: group, cohort, stage, entered (leads with a dated entry into the stage), advanced
    (of those, leads that later entered a later stage), median_days / p90_days (time in stage, over the
    advanced), median_days_to / p90_days_to (creation -> first entry).
    """
    _check(by, cohort)
    data = data.created_between(since, until)
    e = data.entries()
    e = e.filter(e.t.notnull())
    first = e.group_by(["lead_id", "idx"]).aggregate(t=e.t.min())
    nxt = e.select(n_lead=e.lead_id, n_idx=e.idx, n_t=e.t)
    j = first.join(nxt, [first.lead_id == nxt.n_lead, nxt.n_idx > first.idx, nxt.n_t >= first.t])
    exits = j.group_by(["lead_id", "idx"]).aggregate(exit_t=j.n_t.min())
    f = first.left_join(exits, [first.lead_id == exits.lead_id, first.idx == exits.idx]).select(
        first.lead_id, first.idx, first.t, exits.exit_t)
    ld = grouped(data.leads, by, cohort)
    attrs = ld.select(l_id=ld.id, created_t=ld.created_t, group=ld.group, cohort=ld.cohort)
    f = f.join(attrs, f.lead_id == attrs.l_id)
    f = f.mutate(days_in=(f.exit_t - f.t) / DAY, days_to=(f.t - f.created_t) / DAY)
    agg = f.group_by(["group", "cohort", "idx"]).aggregate(
        entered=f.count(), advanced=f.exit_t.notnull().cast("int64").sum(),
        median_days=f.days_in.quantile(0.5), p90_days=f.days_in.quantile(0.9),
        median_days_to=f.days_to.quantile(0.5), p90_days_to=f.days_to.quantile(0.9))
    stage = ibis.cases(*((agg.idx == i, s) for i, s in enumerate(STAGES)), else_=ibis.null("string"))
    out = agg.mutate(stage=stage).order_by(["group", "cohort", "idx"])
    out = out.select("group", "cohort", "stage", "entered", "advanced", "median_days", "p90_days",
                     "median_days_to", "p90_days_to")
    return Report("velocity", {"by": by, "cohort": cohort, "since": since, "until": until},
                  {"velocity": out.to_pyarrow()},
                  ["time in stage: first entry -> first later entry into a later funnel stage (leads that moved on)",
                   "time to stage: lead creation -> first entry into the stage", *_range_note(since, until)])
