"""BANT qualification as a structured record, and the one configurable SQL rule.

Each criterion (budget, authority, need, timeline) has a state - met, not met or unknown - and typed
details, recorded by someone at some time; the service keeps every recorded version (history). The SQL
rule is the same for everyone in a workspace, e.g. "need and timeline met, and at least 3 of 4 met".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from leadflow.core.handoff.team import TeamError


class Criterion(StrEnum):
    BUDGET = "budget"
    AUTHORITY = "authority"
    NEED = "need"
    TIMELINE = "timeline"


class CriterionState(StrEnum):
    MET = "met"
    NOT_MET = "not_met"
    UNKNOWN = "unknown"


AUTHORITY_KINDS = ("decision_maker", "influencer", "champion", "user", "gatekeeper")
PAIN_CATEGORIES = ("revenue_growth", "cost_reduction", "efficiency", "compliance", "risk", "replacement",
                   "integration", "scale", "other")
_QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)


def _num(v: Any, name: str) -> float | None:
    if v is None or v == "":
        return None
    if isinstance(v, bool):
        raise TeamError(name, f"must be a number, got {v!r}")
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise TeamError(name, f"must be a number, got {v!r}") from None
    if f < 0 or f != f or f in (float("inf"),):
        raise TeamError(name, "must be a finite number >= 0")
    return f


def _text(v: Any, name: str, limit: int = 2000) -> str | None:
    if v is None:
        return None
    s = str(v).strip()
    if len(s) > limit:
        raise TeamError(name, f"at most {limit} characters")
    return s or None


def validate_details(criterion: Criterion, data: Mapping[str, Any]) -> dict[str, Any]:
    """Check and normalise one criterion's details; unknown keys are refused (named)."""
    allowed = {
        Criterion.BUDGET: {"amount", "min", "max", "currency", "confirmed", "note"},
        Criterion.AUTHORITY: {"role", "kind", "other_deciders", "note"},
        Criterion.NEED: {"pain_category", "description", "note"},
        Criterion.TIMELINE: {"target_date", "quarter", "note"},
    }[criterion]
    extra = sorted(set(data) - allowed)
    if extra:
        raise TeamError(f"bant.{criterion.value}.{extra[0]}", f"unknown field (known: {', '.join(sorted(allowed))})")
    p = f"bant.{criterion.value}"
    out: dict[str, Any] = {}
    if criterion == Criterion.BUDGET:
        amount, lo, hi = _num(data.get("amount"), f"{p}.amount"), _num(data.get("min"), f"{p}.min"), _num(
            data.get("max"), f"{p}.max")
        if lo is not None and hi is not None and hi < lo:
            raise TeamError(f"{p}.max", "must be >= min")
        cur = _text(data.get("currency"), f"{p}.currency", 3)
        if cur is not None and not (len(cur) == 3 and cur.isalpha()):
            raise TeamError(f"{p}.currency", "must be a 3-letter code like EUR")
        out = {"amount": amount, "min": lo, "max": hi, "currency": cur.upper() if cur else None,
               "confirmed": bool(data.get("confirmed", False))}
    elif criterion == Criterion.AUTHORITY:
        kind = _text(data.get("kind"), f"{p}.kind", 30)
        if kind is not None and kind not in AUTHORITY_KINDS:
            raise TeamError(f"{p}.kind", f"must be one of {', '.join(AUTHORITY_KINDS)}")
        others = data.get("other_deciders") or []
        if isinstance(others, str):
            others = [o.strip() for o in others.split(",") if o.strip()]
        out = {"role": _text(data.get("role"), f"{p}.role", 200), "kind": kind,
               "other_deciders": [_text(o, f"{p}.other_deciders", 200) for o in others]}
    elif criterion == Criterion.NEED:
        cat = _text(data.get("pain_category"), f"{p}.pain_category", 40)
        if cat is not None and cat not in PAIN_CATEGORIES:
            raise TeamError(f"{p}.pain_category", f"must be one of {', '.join(PAIN_CATEGORIES)}")
        out = {"pain_category": cat, "description": _text(data.get("description"), f"{p}.description")}
    else:
        td = data.get("target_date")
        if td not in (None, ""):
            try:
                td = td if isinstance(td, date) else date.fromisoformat(str(td))
            except ValueError:
                raise TeamError(f"{p}.target_date", f"{td!r} is not a date like 2026-09-30") from None
            td = td.isoformat()
        else:
            td = None
        q = _text(data.get("quarter"), f"{p}.quarter", 8)
        if q is not None:
            m = _QUARTER.match(q)
            if not m:
                raise TeamError(f"{p}.quarter", f"{q!r} is not a quarter like 2026-Q3")
            q = f"{m.group(1)}-Q{m.group(2)}"
        out = {"target_date": td, "quarter": q}
    note = _text(data.get("note"), f"{p}.note")
    if note:
        out["note"] = note
    return out


@dataclass(frozen=True, slots=True)
class CriterionRecord:
    criterion: Criterion
    state: CriterionState = CriterionState.UNKNOWN
    details: Mapping[str, Any] = field(default_factory=dict)
    recorded_by: str | None = None
    recorded_at: str | None = None  # ISO timestamp (for display)


@dataclass(frozen=True, slots=True)
class BantRecord:
    criteria: Mapping[Criterion, CriterionRecord]

    def state(self, c: Criterion) -> CriterionState:
        r = self.criteria.get(c)
        return r.state if r else CriterionState.UNKNOWN

    @classmethod
    def empty(cls) -> BantRecord:
        return cls({c: CriterionRecord(c) for c in Criterion})


@dataclass(frozen=True, slots=True)
class SqlRule:
    """Pass when every ``required`` criterion is met and at least ``min_met`` of the four are met."""

    required: frozenset[Criterion] = frozenset({Criterion.NEED, Criterion.TIMELINE})
    min_met: int = 3

    def __post_init__(self) -> None:
        object.__setattr__(self, "required", frozenset(Criterion(c) for c in self.required))
        if not isinstance(self.min_met, int) or not 0 <= self.min_met <= 4:
            raise TeamError("sql_rule.min_met", "must be 0 to 4")
        if len(self.required) > 4:
            raise TeamError("sql_rule.required", "at most the four criteria")

    def describe(self) -> str:
        req = " and ".join(c.value for c in Criterion if c in self.required)
        return (f"{req} met and " if req else "") + f"at least {self.min_met} of 4 met"

    def to_dict(self) -> dict[str, Any]:
        return {"required": [c.value for c in Criterion if c in self.required], "min_met": self.min_met}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> SqlRule:
        if not data:
            return cls()
        try:
            req = frozenset(Criterion(str(c)) for c in data.get("required", ()))
        except ValueError:
            raise TeamError("sql_rule.required", "criteria are budget, authority, need, timeline") from None
        return cls(req, int(data.get("min_met", 3)))


@dataclass(frozen=True, slots=True)
class Verdict:
    passed: bool
    met: tuple[Criterion, ...]
    not_met: tuple[Criterion, ...]
    unknown: tuple[Criterion, ...]
    explanation: str


def evaluate(record: BantRecord, rule: SqlRule) -> Verdict:
    met = tuple(c for c in Criterion if record.state(c) == CriterionState.MET)
    not_met = tuple(c for c in Criterion if record.state(c) == CriterionState.NOT_MET)
    unknown = tuple(c for c in Criterion if record.state(c) == CriterionState.UNKNOWN)
    missing_required = [c.value for c in Criterion if c in rule.required and c not in met]
    passed = not missing_required and len(met) >= rule.min_met
    summary = (f"{len(met)} of 4 met ({', '.join(c.value for c in met) or 'none'}); "
               f"not met: {', '.join(c.value for c in not_met) or 'none'}; "
               f"unknown: {', '.join(c.value for c in unknown) or 'none'}")
    if passed:
        expl = f"BANT passed the SQL rule ({rule.describe()}): {summary}"
    else:
        why = []
        if missing_required:
            why.append(f"required not met: {', '.join(missing_required)}")
        if len(met) < rule.min_met:
            why.append(f"only {len(met)} met, need {rule.min_met}")
        expl = f"BANT failed the SQL rule ({rule.describe()}): {'; '.join(why)}; {summary}"
    return Verdict(passed, met, not_met, unknown, expl)
