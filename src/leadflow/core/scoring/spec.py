"""The scoring model: a versioned, declarative YAML file validated with line-numbered errors.

A model holds fit rules (on lead and account attributes), engagement rules (on events, with optional
half-life, window and cap), score floor and ceiling, fit grades and engagement bands, and the lifecycle
criteria (when a lead becomes a lead or an MQL). See ``docs/scoring-model.md`` and the shipped
``leadflow/models/default.yaml``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from functools import cached_property
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

GRADES = ("A", "B", "C", "D")
Op = Literal["equals", "not_equals", "in", "not_in", "contains", "regex", "range", "exists", "not_exists"]

LEAD_FIELDS = frozenset(
    {
        "email", "email_domain", "free_mail", "first_name", "last_name", "title", "seniority", "department",
        "phone", "country", "source", "medium", "campaign", "landing_page", "consent", "unsubscribed",
        "lead_status", "owner",
    }
)
ACCOUNT_FIELDS = frozenset({"domain", "name", "industry", "employee_count", "annual_revenue", "country"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Condition(_Strict):
    """One test on a value: ``op`` with ``value`` (or ``min`` / ``max`` for ``range``).

    ``equals`` compares numbers numerically, text case-insensitively unless ``case_sensitive``, and - when
    either side is a boolean - by truth, with values that read as a boolean only: booleans, the words
    ``1 true yes y t`` / ``0 false no n f`` (any case, stripped) and the numbers 1 / 0; anything else
    (``ebook``, ``7``, a list) equals no boolean. ``in`` takes a list and matches when ``equals`` would match
    any item of it; ``not_equals`` / ``not_in`` are the negations, and a missing value (None or "")
    satisfies them. See :func:`leadflow.core.scoring.rules.matches` and
    :func:`leadflow.core.scoring.rules.bool_reading`.
    """

    op: Op
    value: Any = None
    min: float | None = None
    max: float | None = None
    case_sensitive: bool = False

    @model_validator(mode="after")
    def _check(self) -> Condition:
        if self.op == "range":
            if self.min is None and self.max is None:
                raise ValueError("op 'range' needs min, max or both")
            if self.value is not None:
                raise ValueError("op 'range' takes min / max, not value")
        elif self.op in ("exists", "not_exists"):
            if self.value is not None:
                raise ValueError(f"op '{self.op}' takes no value")
        else:
            if self.value is None:
                raise ValueError(f"op '{self.op}' needs a value")
            if self.min is not None or self.max is not None:
                raise ValueError(f"min / max only go with op 'range', not '{self.op}'")
            if self.op in ("in", "not_in") and not isinstance(self.value, list):
                raise ValueError(f"op '{self.op}' needs a list value")
            if self.op == "regex":
                if not isinstance(self.value, str):
                    raise ValueError("op 'regex' needs a string value")
                try:
                    re.compile(self.value)
                except re.error as exc:
                    raise ValueError(f"regex {self.value!r} does not compile: {exc}") from None
        return self


class FitRule(Condition):
    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    description: str = ""
    field: str
    points: float

    @field_validator("field")
    @classmethod
    def _field(cls, v: str) -> str:
        scope, _, name = v.partition(".")
        if scope == "lead":
            if name in LEAD_FIELDS or name.startswith("properties.") and len(name) > len("properties."):
                return v
            raise ValueError(f"unknown lead field {name!r}; known: {', '.join(sorted(LEAD_FIELDS))}, properties.<name>")
        if scope == "account":
            if name in ACCOUNT_FIELDS or name.startswith("properties.") and len(name) > len("properties."):
                return v
            raise ValueError(f"unknown account field {name!r}; known: {', '.join(sorted(ACCOUNT_FIELDS))}")
        raise ValueError(f"field must start with 'lead.' or 'account.', got {v!r}")


class PropertyCondition(Condition):
    property: Annotated[str, Field(min_length=1)]


class EngagementRule(_Strict):
    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    description: str = ""
    event: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
    where: tuple[PropertyCondition, ...] = ()
    points: float
    half_life_days: Annotated[float, Field(gt=0)] | None = None
    window_days: Annotated[float, Field(gt=0)] | None = None
    cap: Annotated[int, Field(ge=1)] | None = None
    tags: tuple[str, ...] = ()

    @property
    def buffered(self) -> bool:
        """Rules with a window or a cap keep their recent events; the others keep one accumulator."""
        return self.window_days is not None or self.cap is not None


class Grades(_Strict):
    """Minimum fit points for each grade; below C is D."""

    A: float
    B: float
    C: float

    @model_validator(mode="after")
    def _order(self) -> Grades:
        if not (self.A >= self.B >= self.C):
            raise ValueError("grade thresholds must satisfy A >= B >= C")
        return self


class Fit(_Strict):
    rules: tuple[FitRule, ...] = ()
    grades: Grades


class Engagement(_Strict):
    rules: tuple[EngagementRule, ...] = ()
    floor: float = 0.0
    ceiling: float = 100.0
    bands: dict[str, float] = Field(default_factory=lambda: {"hot": 60.0, "warm": 30.0, "cold": float("-inf")})

    @model_validator(mode="after")
    def _check(self) -> Engagement:
        if self.floor > self.ceiling:
            raise ValueError("floor must not exceed ceiling")
        return self


class Criterion(_Strict):
    """All the tests present must hold (AND). A stage's ``any_of`` holds when one criterion holds (OR)."""

    fit_grade_at_least: Literal["A", "B", "C", "D"] | None = None
    fit_at_least: float | None = None
    engagement_at_least: float | None = None
    event_in: tuple[str, ...] | None = None
    has_events_all: tuple[str, ...] | None = None

    @model_validator(mode="after")
    def _nonempty(self) -> Criterion:
        if all(getattr(self, name) is None for name in type(self).model_fields):
            raise ValueError("a criterion needs at least one test")
        return self


class StageCriteria(_Strict):
    any_of: Annotated[tuple[Criterion, ...], Field(min_length=1)]


class Lifecycle(_Strict):
    lead: StageCriteria | None = None
    mql: StageCriteria


class _DuplicateRuleId(ValueError):
    """Raised by the model-level check; ``loc`` says where the second use is, for a line-numbered error."""

    def __init__(self, message: str, loc: tuple[Any, ...]) -> None:
        super().__init__(message)
        self.loc = loc


class ScoringModel(_Strict):
    key: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,63}$")] = "default"
    version: Annotated[int, Field(ge=1)] = 1
    name: str = ""
    description: str = ""
    fit: Fit
    engagement: Engagement
    lifecycle: Lifecycle

    @model_validator(mode="after")
    def _unique_ids(self) -> ScoringModel:
        seen: dict[str, str] = {}
        for section, rules in (("fit", self.fit.rules), ("engagement", self.engagement.rules)):
            for i, rule in enumerate(rules):
                if rule.id in seen:
                    raise _DuplicateRuleId(f"rule id {rule.id!r} is used twice (first at {seen[rule.id]})",
                                           (section, "rules", i, "id"))
                seen[rule.id] = f"{section}.rules.{i}.id"
        return self

    def grade(self, fit_points: float) -> str:
        g = self.fit.grades
        if fit_points >= g.A:
            return "A"
        if fit_points >= g.B:
            return "B"
        if fit_points >= g.C:
            return "C"
        return "D"

    def band(self, engagement: float) -> str:
        best_name, best = "", float("-inf")
        for name, threshold in self.engagement.bands.items():
            if engagement >= threshold and threshold >= best:
                best_name, best = name, threshold
        return best_name

    @property
    def ref(self) -> str:
        return f"{self.key}@v{self.version}"

    @cached_property
    def rules_by_event(self) -> dict[str, tuple[EngagementRule, ...]]:
        """Engagement rules per event type, in file order (so an event is tested against its type's rules only)."""
        out: dict[str, list[EngagementRule]] = {}
        for rule in self.engagement.rules:
            out.setdefault(rule.event, []).append(rule)
        return {k: tuple(v) for k, v in out.items()}

    @cached_property
    def engagement_rule_map(self) -> dict[str, EngagementRule]:
        return {rule.id: rule for rule in self.engagement.rules}


class ModelFileError(ValueError):
    """A model file is invalid. ``problems`` lists (line, field path, message)."""

    def __init__(self, source: str, problems: list[tuple[int | None, str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = [f"{source}:{line or '?'}: {path or '(top)'}: {msg}" for line, path, msg in problems]
        super().__init__("invalid scoring model\n" + "\n".join(lines))


def _line_map(node: yaml.Node, path: tuple[Any, ...], out: dict[tuple[Any, ...], int]) -> None:
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            out[(*path, key)] = key_node.start_mark.line + 1
            _line_map(value_node, (*path, key), out)
            out[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_map(item, (*path, i), out)


def parse_model(text: str, source: str = "<model>") -> ScoringModel:
    """Parse and validate model YAML. Raises :class:`ModelFileError` naming file, line, field and problem."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ModelFileError(source, [(line, "", f"YAML syntax: {getattr(exc, 'problem', exc)}")]) from None
    if not isinstance(data, Mapping) or node is None:
        raise ModelFileError(source, [(1, "", "the file must be a YAML mapping")])
    lines: dict[tuple[Any, ...], int] = {}
    _line_map(node, (), lines)
    try:
        return ScoringModel.model_validate(data)
    except ValidationError as exc:
        problems: list[tuple[int | None, str, str]] = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            loc += getattr((err.get("ctx") or {}).get("error"), "loc", ())  # model-level checks that know where
            line = None
            for cut in range(len(loc), -1, -1):
                if loc[:cut] in lines:
                    line = lines[loc[:cut]]
                    break
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                msg = "unknown field"
            msg = msg.removeprefix("Value error, ")
            problems.append((line, ".".join(str(p) for p in loc), msg))
        raise ModelFileError(source, problems) from None


def load_model_file(path: str) -> ScoringModel:
    with open(path, encoding="utf-8") as fh:
        return parse_model(fh.read(), source=str(path))


def checksum(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
