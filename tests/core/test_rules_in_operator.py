"""``in`` / ``not_in`` compare like ``equals``: ``in`` matches exactly when ``equals`` would match one item.

Numbers compare numerically (when the item is a non-string number), booleans by the truth the other side
reads as (``rules.bool_reading``: true / false words, 1 / 0; anything else matches no boolean), everything
else as normalised text - item by item, as ``equals`` does.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadflow.core.scoring.rules import matches
from leadflow.core.scoring.spec import Condition


def c(op: str, value, **kw) -> Condition:
    return Condition(op=op, value=value, **kw)


def equals_any(items: list, value, case_sensitive: bool = False) -> bool:
    return any(matches(c("equals", item, case_sensitive=case_sensitive), value) for item in items)


# ---------------------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (10, True), ("10", True), (20, True),
        (10.0, True), ("10.0", True), (" 10 ", True), ("1e1", True), ("+10", True),  # were False
        (11, False), ("10.5", False), ("ten", False), ("100", False), ("1", False),
    ],
)
def test_numeric_items_compare_numerically(value, expected):
    cond = c("in", [10, 20])
    assert matches(cond, value) is expected
    assert matches(cond, value) is equals_any([10, 20], value)
    assert matches(c("not_in", [10, 20]), value) is (not expected)


def test_float_items_and_int_values():
    assert matches(c("in", [2.0]), 2)  # was False ("2" vs "2.0")
    assert matches(c("in", [1.5]), "1.50")  # was False
    assert matches(c("in", [0]), -0.0)  # was False ("-0.0" vs "0")
    assert matches(c("in", [10**20]), 1e20)  # was False ("1e+20" vs "100000000000000000000")
    assert matches(c("in", [math.inf]), "Infinity")  # was False ("infinity" vs "inf")
    assert not matches(c("in", [math.inf]), 1e308)
    assert not matches(c("in", [1.5]), "1.5x")


def test_string_items_stay_text_even_when_numeric():
    # equals with a *string* constant never takes the numeric path, so neither does an ``in`` string item
    assert matches(c("in", ["10"]), 10)
    assert not matches(c("in", ["10"]), 10.0)
    assert not matches(c("in", ["10"]), "10.0")
    assert not matches(c("in", ["10"]), " 10 ")
    for value in (10, 10.0, "10.0", " 10 "):
        assert matches(c("in", ["10"]), value) is equals_any(["10"], value)


def test_numeric_item_against_non_numeric_values_compares_text():
    # a value that is not a number meets a numeric item as text: str(item)
    assert not matches(c("in", [10]), "abc")
    assert matches(c("in", [10]), ["x"]) is equals_any([10], ["x"])
    assert not matches(c("in", [10]), {"a": 10})


# ----------------------------------------------------------------------------------------- strings


@pytest.mark.parametrize(("value", "expected"), [("VP", True), ("vp", True), ("DIRECTOR", True), ("cto", False),
                                                  ("v p", False), ("STRASSE", True)])
def test_string_items_case_insensitive(value, expected):
    assert matches(c("in", ["vp", "Director", "straße"]), value) is expected


@pytest.mark.parametrize(("value", "expected"), [("VP", False), ("vp", True), ("Director", True),
                                                  ("director", False)])
def test_string_items_case_sensitive(value, expected):
    cond = c("in", ["vp", "Director"], case_sensitive=True)
    assert matches(cond, value) is expected
    assert matches(c("not_in", ["vp", "Director"], case_sensitive=True), value) is (not expected)


# ---------------------------------------------------------------------------------------- booleans


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True), ("true", True),
        ("yes", True), ("Y", True), (" t ", True), (1, True), (1.0, True), ("1", True),
        (False, False), ("no", False), (0, False), ("0", False), ("abc", False),
        (7, False), (0.5, False), (["x"], False),  # no boolean reading: were True (truthy)
    ],
)
def test_true_item_matches_true_values(value, expected):
    assert matches(c("in", [True]), value) is expected
    assert matches(c("in", [True]), value) is equals_any([True], value)
    assert matches(c("not_in", [True]), value) is (not expected)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(False, True),
     ("no", True), (0, True), ("0", True), ("false ", True), ("F", True), (-0.0, True),
     ("abc", False), ("ebook", False), ("maybe", False), ([], False),  # no boolean reading: were True (falsy)
     (True, False), ("yes", False), (1, False)],
)
def test_false_item_matches_false_values(value, expected):
    assert matches(c("in", [False]), value) is expected
    assert matches(c("in", [False]), value) is equals_any([False], value)


def test_boolean_values_compare_by_truth_with_items_that_read_as_booleans():
    # as equals does when the *value* is a boolean: items reading as a boolean by their truth, others never
    assert matches(c("in", ["yes", "maybe"]), True)
    assert matches(c("in", [1]), True)
    assert matches(c("in", [0]), False)
    assert not matches(c("in", ["vp"]), False)  # "vp" reads as no boolean (was True: "vp" is not truthy)
    assert not matches(c("in", ["ebook", "whitepaper"]), False)  # was True
    assert not matches(c("in", [7]), True)  # was True
    assert not matches(c("in", ["vp"]), True)
    assert not matches(c("in", ["true"]), False)
    assert not matches(c("in", [0, "no"]), True)
    for items in (["yes", "maybe"], [1], [0], ["vp"], ["true"], [0, "no"], ["ebook", "whitepaper"], [7]):
        for value in (True, False):
            assert matches(c("in", items), value) is equals_any(items, value)


# ------------------------------------------------------------------------------------------- mixed


@pytest.mark.parametrize(
    ("value", "expected"),
    [("VP", True), (10, True), (True, True), ("yes", True), (1, True), ("10.0", True), (10.0, True),
     ("director", False), (0, False), ("no", False), ("0", False), ("11", False), (11, False), (["vp"], False),
     ([], False), (False, False)],
)
def test_mixed_list(value, expected):
    # 1 and "yes" match through the item True (they read as true), as equals: true would; 11 and ["vp"] read
    # as no boolean (they were truthy), "11" is no true-word, and neither is 10
    items = ["vp", 10, True]
    assert matches(c("in", items), value) is expected
    assert matches(c("in", items), value) is equals_any(items, value)
    assert matches(c("not_in", items), value) is (not expected)


# ------------------------------------------------------------------------------------------ missing


@pytest.mark.parametrize("items", [["vp"], [10, 1.5], [True], [False], ["vp", 0, False, math.nan], [""], []])
@pytest.mark.parametrize("missing", [None, ""])
def test_missing_values_fail_in_and_satisfy_not_in(items, missing):
    assert matches(c("in", items), missing) is False
    assert matches(c("not_in", items), missing) is True


def test_empty_list():
    assert not matches(c("in", []), "anything")
    assert not matches(c("in", []), True)
    assert matches(c("not_in", []), 0)


# --------------------------------------------------------------------------------------------- NaN


def test_nan_item_equals_no_number():
    assert not matches(c("in", [math.nan]), math.nan)  # was True ("nan" == "nan"); nan == nan is False
    assert not matches(c("in", [math.nan]), float("nan"))  # was True
    assert not matches(c("in", [math.nan]), "nan")  # was True
    assert matches(c("not_in", [math.nan]), math.nan)  # was False
    assert not matches(c("in", [math.nan]), True)  # NaN reads as no boolean (was True: bool(nan))
    assert not matches(c("in", [math.nan]), 1.0)


def test_nan_values():
    assert not matches(c("in", [1, 2]), math.nan)
    assert not matches(c("in", [1, 2]), "NaN")
    assert matches(c("in", ["nan"]), math.nan)  # a string item: compared as text, "nan" == "nan"
    assert not matches(c("in", [True]), math.nan)  # NaN reads as no boolean (was True: truthy)
    for items in ([1, 2], ["nan"], [True], [math.nan, "x"]):
        for value in (math.nan, "nan", "NaN"):
            assert matches(c("in", items), value) is equals_any(items, value)


def test_cached_sets_are_per_condition():
    a, b = c("in", [10]), c("in", ["10"])
    for _ in range(2):  # the second time from the cache
        assert matches(a, "10.0")
        assert not matches(b, "10.0")


# -------------------------------------------------------------------------------------- Hypothesis

_ITEM_TEXTS = ["", " ", "a", "A", "vp", "VP", "ß", "ss", "true", "True", " yes ", "no", "t", "0", "1", "1.0", "10",
               "10.0", " 10 ", "1e1", "nan", "NaN", "inf", "-0", "None", "[1]"]
items = st.one_of(
    st.booleans(),
    st.integers(-3, 12),
    st.sampled_from([0.0, -0.0, 1.0, 1.5, 10.0, 1e16, 10**20, math.inf, -math.inf, math.nan]),
    st.floats(width=16),
    st.sampled_from(_ITEM_TEXTS),
    st.text(max_size=3),
)
values = st.one_of(
    st.none(),
    items,
    st.lists(st.sampled_from([1, "a", True]), max_size=2),
    st.sampled_from([math.nan, float("nan"), 1e20]),
)


@settings(max_examples=400, deadline=None)
@given(item_list=st.lists(items, max_size=5), value=values, case_sensitive=st.booleans())
def test_in_is_equals_on_any_item(item_list, value, case_sensitive):
    present = value is not None and value != ""
    in_cond = c("in", item_list, case_sensitive=case_sensitive)
    not_in = c("not_in", item_list, case_sensitive=case_sensitive)
    hit = equals_any(item_list, value, case_sensitive)
    for _ in range(2):  # the second time from the cache
        assert matches(in_cond, value) is hit
        assert matches(not_in, value) is (not present or not hit)
