"""The lifecycle state machine (leadflow.core.lifecycle)."""

from __future__ import annotations

import itertools
from collections import deque

import pytest

from leadflow.core.lifecycle import (
    FUNNEL,
    RULE_SOURCES,
    TRANSITIONS,
    Actor,
    IllegalTransition,
    Stage,
    Transition,
    can_transition,
    check_transition,
)

S = Stage
ALL_PAIRS = list(itertools.product(Stage, Stage))
FORBIDDEN = [(a, b) for a, b in ALL_PAIRS if b not in TRANSITIONS[a]]
ALLOWED = [(a, b) for a, b in ALL_PAIRS if b in TRANSITIONS[a]]


def test_every_stage_has_an_entry():
    assert set(TRANSITIONS) == set(Stage)
    for source, targets in TRANSITIONS.items():
        assert isinstance(targets, frozenset)
        assert targets, f"{source} is a dead end"
        assert all(isinstance(t, Stage) for t in targets)
        assert source not in targets, f"{source} has a self-loop"


def test_funnel_is_walkable_and_complete():
    assert set(FUNNEL) | {S.NURTURE, S.DISQUALIFIED} == set(Stage)
    for a, b in itertools.pairwise(FUNNEL):
        assert b in TRANSITIONS[a], f"{a} -> {b}"


def test_every_stage_reachable_from_subscriber():
    seen, todo = {S.SUBSCRIBER}, deque([S.SUBSCRIBER])
    while todo:
        for nxt in TRANSITIONS[todo.popleft()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    assert seen == set(Stage)


def test_rule_edges_are_allowed():
    # the moves the qualifier makes by rule
    assert RULE_SOURCES == {S.SUBSCRIBER, S.LEAD, S.NURTURE}
    for source in RULE_SOURCES:
        assert S.MQL in TRANSITIONS[source]
    assert S.LEAD in TRANSITIONS[S.SUBSCRIBER]


def test_outcome_and_recycling_edges():
    assert S.CUSTOMER in TRANSITIONS[S.OPPORTUNITY]
    assert TRANSITIONS[S.CUSTOMER] == {S.OPPORTUNITY}
    for source in (S.SUBSCRIBER, S.LEAD, S.MQL, S.SAL, S.SQL, S.OPPORTUNITY, S.DISQUALIFIED):
        assert S.NURTURE in TRANSITIONS[source]
    # no jumping straight into the late funnel from the top
    assert not can_transition(S.SUBSCRIBER, S.CUSTOMER)
    assert not can_transition(S.LEAD, S.OPPORTUNITY)
    assert not can_transition(S.MQL, S.LEAD)


@pytest.mark.parametrize(("a", "b"), FORBIDDEN, ids=[f"{a}->{b}" for a, b in FORBIDDEN])
def test_forbidden_edges_raise(a, b):
    assert not can_transition(a, b)
    with pytest.raises(IllegalTransition) as info:
        check_transition(a, b)
    err = info.value
    assert isinstance(err, ValueError)
    assert (err.from_stage, err.to_stage) == (a, b)
    msg = str(err)
    assert f"from {a.value} to {b.value}" in msg
    for allowed in TRANSITIONS[a]:
        assert allowed.value in msg


@pytest.mark.parametrize(("a", "b"), ALLOWED, ids=[f"{a}->{b}" for a, b in ALLOWED])
def test_allowed_edges_pass(a, b):
    assert can_transition(a, b)
    check_transition(a, b)


@pytest.mark.parametrize("to", list(Stage))
def test_a_new_lead_may_start_anywhere(to):
    assert can_transition(None, to)
    check_transition(None, to)


def test_illegal_transition_from_none_message():
    err = IllegalTransition(None, S.MQL)
    assert "any" in str(err) and "mql" in str(err)


def test_transition_key():
    tr = Transition(S.LEAD, S.MQL, 1_700_000_000.1234567, Actor.RULE, "MQL criteria met", rule="mql.any_of[0]",
                    cause_id="e1", score={"fit": 1})
    same = Transition(S.LEAD, S.MQL, 1_700_000_000.1234571, Actor.RULE, "other words", rule="mql.any_of[0]",
                      cause_id="e1")
    assert tr.key() == same.key()
    assert tr.key() == (S.LEAD, S.MQL, 1_700_000_000.123457, Actor.RULE, "mql.any_of[0]", "e1")
    other = Transition(S.LEAD, S.MQL, tr.at, Actor.RULE, "x", rule="mql.any_of[1]", cause_id="e1")
    assert other.key() != tr.key()


def test_enums_are_strings():
    assert S.MQL == "mql"
    assert Actor.USER == "user"
    assert f"{S.NURTURE}" == "nurture"
