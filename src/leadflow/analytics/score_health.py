"""Score health: does a higher score really convert better? And how many MQLs per period?

``basis="current"``: each lead's stored score under the workspace's lifecycle model (fit, grade,
engagement as last updated). ``basis="mql"``: the score snapshot taken when the lead first became an MQL
(the stage history keeps it), for the MQLs only - what sales were handed, before the outcome was known.

Conversion = leads that reached ``target`` (cumulative funnel) / leads in the band. Fit and engagement are
cut into bands of fixed width (``floor(score / width) * width``). A dimension is *monotone* when, over the
bands with at least ``min_support`` leads, a higher grade or band never converts less than a lower one;
the inversions are listed.

``since`` / ``until`` (dates, inclusive, UTC) keep the leads created in that range (MQL volume included).
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from leadflow.analytics.data import AnalyticsData, month_expr
from leadflow.analytics.report import Report
from leadflow.core.lifecycle import FUNNEL, Stage

__all__ = ["score_health"]

GRADES = ("A", "B", "C", "D")


def _scored(data: AnalyticsData, basis: str) -> ir.Table:
    if basis == "current":
        s = data.scores
        return s.select(s_id=s.lead_id, fit=s.fit, grade=s.grade, engagement=s.engagement)
    if basis == "mql":
        st = data.stages.filter(data.stages.to_stage == Stage.MQL.value)
        st = st.mutate(rn=ibis.row_number().over(group_by=st.lead_id, order_by=st.t))
        st = st.filter(st.rn == 0)
        sc = st.score
        return st.select(s_id=st.lead_id, fit=sc["fit"].float, grade=sc["grade"].str,
                         engagement=sc["engagement"].float)
    raise ValueError(f"basis must be current or mql, got {basis!r}")


def _checks(rows: list[dict], key: str, order_high_first: bool, min_support: int) -> tuple[bool, str]:
    """Monotone when conversion never rises as the score falls (bands listed high -> low)."""
    ok_rows = [r for r in rows if r["leads"] >= min_support and r["rate"] is not None]
    if not order_high_first:
        ok_rows = list(reversed(ok_rows))
    inversions = [f"{lo[key]} ({lo['rate']:.1%}) > {hi[key]} ({hi['rate']:.1%})"
                  for hi, lo in zip(ok_rows, ok_rows[1:], strict=False) if lo["rate"] > hi["rate"]]
    return not inversions, "; ".join(inversions)


def score_health(data: AnalyticsData, *, basis: str = "current", target: str | Stage = Stage.CUSTOMER,
                 fit_width: float = 20.0, engagement_width: float = 20.0, min_support: int = 10,
                 period: str = "month", since: date | None = None, until: date | None = None) -> Report:
    """Tables ``grades``, ``fit_bands``, ``engagement_bands`` (leads, converted, rate), ``checks``
    (dimension, monotone, inversions) and ``mql_volume`` (period, mqls: entries into MQL, leads: distinct)."""
    if fit_width <= 0 or engagement_width <= 0:
        raise ValueError("band widths must be positive")
    t_idx = list(FUNNEL).index(Stage(target))
    data = data.created_between(since, until)
    r = data.reach()
    sc = _scored(data, basis)
    rr = r.select(r_id=r.id, max_idx=r.max_idx)
    j = sc.join(rr, sc.s_id == rr.r_id)
    j = j.mutate(conv=(j.max_idx >= t_idx).cast("int64"))

    def banded(col: str, width: float) -> pa.Table:
        x = j.filter(j[col].notnull())
        x = x.mutate(band_low=(x[col] / width).floor().cast("float64") * width)
        a = x.group_by("band_low").aggregate(leads=x.count(), converted=x.conv.sum())
        a = a.mutate(band_high=a.band_low + width, rate=a.converted.cast("float64") / a.leads)
        return a.select("band_low", "band_high", "leads", "converted", "rate").order_by("band_low").to_pyarrow()

    g = j.filter(j.grade.notnull())
    ga = g.group_by("grade").aggregate(leads=g.count(), converted=g.conv.sum())
    grades = ga.mutate(rate=ga.converted.cast("float64") / ga.leads).order_by("grade").to_pyarrow()
    fit, eng = banded("fit", fit_width), banded("engagement", engagement_width)
    checks = {"dimension": [], "monotone": [], "inversions": []}
    for name, rows, key, high_first in (("grade", grades.to_pylist(), "grade", True),
                                        ("fit", fit.to_pylist(), "band_low", False),
                                        ("engagement", eng.to_pylist(), "band_low", False)):
        mono, inv = _checks(rows, key, high_first, min_support)
        checks["dimension"].append(name)
        checks["monotone"].append(mono)
        checks["inversions"].append(inv)
    st = data.stages.filter(data.stages.to_stage == Stage.MQL.value)
    st = st.mutate(period=month_expr(st.t, period))
    vol = st.group_by("period").aggregate(mqls=st.count(), leads=st.lead_id.nunique()).order_by("period")
    notes = [f"score basis: {basis}; conversion to {Stage(target).value}",
             f"monotone: over bands with at least {min_support} leads"]
    notes += [f"{d}: higher score converts less: {i}" for d, m, i in
              zip(checks["dimension"], checks["monotone"], checks["inversions"], strict=True) if not m]
    return Report("score-health", {"basis": basis, "target": Stage(target).value, "fit_width": fit_width,
                                   "engagement_width": engagement_width, "min_support": min_support,
                                   "period": period, "since": since, "until": until},
                  {"grades": grades, "fit_bands": fit, "engagement_bands": eng,
                   "checks": pa.table(checks, schema=pa.schema([("dimension", pa.string()),
                                                                ("monotone", pa.bool_()),
                                                                ("inversions", pa.string())])),
                   "mql_volume": vol.to_pyarrow()}, notes)
