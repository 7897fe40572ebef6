"""Matching conditions against values: the one place the operators' meaning is defined.

The batch engine (``leadflow.batch``) compiles the same operators to set-wise expressions; tests check
that both agree.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from leadflow.core.scoring.spec import Condition, EngagementRule, FitRule

FREE_MAIL_DOMAINS = frozenset(
    """gmail.com googlemail.com yahoo.com yahoo.co.uk yahoo.fr ymail.com hotmail.com hotmail.co.uk hotmail.fr
    outlook.com live.com msn.com aol.com icloud.com me.com mac.com proton.me protonmail.com gmx.com gmx.de
    gmx.net web.de mail.com mail.ru yandex.ru yandex.com zoho.com qq.com 163.com 126.com naver.com
    rediffmail.com libero.it orange.fr free.fr laposte.net wanadoo.fr t-online.de seznam.cz uol.com.br
    bol.com.br terra.com.br""".split()
)


@functools.lru_cache(maxsize=1024)
def _regex(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    return re.compile(pattern, 0 if case_sensitive else re.IGNORECASE)


def _norm(value: Any, case_sensitive: bool) -> Any:
    if isinstance(value, str) and not case_sensitive:
        return value.casefold()
    return value


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def matches(cond: Condition, value: Any) -> bool:
    """Whether ``value`` satisfies ``cond``. Missing values (None or "") satisfy only ``not_*`` tests."""
    op = cond.op
    present = value is not None and value != ""
    if op == "exists":
        return present
    if op == "not_exists":
        return not present
    if op in ("not_equals", "not_in"):
        if not present:
            return True
        if op == "not_in":  # the negation of "in" on the same values
            return _norm(str(value), cond.case_sensitive) not in _in_set(cond)
        return not matches(cond.model_copy(update={"op": "equals" if op == "not_equals" else "in"}), value)
    if not present:
        return False
    cs = cond.case_sensitive
    if op == "equals":
        if isinstance(cond.value, bool) or isinstance(value, bool):
            return _truthy(value) == _truthy(cond.value)
        num_a, num_b = _number(value), _number(cond.value)
        if num_a is not None and num_b is not None and not isinstance(cond.value, str):
            return num_a == num_b
        return _norm(str(value), cs) == _norm(str(cond.value), cs)
    if op == "in":
        return _norm(str(value), cs) in _in_set(cond)
    if op == "contains":
        if isinstance(value, list | tuple):
            return any(_norm(str(v), cs) == _norm(str(cond.value), cs) for v in value)
        return _norm(str(cond.value), cs) in _norm(str(value), cs)
    if op == "regex":
        return _regex(cond.value, cs).search(str(value)) is not None
    if op == "range":
        num = _number(value)
        if num is None:
            return False
        if cond.min is not None and num < cond.min:
            return False
        return not (cond.max is not None and num >= cond.max)
    raise ValueError(f"unknown op {op!r}")  # pragma: no cover - guarded by the spec


_IN_SETS: dict[int, tuple[Condition, frozenset[str]]] = {}


def _in_set(cond: Condition) -> frozenset[str]:
    """The normalised values of an ``in`` condition, computed once per condition object (conditions are
    frozen; the entry keeps its condition alive, so the id cannot be reused while cached). Membership in it
    is the same test as comparing the normalised value with each normalised list item."""
    hit = _IN_SETS.get(id(cond))
    if hit is not None and hit[0] is cond:
        return hit[1]
    values = frozenset(_norm(str(v), cond.case_sensitive) for v in cond.value)
    if len(_IN_SETS) > 4096:
        _IN_SETS.clear()
    _IN_SETS[id(cond)] = (cond, values)
    return values


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "y", "t")
    return bool(value)


def lead_value(rule_field: str, lead: Mapping[str, Any], account: Mapping[str, Any] | None) -> Any:
    """Resolve ``lead.x`` / ``account.x`` / ``*.properties.x`` against plain mappings."""
    scope, _, name = rule_field.partition(".")
    source: Mapping[str, Any] = lead if scope == "lead" else (account or {})
    if name.startswith("properties."):
        return (source.get("properties") or {}).get(name[len("properties."):])
    if scope == "lead" and name in ("email_domain", "free_mail"):
        email = str(source.get("email") or "")
        domain = email.rpartition("@")[2].lower() if "@" in email else ""
        return domain if name == "email_domain" else (domain in FREE_MAIL_DOMAINS if domain else None)
    return source.get(name)


def fit_rule_matches(rule: FitRule, lead: Mapping[str, Any], account: Mapping[str, Any] | None) -> bool:
    return matches(rule, lead_value(rule.field, lead, account))


def event_matches(rule: EngagementRule, etype: str, properties: Mapping[str, Any]) -> bool:
    if rule.event != etype:
        return False
    return all(matches(cond, properties.get(cond.property)) for cond in rule.where)
