"""The lifecycle state machine: stages, lead statuses, allowed transitions as data.

Pure domain code. A transition is allowed when ``to`` is in ``TRANSITIONS[from]``. Rules move leads
forward (subscriber -> lead -> MQL, nurture -> MQL when fresh engagement re-qualifies them); people and
outcomes make the other moves, each with an actor and a reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Stage(StrEnum):
    SUBSCRIBER = "subscriber"
    LEAD = "lead"
    MQL = "mql"
    SAL = "sal"
    SQL = "sql"
    OPPORTUNITY = "opportunity"
    CUSTOMER = "customer"
    NURTURE = "nurture"
    DISQUALIFIED = "disqualified"


#: Funnel order of the forward stages (nurture and disqualified are side exits).
FUNNEL = (Stage.SUBSCRIBER, Stage.LEAD, Stage.MQL, Stage.SAL, Stage.SQL, Stage.OPPORTUNITY, Stage.CUSTOMER)

S = Stage
TRANSITIONS: dict[Stage, frozenset[Stage]] = {
    S.SUBSCRIBER: frozenset({S.LEAD, S.MQL, S.NURTURE, S.DISQUALIFIED}),
    S.LEAD: frozenset({S.MQL, S.SAL, S.SQL, S.NURTURE, S.DISQUALIFIED}),
    S.MQL: frozenset({S.SAL, S.SQL, S.NURTURE, S.DISQUALIFIED}),
    S.SAL: frozenset({S.SQL, S.NURTURE, S.DISQUALIFIED}),
    S.SQL: frozenset({S.OPPORTUNITY, S.NURTURE, S.DISQUALIFIED}),
    S.OPPORTUNITY: frozenset({S.CUSTOMER, S.NURTURE, S.DISQUALIFIED}),
    S.CUSTOMER: frozenset({S.OPPORTUNITY}),  # expansion: an existing customer opens a new deal
    S.NURTURE: frozenset({S.LEAD, S.MQL, S.SAL, S.DISQUALIFIED}),
    S.DISQUALIFIED: frozenset({S.NURTURE, S.LEAD}),
}

#: Stages a rule may move a lead out of, by criteria (the rest need a person or an outcome).
RULE_SOURCES = frozenset({S.SUBSCRIBER, S.LEAD, S.NURTURE})


class LeadStatus(StrEnum):
    """Lead status values as HubSpot names them."""

    NEW = "new"
    ATTEMPTING_TO_CONTACT = "attempting_to_contact"
    CONNECTED = "connected"
    IN_PROGRESS = "in_progress"
    OPEN_DEAL = "open_deal"
    UNQUALIFIED = "unqualified"
    BAD_TIMING = "bad_timing"


class Actor(StrEnum):
    RULE = "rule"
    USER = "user"
    SYSTEM = "system"


class IllegalTransition(ValueError):
    def __init__(self, from_stage: Stage | None, to_stage: Stage) -> None:
        allowed = ", ".join(sorted(TRANSITIONS.get(from_stage, frozenset()))) if from_stage else "any"
        super().__init__(f"a lead cannot move from {from_stage} to {to_stage} (allowed from {from_stage}: {allowed})")
        self.from_stage = from_stage
        self.to_stage = to_stage


def can_transition(from_stage: Stage | None, to_stage: Stage) -> bool:
    if from_stage is None:
        return True
    return to_stage in TRANSITIONS[from_stage]


def check_transition(from_stage: Stage | None, to_stage: Stage) -> None:
    if not can_transition(from_stage, to_stage):
        raise IllegalTransition(from_stage, to_stage)


@dataclass(frozen=True, slots=True)
class Transition:
    """One stage change, as recorded in the stage history."""

    from_stage: Stage | None
    to_stage: Stage
    at: float  # epoch seconds (effective time)
    actor: Actor
    reason: str
    actor_id: str | None = None  # user id for manual changes
    rule: str | None = None  # criterion for rule changes, e.g. "mql.any_of[0]"
    model_ref: str | None = None
    score: dict[str, Any] | None = None  # fit, grade, engagement at the time
    cause_id: str | None = None  # event id, outcome id or manual change id that caused it

    def key(self) -> tuple[Any, ...]:
        """What makes two derived transitions the same (used to reconcile a replay with the history)."""
        return (self.from_stage, self.to_stage, round(self.at, 6), self.actor, self.rule, self.cause_id)
