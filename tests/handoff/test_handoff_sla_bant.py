"""SLA business-hours arithmetic (weekends, holidays, time zones, DST), BANT and the SDR workflow (pure)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadflow.core.handoff.bant import (
    BantRecord,
    Criterion,
    CriterionRecord,
    CriterionState,
    SqlRule,
    evaluate,
    validate_details,
)
from leadflow.core.handoff.metrics import distribution, percentile, speed_to_lead
from leadflow.core.handoff.sla import BusinessCalendar, SlaConfig, SlaPolicy, start_clock
from leadflow.core.handoff.team import TeamError, WorkingHours
from leadflow.core.handoff.workflow import (
    Disposition,
    IllegalStatus,
    RejectReason,
    check_status,
    parse_reason,
    plan_rejection,
)
from leadflow.core.lifecycle import LeadStatus, Stage

BERLIN = WorkingHours("Europe/Berlin", start=time(9), end=time(17))
NY = WorkingHours("America/New_York", start=time(9), end=time(17))


def cal(hours=BERLIN, holidays=()):
    return BusinessCalendar(hours, frozenset(holidays))


def local(tz, *args):
    return datetime(*args, tzinfo=ZoneInfo(tz))


def test_within_a_day_and_over_a_weekend():
    c = cal()
    # Tuesday 10:00 Berlin + 4h = 14:00
    assert c.add(local("Europe/Berlin", 2026, 3, 10, 10), 4) == local("Europe/Berlin", 2026, 3, 10, 14)
    # Friday 15:00 + 4h -> 2h Friday, 2h Monday -> Monday 11:00
    assert c.add(local("Europe/Berlin", 2026, 3, 13, 15), 4) == local("Europe/Berlin", 2026, 3, 16, 11)
    # Saturday night assignment: clock starts Monday 09:00
    assert c.add(local("Europe/Berlin", 2026, 3, 14, 23), 1) == local("Europe/Berlin", 2026, 3, 16, 10)
    # before opening
    assert c.add(local("Europe/Berlin", 2026, 3, 10, 7), 8) == local("Europe/Berlin", 2026, 3, 10, 17)


def test_holidays_are_skipped():
    c = cal(holidays=[date(2026, 4, 3), date(2026, 4, 6)])  # Good Friday, Easter Monday
    assert c.add(local("Europe/Berlin", 2026, 4, 2, 16), 2) == local("Europe/Berlin", 2026, 4, 7, 10)


def test_dst_spring_forward_and_fall_back():
    c = cal()
    # Berlin switches on Sunday 2026-03-29: Friday 16:00 CET + 2h -> Monday 10:00 CEST (UTC+2)
    due = c.add(local("Europe/Berlin", 2026, 3, 27, 16), 2)
    assert due == local("Europe/Berlin", 2026, 3, 30, 10)
    assert due == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)  # 10:00 at UTC+2 after the switch
    assert c.between(local("Europe/Berlin", 2026, 3, 27, 16), due) == timedelta(hours=2)
    # New York falls back on Sunday 2026-11-01; a Monday window is still 8 hours
    n = cal(NY)
    mon = local("America/New_York", 2026, 11, 2, 9)
    assert n.add(mon, 8) == local("America/New_York", 2026, 11, 2, 17)
    assert n.add(local("America/New_York", 2026, 10, 30, 16), 2).astimezone(UTC) == datetime(2026, 11, 2, 15, 0,
                                                                                               tzinfo=UTC)


def test_a_window_spanning_a_dst_switch_counts_wall_hours():
    # a rep who works Sunday 00:00-06:00 in Berlin: the night clocks jump has only 5 real hours
    h = WorkingHours("Europe/Berlin", days=frozenset({6}), start=time(0), end=time(6))
    c = cal(h)
    start = local("Europe/Berlin", 2026, 3, 29, 0)
    assert c.between(start, start + timedelta(days=1)) == timedelta(hours=5)


def test_time_zones_differ():
    at = datetime(2026, 3, 10, 16, 0, tzinfo=UTC)  # 17:00 Berlin (closed), 12:00 New York (open)
    assert cal().add(at, 1) == local("Europe/Berlin", 2026, 3, 11, 10)
    assert cal(NY).add(at, 1) == datetime(2026, 3, 10, 17, 0, tzinfo=UTC)


def test_policy_and_clock():
    with pytest.raises(TeamError, match="decision_hours"):
        SlaPolicy(4, 2)
    with pytest.raises(TeamError, match="first_touch_hours"):
        SlaPolicy(0, 2)
    cfg = SlaConfig.from_dict({"default": {"first_touch_hours": 2, "decision_hours": 8},
                               "by_segment": {"enterprise": {"first_touch_hours": 1, "decision_hours": 4,
                                                             "reassign_on_breach": True}}})
    assert cfg.policy("enterprise").reassign_on_breach and cfg.policy("smb").first_touch_hours == 2
    assert SlaConfig.from_dict(cfg.to_dict()) == cfg
    clk = start_clock(cal(), cfg.policy(None), local("Europe/Berlin", 2026, 3, 10, 16))
    assert clk.first_touch_due == local("Europe/Berlin", 2026, 3, 11, 10)
    assert clk.decision_due == local("Europe/Berlin", 2026, 3, 11, 16)


zones = st.sampled_from(["Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Sydney", "UTC",
                         "America/Sao_Paulo", "Europe/London"])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tz=zones, start=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31)),
       h1=st.floats(0.01, 60), h2=st.floats(0.01, 60), days=st.sets(st.integers(0, 6), min_size=1),
       hol=st.sets(st.dates(min_value=date(2025, 1, 1), max_value=date(2028, 3, 1)), max_size=20))
def test_add_and_between_agree(tz, start, h1, h2, days, hol):
    c = BusinessCalendar(WorkingHours(tz, frozenset(days), time(8, 30), time(17, 15)), frozenset(hol))
    start = start.replace(tzinfo=UTC)
    due = c.add(start, h1)
    assert due >= start
    assert abs(c.between(start, due).total_seconds() - h1 * 3600) < 1e-3
    # additivity: adding h1 then h2 equals adding h1 + h2
    assert abs((c.add(due, h2) - c.add(start, h1 + h2)).total_seconds()) < 1e-3
    # the due time is inside business time (or at the end of a window)
    local_due = due.astimezone(ZoneInfo(tz))
    assert local_due.date() not in hol and local_due.weekday() in days or c.is_open(due - timedelta(seconds=1))


# --------------------------------------------------------------------------------------------- BANT
def rec(**states):
    return BantRecord({c: CriterionRecord(c, CriterionState(states.get(c.value, "unknown"))) for c in Criterion})


def test_sql_rule_default_and_configured():
    rule = SqlRule()
    assert rule.describe() == "need and timeline met and at least 3 of 4 met"
    assert evaluate(rec(need="met", timeline="met", budget="met"), rule).passed
    v = evaluate(rec(need="met", budget="met", authority="met", timeline="not_met"), rule)
    assert not v.passed and "required not met: timeline" in v.explanation
    v = evaluate(rec(need="met", timeline="met"), rule)
    assert not v.passed and "only 2 met, need 3" in v.explanation
    loose = SqlRule.from_dict({"required": ["need"], "min_met": 1})
    assert evaluate(rec(need="met"), loose).passed
    with pytest.raises(TeamError, match="sql_rule.required"):
        SqlRule.from_dict({"required": ["vibes"]})


@given(st.lists(st.sampled_from(list(CriterionState)), min_size=4, max_size=4), st.integers(0, 4),
       st.sets(st.sampled_from(list(Criterion))))
def test_rule_is_monotone(states, min_met, required):
    """Turning any criterion to met never turns a pass into a fail."""
    rule = SqlRule(frozenset(required), min_met)
    base = BantRecord({c: CriterionRecord(c, s) for c, s in zip(Criterion, states, strict=True)})
    v = evaluate(base, rule)
    for c in Criterion:
        better = BantRecord({**base.criteria, c: CriterionRecord(c, CriterionState.MET)})
        assert evaluate(better, rule).passed or not v.passed


def test_bant_details_are_structured_and_validated():
    d = validate_details(Criterion.BUDGET, {"min": 10000, "max": "50000", "currency": "eur", "confirmed": True})
    assert d == {"amount": None, "min": 10000.0, "max": 50000.0, "currency": "EUR", "confirmed": True}
    with pytest.raises(TeamError, match="bant.budget.max"):
        validate_details(Criterion.BUDGET, {"min": 5, "max": 1})
    with pytest.raises(TeamError, match="bant.authority.kind"):
        validate_details(Criterion.AUTHORITY, {"kind": "boss"})
    assert validate_details(Criterion.AUTHORITY, {"role": "CFO", "kind": "decision_maker",
                                                  "other_deciders": "CEO, CTO"})["other_deciders"] == ["CEO", "CTO"]
    assert validate_details(Criterion.TIMELINE, {"quarter": "2026q3"})["quarter"] == "2026-Q3"
    with pytest.raises(TeamError, match="bant.timeline.target_date"):
        validate_details(Criterion.TIMELINE, {"target_date": "soon"})
    with pytest.raises(TeamError, match="bant.need.colour"):
        validate_details(Criterion.NEED, {"colour": "red"})


# ----------------------------------------------------------------------------------------- workflow
def test_status_moves_and_reasons():
    check_status("new", LeadStatus.ATTEMPTING_TO_CONTACT)
    check_status("attempting_to_contact", LeadStatus.CONNECTED)
    with pytest.raises(IllegalStatus, match="cannot move from new to in_progress"):
        check_status("new", LeadStatus.IN_PROGRESS)
    at = datetime(2026, 3, 10, tzinfo=UTC)
    p = plan_rejection(parse_reason("bad timing"), at)
    assert p.to_stage == Stage.NURTURE and p.reengage_at == at + timedelta(days=90)
    assert p.to_status == LeadStatus.BAD_TIMING
    p = plan_rejection(RejectReason.COMPETITOR, at)
    assert p.to_stage == Stage.DISQUALIFIED and p.reengage_at is None
    p = plan_rejection(RejectReason.BAD_FIT, at, disposition=Disposition.NURTURE)
    assert p.to_stage == Stage.NURTURE
    with pytest.raises(ValueError, match="reengage_at"):
        plan_rejection(RejectReason.BAD_TIMING, at, reengage_at=at - timedelta(days=1))
    with pytest.raises(ValueError, match="unknown code"):
        parse_reason("meh")


def test_metrics():
    assert percentile([1, 2, 3, 4], 50) == 2.5 and percentile([], 50) is None
    s = speed_to_lead([1, 4, 6, 20, 90], untouched=2)
    assert s.bands == {"0-5 min": 2, "5-15 min": 1, "15-60 min": 1, "60+ min": 1} and s.p50_minutes == 6
    rows = distribution({"a": 6, "b": 3}, {"a": 2, "b": 1})
    assert [(r.rep, r.expected, r.deviation) for r in rows] == [("a", 6.0, 0.0), ("b", 3.0, 0.0)]
