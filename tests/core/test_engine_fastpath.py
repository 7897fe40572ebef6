"""The fold's shortcuts change no result.

* ``EngagementState.raw_engagement_at`` (decay written out inline) returns bit-for-bit what the previous
  implementation (``decayed()`` per part, copied below as the reference) returns;
* ``EngagementState.engagement_upper_bound`` is an upper bound of ``engagement_at`` at any time from the
  latest event on;
* the Qualifier fold that skips reading the engagement when that bound falls short of a criterion gives the
  same transitions and the same persisted state as the fold that always reads it.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadflow.core.qualify import OutcomeInput, replay
from leadflow.core.scoring.engine import EngagementState, FitResult, ScoredEvent, decayed
from leadflow.core.scoring.spec import ScoringModel
from leadflow.core.timeutil import DAY

T0 = 1_714_564_800.0


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()

TYPES = ["visit", "download", "demo", "unsub"]


def _reference_raw(state: EngagementState, model: ScoringModel, t: float) -> float:
    parts = []
    rules = model.engagement_rule_map
    for rule_id, items in state.buf.items():
        rule = rules.get(rule_id)
        if rule is None or not rule.buffered:
            continue
        counted = 0
        for te, _eid in items:
            if rule.window_days is not None and t - te >= rule.window_days * DAY:
                break
            parts.append(decayed(rule.points, t - te, rule.half_life_days))
            counted += 1
            if rule.cap is not None and counted >= rule.cap:
                break
    for rule_id, slot in state.acc.items():
        rule = rules.get(rule_id)
        if rule is None or rule.buffered:
            continue
        parts.append(decayed(slot[0], t - slot[1], rule.half_life_days))
    return math.fsum(parts)


rule_st = st.fixed_dictionaries({
    "event": st.sampled_from(TYPES),
    "points": st.one_of(st.integers(-40, 40).map(float), st.floats(-50, 50, allow_nan=False)),
    "half_life_days": st.one_of(st.none(), st.floats(0.5, 60)),
    "window_days": st.one_of(st.none(), st.floats(1, 90)),
    "cap": st.one_of(st.none(), st.integers(1, 4)),
    "where": st.one_of(st.just([]), st.just([{"property": "url", "op": "regex", "value": "/pricing"}])),
})
criterion_st = st.one_of(
    st.fixed_dictionaries({"engagement_at_least": st.floats(-5, 120, allow_nan=False)}),
    st.fixed_dictionaries({"fit_grade_at_least": st.sampled_from("ABCD"),
                           "engagement_at_least": st.floats(0, 100, allow_nan=False)}),
    st.fixed_dictionaries({"event_in": st.lists(st.sampled_from(TYPES), min_size=1, max_size=2)}),
)


@st.composite
def models(draw) -> ScoringModel:
    rules = draw(st.lists(rule_st, min_size=1, max_size=6))
    floor = draw(st.sampled_from([0.0, -20.0, 5.0]))
    ceiling = draw(st.sampled_from([100.0, 40.0]))
    return ScoringModel.model_validate({
        "key": "t",
        "fit": {"rules": [], "grades": {"A": 40, "B": 25, "C": 10}},
        "engagement": {"rules": [{"id": f"r{i}", **r} for i, r in enumerate(rules)], "floor": floor,
                       "ceiling": ceiling},
        "lifecycle": {"lead": {"any_of": draw(st.lists(criterion_st, min_size=1, max_size=2))},
                      "mql": {"any_of": draw(st.lists(criterion_st, min_size=1, max_size=3))}},
    })


events_st = st.lists(st.tuples(st.sampled_from(TYPES), st.floats(0, 120 * DAY, allow_nan=False),
                               st.sampled_from(["/pricing", "/blog"])), min_size=1, max_size=40)


def _events(raw) -> list[ScoredEvent]:
    return [ScoredEvent(T0 + secs, f"e{i:03d}", etype, {"url": url}) for i, (etype, secs, url) in enumerate(raw)]


@settings(max_examples=100, deadline=None)
@given(model=models(), raw=events_st, later=st.floats(0, 200 * DAY, allow_nan=False))
def test_inline_raw_engagement_and_bound(model, raw, later):
    state = EngagementState()
    for ev in sorted(_events(raw), key=lambda e: (e.t, e.id)):
        state.apply(model, ev)
        for t in (state.max_t, state.max_t + later):
            exact = state.raw_engagement_at(model, t)
            assert exact == _reference_raw(state, model, t)
            assert state.engagement_upper_bound(model) >= state.engagement_at(model, t)


@settings(max_examples=100, deadline=None)
@given(model=models(), raw=events_st, grade=st.sampled_from("ABCD"),
       lost_at=st.one_of(st.none(), st.floats(0, 120 * DAY, allow_nan=False)))
def test_fold_with_bound_equals_fold_without(monkeypatch_module, model, raw, grade, lost_at):
    """Also through a recycling episode (a lost outcome moves the lead to nurture: fresh engagement)."""
    fit = FitResult(points=0.0, grade=grade, hits=())
    events = [*_events(raw), *([OutcomeInput(T0 + lost_at, "o1", "lost")] if lost_at is not None else [])]
    q_fast, trs_fast = replay(model, fit, events)
    with monkeypatch_module.context() as mp:
        mp.setattr(EngagementState, "engagement_upper_bound", lambda self, model: math.inf)
        q_slow, trs_slow = replay(model, fit, events)
    assert trs_fast == trs_slow
    assert q_fast.to_dict() == q_slow.to_dict()


_atoms = st.one_of(st.text(max_size=4), st.sampled_from(["Foo", "foo", "FOO", "ß", "ss", "1", "1.0"]), st.integers(-2, 2),
                   st.floats(allow_nan=False, width=16), st.booleans())


@settings(max_examples=100, deadline=None)
@given(values=st.lists(_atoms, min_size=1, max_size=5), value=st.one_of(_atoms, st.none(), st.just("")),
       case_sensitive=st.booleans())
def test_in_membership_equals_pairwise_comparison(values, value, case_sensitive):
    """The precomputed sets of ``in`` give what comparing with each item (as ``equals``) gives."""
    from leadflow.core.scoring.rules import matches
    from leadflow.core.scoring.spec import Condition

    present = value is not None and value != ""
    want = present and any(matches(Condition(op="equals", value=v, case_sensitive=case_sensitive), value)
                           for v in values)
    for _ in range(2):  # the second time from the cache
        assert matches(Condition(op="in", value=values, case_sensitive=case_sensitive), value) == want
        cond = Condition(op="not_in", value=values, case_sensitive=case_sensitive)
        assert matches(cond, value) == (not want)
        assert matches(cond, value) == (not want)
