"""Funnel and velocity on a hand-built store (both SQLite and PostgreSQL), against hand-computed numbers.

The store (conftest.small_funnel), days counted from 2026-01-01:
  l1 ads  created d4 (Jan 5)  -> mql d9 -> sql d19 -> won d39           furthest: customer
  l2 ads  created d14 (Jan 15) -> mql d15 -> sal d17 -> nurture d29     furthest: sal
  l3 seo  created d31 (Feb 1) -> lead d32                              furthest: lead
  l4 -    created d40 (Feb 10)                                         furthest: subscriber
  l5 seo  created d50 (Feb 20) -> mql d51 -> sql d55 (-> customer d56 superseded)   furthest: sql
"""

from __future__ import annotations

import pytest
from analytics_store import small_funnel

from leadflow.analytics.funnel import funnel, velocity


def _counts(report, group="(all)", cohort="(all)"):
    rows = [r for r in report.rows("counts") if r["group"] == group and r["cohort"] == cohort]
    assert len(rows) == 1
    return rows[0]


def _rate(report, a, b, group="(all)", cohort="(all)"):
    rows = [r for r in report.rows("conversions")
            if (r["group"], r["cohort"], r["from_stage"], r["to_stage"]) == (group, cohort, a, b)]
    assert len(rows) == 1
    return rows[0]


def test_funnel_counts_and_every_pair(builder):
    small_funnel(builder)
    with builder.open() as data:
        rep = funnel(data)
    c = _counts(rep)
    assert c["leads"] == 5
    assert [c[s] for s in ("subscriber", "lead", "mql", "sal", "sql", "opportunity", "customer")] == [5, 4, 3, 3, 2, 1, 1]
    r = _rate(rep, "mql", "sql")
    assert (r["from_count"], r["to_count"]) == (3, 2) and r["rate"] == pytest.approx(2 / 3)
    assert _rate(rep, "lead", "customer")["rate"] == pytest.approx(1 / 4)
    assert _rate(rep, "subscriber", "lead")["rate"] == pytest.approx(4 / 5)
    assert len(rep.rows("conversions")) == 21  # 7 stages -> 7*6/2 pairs


def test_funnel_by_source_and_cohort(builder):
    small_funnel(builder)
    with builder.open() as data:
        by_source = funnel(data, by="source")
        by_month = funnel(data, cohort="month")
        both = funnel(data, by="source", cohort="month")
    ads, seo, none = _counts(by_source, "ads"), _counts(by_source, "seo"), _counts(by_source, "(none)")
    assert [ads[s] for s in ("leads", "mql", "sal", "sql", "customer")] == [2, 2, 2, 1, 1]
    assert [seo[s] for s in ("leads", "lead", "mql", "sql", "opportunity")] == [2, 2, 1, 1, 0]
    assert none["leads"] == 1 and none["lead"] == 0
    assert _rate(by_source, "mql", "sql", "seo")["rate"] == 1.0
    assert _rate(by_source, "opportunity", "customer", "seo")["rate"] is None  # 0 reached: no rate
    jan, feb = _counts(by_month, cohort="2026-01"), _counts(by_month, cohort="2026-02")
    assert (jan["leads"], jan["mql"], jan["customer"]) == (2, 2, 1)
    assert (feb["leads"], feb["lead"], feb["mql"], feb["sql"]) == (3, 2, 1, 1)
    assert _counts(both, "seo", "2026-02")["leads"] == 2
    assert {(r["group"], r["cohort"]) for r in both.rows("counts")} == {
        ("ads", "2026-01"), ("seo", "2026-02"), ("(none)", "2026-02")}


def test_funnel_by_owner_and_segment(builder):
    small_funnel(builder)
    with builder.open() as data:
        owner = funnel(data, by="owner")
        segment = funnel(data, by="segment")
    assert _counts(owner, "ann")["leads"] == 2 and _counts(owner, "ann")["sql"] == 2
    assert _counts(segment, "smb")["leads"] == 1


def test_velocity_median_and_p90(builder):
    small_funnel(builder)
    with builder.open() as data:
        rep = velocity(data)
    v = {r["stage"]: r for r in rep.rows()}
    # time in subscriber: l1 5, l2 1, l3 1, l5 1 (l4 never left) -> median 1, P90 1 + 0.7 * (5 - 1)
    assert (v["subscriber"]["entered"], v["subscriber"]["advanced"]) == (5, 4)
    assert v["subscriber"]["median_days"] == pytest.approx(1.0)
    assert v["subscriber"]["p90_days"] == pytest.approx(3.8)
    # time in MQL: l1 10, l2 2, l5 4 -> median 4, P90 4 + 0.8 * 6
    assert (v["mql"]["entered"], v["mql"]["advanced"]) == (3, 3)
    assert v["mql"]["median_days"] == pytest.approx(4.0)
    assert v["mql"]["p90_days"] == pytest.approx(8.8)
    # time in SQL: l1 20 (to the won outcome); l5 never moved on (its customer row is superseded)
    assert (v["sql"]["entered"], v["sql"]["advanced"]) == (2, 1)
    assert v["sql"]["median_days"] == pytest.approx(20.0)
    # time to MQL from creation: 5, 1, 1 -> median 1, P90 1 + 0.8 * 4; to customer: 35
    assert v["mql"]["median_days_to"] == pytest.approx(1.0)
    assert v["mql"]["p90_days_to"] == pytest.approx(4.2)
    assert v["customer"]["median_days_to"] == pytest.approx(35.0)
    assert v["customer"]["advanced"] == 0 and v["customer"]["median_days"] is None


def test_velocity_by_source(builder):
    small_funnel(builder)
    with builder.open() as data:
        rep = velocity(data, by="source")
    v = {(r["group"], r["stage"]): r for r in rep.rows()}
    assert v[("ads", "mql")]["median_days"] == pytest.approx(6.0)  # 10 and 2
    assert v[("seo", "mql")]["median_days"] == pytest.approx(4.0)


def test_bad_breakdown_is_refused(sqlite_builder):
    small_funnel(sqlite_builder)
    with sqlite_builder.open() as data, pytest.raises(ValueError, match="by must be one of"):
        funnel(data, by="email")


def test_funnel_date_range_keeps_the_leads_created_in_it(builder):
    """Jan 15 .. Feb 10 (inclusive) holds l2 (created Jan 15), l3 (Feb 1) and l4 (Feb 10, the last day)."""
    from datetime import date

    small_funnel(builder)
    with builder.open() as data:
        rng = funnel(data, since=date(2026, 1, 15), until=date(2026, 2, 10))
        after = funnel(data, since=date(2026, 2, 11))
        before = funnel(data, until=date(2026, 1, 14), by="source", cohort="month")
        empty = funnel(data, since=date(2027, 1, 1))
    c = _counts(rng)
    # l2 reached SAL (so lead and MQL too), l3 lead, l4 subscriber
    assert [c[s] for s in ("leads", "subscriber", "lead", "mql", "sal", "sql", "customer")] == [3, 3, 2, 1, 1, 0, 0]
    assert _rate(rng, "lead", "mql")["rate"] == pytest.approx(1 / 2)
    assert rng.params["since"].isoformat() == "2026-01-15" and any("2026-02-10" in n for n in rng.notes)
    a = _counts(after)  # only l5 (Feb 20): its SQL counts, its superseded customer row still does not
    assert (a["leads"], a["mql"], a["sql"], a["customer"]) == (1, 1, 1, 0)
    # only l1 (Jan 5): the customer it became on day 39 counts, after the range's end (leads, not events, are cut)
    assert [(r["group"], r["cohort"], r["leads"], r["customer"]) for r in before.rows("counts")] == [
        ("ads", "2026-01", 1, 1)]
    assert empty.rows("counts") == []


def test_velocity_date_range(builder):
    from datetime import date

    small_funnel(builder)
    with builder.open() as data:
        rep = velocity(data, since=date(2026, 1, 1), until=date(2026, 1, 31))  # l1 and l2 only
    v = {r["stage"]: r for r in rep.rows()}
    # time in MQL: l1 10, l2 2 -> median 6, P90 2 + 0.9 * 8; l5 (February) left out
    assert (v["mql"]["entered"], v["mql"]["advanced"]) == (2, 2)
    assert v["mql"]["median_days"] == pytest.approx(6.0)
    assert v["mql"]["p90_days"] == pytest.approx(9.2)
    assert v["subscriber"]["entered"] == 2 and "lead" not in v  # l3 (the only 'lead' entry) is in February


def test_date_range_refuses_since_after_until(sqlite_builder):
    from datetime import date

    small_funnel(sqlite_builder)
    with sqlite_builder.open() as data, pytest.raises(ValueError, match="must be on or before"):
        funnel(data, since=date(2026, 3, 1), until=date(2026, 2, 1))
