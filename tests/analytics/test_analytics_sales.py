"""Sales analytics from the hand-off tables: speed to lead, SLA compliance, acceptance, reasons, SQL rate.

On analytics_store.small_funnel (l1 and l5 reached SQL, l2 SAL, l3 lead), hours after qualification:
  a1 l1 ann  touched +2h,  decided, no breach
  a2 l2 bob  touched +30h, first-touch SLA breached
  a3 l5 ann  touched +6h
  a4 l3 bob  not touched, nothing breached yet (counts in neither side of the compliance)
Decisions: ann accepted l1 and rejected l5 (bad_timing -> nurture); bob rejected l2 (bad_timing -> nurture)
and l3 (no_budget -> disqualified).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from analytics_store import day, small_funnel

from leadflow.analytics.sales import sales
from leadflow.store.handoff_tables import Assignment, Decision


def _assign(b, key, rep, q, touch_h=None, breached=None, decided=None):
    b.row(Assignment, lead_id=b.ids[key], open_lead_id=None, rep_key=rep, role="sdr", stage="mql",
          method="rotation", pool=None, territory=None, segment=None, explanation="", details={}, recycled=False,
          qualified_at=day(q), assigned_at=day(q), first_touch_due=day(q) + timedelta(hours=24),
          decision_due=None, first_touch_at=day(q) + timedelta(hours=touch_h) if touch_h is not None else None,
          decided_at=day(decided) if decided is not None else None, decision=None,
          first_touch_breached_at=day(breached) if breached is not None else None, decision_breached_at=None,
          closed_at=None, closed_reason=None, assigned_by=None)


def _decide(b, key, rep, decision, at, reason=None, disposition=None):
    b.row(Decision, lead_id=b.ids[key], assignment_id=None, rep_key=rep, role="sdr", decision=decision,
          reason_code=reason, disposition=disposition, note=None, recycled=False, at=day(at))


def test_sales_per_rep(builder):
    b = small_funnel(builder)
    _assign(b, "l1", "ann", 9, touch_h=2, decided=10)
    _assign(b, "l2", "bob", 15, touch_h=30, breached=16)
    _assign(b, "l5", "ann", 51, touch_h=6)
    _assign(b, "l3", "bob", 32)
    _decide(b, "l1", "ann", "accepted", 10)
    _decide(b, "l5", "ann", "rejected", 52, "bad_timing", "nurture")
    _decide(b, "l2", "bob", "rejected", 17, "bad_timing", "nurture")
    _decide(b, "l3", "bob", "rejected", 33, "no_budget", "disqualified")
    b.commit()
    with b.open() as data:
        rep = sales(data)
    reps = {r["rep"]: r for r in rep.rows("reps")}
    assert list(reps) == ["(all)", "ann", "bob"]
    ann, bob, total = reps["ann"], reps["bob"], reps["(all)"]
    assert ann["speed_p50_hours"] == pytest.approx(4.0)
    assert ann["speed_p95_hours"] == pytest.approx(2 + 0.95 * 4)
    assert total["speed_p50_hours"] == pytest.approx(6.0)
    assert total["speed_p95_hours"] == pytest.approx(6 + 0.9 * 24)
    assert (ann["first_touch_met"], ann["first_touch_breached"], ann["first_touch_compliance"]) == (2, 0, 1.0)
    assert (bob["first_touch_met"], bob["first_touch_breached"], bob["first_touch_compliance"]) == (0, 1, 0.0)
    assert total["first_touch_compliance"] == pytest.approx(2 / 3)
    assert ann["decision_compliance"] == 1.0 and bob["decision_compliance"] is None
    assert (ann["mql_leads"], ann["sqls"], ann["sql_rate"]) == (2, 2, 1.0)
    assert (bob["sql_rate"], total["sql_rate"]) == (0.0, 0.5)
    assert (ann["accepted"], ann["rejected"], ann["acceptance_rate"]) == (1, 1, 0.5)
    assert (bob["acceptance_rate"], total["acceptance_rate"]) == (0.0, 0.25)
    reasons = {r["reason"]: r for r in rep.rows("reasons")}
    assert (reasons["bad_timing"]["rejections"], reasons["bad_timing"]["to_nurture"]) == (2, 2)
    assert reasons["bad_timing"]["share"] == pytest.approx(2 / 3)
    assert (reasons["no_budget"]["rejections"], reasons["no_budget"]["disqualified"]) == (1, 1)


def test_sales_since(sqlite_builder):
    b = small_funnel(sqlite_builder)
    _assign(b, "l1", "ann", 9, touch_h=2)
    _assign(b, "l5", "ann", 51, touch_h=6)
    b.commit()
    with b.open() as data:
        rep = sales(data, since=day(40))
    ann = {r["rep"]: r for r in rep.rows("reps")}["ann"]
    assert (ann["assignments"], ann["speed_p50_hours"]) == (1, pytest.approx(6.0))
