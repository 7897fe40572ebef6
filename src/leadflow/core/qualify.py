"""The qualifier: one lead's fold over its inputs, joining scoring and the lifecycle.

Inputs are facts in time order: events (scored), manual stage changes, and outcomes. The fold is a pure
function of them, so the stages reached by rules can always be recomputed from the log; the incremental
path (the same :class:`Qualifier`, its state persisted between events) gives the same transitions when
events arrive in order, and a late event triggers a replay of that lead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from leadflow.core.lifecycle import RULE_SOURCES, Actor, Stage, Transition
from leadflow.core.scoring.engine import EngagementState, FitResult, ScoredEvent
from leadflow.core.scoring.spec import GRADES, Criterion, ScoringModel, StageCriteria


@dataclass(frozen=True, slots=True)
class ManualChange:
    t: float
    id: str
    to_stage: Stage
    reason: str
    actor_id: str | None = None
    actor: Actor = Actor.USER


@dataclass(frozen=True, slots=True)
class OutcomeInput:
    t: float
    id: str
    result: str  # "won" | "lost"
    reason: str = ""


def _criterion_holds(c: Criterion, fit: FitResult, engagement: float | Callable[[], float],
                     types: Mapping[str, int], etype: str | None,
                     bound: Callable[[], float] | None = None) -> bool:
    """All of the criterion's conditions hold. ``engagement`` may be a function: it is only called when
    every other condition holds (reading the engagement is the one costly test), and not at all when
    ``bound`` (an upper bound of the engagement) already falls short of the threshold."""
    if c.fit_grade_at_least is not None and GRADES.index(fit.grade) > GRADES.index(c.fit_grade_at_least):
        return False
    if c.fit_at_least is not None and fit.points < c.fit_at_least:
        return False
    if c.event_in is not None and etype not in c.event_in:
        return False
    if c.has_events_all is not None and any(types.get(t, 0) == 0 for t in c.has_events_all):
        return False
    if c.engagement_at_least is not None:
        if bound is not None and bound() < c.engagement_at_least:
            return False
        value = engagement() if callable(engagement) else engagement
        if value < c.engagement_at_least:
            return False
    return True


def first_holding(sc: StageCriteria | None, fit: FitResult, engagement: float | Callable[[], float],
                  types: Mapping[str, int], etype: str | None,
                  bound: Callable[[], float] | None = None) -> int | None:
    """The index of the first criterion of ``sc`` that holds. ``bound``, if given, is an upper bound of the
    engagement (memoised like ``engagement``), used to skip the exact reading when it cannot matter."""
    if sc is None:
        return None
    if callable(engagement) and not isinstance(engagement, _Once):
        engagement = _once(engagement)
    if bound is not None and not isinstance(bound, _Once):
        bound = _once(bound)
    for i, c in enumerate(sc.any_of):
        if _criterion_holds(c, fit, engagement, types, etype, bound):
            return i
    return None


class _Once:
    """A memoised nullary function."""

    __slots__ = ("fn", "done", "value")

    def __init__(self, fn: Callable[[], float]) -> None:
        self.fn = fn
        self.done = False
        self.value = 0.0

    def __call__(self) -> float:
        if not self.done:
            self.value = self.fn()
            self.done = True
        return self.value


def _once(fn: Callable[[], float]) -> Callable[[], float]:
    return fn if isinstance(fn, _Once) else _Once(fn)


def describe_criterion(c: Criterion) -> str:
    parts = []
    if c.fit_grade_at_least:
        parts.append(f"grade >= {c.fit_grade_at_least}")
    if c.fit_at_least is not None:
        parts.append(f"fit >= {c.fit_at_least:g}")
    if c.engagement_at_least is not None:
        parts.append(f"engagement >= {c.engagement_at_least:g}")
    if c.event_in:
        parts.append("event in " + "/".join(c.event_in))
    if c.has_events_all:
        parts.append("has done " + " + ".join(c.has_events_all))
    return " and ".join(parts)


@dataclass(slots=True)
class Qualifier:
    """One lead's scoring and lifecycle state for one model. JSON-serialisable via ``to_dict``."""

    stage: Stage | None = None
    total: EngagementState = field(default_factory=EngagementState)
    fresh: EngagementState | None = None  # engagement since the lead was recycled (nurture)
    recycled_at: float | None = None
    last_key: tuple[float, int, str] | None = None  # (t, kind, id) of the last input folded

    def is_in_order(self, key: tuple[float, int, str]) -> bool:
        return self.last_key is None or key > self.last_key

    def snapshot(self, model: ScoringModel, fit: FitResult, t: float) -> dict[str, Any]:
        eng = self.total.engagement_at(model, t) if self.total.max_t is None or t >= self.total.max_t else None
        snap: dict[str, Any] = {"fit": fit.points, "grade": fit.grade, "engagement": eng}
        if self.fresh is not None and (self.fresh.max_t is None or t >= self.fresh.max_t):
            snap["fresh_engagement"] = self.fresh.engagement_at(model, t)
        return snap

    # -- the fold ----------------------------------------------------------------------------------
    def on_event(self, model: ScoringModel, fit: FitResult, ev: ScoredEvent) -> list[Transition]:
        self.last_key = (ev.t, 0, ev.id)
        self.total.apply(model, ev)
        if self.fresh is not None and self.recycled_at is not None and ev.t >= self.recycled_at:
            self.fresh.apply(model, ev)
        if self.stage is None:
            self.stage = Stage.SUBSCRIBER
        if self.stage not in RULE_SOURCES:
            return []
        recycled = self.stage == Stage.NURTURE
        state = self.fresh if recycled else self.total
        if state is None:
            return []
        engagement = _Once(lambda: state.engagement_at(model, ev.t) if state.max_t is not None else 0.0)
        bound = _Once(lambda: state.engagement_upper_bound(model) if state.max_t is not None else 0.0)
        out: list[Transition] = []
        hit = first_holding(model.lifecycle.mql, fit, engagement, state.types, ev.type, bound)
        if hit is not None:
            crit = model.lifecycle.mql.any_of[hit]
            why = describe_criterion(crit)
            reason = f"re-qualified on fresh engagement since recycling: {why}" if recycled else f"MQL criteria met: {why}"
            out.append(self._move(Stage.MQL, ev.t, Actor.RULE, reason, model, fit, f"mql.any_of[{hit}]", ev.id))
        elif self.stage == Stage.SUBSCRIBER:
            hit = first_holding(model.lifecycle.lead, fit, engagement, state.types, ev.type, bound)
            if hit is not None:
                crit = model.lifecycle.lead.any_of[hit]  # type: ignore[union-attr]
                out.append(self._move(Stage.LEAD, ev.t, Actor.RULE, f"lead criteria met: {describe_criterion(crit)}",
                                      model, fit, f"lead.any_of[{hit}]", ev.id))
        return out

    def on_manual(self, model: ScoringModel, fit: FitResult, ch: ManualChange) -> list[Transition]:
        self.last_key = (ch.t, 1, ch.id)
        if self.stage == ch.to_stage:
            return []
        return [self._move(ch.to_stage, ch.t, ch.actor, ch.reason, model, fit, None, ch.id, actor_id=ch.actor_id)]

    def on_outcome(self, model: ScoringModel, fit: FitResult, oc: OutcomeInput) -> list[Transition]:
        self.last_key = (oc.t, 2, oc.id)
        target = Stage.CUSTOMER if oc.result == "won" else Stage.NURTURE
        if self.stage == target:
            return []
        reason = "outcome: won" if oc.result == "won" else f"outcome: lost{': ' + oc.reason if oc.reason else ''}"
        return [self._move(target, oc.t, Actor.SYSTEM, reason, model, fit, f"outcome.{oc.result}", oc.id)]

    def _move(self, to: Stage, t: float, actor: Actor, reason: str, model: ScoringModel, fit: FitResult,
              rule: str | None, cause: str, actor_id: str | None = None) -> Transition:
        tr = Transition(self.stage, to, t, actor, reason, actor_id=actor_id, rule=rule, model_ref=model.ref,
                        score=self.snapshot(model, fit, t), cause_id=cause)
        self.stage = to
        if to == Stage.NURTURE:
            self.recycled_at = t
            self.fresh = EngagementState()
        else:
            self.fresh = None  # any other move ends the recycling episode
        return tr

    # -- persistence -------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage.value if self.stage else None,
            "total": self.total.to_dict(),
            "fresh": self.fresh.to_dict() if self.fresh is not None else None,
            "recycled_at": self.recycled_at,
            "last_key": list(self.last_key) if self.last_key else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Qualifier:
        if not data:
            return cls()
        return cls(
            stage=Stage(data["stage"]) if data.get("stage") else None,
            total=EngagementState.from_dict(data.get("total")),
            fresh=EngagementState.from_dict(data["fresh"]) if data.get("fresh") is not None else None,
            recycled_at=data.get("recycled_at"),
            last_key=tuple(data["last_key"]) if data.get("last_key") else None,  # type: ignore[arg-type]
        )


Input = ScoredEvent | ManualChange | OutcomeInput


def input_key(item: Input) -> tuple[float, int, str]:
    kind = 0 if isinstance(item, ScoredEvent) else 1 if isinstance(item, ManualChange) else 2
    return (item.t, kind, item.id)


def replay(model: ScoringModel, fit: FitResult, inputs: Iterable[Input], initial_stage: Stage | None = None
           ) -> tuple[Qualifier, list[Transition]]:
    """Fold a lead's whole history (deduplicated by id, sorted by time) from scratch."""
    unique: dict[tuple[int, str], Input] = {}
    for item in inputs:
        k = input_key(item)
        unique.setdefault((k[1], k[2]), item)
    q = Qualifier(stage=initial_stage)
    out: list[Transition] = []
    for item in sorted(unique.values(), key=input_key):
        out.extend(step(q, model, fit, item))
    return q, out


def step(q: Qualifier, model: ScoringModel, fit: FitResult, item: Input) -> list[Transition]:
    if isinstance(item, ScoredEvent):
        return q.on_event(model, fit, item)
    if isinstance(item, ManualChange):
        return q.on_manual(model, fit, item)
    return q.on_outcome(model, fit, item)
