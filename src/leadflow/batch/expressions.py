"""The full recompute written once, set-wise, as Ibis expressions.

Every operator of the scoring model (:mod:`leadflow.core.scoring.spec`) is compiled to an Ibis boolean
expression with the meaning :func:`leadflow.core.scoring.rules.matches` gives it, and the engagement
semantics of :mod:`leadflow.core.scoring.engine` (window, cap, half-life decay, clamping) are expressed as
a join, a window function and aggregations. Nothing here is backend-specific SQL: the expressions run on
DuckDB (the default, see :mod:`leadflow.batch.source`) and are written to run on other Ibis backends
(PySpark) too - see "Portability" below.

Inputs are the *normalised* tables of :mod:`leadflow.batch.source`:

* ``events(id, lead_id, type, t, properties)`` - ``t`` epoch seconds (float64), ``properties`` JSON;
* ``leads(id, account_id, email, <lead fields>..., properties)``;
* ``accounts(id, domain, name, industry, employee_count, annual_revenue, country, properties)``.

How Python's dynamic types are mirrored: a value (a typed column, or a JSON property) is split into the
*parts* the operators need - its ``str()`` (NULL when missing: None, JSON null, absent key or ""), its
number (``rules._number``), whether it is a boolean, the truth it reads as (``rules.bool_reading``),
whether it is a list - each a ``CASE`` over what the value is, in the order the Python code tests it. The
positive operators are false on missing values and ``not_equals`` / ``not_in`` are the negation of the
NULL-safe positive, as in Python.
The parts are computed once per value in a projection and the rules' tests read those columns, which keeps
the SQL small (fast to compile) and evaluates each JSON property once per row.

Known differences (documented, not tested for equality): ``str()`` of a JSON array or object is its
JSON text where Python would print a repr (matters only for substring / regex / equality tests on
containers); case-insensitive comparisons use SQL ``lower`` against Python's ``casefold`` (identical for
ASCII); regular expressions run on the engine's regex library (RE2 in DuckDB: no look-arounds or
back-references) instead of Python's ``re``; fit points are summed as SQL decimals (Ibis writes float
literals as ``20.0``, which DuckDB types DECIMAL) rather than with ``math.fsum`` - identical for points
that are exact binary fractions (integers, halves, quarters ...). Event ids are taken to be unique (the
store's primary key); the core's recompute would skip a repeated id.

Portability: only Ibis operations are used. Two DuckDB-specific facts are relied on and isolated in
:func:`json_get` and :meth:`_Value.of_json`: a JSON key with path characters is quoted (``$."a.b"``),
and the JSON text of an extracted value is its canonical serialisation (strings quoted). On PySpark, Ibis
maps JSON extraction to ``get_json_object``, which unquotes strings, so those two helpers need a Spark
variant there.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from leadflow.core.scoring.rules import FALSE_WORDS, FREE_MAIL_DOMAINS, TRUE_WORDS, bool_reading, in_sets
from leadflow.core.scoring.spec import ACCOUNT_FIELDS, LEAD_FIELDS, Condition, EngagementRule, ScoringModel
from leadflow.core.timeutil import DAY, epoch

__all__ = [
    "ACCOUNT_COLUMNS",
    "EVENT_SCHEMA",
    "LEAD_COLUMNS",
    "clamp_expr",
    "condition_expr",
    "engagement_expr",
    "fit_expr",
    "grade_expr",
    "json_get",
    "matched_pairs",
    "per_rule_expr",
    "rescore_expr",
    "rule_id_expr",
    "rules_table",
    "to_epoch",
]

#: The normalised events schema the engagement expressions read.
EVENT_SCHEMA = ibis.schema(
    {"id": "string", "lead_id": "string", "type": "string", "t": "float64", "properties": "json"}
)
#: Lead columns the fit expressions may read (besides ``id``, ``account_id`` and ``properties``).
LEAD_COLUMNS = tuple(sorted(LEAD_FIELDS - {"email_domain", "free_mail"}))
#: Account columns the fit expressions may read (besides ``id`` and ``properties``).
ACCOUNT_COLUMNS = tuple(sorted(ACCOUNT_FIELDS))

# rules.bool_reading on text: str.strip() removes the characters for which str.isspace() holds (these;
# a test checks the list), where SQL TRIM removes spaces, tabs and newlines only - so the words are matched
# by a regular expression (RE2 syntax) on the lower-cased text, surrounded by any of those characters.
_SPACES = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
           "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
_SPACE_CLASS = "[" + "".join(f"\\x{{{ord(ch):x}}}" for ch in _SPACES) + "]*"
_BOOL_WORD = f"^{_SPACE_CLASS}({'|'.join(TRUE_WORDS + FALSE_WORDS)}){_SPACE_CLASS}$"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_INTEGER_TOKEN = r"^-?[0-9]+$"

_NULL_STR = ibis.null("string")
_NULL_BOOL = ibis.null("boolean")
_NULL_FLOAT = ibis.null("float64")


def to_epoch(at: datetime | float | int) -> float:
    """Epoch seconds of ``at`` (naive datetimes are UTC), exactly as the core's ``epoch``."""
    if isinstance(at, datetime):
        return epoch(at)
    return float(at)


# ------------------------------------------------------------------------------------- values


def json_get(obj: ir.JSONValue, key: str) -> ir.JSONValue:
    """``obj[key]`` for one top-level key, even a key with dots or other path characters.

    Ibis hands the key to sqlglot as a JSON *path*: ``obj["a.b"]`` reads ``obj.a.b`` (nested). Keys that
    are not plain identifiers are therefore quoted (``$."a.b"``), which DuckDB reads as one key.
    """
    if _IDENTIFIER.match(key):
        return obj[key]
    if '"' in key or "\\" in key:
        raise ValueError(f"property name {key!r}: quotes and backslashes are not supported by the batch engine")
    return obj[f'"{key}"']


@dataclass(frozen=True)
class _Value:
    """A value split by kind. Each part is NULL unless the value is of that kind; ``None`` means
    "statically never of that kind" (a typed column)."""

    s: ir.StringValue | None = None  # the string, when it is a string
    n: ir.FloatingValue | None = None  # the number (not a boolean), when it is a number
    n_text: ir.StringValue | None = None  # str() of that number (typed columns)
    b: ir.BooleanValue | None = None  # the boolean, when it is one
    raw: ir.StringValue | None = None  # JSON values: the JSON text ('null' for JSON null)
    json: ir.JSONValue | None = None  # JSON values: the value itself (for lists)
    is_str: ir.BooleanValue | None = None  # JSON values: whether it is a string

    @classmethod
    def of(cls, value: ir.Value) -> _Value:
        dtype = value.type()
        if dtype.is_json():
            return cls.of_json(value)
        if dtype.is_string():
            return cls(s=value)
        if dtype.is_boolean():
            return cls(b=value)
        if dtype.is_integer():
            return cls(n=value.cast("float64"), n_text=value.cast("string"))
        if dtype.is_floating() or dtype.is_decimal():
            return cls(n=value.cast("float64"), n_text=value.cast("float64").cast("string"))
        if dtype.is_null():
            return cls()
        return cls(s=value.cast("string"))

    @classmethod
    def of_json(cls, j: ir.JSONValue) -> _Value:
        """Split a JSON value by kind, from its JSON text with plain string functions.

        Ibis's unwrap operations (``j.str`` ...) cost a type probe plus a parse each; classifying the JSON
        text by its first character is cheaper, and exact: a string without a backslash has no escapes (and
        no inner quote), so it is its text without the quotes; a string with escapes falls back to
        ``j.str``; a number is its text cast to a float (JSON numbers are valid float literals).
        """
        raw = j.cast("string")
        is_str = raw.startswith('"')
        s = ibis.cases(
            (is_str & ~raw.contains("\\"), raw.replace('"', "")),
            (is_str, j.str),
            else_=_NULL_STR,
        )
        n = ibis.ifelse(is_str, _NULL_FLOAT, raw.try_cast("float64"))
        b = ibis.cases((raw == "true", True), (raw == "false", False), else_=_NULL_BOOL)
        return cls(s=s, n=n, b=b, raw=raw, json=j, is_str=is_str)

    # -- the parts -----------------------------------------------------------------------------------

    def text(self) -> ir.StringValue:
        """``str(value)``, NULL when the value is missing (None, JSON null, absent, "").

        A COALESCE whose first argument is the string case: engines evaluating COALESCE lazily (DuckDB
        does) look further only for values that are not strings.
        """
        parts: list[ir.Value] = []
        if self.s is not None:
            parts.append(self.s.nullif(""))
        if self.raw is not None:
            # JSON: integers print as their digits, floats as the shortest repr (DuckDB's DOUBLE ->
            # VARCHAR agrees with Python's repr), booleans as True / False, arrays and objects as their
            # JSON text (Python would print a repr: the one approximation).
            raw = self.raw
            parts.append(
                ibis.cases(
                    (self.n.notnull(), ibis.ifelse(raw.re_search(_INTEGER_TOKEN), raw, self.n.cast("string"))),
                    (raw == "true", "True"),
                    (raw == "false", "False"),
                    (raw.startswith("[") | raw.startswith("{"), raw),
                    else_=_NULL_STR,
                )
            )
        else:
            if self.n is not None:
                parts.append(self.n_text)
            if self.b is not None:
                parts.append(ibis.cases((self.b, "True"), (~self.b, "False"), else_=_NULL_STR))
        if not parts:
            return _NULL_STR
        return parts[0] if len(parts) == 1 else ibis.coalesce(*parts)

    def number(self) -> ir.FloatingValue:
        """``rules._number``: numbers, and strings that parse as one; booleans are not numbers."""
        if self.is_str is not None:  # JSON: one cast, of the string or of the JSON text
            return ibis.ifelse(self.is_str, self.s.try_cast("float64"), self.n)
        parts = []
        if self.n is not None:
            parts.append(self.n)
        if self.s is not None:
            parts.append(self.s.try_cast("float64"))
        if not parts:
            return _NULL_FLOAT
        return parts[0] if len(parts) == 1 else ibis.coalesce(*parts)

    def boolean(self) -> ir.BooleanValue:
        """``rules.bool_reading``: the truth the value reads as, NULL when it reads as no boolean (text
        other than a true or false word, numbers other than 1 and 0, lists, objects) or is missing."""
        word = None
        if self.s is not None:
            word = self.s.lower().re_extract(_BOOL_WORD, 1)  # "" when no word
        branches = []
        if word is not None:
            branches += [(word.isin(TRUE_WORDS), True), (word.isin(FALSE_WORDS), False)]
        if self.n is not None:
            branches += [(self.n == 1.0, True), (self.n == 0.0, False)]
        if self.b is not None:
            branches.append((self.b.notnull(), self.b))
        return ibis.cases(*branches, else_=_NULL_BOOL) if branches else _NULL_BOOL

    def parts(self, needs: set[str]) -> dict[str, ir.Value]:
        """The parts ``needs`` names (see :func:`_needs`) that this value can have."""
        out: dict[str, ir.Value] = {}
        if "text" in needs:
            out["text"] = self.text()
        if "number" in needs:
            out["number"] = self.number()
        if "boolean" in needs:
            out["boolean"] = self.boolean()
        if "b" in needs and self.b is not None:
            out["b"] = self.b
        if "list" in needs and self.json is not None:
            out["is_list"] = self.raw.startswith("[")
            out["json"] = self.json
        return out


@dataclass(frozen=True)
class _Parts:
    """What the operators read of a value (columns once materialised)."""

    text: ir.StringValue | None = None
    number: ir.FloatingValue | None = None
    boolean: ir.BooleanValue | None = None  # the truth the value reads as (rules.bool_reading)
    b: ir.BooleanValue | None = None  # None: never a boolean
    is_list: ir.BooleanValue | None = None  # None: never a list
    json: ir.JSONValue | None = None


def _needs(cond: Condition) -> set[str]:
    """The parts of the value that ``cond`` reads."""
    op = cond.op
    if op == "range":
        return {"number"}
    if op in ("equals", "not_equals"):
        if isinstance(cond.value, bool):
            return {"boolean"}
        return {"text", "b", "number"} if _py_number(cond.value) is not None else {"text", "b"}
    if op == "contains":
        return {"text", "list"}
    if op in ("in", "not_in"):  # what equals needs for each item (see _in)
        needs = {"text", "b"} if cond.value else {"text"}
        if any(isinstance(item, bool) for item in cond.value):
            needs.add("boolean")
        if any(_py_number(item) is not None for item in cond.value):
            needs.add("number")
        return needs
    return {"text"}  # regex, exists, not_exists


def _materialize(
    table: ir.Table, keep: Sequence[str], values: dict[str, tuple[ir.Value, set[str]]]
) -> tuple[ir.Table, dict[str, _Parts]]:
    """Project ``keep`` and the needed parts of each named value as columns ``<name>__<part>``."""
    columns: dict[str, ir.Value] = {}
    names: dict[str, list[str]] = {}
    for name, (value, needs) in values.items():
        parts = _Value.of(value).parts(needs)
        names[name] = list(parts)
        columns.update({f"{name}__{part}": expr for part, expr in parts.items()})
    out = table.select(*keep, **columns)
    return out, {name: _Parts(**{p: out[f"{name}__{p}"] for p in parts}) for name, parts in names.items()}


# ------------------------------------------------------------------------------------- operators


def _norm(text: ir.StringValue, case_sensitive: bool) -> ir.StringValue:
    return text if case_sensitive else text.lower()


def _const(value: Any, case_sensitive: bool) -> str:
    text = str(value)
    return text if case_sensitive else text.casefold()


def _py_number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    return None  # a string constant never takes the numeric path (rules.matches)


def _equals(cond: Condition, p: _Parts) -> ir.BooleanValue:
    cs, c = cond.case_sensitive, cond.value
    if isinstance(c, bool):
        return p.boolean == ibis.literal(c)  # NULL (no match) when the value reads as no boolean
    text_eq = _norm(p.text, cs) == _const(c, cs)
    branches = []
    if p.b is not None:
        truth = bool_reading(c)  # a boolean value equals only a constant that reads as a boolean
        branches.append((p.b.notnull(), ibis.literal(False) if truth is None else p.b == ibis.literal(truth)))
    num_c = _py_number(c)
    if num_c is not None:
        # Python: NaN equals no number; SQL engines say NaN = NaN (and the text "nan" parses to NaN)
        same = p.number == ibis.literal(num_c, "float64") if num_c == num_c else ibis.literal(False)
        branches.append((p.number.notnull(), same))
    return ibis.cases(*branches, else_=text_eq) if branches else text_eq


def _bool_in(value: ir.BooleanValue, options: frozenset[bool]) -> ir.BooleanValue:
    """``value in options`` for a boolean ``value`` (NULL stays NULL)."""
    if not options:
        return ibis.literal(False)
    if options == {True, False}:
        return ibis.ifelse(value.notnull(), True, _NULL_BOOL)
    return value if True in options else ~value


def _text_in(text: ir.StringValue, options: frozenset[str]) -> ir.BooleanValue:
    return text.isin(sorted(options)) if options else ibis.literal(False)


def _in(cond: Condition, p: _Parts) -> ir.BooleanValue:
    """``equals`` on any item (``rules._in``), from the same split of the items (``rules.in_sets``): boolean
    items by the truth the value reads as (none when it reads as no boolean), numeric items numerically (as
    text when the value is no number), the others as text; a boolean value by its truth against the truths
    the items read as. One IN-list per kind."""
    if not cond.value:
        return ibis.literal(False)
    sets = in_sets(cond)
    text = _norm(p.text, cond.case_sensitive)
    tests: list[ir.BooleanValue] = []
    if sets.bools:
        tests.append(_bool_in(p.boolean, sets.bools))
    if sets.numeric:
        number_in = (p.number.isin([ibis.literal(x, "float64") for x in sorted(sets.numbers)]) if sets.numbers
                     else ibis.literal(False))
        tests.append(ibis.ifelse(p.number.notnull(), number_in | _text_in(text, sets.texts),
                                 _text_in(text, sets.texts_num)))
    elif sets.texts:
        tests.append(_text_in(text, sets.texts))
    rest = ibis.or_(*tests) if tests else ibis.literal(False)
    if p.b is None:
        return rest
    return ibis.ifelse(p.b.notnull(), _bool_in(p.b, sets.truths), rest)


def _json_element_text(e: ir.JSONValue) -> ir.StringValue:
    """``str(element)`` of one element of a JSON array (no missing-value rule inside lists)."""
    raw = e.cast("string")
    n = e.float
    b = e.bool
    return ibis.cases(
        (e.str.notnull(), e.str),
        (n.notnull(), ibis.ifelse(raw.re_search(_INTEGER_TOKEN), raw, n.cast("string"))),
        (b.notnull(), ibis.ifelse(b, "True", "False")),
        (raw == "null", ibis.literal("None")),
        else_=raw,
    )


def _contains(cond: Condition, p: _Parts) -> ir.BooleanValue:
    cs = cond.case_sensitive
    needle = _const(cond.value, cs)
    scalar = _norm(p.text, cs).contains(needle)
    if p.is_list is None:
        return scalar
    in_list = p.json.array.map(lambda e: _norm(_json_element_text(e), cs)).contains(needle)
    return ibis.ifelse(p.is_list, in_list, scalar)


def _regex(cond: Condition, p: _Parts) -> ir.BooleanValue:
    pattern = cond.value if cond.case_sensitive else f"(?i){cond.value}"
    return p.text.re_search(pattern)


def _range(cond: Condition, p: _Parts) -> ir.BooleanValue:
    num = p.number
    test = ibis.literal(True)
    if cond.min is not None:
        test = test & (num >= cond.min)
    if cond.max is not None:
        test = test & (num < cond.max)
    # Python: nan < min and nan >= max are both False, so NaN is in every range; SQL engines order NaN
    # above every number instead.
    return ibis.ifelse(num.isnan(), num.notnull(), test)


_POSITIVE = {"equals": _equals, "in": _in, "contains": _contains, "regex": _regex, "range": _range}


def _test(cond: Condition, p: _Parts) -> ir.BooleanValue:
    """``cond`` on the parts of a value: never NULL."""
    op = cond.op
    if op == "exists":
        return p.text.notnull()
    if op == "not_exists":
        return p.text.isnull()
    if op in ("not_equals", "not_in"):
        positive = _POSITIVE["equals" if op == "not_equals" else "in"](cond, p)
        return ~positive.fill_null(False)
    return _POSITIVE[op](cond, p).fill_null(False)


def condition_expr(cond: Condition, value: ir.Value) -> ir.BooleanValue:
    """Whether ``value`` (a typed column or a JSON value) satisfies ``cond``: never NULL.

    Mirrors :func:`leadflow.core.scoring.rules.matches`: missing values (NULL, JSON null, absent key or
    "") satisfy only ``not_equals``, ``not_in`` and ``not_exists``.
    """
    return _test(cond, _Parts(**_Value.of(value).parts(_needs(cond))))


# ---------------------------------------------------------------------------------------------- fit


def _field_value(field: str, base: ir.Table, account_cols: dict[str, str]) -> ir.Value:
    scope, _, name = field.partition(".")
    if scope == "lead":
        if name.startswith("properties."):
            return json_get(base.properties, name[len("properties."):])
        if name == "email_domain":
            return base._lf_domain
        if name == "free_mail":
            return ibis.ifelse(base._lf_domain == "", _NULL_BOOL, base._lf_domain.isin(sorted(FREE_MAIL_DOMAINS)))
        return base[name]
    if name.startswith("properties."):
        return json_get(base[account_cols["properties"]], name[len("properties."):])
    return base[account_cols[name]]


def _account_columns(model: ScoringModel) -> list[str]:
    needed: list[str] = []
    for rule in model.fit.rules:
        scope, _, name = rule.field.partition(".")
        if scope == "account":
            col = "properties" if name.startswith("properties.") else name
            if col not in needed:
                needed.append(col)
    return needed


def grade_expr(model: ScoringModel, fit: ir.FloatingValue) -> ir.StringValue:
    g = model.fit.grades
    return ibis.cases((fit >= g.A, "A"), (fit >= g.B, "B"), (fit >= g.C, "C"), else_="D")


def fit_expr(model: ScoringModel, leads: ir.Table, accounts: ir.Table | None = None) -> ir.Table:
    """``(lead_id, fit, grade)`` for every lead: the sum of the points of the fit rules that match.

    ``leads`` needs ``id`` and the columns the rules read (``account_id`` when a rule reads the account);
    ``accounts`` needs ``id`` and the account columns the rules read.
    """
    needed = _account_columns(model)
    base = leads
    account_cols: dict[str, str] = {}
    if needed:
        if accounts is None:
            raise ValueError(f"model {model.ref} has account rules: pass the accounts table")
        account_cols = {c: f"_lf_account_{c}" for c in needed}
        acc = accounts.select(_lf_account_id=accounts.id, **{alias: accounts[c] for c, alias in account_cols.items()})
        base = leads.left_join(acc, leads.account_id == acc._lf_account_id)
    if any(rule.field in ("lead.email_domain", "lead.free_mail") for rule in model.fit.rules):
        # rules.lead_value: the text after the last "@", lower-cased; "" without an "@"
        email = base.email.cast("string").fill_null("")
        domain = ibis.ifelse(email.contains("@"), email.re_extract(r"@([^@]*)$", 1).lower(), "")
        base = base.mutate(_lf_domain=domain)
    # each field the rules read, once (derived ones included), then the parts of it its tests need
    fields: dict[str, str] = {}
    needs: dict[str, set[str]] = {}
    for rule in model.fit.rules:
        name = fields.setdefault(rule.field, f"_lf_f{len(fields)}")
        needs[name] = needs.get(name, set()) | _needs(rule)
    table = base.select("id", **{name: _field_value(field, base, account_cols) for field, name in fields.items()})
    table, parts = _materialize(table, ["id"], {name: (table[name], needs[name]) for name in fields.values()})
    total: ir.FloatingValue = ibis.literal(0.0, "float64")
    for rule in model.fit.rules:
        hit = _test(rule, parts[fields[rule.field]])
        total = total + ibis.ifelse(hit, ibis.literal(float(rule.points), "float64"), 0.0)
    out = table.select(lead_id=table.id, fit=total)
    return out.mutate(grade=grade_expr(model, out.fit))


# ------------------------------------------------------------------------------------- engagement


def rules_table(rules: Sequence[EngagementRule]) -> ir.Table:
    """``(rule_idx, event, rule_points, half_life_s, window_s, cap)``: the engagement rules as a table.

    ``rule_idx`` is the rule's position in ``rules``; ``half_life_s`` and ``window_s`` are in seconds (the
    very floats the core's engine uses), NULL when the rule has none, as is ``cap``.
    """
    schema = ibis.schema(
        {
            "rule_idx": "int16",
            "event": "string",
            "rule_points": "float64",
            "half_life_s": "float64",
            "window_s": "float64",
            "cap": "int64",
        }
    )
    data = {
        "rule_idx": list(range(len(rules))),
        "event": [r.event for r in rules],
        "rule_points": [float(r.points) for r in rules],
        # the same floats the Python engine uses: half_life_days * DAY, window_days * DAY
        "half_life_s": [None if r.half_life_days is None else r.half_life_days * DAY for r in rules],
        "window_s": [None if r.window_days is None else r.window_days * DAY for r in rules],
        "cap": [r.cap for r in rules],
    }
    return ibis.memtable(pa.table(data, schema=schema.to_pyarrow()))


def rule_id_expr(rules: Sequence[EngagementRule], idx: ir.IntegerValue) -> ir.StringValue:
    """The id of the rule at position ``idx`` of ``rules`` (a ``rule_idx`` column), NULL out of range."""
    return ibis.cases(*((idx == i, r.id) for i, r in enumerate(rules)), else_=_NULL_STR)


def matched_pairs(
    rules: Sequence[EngagementRule],
    events: ir.Table,
    keep: Sequence[str],
    *,
    window_at: float | None = None,
) -> ir.Table:
    """Every (event, engagement rule) pair where the rule matches the event, as columns ``keep``.

    A rule matches an event of its ``event`` type whose properties satisfy all its ``where`` conditions
    (:func:`leadflow.core.scoring.rules.matches`, with the known differences of this module). ``events``
    needs ``type`` and ``properties`` (and ``t`` with ``window_at``); ``keep`` names the output columns,
    any of the columns of ``events`` and of :func:`rules_table` (``rule_idx`` is the rule's position in
    ``rules``). With ``window_at`` (epoch seconds) only the pairs inside the rule's window at that time are
    kept (``window_at - t < window``); events after ``window_at`` are not cut here, nor are caps applied.
    With no rules, the result is empty.

    The pairs are made first (a join on the type, then the window), and the property conditions tested on
    what is left, as a hand-written query would. The conditions are computed in projections - (1) each
    property the rules test, read from the JSON document once per pair, only for the rules that test it,
    (2) the parts of it the tests read, (3) the verdict - and only then filtered on, so that each JSON value
    is parsed once (a filter would inline the projections).
    """
    keep = list(keep)
    rt = rules_table(rules)
    m = events.join(rt, events.type == rt.event)
    if window_at is not None:
        m = m.filter(m.window_s.isnull() | ((window_at - m.t) < m.window_s))
    with_where = [(i, r) for i, r in enumerate(rules) if r.where]
    if with_where:
        users: dict[str, list[int]] = {}
        needs: dict[str, set[str]] = {}
        for i, rule in with_where:
            for cond in rule.where:
                users.setdefault(cond.property, [])
                if i not in users[cond.property]:
                    users[cond.property].append(i)
                needs[cond.property] = needs.get(cond.property, set()) | _needs(cond)
        props = {key: f"_lf_p{n}" for n, key in enumerate(users)}
        # the rule index is needed for the verdict, even when the caller does not keep it
        carry = keep if "rule_idx" in keep else [*keep, "rule_idx"]
        m = m.select(*carry, **{
            props[key]: ibis.ifelse(ibis.or_(*(m.rule_idx == i for i in idx)), json_get(m.properties, key),
                                    ibis.null("json"))
            for key, idx in users.items()
        })
        m, parts = _materialize(m, carry, {props[key]: (m[props[key]], needs[key]) for key in users})
        verdict = ibis.cases(
            *((m.rule_idx == i, ibis.and_(*(_test(c, parts[props[c.property]]) for c in rule.where)))
              for i, rule in with_where),
            else_=True,
        )
        m = m.mutate(_lf_pass=verdict)
        m = m.filter(m._lf_pass)
    return m.select(*keep)


def _contributions(model: ScoringModel, events: ir.Table, at: datetime | float) -> ir.Table:
    """One row per counted (event, rule): ``lead_id, rule_idx, id, t, value`` (the decayed points).

    ``rule_idx`` is the rule's position in ``model.engagement.rules``.
    """
    now = to_epoch(at)
    rules = model.engagement.rules
    ev = events.select("id", "lead_id", "type", "t", "properties")
    ev = ev.filter(ev.lead_id.notnull(), ev.t <= now)
    if not rules:
        return ev.select(
            lead_id=ev.lead_id, rule_idx=ibis.literal(0, "int16"), id=ev.id, t=ev.t,
            value=ibis.literal(0.0, "float64"),
        ).limit(0)

    # carry only what the cap's window and the sum need (the window operator materialises every column)
    keep = ["lead_id", "rule_idx", "id", "t", "rule_points", "half_life_s", "cap"]
    m = matched_pairs(rules, ev, keep, window_at=now)
    if any(r.cap is not None for r in rules):
        # the cap: the K most recent, ties broken by the larger id, as the Python engine sorts them
        rank = ibis.row_number().over(group_by=[m.lead_id, m.rule_idx], order_by=[m.t.desc(), m.id.desc()])
        m = m.mutate(_lf_rank=rank)
        m = m.filter(m.cap.isnull() | (m._lf_rank < m.cap))  # row_number starts at 0 in Ibis
    decay = ibis.literal(2.0, "float64") ** (-(now - m.t) / m.half_life_s)
    value = ibis.ifelse(m.half_life_s.isnull(), m.rule_points, m.rule_points * decay)
    return m.select(lead_id=m.lead_id, rule_idx=m.rule_idx, id=m.id, t=m.t, value=value)


def per_rule_expr(model: ScoringModel, events: ir.Table, at: datetime | float) -> ir.Table:
    """``(lead_id, rule_id, points, events)``: each rule's total at ``at`` and how many events counted.

    Only (lead, rule) pairs with at least one counted event appear.
    """
    c = _contributions(model, events, at)
    per = c.group_by(["lead_id", "rule_idx"]).aggregate(points=c.value.sum(), events=c.count())
    rules = model.engagement.rules
    return per.select(lead_id=per.lead_id, rule_id=rule_id_expr(rules, per.rule_idx), points=per.points,
                      events=per.events)


def clamp_expr(model: ScoringModel, raw: ir.FloatingValue) -> ir.FloatingValue:
    lo = ibis.literal(float(model.engagement.floor), "float64")
    hi = ibis.literal(float(model.engagement.ceiling), "float64")
    return ibis.least(ibis.greatest(raw, lo), hi)


def engagement_expr(
    model: ScoringModel, events: ir.Table, t: datetime | float, leads: ir.Table | None = None
) -> ir.Table:
    """``(lead_id, engagement, raw)`` at time ``t``: raw = sum over rules, engagement = raw clamped.

    Without ``leads``, only leads with a counted event appear; with ``leads`` (a table with ``id``), every
    lead appears, those without counted events at ``clamp(0)``.
    """
    c = _contributions(model, events, t)
    raw = c.group_by("lead_id").aggregate(raw=c.value.sum())
    if leads is not None:
        ids = leads.select(lead_id=leads.id)
        raw = ids.left_join(raw, ids.lead_id == raw.lead_id).select(ids.lead_id, raw=raw.raw.fill_null(0.0))
    return raw.select(lead_id=raw.lead_id, engagement=clamp_expr(model, raw.raw), raw=raw.raw)


def rescore_expr(
    model: ScoringModel,
    leads: ir.Table,
    accounts: ir.Table | None,
    events: ir.Table,
    t: datetime | float,
) -> ir.Table:
    """``(lead_id, fit, grade, engagement)`` for every lead: the full recompute at ``t``."""
    fit = fit_expr(model, leads, accounts)
    c = _contributions(model, events, t)
    raw = c.group_by("lead_id").aggregate(raw=c.value.sum())
    j = fit.left_join(raw, fit.lead_id == raw.lead_id)
    return j.select(
        lead_id=j.lead_id,
        fit=j.fit,
        grade=j.grade,
        engagement=clamp_expr(model, j.raw.fill_null(0.0)),
    )
