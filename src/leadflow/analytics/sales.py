"""Sales: speed to lead, SLA compliance, acceptance and rejection reasons, SQL rate per rep.

Read from the hand-off tables (:mod:`leadflow.store.handoff_tables`, migration 0004):

* **speed to lead** of an assignment = its first touch - the time the lead qualified (``qualified_at``),
  in hours; P50 and P95 over the touched assignments;
* **first-touch SLA**: an assignment *met* it when touched with no breach recorded, *breached* when a breach
  is recorded (``first_touch_breached_at``); compliance = met / (met + breached) - open clocks not yet due
  count in neither. The same for the decision SLA (``decided_at`` / ``decision_breached_at``);
* **acceptance**: accepted / (accepted + rejected) decisions; rejections counted by reason code;
* **SQL rate** of a rep = leads assigned to the rep at MQL that reached SQL (cumulative funnel) / leads
  assigned to the rep at MQL.

``since`` keeps the assignments (and decisions) from that time on.
"""

from __future__ import annotations

from datetime import datetime

import ibis
import ibis.expr.types as ir

from leadflow.analytics.data import AnalyticsData, epoch_expr
from leadflow.analytics.report import ALL, NONE, Report
from leadflow.core.lifecycle import FUNNEL, Stage
from leadflow.core.timeutil import epoch

__all__ = ["sales"]

HOUR = 3600.0


def _assignments(data: AnalyticsData) -> ir.Table:
    a = data.table("handoff_assignments")
    if a is None:
        raise LookupError("the store has no hand-off tables (migration 0004): sales analytics need them")
    t = {c: epoch_expr(a[c]) for c in ("qualified_at", "assigned_at", "first_touch_at", "first_touch_breached_at",
                                       "decided_at", "decision_breached_at")}
    return a.select(a_id=a.id.cast("string"), lead_id=a.lead_id.cast("string"),
                    rep=ibis.coalesce(a.rep_key.cast("string"), ibis.literal(NONE)), stage=a.stage.cast("string"),
                    **t)


def _per_rep(a: ir.Table, r: ir.Table, group: ir.Value) -> ir.Table:
    a = a.mutate(grp=group)
    speed = (a.first_touch_at - a.qualified_at) / HOUR
    ft_met = (a.first_touch_at.notnull() & a.first_touch_breached_at.isnull()).cast("int64")
    ft_breached = a.first_touch_breached_at.notnull().cast("int64")
    d_met = (a.decided_at.notnull() & a.decision_breached_at.isnull()).cast("int64")
    d_breached = a.decision_breached_at.notnull().cast("int64")
    a = a.mutate(speed_h=speed, ft_met=ft_met, ft_breached=ft_breached, d_met=d_met, d_breached=d_breached)
    agg = a.group_by("grp").aggregate(
        assignments=a.count(), leads=a.lead_id.nunique(), touched=a.first_touch_at.notnull().cast("int64").sum(),
        speed_p50_hours=a.speed_h.quantile(0.5), speed_p95_hours=a.speed_h.quantile(0.95),
        first_touch_met=a.ft_met.sum(), first_touch_breached=a.ft_breached.sum(),
        decision_met=a.d_met.sum(), decision_breached=a.d_breached.sum())

    def rate(x: ir.NumericValue, y: ir.NumericValue) -> ir.FloatingValue:
        return ibis.ifelse((x + y) > 0, x.cast("float64") / (x + y), ibis.null("float64"))

    agg = agg.mutate(first_touch_compliance=rate(agg.first_touch_met, agg.first_touch_breached),
                     decision_compliance=rate(agg.decision_met, agg.decision_breached))
    # SQL rate: distinct leads assigned at MQL, and of those the ones that reached SQL
    m = a.filter(a.stage == Stage.MQL.value).select("grp", "lead_id").distinct()
    m = m.join(r, m.lead_id == r.r_id)
    sq = m.group_by("grp").aggregate(mql_leads=m.count(), sqls=m.is_sql.sum())
    sq = sq.mutate(sql_rate=ibis.ifelse(sq.mql_leads > 0, sq.sqls.cast("float64") / sq.mql_leads,
                                        ibis.null("float64")))
    j = agg.left_join(sq, agg.grp == sq.grp)
    return j.select(agg, mql_leads=j.mql_leads.fill_null(0), sqls=j.sqls.fill_null(0), sql_rate=j.sql_rate)


def _decisions(data: AnalyticsData, since: float | None) -> ir.Table:
    d = data.table("handoff_decisions")
    d = d.select(rep=ibis.coalesce(d.rep_key.cast("string"), ibis.literal(NONE)), decision=d.decision.cast("string"),
                 reason=ibis.coalesce(d.reason_code.cast("string"), ibis.literal(NONE)), t=epoch_expr(d.at),
                 disposition=d.disposition.cast("string"))
    return d.filter(d.t >= since) if since is not None else d


def sales(data: AnalyticsData, *, since: datetime | None = None) -> Report:
    """Tables ``reps`` (one row per rep plus ``(all)``) and ``reasons`` (rejections by reason code)."""
    t0 = epoch(since) if since is not None else None
    a = _assignments(data)
    if t0 is not None:
        a = a.filter(a.assigned_at >= t0)
    reach = data.reach()
    r = reach.select(r_id=reach.id, is_sql=(reach.max_idx >= list(FUNNEL).index(Stage.SQL)).cast("int64"))
    per = ibis.union(_per_rep(a, r, a.rep), _per_rep(a, r, ibis.literal(ALL)))
    d = _decisions(data, t0)
    dec = d.group_by("rep").aggregate(accepted=(d.decision == "accepted").cast("int64").sum(),
                                      rejected=(d.decision == "rejected").cast("int64").sum())
    dec = ibis.union(dec, dec.aggregate(rep=ibis.literal(ALL), accepted=dec.accepted.sum(),
                                        rejected=dec.rejected.sum()).select("rep", "accepted", "rejected"))
    j = per.outer_join(dec, per.grp == dec.rep)
    reps = j.select(rep=ibis.coalesce(j.grp, j.rep), assignments=j.assignments.fill_null(0),
                    leads=j.leads.fill_null(0), touched=j.touched.fill_null(0),
                    speed_p50_hours=j.speed_p50_hours, speed_p95_hours=j.speed_p95_hours,
                    first_touch_met=j.first_touch_met.fill_null(0),
                    first_touch_breached=j.first_touch_breached.fill_null(0),
                    first_touch_compliance=j.first_touch_compliance,
                    decision_met=j.decision_met.fill_null(0), decision_breached=j.decision_breached.fill_null(0),
                    decision_compliance=j.decision_compliance,
                    accepted=j.accepted.fill_null(0), rejected=j.rejected.fill_null(0),
                    mql_leads=j.mql_leads.fill_null(0), sqls=j.sqls.fill_null(0), sql_rate=j.sql_rate)
    reps = reps.mutate(acceptance_rate=ibis.ifelse(
        (reps.accepted + reps.rejected) > 0, reps.accepted.cast("float64") / (reps.accepted + reps.rejected),
        ibis.null("float64")))
    reps = reps.order_by([(reps.rep == ALL).desc(), reps.rep])
    rej = d.filter(d.decision == "rejected")
    total = rej.count().to_pyarrow().as_py() or 0
    reasons = rej.group_by(["reason"]).aggregate(rejections=rej.count(),
                                                 to_nurture=(rej.disposition == "nurture").cast("int64").sum(),
                                                 disqualified=(rej.disposition == "disqualified").cast("int64").sum())
    reasons = reasons.mutate(share=reasons.rejections.cast("float64") / total if total else ibis.null("float64"))
    reasons = reasons.order_by([reasons.rejections.desc(), reasons.reason])
    return Report("sales", {"since": since}, {"reps": reps.to_pyarrow(), "reasons": reasons.to_pyarrow()},
                  ["speed to lead: qualified -> first touch, hours (P50 / P95 over touched assignments)",
                   "SLA compliance = met / (met + breached); clocks still running count in neither",
                   "SQL rate: leads assigned at MQL that reached SQL"])
