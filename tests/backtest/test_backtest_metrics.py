"""Backtest figures from first MQLs and labels, the threshold sweep and the won-vs-lost ranking, on small
hand-made data whose answers are known."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from leadflow.batch.source import connect, from_arrow
from leadflow.core.scoring.spec import ScoringModel
from leadflow.core.timeutil import DAY
from leadflow.predictive import backtest as bt
from leadflow.predictive import criteria as cr
from leadflow.predictive import thresholds as th

pytestmark = pytest.mark.filterwarnings("ignore:fetch_arrow_table:DeprecationWarning")

MON = datetime(2026, 3, 2, tzinfo=UTC).timestamp()  # a Monday


def _firsts(rows):
    return pa.table({"lead_id": [r[0] for r in rows], "mql_t": [r[1] for r in rows],
                     "event_id": [None] * len(rows), "criterion": [None] * len(rows),
                     "via": ["batch"] * len(rows)}, schema=bt.FIRST_MQL_SCHEMA)


def _labels(rows):
    return pa.table({"lead_id": [r[0] for r in rows], "conv_t": [r[1] for r in rows]}, schema=bt.LABEL_SCHEMA)


def test_weekly_precision_recall_and_lead_time():
    firsts = _firsts([
        ("a", MON + 1 * DAY),   # MQL week 1, converts 10 days later (week 2): caught, 10 days
        ("b", MON + 2 * DAY),   # MQL week 1, never converts
        ("c", MON + 8 * DAY),   # MQL week 2, converted before: not an MQL, not caught
        ("d", None),            # converts in week 2 without an MQL: missed
        ("e", MON + 9 * DAY),   # MQL week 2, converts 30 days later (outside the period)
        ("f", MON - 3 * DAY),   # MQL before the period: not counted, but catches its conversion in week 1
    ])
    labels = _labels([("a", MON + 11 * DAY), ("c", MON + 7.5 * DAY), ("d", MON + 8 * DAY),
                      ("e", MON + 39 * DAY), ("f", MON + 4 * DAY)])
    con = connect()
    res = bt.metrics(con, firsts, labels, start=MON, end=MON + 14 * DAY)
    weeks = {w["week"]: w for w in res.weeks}
    w1, w2 = weeks["2026-03-02"], weeks["2026-03-09"]
    assert (w1["mqls"], w1["mqls_converted"], w1["converters"], w1["caught"]) == (2, 1, 1, 1)
    assert w1["precision"] == 0.5 and w1["recall"] == 1.0 and w1["median_lead_days"] == pytest.approx(7.0)
    assert (w2["mqls"], w2["mqls_converted"], w2["converters"], w2["caught"]) == (1, 1, 3, 1)
    assert w2["recall"] == pytest.approx(1 / 3) and w2["median_lead_days"] == pytest.approx(10.0)
    t = res.totals
    assert (t["mqls"], t["mqls_converted"], t["converters"], t["caught"]) == (3, 2, 4, 2)
    assert t["mqls_per_week"] == pytest.approx(1.5)
    # a 20-day horizon: e's conversion (30 days after) no longer counts for its MQL
    res = bt.metrics(con, firsts, labels, start=MON, end=MON + 14 * DAY, horizon_days=20)
    assert (res.totals["mqls"], res.totals["mqls_converted"]) == (3, 1)
    json.dumps(res.as_dict())  # serialisable
    con.disconnect()


def test_compare_counts_leads_only_one_model_qualifies():
    con = connect()
    labels = _labels([("a", MON + 5 * DAY)])
    a = bt.metrics(con, _firsts([("a", MON), ("b", MON)]), labels, start=MON, end=MON + 7 * DAY)
    b = bt.metrics(con, _firsts([("a", None), ("b", MON + DAY)]), labels, start=MON, end=MON + 7 * DAY)
    c = bt.compare(a, b)
    assert (c["mql_only_a"], c["mql_only_b"], c["caught_only_a"], c["caught_only_b"]) == (1, 0, 1, 0)
    con.disconnect()


# ------------------------------------------------------------------------------ the sweep

SWEEP_MODEL = ScoringModel.model_validate({
    "fit": {"grades": {"A": 30, "B": 20, "C": 10}},
    "engagement": {"ceiling": 100, "rules": [{"id": "pv", "event": "page_view", "points": 10}]},
    "lifecycle": {"mql": {"any_of": [{"engagement_at_least": 30}, {"event_in": ["demo_requested"]}]}},
})


def _sweep_store():
    # lead i does i page views one day apart; lead "d" requests a demo at once
    ev = {"id": [], "workspace_id": [], "lead_id": [], "type": [], "t": []}
    for i in range(1, 6):
        for k in range(i):
            for col, v in (("id", f"e{i}{k}"), ("workspace_id", "w"), ("lead_id", f"l{i}"), ("type", "page_view"),
                           ("t", MON + k * DAY)):
                ev[col].append(v)
    for col, v in (("id", "ed"), ("workspace_id", "w"), ("lead_id", "d"), ("type", "demo_requested"), ("t", MON)):
        ev[col].append(v)
    leads = {"id": ["l1", "l2", "l3", "l4", "l5", "d"], "workspace_id": ["w"] * 6, "email": ["x@y.io"] * 6}
    return from_arrow(leads, {"id": ["a"], "workspace_id": ["w"]}, ev, "w")


def test_sweep_moves_only_engagement_thresholds_and_matches_backtests():
    labels = _labels([("l5", MON + 20 * DAY), ("l3", MON + 20 * DAY), ("d", MON + 9 * DAY)])
    with _sweep_store() as store:
        rows = th.sweep(SWEEP_MODEL, store, labels, grid=[-10, 0, 10, 20, 30], start=MON, end=MON + 14 * DAY)
        by = {r.delta: r for r in rows}
        # threshold 20: leads 2..5 cross it, plus the demo request; 30: 3..5; 50: only 5; 60: none of them
        assert [by[d].mqls for d in (-10, 0, 20, 30)] == [5, 4, 2, 1]
        assert by[0].thresholds == (30.0, None) and by[20].thresholds == (50.0, None)
        assert by[20].precision == 1.0 and by[20].recall == 1.0  # d (the demo) and l5; l3 converts out of range
        assert by[30].caught == 1 and by[30].converters == 1
        for d in (-10, 0, 20):
            res = bt.backtest(th.shifted_model(SWEEP_MODEL, d), store, labels, start=MON, end=MON + 14 * DAY)
            assert (res.totals["mqls"], res.totals["mqls_converted"], res.totals["caught"]) == (
                by[d].mqls, by[d].mqls_converted, by[d].caught)
        cap = th.suggest_threshold(SWEEP_MODEL, store, labels, capacity=1.0, grid=[-10, 0, 10, 20, 30],
                                   start=MON, end=MON + 14 * DAY)
        assert cap.chosen is not None and cap.chosen.delta == 20  # 2 MQLs in 2 weeks
        prec = th.suggest_threshold(SWEEP_MODEL, store, labels, precision=0.75, grid=[-10, 0, 10, 20, 30],
                                    start=MON, end=MON + 14 * DAY)
        # threshold 20: 3 of 5 MQLs convert (l3, l5, d); 30: 3 of 4 - the lowest with 75%
        assert prec.chosen is not None and prec.chosen.delta == 0 and prec.chosen.precision == 0.75
        with pytest.raises(ValueError):
            th.suggest_threshold(SWEEP_MODEL, store, labels)


def test_shifted_model_keeps_other_criteria():
    m = th.shifted_model(SWEEP_MODEL, 5)
    assert [c.engagement_at_least for c in m.lifecycle.mql.any_of] == [35, None]
    assert m.lifecycle.mql.any_of[1].event_in == ("demo_requested",)


# ------------------------------------------------------------------------------ won vs lost


def test_wilson_interval():
    lo, hi = cr.wilson(50, 100)
    assert lo == pytest.approx(0.4038, abs=1e-4) and hi == pytest.approx(0.5962, abs=1e-4)
    assert cr.wilson(0, 10)[0] == 0.0 and cr.wilson(10, 10)[1] == 1.0
    assert cr.wilson(0, 0) == (0.0, 1.0)


def test_ranking_finds_the_separating_features_and_ignores_later_behaviour():
    n = 80
    leads = {"id": [], "workspace_id": [], "email": [], "seniority": [], "account_id": []}
    ev = {"id": [], "workspace_id": [], "lead_id": [], "type": [], "t": []}
    oc = {"lead_id": [], "won": [], "closed_t": []}
    for i in range(n):
        lid = f"l{i:03d}"
        vp = i % 2 == 0
        won = (i % 4 == 0 or i % 8 == 2) if vp else (i % 8 == 1)  # vp: 75% won; others: 25% won
        leads["id"].append(lid)
        leads["workspace_id"].append("w")
        leads["email"].append(f"p{i}@gmail.com" if i % 5 == 0 else f"p{i}@corp.io")
        leads["seniority"].append("VP" if vp else "staff")
        leads["account_id"].append(None)
        # winners requested a demo before the close; everyone "renewal_call"s after it (must not count)
        for k, (etype, dt) in enumerate([("demo_requested", -5 * DAY)] * won + [("renewal_call", 5 * DAY)]):
            for col, v in (("id", f"{lid}-{k}"), ("workspace_id", "w"), ("lead_id", lid), ("type", etype),
                           ("t", MON + dt)):
                ev[col].append(v)
        oc["lead_id"].append(lid)
        oc["won"].append(won)
        oc["closed_t"].append(MON)
    outcomes = pa.table(oc, schema=cr.OUTCOME_SCHEMA)
    model = ScoringModel.model_validate({
        "fit": {"grades": {"A": 30, "B": 20, "C": 10}},
        "engagement": {"rules": [{"id": "demo", "event": "demo_requested", "points": 30}]},
        "lifecycle": {"mql": {"any_of": [{"engagement_at_least": 30}]}},
    })
    with from_arrow(leads, {"id": ["a"], "workspace_id": ["w"]}, ev, "w") as store:
        summary, feats = cr.rank_features(store, outcomes, model, min_support=10)
    assert summary["leads"] == n and summary["won"] == 40
    by = {(f.kind, f.field, f.value): f for f in feats}
    demo = by[("event", "demo_requested", "")]
    assert demo.n == 40 and demo.rate == 1.0 and demo.significant and demo.points > 0
    assert by[("rule", "demo", "")].current_points == 30
    assert ("event", "renewal_call", "") not in by  # after the close: never counted
    vp = by[("fit", "lead.seniority", "vp")]
    assert vp.n == 40 and vp.won == 30 and math.isclose(vp.lift, 1.5) and vp.significant and vp.points == 6
    staff = by[("fit", "lead.seniority", "staff")]
    assert math.isclose(staff.lift, 0.5) and staff.significant and staff.points == -10
    assert feats[0].field in ("demo_requested", "demo")  # the clearest separation ranks first
    snippet = cr.suggest_yaml(feats, model)
    assert "lead.seniority" in snippet and "# rule demo:" in snippet
    assert "did_demo_requested" not in snippet  # the model already scores demo requests
    import yaml

    parsed = yaml.safe_load(snippet)
    assert all("points" in r for r in parsed["fit"]["rules"])


def test_ranking_without_both_outcomes_is_empty():
    outcomes = pa.table({"lead_id": ["l0"], "won": [True], "closed_t": [MON]}, schema=cr.OUTCOME_SCHEMA)
    with from_arrow({"id": ["l0"], "workspace_id": ["w"], "email": ["a@b.io"]}, {"id": ["a"], "workspace_id": ["w"]},
                    {"id": ["e"], "workspace_id": ["w"], "lead_id": ["l0"], "type": ["x"], "t": [MON]}, "w") as store:
        summary, feats = cr.rank_features(store, outcomes)
    assert feats == [] and summary["base_rate"] == 1.0
