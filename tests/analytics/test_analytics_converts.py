"""What converts: lift with confidence intervals and minimum support, against hand-computed numbers.

Ten leads created on day 0; c1..c4 won on day 20 (converters), n1..n6 did not convert.
  /pricing page: c1 c2 c3 n1 n2 before day 20; c4 on day 25 (after converting: not counted)
  demo form:     c1 c2                       (support 2)
  ebook asset:   c1 n3 n4 n5
  trial offer:   c1 c2 c3 only               (a zero cell: 0.5 added to each cell for the interval)
"""

from __future__ import annotations

import math

import pytest
from analytics_store import StoreBuilder

from leadflow.analytics.converts import converts

Z = 1.959963984540054


def build(b: StoreBuilder) -> StoreBuilder:
    for k in ("c1", "c2", "c3", "c4"):
        b.lead(k, 0, "customer")
        b.stage(k, "mql", 1, "subscriber")
        b.stage(k, "sql", 2, "mql", actor="user")
        b.outcome(k, "won", 20, amount=100.0)
    for k in ("n1", "n2", "n3", "n4", "n5", "n6"):
        b.lead(k, 0, "subscriber")
    b.stage("n1", "mql", 1, "subscriber")
    b.stage("n2", "mql", 1, "subscriber")
    for k in ("c1", "c2", "c3", "n1", "n2"):
        b.event(k, "page_view", 10, url="/pricing")
    b.event("c4", "page_view", 25, url="/pricing")
    for k in ("c1", "c2"):
        b.event(k, "form_submit", 5, form="demo")
    for k in ("c1", "n3", "n4", "n5"):
        b.event(k, "content_download", 5, asset="ebook", asset_type="ebook")
    for k in ("c1", "c2", "c3"):
        b.event(k, "trial_started", 6, plan="starter")
    b.event("c1", "page_view", 11, url="/pricing")  # a second view: one lead still
    return b.commit()


def ci(a, b, c, d):
    rr = (a / (a + b)) / (c / (c + d))
    se = math.sqrt(1 / a - 1 / (a + b) + 1 / c - 1 / (c + d))
    return math.exp(math.log(rr) - Z * se), math.exp(math.log(rr) + Z * se)


def test_lift_ci_and_support(builder):
    build(builder)
    with builder.open() as data:
        rep = converts(data, min_support=3)
    items = {(r["kind"], r["item"]): r for r in rep.rows()}
    assert ("form", "demo") not in items  # touched by 2 < 3
    pricing = items[("page", "/pricing")]
    # touched 5 (c4's view came after its conversion), 3 converted; others: 1 of 5
    assert (pricing["touched"], pricing["converted"]) == (5, 3)
    assert pricing["conversion"] == pytest.approx(0.6) and pricing["other_conversion"] == pytest.approx(0.2)
    assert pricing["lift"] == pytest.approx(3.0)
    lo, hi = ci(3, 2, 1, 4)
    assert (pricing["ci_low"], pricing["ci_high"]) == (pytest.approx(lo), pytest.approx(hi))
    assert pricing["converter_touch_rate"] == pytest.approx(3 / 4)
    assert pricing["other_touch_rate"] == pytest.approx(2 / 6)
    assert pricing["significant"] is False  # lo < 1 with five leads
    ebook = items[("asset", "ebook")]
    assert (ebook["touched"], ebook["converted"], ebook["lift"]) == (4, 1, pytest.approx(0.25 / 0.5))
    trial = items[("offer", "trial_started")]
    assert trial["lift"] == pytest.approx(1.0 / (1 / 7))
    lo, hi = ci(3.5, 0.5, 1.5, 6.5)
    assert (trial["ci_low"], trial["ci_high"]) == (pytest.approx(lo), pytest.approx(hi))
    assert [r["item"] for r in rep.rows()][:2] == ["trial_started", "/pricing"]  # best lift first


def test_mql_to_sql(sqlite_builder):
    build(sqlite_builder)
    with sqlite_builder.open() as data:
        rep = converts(data, population="mql", target="sql", min_support=1, kinds=("page",))
    # population: the six MQLs (c1..c4, n1, n2); SQL at day 2, so the day-10 pricing views come too late
    assert "6 leads in the population, 4 converted to sql" in rep.notes[0]
    pricing = {r["item"]: r for r in rep.rows()}["/pricing"]
    assert (pricing["touched"], pricing["converted"], pricing["lift"]) == (2, 0, 0.0)
    with pytest.raises(ValueError, match="must come after"):
        converts(data, population="sql", target="mql")
