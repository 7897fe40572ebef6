"""``in`` / ``not_in`` in the batch engine give what :func:`leadflow.core.scoring.rules.matches` gives.

``in`` matches when ``equals`` would match one item: lists mixing numeric, text and boolean items (NaN,
infinities, -0.0, numeric strings) are drawn and checked on JSON values (engagement properties) and on typed
columns (fit fields), with missing values, against the pure function.
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
    n = data.draw(st.integers(1, 8))

    def column(values, dtype):
        return pa.array(data.draw(st.lists(st.one_of(st.none(), values), min_size=n, max_size=n)), dtype)

    check_columns(conds, {
        "s": column(st.sampled_from(TEXTS), pa.string()),
        "i": column(st.sampled_from([0, 1, -1, 10, 20, 7, 2**53]), pa.int64()),
        "f": column(st.sampled_from([x for x in ITEM_NUMBERS if not isinstance(x, int)]), pa.float64()),
        "b": column(st.booleans(), pa.bool_()),
    })
