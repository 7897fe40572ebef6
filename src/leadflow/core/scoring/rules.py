"""Matching conditions against values: the one place the operators' meaning is defined.

The batch engine (``leadflow.batch``) compiles the same operators to set-wise expressions; tests check
that both agree.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

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
    """Whether ``value`` satisfies ``cond``. Missing values (None or "") satisfy only ``not_*`` tests.

    ``equals``: when either side is a boolean, both sides are compared by the truth they read as
    (:func:`bool_reading`), and a side that reads as no boolean matches nothing - ``false`` does not equal
    ``"ebook"``, nor does ``true`` equal ``7``. Otherwise numerically when both sides are numbers and the
    constant is not a string, else as (normalised) text. ``in`` matches when ``equals`` matches any item;
    ``not_equals`` / ``not_in`` are the negations (and hold for missing values).
    """
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
            return not _in(cond, value)
        return not matches(cond.model_copy(update={"op": "equals"}), value)
    if not present:
        return False
    cs = cond.case_sensitive
    if op == "equals":
        if isinstance(cond.value, bool) or isinstance(value, bool):
            truth = bool_reading(value)
            return truth is not None and truth == bool_reading(cond.value)
        num_a, num_b = _number(value), _number(cond.value)
        if num_a is not None and num_b is not None and not isinstance(cond.value, str):
            return num_a == num_b
        return _norm(str(value), cs) == _norm(str(cond.value), cs)
    if op == "in":
        return _in(cond, value)
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


class InSets(NamedTuple):
    """An ``in`` list split by how ``equals`` compares each item with a (present) value."""

    texts: frozenset[str]  # items compared as text whatever the value (strings, None, containers ...)
    texts_num: frozenset[str]  # texts and the numeric items: the test for values that are not numbers
    numbers: frozenset[float]  # the numeric items (not strings, not booleans) as floats, NaN left out
    bools: frozenset[bool]  # the boolean items: compared with the truth the value reads as
    truths: frozenset[bool]  # the truths the items read as (items reading as no boolean left out): the
    # test for boolean values
    numeric: bool  # whether there are numeric items (NaN included)


_IN_SETS: dict[int, tuple[Condition, InSets]] = {}


def in_sets(cond: Condition) -> InSets:
    """The items of an ``in`` condition, split by how ``equals`` compares them and normalised, once per
    condition object (conditions are frozen; the entry keeps its condition alive, so the id cannot be reused
    while cached). The batch engine builds its IN-lists from the same split."""
    hit = _IN_SETS.get(id(cond))
    if hit is not None and hit[0] is cond:
        return hit[1]
    cs = cond.case_sensitive
    texts, numeric_texts, numbers, bools = set(), set(), set(), set()
    for item in cond.value:
        if isinstance(item, bool):
            bools.add(item)
        elif isinstance(item, int | float):
            # equals with a non-string number: numerically when the value is a number, else as text
            num = float(item)
            if num == num:  # NaN equals no number (and a set would find the very same NaN object)
                numbers.add(num)
            numeric_texts.add(_norm(str(item), cs))
        else:
            texts.add(_norm(str(item), cs))
    sets = InSets(
        texts=frozenset(texts),
        texts_num=frozenset(texts | numeric_texts),
        numbers=frozenset(numbers),
        bools=frozenset(bools),
        truths=frozenset(t for t in map(bool_reading, cond.value) if t is not None),
        numeric=bool(numeric_texts),
    )
    if len(_IN_SETS) > 4096:
        _IN_SETS.clear()
    _IN_SETS[id(cond)] = (cond, sets)
    return sets


def _in(cond: Condition, value: Any) -> bool:
    """``in`` on a present value: whether ``equals`` would match one of the items, as set lookups.

    ``equals`` compares by the truth both sides read as when either side is a boolean (no match when the
    other reads as no boolean), numerically when both are numbers and the item is not a string, and as
    normalised text otherwise; each case is one lookup here.
    """
    sets = in_sets(cond)
    if isinstance(value, bool):
        return value in sets.truths
    if sets.bools and bool_reading(value) in sets.bools:
        return True
    if sets.numeric:
        num = _number(value)
        if num is None:
            return _norm(str(value), cond.case_sensitive) in sets.texts_num
        if num in sets.numbers:
            return True
    return bool(sets.texts) and _norm(str(value), cond.case_sensitive) in sets.texts


TRUE_WORDS = ("1", "true", "yes", "y", "t")
FALSE_WORDS = ("0", "false", "no", "n", "f")


def bool_reading(value: Any) -> bool | None:
    """The truth ``value`` reads as when compared with a boolean, or None when it reads as no boolean.

    * a boolean: itself;
    * a string: a true word (``1 true yes y t``) or a false word (``0 false no n f``), case-insensitive and
      stripped of surrounding whitespace; any other text (``"ebook"``, ``"maybe"``, ``"2"``) is no boolean;
    * a number (not a boolean): ``1`` is True and ``0`` is False (``1.0`` and ``-0.0`` too), as flags are
      commonly stored (``opted_in: 1``) and as the texts ``"1"`` / ``"0"`` read; any other number (a count,
      an amount, NaN) is no boolean - a marketer testing ``equals: true`` means "the flag is set", not
      "the employee count is not zero";
    * anything else (lists, objects ...): no boolean.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        return None
    if isinstance(value, int | float):
        if value == 1:
            return True
        if value == 0:
            return False
    return None


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
