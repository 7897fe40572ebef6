"""Channel economics: spend per channel and period against the leads, MQLs, SQLs and customers it bought.

A spend row (:mod:`leadflow.store.spend_tables`) covers one channel and one period (inclusive dates). The
leads it paid for are the leads whose *channel key* equals the row's channel and whose creation date
(UTC) falls in the period. The channel key is the lead's ``source`` (default), ``source/medium`` or
``campaign``. Each of those leads counts as an MQL / SQL / customer when it ever reached that stage (the
cumulative funnel of :mod:`leadflow.analytics.funnel`), whenever that happened: the cohort of the period.

* cost per lead / MQL / SQL / customer = spend / that count (NULL when the count is 0);
* lead value = average won amount x lead-to-customer conversion of those leads (what one lead of the
  channel is worth); a channel is **flagged** when its cost per lead exceeds its lead value.

Periods of one channel should not overlap (a lead in two overlapping periods is paid for twice). Amounts are
not converted between currencies: spend is summed per (channel, currency), won amounts as they are stored.
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from leadflow.analytics.data import AnalyticsData
from leadflow.analytics.report import Report
from leadflow.core.lifecycle import FUNNEL, Stage

__all__ = ["CHANNEL_KEYS", "channel_economics", "channel_key_expr"]

CHANNEL_KEYS = ("source", "source/medium", "campaign")
_IDX = {s: FUNNEL.index(s) for s in (Stage.MQL, Stage.SQL, Stage.CUSTOMER)}


def channel_key_expr(leads: ir.Table, key: str) -> ir.StringValue:
    if key == "source":
        return leads.source
    if key == "campaign":
        return leads.campaign
    if key == "source/medium":
        return ibis.ifelse(leads.medium.isnull(), leads.source, leads.source.concat("/", leads.medium))
    raise ValueError(f"channel key must be one of {', '.join(CHANNEL_KEYS)}, got {key!r}")


def _div(a: ir.NumericValue, b: ir.NumericValue) -> ir.FloatingValue:
    return ibis.ifelse(b > 0, a.cast("float64") / b.cast("float64"), ibis.null("float64"))


def _costs(t: ir.Table) -> ir.Table:
    avg_won = _div(t.won_amount, t.won_deals)
    win_rate = _div(t.customers, t.leads)
    value = ibis.ifelse(t.leads > 0, ibis.ifelse(t.won_deals > 0, avg_won * win_rate, 0.0), ibis.null("float64"))
    cpl = _div(t.amount, t.leads)
    return t.mutate(
        cost_per_lead=cpl, cost_per_mql=_div(t.amount, t.mqls), cost_per_sql=_div(t.amount, t.sqls),
        cost_per_customer=_div(t.amount, t.customers), avg_won_amount=avg_won, lead_to_customer=win_rate,
        lead_value=value, flagged=(cpl > value).fill_null(False) & t.leads.notnull())


def channel_economics(data: AnalyticsData, *, key: str = "source", since: date | None = None,
                      until: date | None = None) -> Report:
    """Tables ``channels`` (one row per channel and currency, all its periods) and ``periods`` (per spend row)."""
    r = data.reach()
    won = data.outcomes.filter(data.outcomes.result == "won")
    won = won.group_by("lead_id").aggregate(won_amount=won.amount.sum(), won_deals=won.count())
    r = r.left_join(won, r.id == won.lead_id)
    leads = r.select(
        l_id=r.id, l_key=channel_key_expr(r, key),
        l_date=r.created_t.floor().cast("int64").as_timestamp("s").date(),
        is_mql=(r.max_idx >= _IDX[Stage.MQL]).cast("int64"), is_sql=(r.max_idx >= _IDX[Stage.SQL]).cast("int64"),
        is_customer=(r.max_idx >= _IDX[Stage.CUSTOMER]).cast("int64"),
        won_amount=r.won_amount.fill_null(0.0), won_deals=r.won_deals.fill_null(0).cast("int64"))
    sp = data.spend
    if since is not None:
        sp = sp.filter(sp.period_end >= since)
    if until is not None:
        sp = sp.filter(sp.period_start <= until)
    j = sp.left_join(leads, [sp.channel == leads.l_key, leads.l_date >= sp.period_start,
                             leads.l_date <= sp.period_end])
    per = j.group_by([sp.id, sp.channel, sp.currency, sp.period_start, sp.period_end, sp.amount]).aggregate(
        leads=j.l_id.count(), mqls=j.is_mql.sum().fill_null(0), sqls=j.is_sql.sum().fill_null(0),
        customers=j.is_customer.sum().fill_null(0), won_deals=j.won_deals.sum().fill_null(0),
        won_amount=j.won_amount.sum().fill_null(0.0))
    tot = per.group_by(["channel", "currency"]).aggregate(
        periods=per.count(), amount=per.amount.sum(), leads=per.leads.sum(), mqls=per.mqls.sum(),
        sqls=per.sqls.sum(), customers=per.customers.sum(), won_deals=per.won_deals.sum(),
        won_amount=per.won_amount.sum())
    cols = ["amount", "leads", "mqls", "sqls", "customers", "cost_per_lead", "cost_per_mql", "cost_per_sql",
            "cost_per_customer", "won_deals", "won_amount", "avg_won_amount", "lead_to_customer", "lead_value",
            "flagged"]
    channels = _costs(tot).order_by(["channel", "currency"]).select("channel", "currency", "periods", *cols)
    periods = _costs(per).order_by(["channel", "period_start", "currency"]).select(
        "channel", "currency", "period_start", "period_end", *cols)
    ch = channels.to_pyarrow()
    flagged = [row["channel"] for row in ch.select(["channel", "flagged"]).to_pylist() if row["flagged"]]
    notes = [f"leads matched to spend by their {key} and creation date in the period",
             "lead value = average won amount x lead-to-customer conversion; flagged: cost per lead > lead value"]
    if flagged:
        notes.append("cost per lead above lead value: " + ", ".join(flagged))
    return Report("channels", {"key": key, "since": since, "until": until},
                  {"channels": ch, "periods": periods.to_pyarrow()}, notes)
