"""The scoring engine: fit points, and engagement with decay, windows and caps.

Two paths compute the same engagement score:

* :class:`EngagementState` is the incremental path: O(1) per event for plain and decaying rules (one
  accumulator per rule, rolled forward on arrival), and O(cap) for rules with a window or a cap (it keeps
  only the events that can still count). No nightly decay job: decay is applied when the score is read.
* :func:`explain_engagement` is the reference recompute straight from the event log; it also returns,
  for every rule, the events behind it, the points earned and the decayed value now.

Invariant (property-tested): for any event stream (duplicates and any arrival order included) and any
time ``t`` at or after the latest event applied, ``state.engagement_at(t) == recompute(events, t)`` to 1e-9.
Reading a score at an earlier time ``t`` is a recompute over the events with ``occurred_at <= t``.

Semantics of a rule with ``points`` p, ``half_life_days`` h, ``window_days`` W and ``cap`` K, read at t:
the matching events with ``t_e <= t`` and ``t - t_e < W`` count, at most the K most recent of them
(ties broken by event id), each worth ``p * 2 ** (-(t - t_e) / h)``. The engagement score is the sum over
rules, clamped to ``[floor, ceiling]`` at read time (so clamping never depends on arrival order).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from leadflow.core.scoring.rules import event_matches, lead_value, matches
from leadflow.core.scoring.spec import EngagementRule, ScoringModel
from leadflow.core.timeutil import DAY


@dataclass(frozen=True, slots=True)
class ScoredEvent:
    """What the engine needs of an event: time (epoch seconds), a time-ordered id, type, properties."""

    t: float
    id: str
    type: str
    properties: Mapping[str, Any] = field(default_factory=dict)


def decayed(points: float, age_seconds: float, half_life_days: float | None) -> float:
    if half_life_days is None:
        return points
    return points * math.pow(2.0, -age_seconds / (half_life_days * DAY))


# ---------------------------------------------------------------------------------------------- fit


@dataclass(frozen=True, slots=True)
class FitHit:
    rule_id: str
    field: str
    value: Any
    points: float
    description: str


@dataclass(frozen=True, slots=True)
class FitResult:
    points: float
    grade: str
    hits: tuple[FitHit, ...]


def score_fit(model: ScoringModel, lead: Mapping[str, Any], account: Mapping[str, Any] | None) -> FitResult:
    hits = []
    for rule in model.fit.rules:
        value = lead_value(rule.field, lead, account)  # fit_rule_matches, with the value resolved once
        if matches(rule, value):
            hits.append(FitHit(rule.id, rule.field, value, rule.points, rule.description))
    points = math.fsum(h.points for h in hits)
    return FitResult(points=points, grade=model.grade(points), hits=tuple(hits))


# ---------------------------------------------------------------------------- incremental engagement


@dataclass(slots=True)
class EngagementState:
    """Per lead and model: accumulators for plain rules, bounded buffers for windowed / capped rules."""

    acc: dict[str, list[float]] = field(default_factory=dict)  # rule id -> [value at ref, ref time]
    buf: dict[str, list[list[Any]]] = field(default_factory=dict)  # rule id -> [[t, event id], ...] newest first
    max_t: float | None = None
    types: dict[str, int] = field(default_factory=dict)  # event type -> count, for lifecycle criteria
    applied: int = 0

    def apply(self, model: ScoringModel, event: ScoredEvent) -> list[str]:
        """Fold one (new, not yet applied) event in. Returns the ids of the rules it matched."""
        t = event.t
        self.max_t = t if self.max_t is None or t > self.max_t else self.max_t
        types = self.types
        types[event.type] = types.get(event.type, 0) + 1
        self.applied += 1
        hit = []
        # rules_by_event holds only this type's rules, so event_matches reduces to the property conditions
        for rule in model.rules_by_event.get(event.type, ()):
            where = rule.where
            if where:
                props = event.properties
                if len(where) == 1:
                    if not matches(where[0], props.get(where[0].property)):
                        continue
                elif not all(matches(cond, props.get(cond.property)) for cond in where):
                    continue
            hit.append(rule.id)
            if rule.window_days is not None or rule.cap is not None:  # rule.buffered
                self._buffer(rule, event)
            else:
                self._accumulate(rule, event)
        return hit

    def _accumulate(self, rule: EngagementRule, event: ScoredEvent) -> None:
        slot = self.acc.get(rule.id)
        if slot is None:
            self.acc[rule.id] = [rule.points, event.t]
        elif rule.half_life_days is None:
            slot[0] += rule.points
        elif event.t >= slot[1]:
            slot[0] = decayed(slot[0], event.t - slot[1], rule.half_life_days) + rule.points
            slot[1] = event.t
        else:
            slot[0] += decayed(rule.points, slot[1] - event.t, rule.half_life_days)

    def _buffer(self, rule: EngagementRule, event: ScoredEvent) -> None:
        items = self.buf.setdefault(rule.id, [])
        if not items or (event.t, event.id) > (items[0][0], items[0][1]):
            items.insert(0, [event.t, event.id])  # the usual case: newer than everything kept
        else:
            items.append([event.t, event.id])
            items.sort(key=lambda it: (it[0], it[1]), reverse=True)
        self._prune(rule, items)

    def _prune(self, rule: EngagementRule, items: list[list[Any]]) -> None:
        # Reads happen at t >= max_t, so an event at or before max_t - W can never count again, and the
        # window is a suffix in time: the K most recent in the window are the K most recent overall, less
        # those outside it. Keeping the K newest (within the window) is therefore exact.
        if rule.window_days is not None and self.max_t is not None:
            # Same expression as the read (``t - te >= W``), so float rounding cannot drop an event the
            # read at ``max_t`` would still count (``te <= max_t - W`` rounds differently).
            width = rule.window_days * DAY
            while items and self.max_t - items[-1][0] >= width:
                items.pop()
        if rule.cap is not None:
            del items[rule.cap:]

    def raw_engagement_at(self, model: ScoringModel, t: float) -> float:
        if self.max_t is not None and t < self.max_t:
            raise ValueError("the incremental state can be read at or after its latest event only; "
                             "use a recompute from the event log for earlier times")
        # Only rules this lead has state for contribute; math.fsum is exactly rounded whatever the order.
        # decayed() and the window test are written out inline (same expressions, so the same floats).
        parts: list[float] = []
        add = parts.append
        pow_ = math.pow
        rules = model.engagement_rule_map
        for rule_id, items in self.buf.items():
            rule = rules.get(rule_id)
            if rule is None:
                continue
            window, cap = rule.window_days, rule.cap
            if window is None and cap is None:  # not rule.buffered
                continue
            points, half_life = rule.points, rule.half_life_days
            width = window * DAY if window is not None else None
            scale = half_life * DAY if half_life is not None else None
            counted = 0
            for te, _eid in items:
                if width is not None and t - te >= width:
                    break
                add(points if scale is None else points * pow_(2.0, -(t - te) / scale))
                counted += 1
                if cap is not None and counted >= cap:
                    break
        for rule_id, slot in self.acc.items():
            rule = rules.get(rule_id)
            if rule is None or rule.window_days is not None or rule.cap is not None:  # absent or buffered
                continue
            half_life = rule.half_life_days
            add(slot[0] if half_life is None else slot[0] * pow_(2.0, -(t - slot[1]) / (half_life * DAY)))
        return math.fsum(parts)

    def engagement_upper_bound(self, model: ScoringModel) -> float:
        """A cheap upper bound of ``engagement_at(model, t)`` for every ``t`` at or after ``max_t``.

        Every part of the sum is a positive rule's points (or an accumulator's value) times a decay factor in
        [0, 1], or at most 0 for negative points, and windows and caps only drop parts: so the undecayed,
        capped sum of the positive parts bounds the exactly rounded sum from above. The relative and absolute
        margins cover the rounding of this plain float sum; clamping is monotone. Used to skip reading the
        engagement when a criterion's threshold cannot be reached.
        """
        total = 0.0
        rules = model.engagement_rule_map
        for rule_id, items in self.buf.items():
            rule = rules.get(rule_id)
            if rule is None or (rule.window_days is None and rule.cap is None) or rule.points <= 0:
                continue
            total += rule.points * (len(items) if rule.cap is None else min(len(items), rule.cap))
        for rule_id, slot in self.acc.items():
            rule = rules.get(rule_id)
            if rule is None or rule.window_days is not None or rule.cap is not None or not slot[0] > 0:
                continue
            total += slot[0]
        return clamp(total * (1.0 + 1e-9) + 1e-9, model)

    def engagement_at(self, model: ScoringModel, t: float) -> float:
        return clamp(self.raw_engagement_at(model, t), model)

    # -- persistence (JSON-friendly) --------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"acc": self.acc, "buf": self.buf, "max_t": self.max_t, "types": self.types, "applied": self.applied}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> EngagementState:
        if not data:
            return cls()
        return cls(
            acc={k: list(v) for k, v in data.get("acc", {}).items()},
            buf={k: [list(x) for x in v] for k, v in data.get("buf", {}).items()},
            max_t=data.get("max_t"),
            types=dict(data.get("types", {})),
            applied=int(data.get("applied", 0)),
        )


def clamp(value: float, model: ScoringModel) -> float:
    return min(max(value, model.engagement.floor), model.engagement.ceiling)


# ------------------------------------------------------------------------ recompute and explanation


@dataclass(frozen=True, slots=True)
class Contribution:
    event_id: str
    t: float
    points: float
    value_now: float
    counted: bool
    note: str = ""  # why not counted: "outside window", "over cap"


@dataclass(frozen=True, slots=True)
class RuleExplanation:
    rule_id: str
    description: str
    points: float
    half_life_days: float | None
    window_days: float | None
    cap: int | None
    total: float
    contributions: tuple[Contribution, ...]


@dataclass(frozen=True, slots=True)
class EngagementExplanation:
    at: float
    raw: float
    score: float
    rules: tuple[RuleExplanation, ...]


def explain_engagement(model: ScoringModel, events: Iterable[ScoredEvent], t: float) -> EngagementExplanation:
    """Recompute engagement at ``t`` from the events (the log), with every rule's contributions."""
    seen: set[str] = set()
    by_rule: dict[str, list[ScoredEvent]] = {r.id: [] for r in model.engagement.rules}
    for ev in events:
        if ev.t > t or ev.id in seen:
            continue
        seen.add(ev.id)
        for rule in model.engagement.rules:
            if event_matches(rule, ev.type, ev.properties):
                by_rule[rule.id].append(ev)
    explained = []
    totals = []
    for rule in model.engagement.rules:
        evs = sorted(by_rule[rule.id], key=lambda e: (e.t, e.id), reverse=True)
        contribs = []
        counted = 0
        parts = []
        for ev in evs:
            value = decayed(rule.points, t - ev.t, rule.half_life_days)
            if rule.window_days is not None and t - ev.t >= rule.window_days * DAY:
                contribs.append(Contribution(ev.id, ev.t, rule.points, 0.0, False, "outside window"))
            elif rule.cap is not None and counted >= rule.cap:
                contribs.append(Contribution(ev.id, ev.t, rule.points, 0.0, False, "over cap"))
            else:
                counted += 1
                parts.append(value)
                contribs.append(Contribution(ev.id, ev.t, rule.points, value, True))
        total = math.fsum(parts)
        totals.append(total)
        explained.append(
            RuleExplanation(rule.id, rule.description, rule.points, rule.half_life_days, rule.window_days,
                            rule.cap, total, tuple(contribs))
        )
    raw = math.fsum(totals)
    return EngagementExplanation(at=t, raw=raw, score=clamp(raw, model), rules=tuple(explained))


def recompute_engagement(model: ScoringModel, events: Iterable[ScoredEvent], t: float) -> float:
    return explain_engagement(model, events, t).score
