"""``in`` / ``not_in`` in the batch engine give what :func:`leadflow.core.scoring.rules.matches` gives.

``in`` matches when ``equals`` would match one item: lists mixing numeric, text and boolean items (NaN,
infinities, -0.0, numeric strings) are drawn and checked on JSON values (engagement properties) and on typed
columns (fit fields), with missing values, against the pure function.

Booleans against text and numbers (``equals``, ``not_equals``, ``in``, ``not_in``): a boolean equals only
what reads as a boolean (``rules.bool_reading``: true / false words, stripped and in any case, and the
numbers 1 / 0); words with every kind of whitespace Python strips, near-words and other text, other numbers
and JSON lists / objects are drawn against boolean constants and boolean values.
"""

from __future__ import annotations

import json
import math
from typing import Any

import ibis
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadflow.batch import expressions as bx
from leadflow.batch.source import connect
from leadflow.core.scoring.rules import matches
from leadflow.core.scoring.spec import Condition

pytestmark = pytest.mark.filterwarnings("ignore:fetch_arrow_table:DeprecationWarning")

TEXTS = ["", " ", "a", "A", "vp", "VP", "true", "True", " yes ", "Y", "no", "t", "0", "1", "1.0", "10", "10.0",
         " 10 ", "1e1", "+10", "-0", "0.5", "nan", "NaN", "inf", "Infinity", "-inf", "None", "x y"]
NUMBERS = [0, 1, -1, 10, 20, 10**20, 0.0, -0.0, 0.5, 1.0, 10.0, 1e16, 1e20, 2.5e-7]
ITEM_NUMBERS = [*NUMBERS, math.nan, math.inf, -math.inf]
items = st.one_of(st.booleans(), st.sampled_from(ITEM_NUMBERS), st.sampled_from(TEXTS))
# JSON cannot carry NaN or the infinities: those reach the engine as typed float columns only
json_values = st.one_of(st.none(), st.booleans(), st.sampled_from(NUMBERS), st.sampled_from(TEXTS))


@st.composite
def in_conditions(draw) -> Condition:
    return Condition(op=draw(st.sampled_from(["in", "not_in"])), value=draw(st.lists(items, max_size=5)),
                     case_sensitive=draw(st.booleans()))


_CON: list[Any] = []


def con():
    if not _CON:
        _CON.append(connect(threads=1))
    return _CON[0]


def draw_columns(data: Any, specs: dict[str, tuple[Any, pa.DataType]]) -> dict[str, pa.Array]:
    """Typed columns of one drawn length, each value drawn from its column's strategy or missing (None)."""
    n = data.draw(st.integers(1, 8))
    return {name: pa.array(data.draw(st.lists(st.one_of(st.none(), values), min_size=n, max_size=n)), dtype)
            for name, (values, dtype) in specs.items()}


def check_json(conds: list[Condition], values: list[Any]) -> None:
    """Each condition on each value as a JSON property (plus an absent key and a NULL document)."""
    docs = [json.dumps({"v": v}) for v in values] + ["{}", None]
    t = ibis.memtable(pa.table({"i": list(range(len(docs))), "p": pa.array(docs, pa.string())}))
    t = t.mutate(p=t.p.cast("json"))
    v = bx.json_get(t.p, "v")
    got = con().to_pyarrow(t.select(t.i, **{f"c{k}": bx.condition_expr(c, v) for k, c in enumerate(conds)})
                           .order_by("i"))
    labels = [*values, "<absent>", "<NULL>"]
    for k, cond in enumerate(conds):
        hits = got.column(f"c{k}").to_pylist()
        want = [matches(cond, value) for value in values] + [matches(cond, None)] * 2
        assert hits == want, (cond, [(x, g, w) for x, g, w in zip(labels, hits, want, strict=True) if g != w])


def check_columns(conds: list[Condition], data: dict[str, pa.Array]) -> None:
    """Each condition on each typed column."""
    t = ibis.memtable(pa.table(data))
    got = con().to_pyarrow(t.select(**{f"{name}_{k}": bx.condition_expr(c, t[name])
                                       for name in data for k, c in enumerate(conds)}))
    for name, column in data.items():
        values = column.to_pylist()
        for k, cond in enumerate(conds):
            hits = got.column(f"{name}_{k}").to_pylist()
            want = [matches(cond, value) for value in values]
            assert hits == want, (name, cond, [(x, g, w) for x, g, w in zip(values, hits, want, strict=True)
                                               if g != w])


# ------------------------------------------------------------------------------------ fixed cases

FIXED = [
    Condition(op="in", value=[10, 20]), Condition(op="in", value=[True]), Condition(op="in", value=[False]),
    Condition(op="in", value=["vp", 10, True]), Condition(op="not_in", value=["vp", 10, True]),
    Condition(op="in", value=["10"]), Condition(op="in", value=[math.nan]), Condition(op="not_in", value=[math.nan]),
    Condition(op="in", value=[math.inf, -0.0]), Condition(op="in", value=["VP", "yes"], case_sensitive=True),
    Condition(op="in", value=[]), Condition(op="not_in", value=[]), Condition(op="in", value=[10**20, 0.5]),
]


def test_fixed_mixed_lists_on_json_values():
    values = [10, 10.0, "10", "10.0", " 10 ", "1e1", "+10", 11, "ten", True, False, "yes", "no", 1, 0, "0", "vp",
              "VP", "abc", "nan", "Infinity", -0.0, 0, 1e20, 0.5, "", None]
    check_json(FIXED, values)


def test_fixed_mixed_lists_on_typed_columns():
    data = {
        "s": pa.array(["10", "10.0", " 10 ", "vp", "VP", "yes", "no", "0", "", None, "nan", "Infinity", "abc"]),
        "i": pa.array([10, 20, 0, 1, -1, 11, None, 7, 10, 0, 1, 2, 3], pa.int64()),
        "f": pa.array([10.0, -0.0, math.nan, math.inf, -math.inf, 1e20, 0.5, None, 1.5, 0.0, 20.0, 1.0, 2.0]),
        "b": pa.array([True, False, None, True, False, True, False, None, True, False, True, False, True]),
    }
    check_columns(FIXED, data)


# ------------------------------------------------------------------------------------- Hypothesis


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conds=st.lists(in_conditions(), min_size=1, max_size=6), values=st.lists(json_values, min_size=1, max_size=12))
def test_in_matches_python_on_json_scalars(conds, values):
    check_json(conds, values)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conds=st.lists(in_conditions(), min_size=1, max_size=6), data=st.data())
def test_in_matches_python_on_typed_columns(conds, data):
    check_columns(conds, draw_columns(data, {
        "s": (st.sampled_from(TEXTS), pa.string()),
        "i": (st.sampled_from([0, 1, -1, 10, 20, 7, 2**53]), pa.int64()),
        "f": (st.sampled_from([x for x in ITEM_NUMBERS if not isinstance(x, int)]), pa.float64()),
        "b": (st.booleans(), pa.bool_()),
    }))


# ------------------------------------------------------------------- booleans vs text and numbers

# true / false words in several cases and with the whitespace str.strip() removes (SQL TRIM does not:
# vertical tab, \x1c-\x1f, NEL, NBSP, the Unicode spaces), near-words and other text
BOOL_TEXTS = ["true", "TRUE", "True ", "t", "T", "yes", " YES ", "Y", "y", "1", " 1\n", "false", "FALSE", "F",
              "f", "n", "N", "no", " No ", "0", "\u3000false\x85", "\x0bT\x1c", "yes\t", "\xa0n\u2028",
              "ebook", "Ebook", "whitepaper", "maybe", "off", "on", "tru", "yess", "0.0", "00", "1.0", "-0",
              "y es", "\u200bno", "nO\u200b", "ye\u017f", "\u212a", "\u0130", "", " "]
BOOL_NUMBERS = [0, 1, -1, 2, 7, 0.0, -0.0, 1.0, 0.5, 1.5, 10**20, 1e-300]
# random strings over the letters of the words, digits and whitespace (Python's and others)
word_like = st.text(alphabet="tTrRuUeEyYsSnNoOfFaAlL01 \t\n\x0b\x1f\x85\xa0\u2003\u3000\u200b", max_size=6)
bool_texts = st.one_of(st.sampled_from(BOOL_TEXTS), st.sampled_from(TEXTS), word_like)
bool_scalars = st.one_of(st.none(), st.booleans(), st.sampled_from(BOOL_NUMBERS), bool_texts)
bool_items = st.one_of(st.booleans(), st.sampled_from([*BOOL_NUMBERS, math.nan, math.inf]), bool_texts)
# lists and objects are compared with booleans only (their str() is the documented approximation)
bool_containers = st.sampled_from([[], ["x"], [False], [0], {}, {"a": 1}, {"a": False}])


@st.composite
def bool_conditions(draw, containers_ok: bool = False) -> Condition:
    """equals / not_equals with a boolean constant (or, for boolean values, a text or number constant),
    in / not_in with a list holding booleans (and other items) - with containers only boolean constants and
    items, which never compare text."""
    op = draw(st.sampled_from(["equals", "not_equals", "in", "not_in"]))
    cs = draw(st.booleans())
    if containers_ok:
        item = st.booleans()
    else:
        item = st.one_of(st.booleans(), bool_items)
    if op in ("equals", "not_equals"):
        return Condition(op=op, value=draw(item), case_sensitive=cs)
    items = draw(st.lists(item, max_size=4))
    if draw(st.booleans()):  # make sure of a boolean item, somewhere among the others
        items.insert(draw(st.integers(0, len(items))), draw(st.booleans()))
    return Condition(op=op, value=items, case_sensitive=cs)


FIXED_BOOL = [
    Condition(op="equals", value=False), Condition(op="equals", value=True),
    Condition(op="not_equals", value=False), Condition(op="not_equals", value=True),
    Condition(op="equals", value="ebook"), Condition(op="equals", value="no"), Condition(op="equals", value=" YES "),
    Condition(op="equals", value=1), Condition(op="equals", value=0), Condition(op="equals", value=7),
    Condition(op="not_equals", value="ebook"), Condition(op="not_equals", value=0),
    Condition(op="in", value=["ebook", "whitepaper"]), Condition(op="not_in", value=["ebook", "whitepaper"]),
    Condition(op="in", value=[False]), Condition(op="not_in", value=[False]), Condition(op="in", value=[True, "vp"]),
    Condition(op="in", value=["no", 7]), Condition(op="in", value=[0, math.nan]), Condition(op="not_in", value=[1]),
]


def test_python_whitespace_is_what_the_batch_engine_strips():
    assert set(bx._SPACES) == {ch for ch in map(chr, range(0x110000)) if ch.isspace()}


def test_fixed_booleans_against_text_and_numbers_on_json_values():
    values = [True, False, "ebook", "false", "no", "0", "f", "YES ", "y", "1", "maybe", "", 0, 1, 1.0, -0.0, 7, 0.5,
              "\u3000false\x85", None]
    check_json(FIXED_BOOL, values)
    check_json([c for c in FIXED_BOOL if all(isinstance(x, bool) for x in
                                             (c.value if isinstance(c.value, list) else [c.value]))],
               [[], ["ebook"], {}, {"a": 1}])


def test_fixed_booleans_against_text_and_numbers_on_typed_columns():
    data = {
        "s": pa.array(["ebook", "false", "No", " yes ", "1", "0", "maybe", "", None, "\x0bT\x1c", "tru"]),
        "i": pa.array([0, 1, 7, -1, None, 2, 1, 0, 10, 0, 1], pa.int64()),
        "f": pa.array([0.0, -0.0, 1.0, 0.5, math.nan, None, math.inf, 1e20, 2.0, 1.0, 0.0]),
        "b": pa.array([True, False, None, True, False, None, True, False, True, False, True]),
    }
    check_columns(FIXED_BOOL, data)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conds=st.lists(bool_conditions(), min_size=1, max_size=6),
       values=st.lists(bool_scalars, min_size=1, max_size=12))
def test_booleans_vs_text_and_numbers_match_python_on_json_scalars(conds, values):
    check_json(conds, values)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conds=st.lists(bool_conditions(containers_ok=True), min_size=1, max_size=4),
       values=st.lists(st.one_of(bool_containers, bool_scalars), min_size=1, max_size=8))
def test_booleans_vs_lists_and_objects_match_python_on_json_values(conds, values):
    check_json(conds, values)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conds=st.lists(bool_conditions(), min_size=1, max_size=6), data=st.data())
def test_booleans_vs_text_and_numbers_match_python_on_typed_columns(conds, data):
    check_columns(conds, draw_columns(data, {
        "s": (bool_texts, pa.string()),
        "i": (st.sampled_from([0, 1, -1, 2, 7, 10]), pa.int64()),
        "f": (st.sampled_from([0.0, -0.0, 1.0, 0.5, 2.0, math.nan, math.inf, -math.inf]), pa.float64()),
        "b": (st.booleans(), pa.bool_()),
    }))


def test_equals_nan_matches_nothing_as_in_python():
    """``equals: NaN`` matches no value in Python (NaN equals no number); SQL engines say NaN = NaN, and text
    such as "nan" parses to NaN: the batch engine must still match nothing (found by the property above)."""
    conds = [Condition(op="equals", value=math.nan), Condition(op="not_equals", value=math.nan),
             Condition(op="in", value=[math.nan])]
    check_json(conds, ["nan", "NaN", 1.5, "x", 0])
    check_columns(conds, {"f": pa.array([math.nan, 1.0, None, math.inf]), "s": pa.array(["nan", "NaN", "1", None])})
