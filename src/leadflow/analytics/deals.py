"""Deals: open opportunities, won / lost deals, win rate, won amount and sales cycle, per breakdown value.

Definitions (on top of the funnel's, :mod:`leadflow.analytics.funnel`):

* a **deal** is an outcome record (won or lost) of a lead; **closed** = won + lost deals; **win rate** = won /
  closed (deals still open count in neither);
* **opportunities** = leads that reached the opportunity stage (cumulative funnel: a won lead counts even if
  it skipped the stage); **open** = of those, the leads with no outcome recorded;
* **won amount** = the sum of the won deals' amounts, as stored (no currency conversion); **average won
  amount** over the won deals that have an amount;
* **sales cycle** of a won deal = its close time - the lead's first entry into the opportunity stage (stage
  history, superseded rows excluded), in days; only won deals whose lead entered the opportunity stage at or
  before the close count (``cycle_deals``). Median and P90 are linear-interpolation quantiles.

``by`` is a lead breakdown (:data:`leadflow.analytics.funnel.DIMENSIONS`: ``owner``, ``segment`` ...) or
``properties.<name>``, a lead property (e.g. ``properties.manager`` for a team roll-up when the owner's
manager is kept on the lead). A group is the lead's value at report time.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from leadflow.analytics.data import AnalyticsData
from leadflow.analytics.funnel import DIMENSIONS
from leadflow.analytics.report import ALL, NONE, Report
from leadflow.batch.expressions import json_get
from leadflow.core.lifecycle import FUNNEL, Stage

__all__ = ["PROPERTY_PREFIX", "deals"]

PROPERTY_PREFIX = "properties."
DAY = 86400.0
_OPP = FUNNEL.index(Stage.OPPORTUNITY)


def _group(leads: ir.Table, by: str | None) -> ir.StringValue:
    if by is None:
        return ibis.literal(ALL)
    if by in DIMENSIONS:
        value = leads[by]
    elif by.startswith(PROPERTY_PREFIX) and len(by) > len(PROPERTY_PREFIX):
        v = json_get(leads.properties, by[len(PROPERTY_PREFIX):])
        text = ibis.coalesce(v.str, v.cast("string"))
        value = ibis.ifelse(text == "", ibis.null("string"), text)
    else:
        raise ValueError(f"by must be one of {', '.join(DIMENSIONS)} or {PROPERTY_PREFIX}<name>, got {by!r}")
    return ibis.coalesce(value.cast("string"), ibis.literal(NONE))


def _rate(x: ir.NumericValue, y: ir.NumericValue) -> ir.FloatingValue:
    return ibis.ifelse(y > 0, x.cast("float64") / y.cast("float64"), ibis.null("float64"))


def deals(data: AnalyticsData, *, by: str | None = None) -> Report:
    """Table ``deals``: group, leads, opportunities, open, won, lost, closed, win_rate, won_amount,
    avg_won_amount, cycle_deals, median_cycle_days, p90_cycle_days - one row per breakdown value."""
    r = data.reach()
    r = r.mutate(group=_group(r, by))
    groups = r.select(g_id=r.id, g=r.group)
    oc = data.outcomes
    has = oc.group_by("lead_id").aggregate(n_outcomes=oc.count())
    j = r.left_join(has, r.id == has.lead_id)
    is_opp = j.max_idx >= _OPP
    lt = j.select(group=j.group, is_opp=is_opp.cast("int64"), is_open=(is_opp & j.n_outcomes.isnull()).cast("int64"))
    per_lead = lt.group_by("group").aggregate(leads=lt.count(), opportunities=lt.is_opp.sum(),
                                              open=lt.is_open.sum())

    st = data.stages.filter(data.stages.to_stage == Stage.OPPORTUNITY.value)
    first_opp = st.group_by("lead_id").aggregate(opp_t=st.t.min())
    first_opp = first_opp.select(f_id=first_opp.lead_id, opp_t=first_opp.opp_t)
    d = oc.left_join(first_opp, oc.lead_id == first_opp.f_id)
    d = d.join(groups, d.lead_id == groups.g_id)
    won = d.result == "won"
    cycle = ibis.ifelse(won & d.opp_t.notnull() & (d.opp_t <= d.t), (d.t - d.opp_t) / DAY, ibis.null("float64"))
    d = d.mutate(is_won=won.cast("int64"), is_lost=(d.result == "lost").cast("int64"),
                 won_amt=ibis.ifelse(won, d.amount, ibis.null("float64")), cycle=cycle)
    per_deal = d.group_by("g").aggregate(
        won=d.is_won.sum(), lost=d.is_lost.sum(), won_amount=d.won_amt.sum(), avg_won_amount=d.won_amt.mean(),
        cycle_deals=d.cycle.count(), median_cycle_days=d.cycle.quantile(0.5), p90_cycle_days=d.cycle.quantile(0.9))

    t = per_lead.left_join(per_deal, per_lead.group == per_deal.g)
    won_n, lost_n = t.won.fill_null(0), t.lost.fill_null(0)
    out = t.select(group=t.group, leads=t.leads, opportunities=t.opportunities, open=t.open, won=won_n,
                   lost=lost_n, closed=won_n + lost_n, win_rate=_rate(won_n, won_n + lost_n),
                   won_amount=t.won_amount.fill_null(0.0), avg_won_amount=t.avg_won_amount,
                   cycle_deals=t.cycle_deals.fill_null(0), median_cycle_days=t.median_cycle_days,
                   p90_cycle_days=t.p90_cycle_days)
    return Report("deals", {"by": by}, {"deals": out.order_by("group").to_pyarrow()},
                  ["win rate = won / (won + lost) deals; open opportunities count in neither",
                   "sales cycle: first entry into the opportunity stage -> won close, days",
                   "won amounts summed as stored (no currency conversion)"])
