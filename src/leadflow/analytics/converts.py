"""What converts: the pages, assets, forms, offers, ads and emails converters touched more than the others.

Population: every lead (or the leads that reached ``population``, e.g. MQLs); converted: reached ``target``
(default customer; MQL -> SQL: ``population="mql", target="sql"``). A lead *touched* an item when it has an
event on it - before its conversion, for a converter (what happened after cannot have caused it).

Per item, with ``a`` of the ``n1`` leads that touched it converting and ``c`` of the ``n0`` others:

* ``lift`` = (a / n1) / (c / n0), the relative conversion rate (risk ratio) of touchers vs non-touchers;
* its confidence interval: exp(ln(lift) +- z * sqrt(1/a - 1/n1 + 1/c - 1/n0)) (Katz log method), with 0.5
  added to each of the four cells when one of them is 0 (Haldane-Anscombe), so the bounds stay finite;
* ``converter_touch_rate`` = a / converters, ``other_touch_rate`` = (n1 - a) / non-converters;
* items touched by fewer than ``min_support`` leads are left out.

``since`` / ``until`` (dates, inclusive, UTC) keep the leads created in that range (all their touches count).
"""

from __future__ import annotations

from datetime import date
from statistics import NormalDist

import ibis
import ibis.expr.types as ir

from leadflow.analytics.data import AnalyticsData
from leadflow.analytics.report import Report
from leadflow.batch.expressions import json_get
from leadflow.core.lifecycle import FUNNEL, Stage

__all__ = ["KINDS", "OFFER_EVENTS", "converts", "touchpoints"]

OFFER_EVENTS = ("demo_requested", "trial_started", "webinar_registered", "contact_request", "quote_requested",
                "proposal_requested", "meeting_booked", "newsletter_signup")
#: kind -> (event types, property naming the item; None: the event type itself)
KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "page": (("page_view",), ("url",)),
    "asset": (("content_download",), ("asset",)),
    "form": (("form_submit",), ("form",)),
    "offer": (OFFER_EVENTS, ("offer",)),
    "ad": (("ad_click",), ("ad", "campaign")),
    "email": (("email_click",), ("campaign", "email_id")),
}


def _text(v: ir.JSONValue) -> ir.StringValue:
    s = ibis.coalesce(v.str, v.cast("string"))
    return ibis.ifelse(s == "", ibis.null("string"), s)


def touchpoints(data: AnalyticsData, kinds: tuple[str, ...] | None = None) -> ir.Table:
    """``(lead_id, kind, item, t)``: each lead's first touch of each item."""
    ev = data.events
    parts = []
    for kind in kinds or tuple(KINDS):
        types, props = KINDS[kind]
        e = ev.filter(ev.type.isin(list(types)))
        item = ibis.coalesce(*[_text(json_get(e.properties, p)) for p in props])
        if kind == "offer":
            item = ibis.coalesce(item, e.type)
        parts.append(e.select(lead_id=e.lead_id, kind=ibis.literal(kind), item=item.cast("string"), t=e.t))
    tp = ibis.union(*parts) if len(parts) > 1 else parts[0]
    tp = tp.filter(tp.item.notnull())
    return tp.group_by(["lead_id", "kind", "item"]).aggregate(t=tp.t.min())


def converts(data: AnalyticsData, *, target: str | Stage = Stage.CUSTOMER, population: str | Stage | None = None,
             kinds: tuple[str, ...] | None = None, min_support: int = 20, confidence: float = 0.95,
             limit: int | None = None, since: date | None = None, until: date | None = None) -> Report:
    """Table ``items``: kind, item, touched, converted, conversion, other_conversion, lift, ci_low, ci_high,
    converter_touch_rate, other_touch_rate, significant (ci_low > 1 or ci_high < 1); best lift first."""
    stages = list(FUNNEL)
    t_idx = stages.index(Stage(target))
    p_idx = stages.index(Stage(population)) if population else 0
    if p_idx >= t_idx:
        raise ValueError(f"target {Stage(target)} must come after population {Stage(population)} in the funnel")
    for k in kinds or ():
        if k not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {k!r}")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")
    if min_support < 1:
        raise ValueError("min_support must be at least 1")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    data = data.created_between(since, until)
    r = data.reach()
    r = r.filter(r.max_idx >= p_idx)
    conv_t = data.first_reach(t_idx)
    pop = r.left_join(conv_t, r.id == conv_t.lead_id).select(
        p_id=r.id, converted=r.max_idx >= t_idx, conv_t=conv_t.t)
    totals = pop.aggregate(n=pop.count(), c=pop.converted.cast("int64").sum()).to_pyarrow().to_pylist()[0]
    n_all, c_all = int(totals["n"] or 0), int(totals["c"] or 0)
    tp = touchpoints(data, kinds)
    j = tp.join(pop, tp.lead_id == pop.p_id)
    j = j.filter(~j.converted | j.conv_t.isnull() | (j.t < j.conv_t))
    agg = j.group_by(["kind", "item"]).aggregate(touched=j.count(), conv=j.converted.cast("int64").sum())
    agg = agg.filter(agg.touched >= min_support)
    n1 = agg.touched.cast("float64")
    a = agg.conv.cast("float64")
    n0 = ibis.literal(float(n_all)) - n1
    c = ibis.literal(float(c_all)) - a
    b, d = n1 - a, n0 - c
    zero = (a == 0) | (b == 0) | (c == 0) | (d == 0)
    fix = ibis.ifelse(zero, 0.5, 0.0)
    a2, b2, c2, d2 = a + fix, b + fix, c + fix, d + fix
    rr2 = (a2 / (a2 + b2)) / (c2 / (c2 + d2))
    se = (1.0 / a2 - 1.0 / (a2 + b2) + 1.0 / c2 - 1.0 / (c2 + d2)).sqrt()
    p1 = a / n1
    p0 = ibis.ifelse(n0 > 0, c / n0, ibis.null("float64"))
    lift = ibis.ifelse(p0 > 0, p1 / p0, ibis.null("float64"))
    ok = n0 > 0
    ci_low = ibis.ifelse(ok, (rr2.ln() - z * se).exp(), ibis.null("float64"))
    ci_high = ibis.ifelse(ok, (rr2.ln() + z * se).exp(), ibis.null("float64"))
    out = agg.select(
        kind=agg.kind, item=agg.item, touched=agg.touched, converted=agg.conv, conversion=p1,
        other_conversion=p0, lift=lift, ci_low=ci_low, ci_high=ci_high,
        converter_touch_rate=(a / c_all) if c_all else ibis.null("float64"),
        other_touch_rate=(b / (n_all - c_all)) if n_all > c_all else ibis.null("float64"),
    )
    out = out.mutate(significant=((out.ci_low > 1) | (out.ci_high < 1)).fill_null(False))
    out = out.order_by([ibis.desc(out.lift.fill_null(float("inf"))), ibis.desc(out.touched), out.kind, out.item])
    if limit:
        out = out.limit(limit)
    params = {"target": Stage(target).value, "population": Stage(population).value if population else None,
              "kinds": list(kinds or KINDS), "min_support": min_support, "confidence": confidence,
              "since": since, "until": until}
    notes = [f"{n_all} leads in the population, {c_all} converted to {Stage(target).value}",
             "touches of converters count only before their conversion",
             f"lift = conversion of touchers / conversion of the others; {confidence:.0%} CI (Katz log)"]
    return Report("converts", params, {"items": out.to_pyarrow()}, notes)
