"""``equals`` with a boolean on one side compares by truth only with what reads as a boolean.

A boolean equals a string only when the string is a true word (``1 true yes y t``) or a false word (``0 false
no n f``) - stripped, in any case - of the same truth, and a number only when it is 1 (True) or 0 (False).
Any other text (``"ebook"``, ``""`` inside a list, ``"maybe"``), any other number, lists and objects equal no
boolean: ``asset_type: false`` is not an ebook. ``not_equals``, ``in`` and ``not_in`` follow from ``equals``.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadflow.core.scoring.rules import FALSE_WORDS, TRUE_WORDS, bool_reading, matches
from leadflow.core.scoring.spec import Condition, FitRule


def c(op: str, value, **kw) -> Condition:
    return Condition(op=op, value=value, **kw)


def equals_any(items: list, value, case_sensitive: bool = False) -> bool:
    return any(matches(c("equals", item, case_sensitive=case_sensitive), value) for item in items)


# ------------------------------------------------------------------------------- the reported bug


def test_false_is_not_an_ebook():
    rule = FitRule(id="ebook", field="lead.properties.asset_type", op="equals", value="ebook", points=10)
    assert not matches(rule, False)
    assert matches(rule, "ebook")
    assert matches(rule.model_copy(update={"op": "not_equals"}), False)


def test_false_is_in_no_list_of_asset_types():
    assert not matches(c("in", ["ebook", "whitepaper"]), False)
    assert not matches(c("in", ["ebook", "whitepaper"]), True)
    assert matches(c("not_in", ["ebook", "whitepaper"]), False)
    assert matches(c("in", ["ebook", "whitepaper"]), "Whitepaper")


# ------------------------------------------------------------------------------ boolean vs string


@pytest.mark.parametrize("text", ["no", "false", "0", "NO", " False ", "f", "N", "\tno\n", "\u3000false\xa0"])
def test_false_equals_false_words(text):
    assert matches(c("equals", False), text)
    assert matches(c("equals", text), False)
    assert not matches(c("equals", True), text)
    assert not matches(c("equals", text), True)


@pytest.mark.parametrize("text", ["YES ", "yes", "true", "True", "1", "t", "Y", " y\n"])
def test_true_equals_true_words(text):
    assert matches(c("equals", True), text)
    assert matches(c("equals", text), True)
    assert not matches(c("equals", False), text)
    assert not matches(c("equals", text), False)


@pytest.mark.parametrize("text", ["ebook", "maybe", "off", "on", "nope", "tru", "yess", "1.0", "00", "-0", "2", " ",
                                  "y es", "\u200bno", "ye\u017f"])
@pytest.mark.parametrize("truth", [True, False])
def test_other_text_equals_no_boolean(text, truth):
    # "ebook" / "maybe" were equal to False (not a true word); "\u200b" (zero-width space) is not stripped
    assert not matches(c("equals", truth), text)
    assert not matches(c("equals", text), truth)
    assert matches(c("not_equals", truth), text)
    assert matches(c("not_equals", text), truth)


def test_case_sensitive_does_not_apply_to_boolean_words():
    assert matches(c("equals", "YES", case_sensitive=True), True)
    assert matches(c("equals", False, case_sensitive=True), "False")


# ------------------------------------------------------------------------------ boolean vs number


@pytest.mark.parametrize(("number", "truth"), [(1, True), (1.0, True), (0, False), (0.0, False), (-0.0, False)])
def test_one_and_zero_read_as_true_and_false(number, truth):
    assert matches(c("equals", truth), number)
    assert matches(c("equals", number), truth)
    assert not matches(c("equals", not truth), number)
    assert not matches(c("equals", number), not truth)


@pytest.mark.parametrize("number", [7, -1, 2, 0.5, 1e-300, 10**20, math.inf, -math.inf, math.nan])
@pytest.mark.parametrize("truth", [True, False])
def test_other_numbers_equal_no_boolean(number, truth):
    # 7, -1, 0.5, inf and NaN were equal to True (truthy): a count is no flag
    assert not matches(c("equals", truth), number)
    assert not matches(c("equals", number), truth)
    assert matches(c("not_equals", truth), number)


# ----------------------------------------------------------------------- boolean vs boolean / other


def test_booleans_compare_by_truth():
    assert matches(c("equals", True), True)
    assert matches(c("equals", False), False)
    assert not matches(c("equals", True), False)
    assert not matches(c("equals", False), True)
    assert matches(c("not_equals", False), True)


@pytest.mark.parametrize("value", [[], ["x"], [False], {}, {"a": 1}])
@pytest.mark.parametrize("truth", [True, False])
def test_lists_and_objects_equal_no_boolean(value, truth):
    assert not matches(c("equals", truth), value)  # ["x"] was equal to True, [] and {} to False
    assert not matches(c("in", [truth]), value)
    assert matches(c("not_in", [truth]), value)


@pytest.mark.parametrize("missing", [None, ""])
def test_missing_values(missing):
    for truth in (True, False):
        assert not matches(c("equals", truth), missing)
        assert matches(c("not_equals", truth), missing)
        assert not matches(c("in", [truth, "no"]), missing)
        assert matches(c("not_in", [truth, "no"]), missing)


def test_non_boolean_comparisons_unchanged():
    assert matches(c("equals", 5), "5.0")
    assert matches(c("equals", "5"), 5)
    assert not matches(c("equals", "5"), 5.0)
    assert matches(c("equals", "VP"), "vp")
    assert not matches(c("equals", "VP", case_sensitive=True), "vp")
    assert matches(c("equals", "no"), "NO")  # text with text stays text, even when both are words
    assert not matches(c("equals", "no"), "false")


# -------------------------------------------------------------------------------- in / not_in lists


@pytest.mark.parametrize(
    ("items", "value", "expected"),
    [
        ([False], "no", True), ([False], " 0 ", True), ([False], 0, True), ([False], False, True),
        ([False], "ebook", False), ([False], "maybe", False), ([False], 2, False), ([False], True, False),
        ([True], "YES ", True), ([True], 1.0, True), ([True], "ebook", False), ([True], 7, False),
        ([True, "ebook"], "ebook", True), ([True, "ebook"], "t", True), ([True, "ebook"], False, False),
        (["yes", "maybe"], True, True), (["no", "maybe"], True, False), (["no", "maybe"], False, True),
        ([0, "x"], False, True), ([7, "x"], True, False), ([math.nan], True, False),
        ([False, 7], 7, True), ([False, 7], "7", True), ([False, 7], 0, True), ([False, 7], 1, False),
    ],
)
def test_in_and_not_in_with_booleans(items, value, expected):
    assert matches(c("in", items), value) is expected
    assert matches(c("not_in", items), value) is (not expected)
    assert equals_any(items, value) is expected


# ---------------------------------------------------------------------------------------- reading


def test_bool_reading_words_are_disjoint_and_read_both_ways():
    assert not set(TRUE_WORDS) & set(FALSE_WORDS)
    for word in TRUE_WORDS:
        assert bool_reading(f" {word.upper()}\t") is True
    for word in FALSE_WORDS:
        assert bool_reading(f"\n{word.upper()} ") is False


# -------------------------------------------------------------------------------------- Hypothesis

_WORDS = [*TRUE_WORDS, *FALSE_WORDS, "TRUE", "No", " yes ", "F\t", "ebook", "Ebook", "maybe", "", " ", "1.0", "2",
          "vp", "none", "nan"]
texts = st.one_of(st.sampled_from(_WORDS), st.text(alphabet="tTrRuUeEyYsSnNoOfFaAlL01 \t\xa0", max_size=6))
numbers = st.one_of(st.integers(-3, 12), st.sampled_from([0.0, -0.0, 1.0, 0.5, 1e20, math.inf, math.nan]),
                    st.floats(width=16))
items = st.one_of(st.booleans(), numbers, texts)
values = st.one_of(st.none(), st.booleans(), numbers, texts,
                   st.lists(st.sampled_from([1, "a", True, False]), max_size=2), st.just({"a": 1}))


@settings(max_examples=500, deadline=None)
@given(item_list=st.lists(items, max_size=5), value=values, case_sensitive=st.booleans())
def test_in_is_still_equals_on_any_item(item_list, value, case_sensitive):
    present = value is not None and value != ""
    hit = equals_any(item_list, value, case_sensitive)
    for _ in range(2):  # the second time from the cache
        assert matches(c("in", item_list, case_sensitive=case_sensitive), value) is hit
        assert matches(c("not_in", item_list, case_sensitive=case_sensitive), value) is (not present or not hit)


def reads_as(x):
    """The oracle, written out independently of the module: the truth ``x`` reads as, or None."""
    if isinstance(x, bool):
        return x
    if isinstance(x, str):
        x = x.strip().lower()
        truth = {"1": True, "true": True, "yes": True, "y": True, "t": True}
        return truth.get(x, {"0": False, "false": False, "no": False, "n": False, "f": False}.get(x))
    if isinstance(x, int | float):
        return {1: True, 0: False}.get(x)  # 1.0 == 1, -0.0 == 0; NaN is no key
    return None


@settings(max_examples=500, deadline=None)
@given(truth=st.booleans(), other=values, bool_is_constant=st.booleans(), case_sensitive=st.booleans())
def test_a_boolean_equals_only_what_reads_as_the_same_truth(truth, other, bool_is_constant, case_sensitive):
    """With a boolean on one side (the constant or the value), ``equals`` holds exactly when the other side
    reads as a boolean of the same truth (and the value is present); ``not_equals`` is its negation."""
    if other is None and not bool_is_constant:
        other = "maybe"  # a condition needs a constant
    constant, value = (truth, other) if bool_is_constant else (other, truth)
    present = value is not None and value != ""
    want = present and reads_as(other) is truth
    assert matches(c("equals", constant, case_sensitive=case_sensitive), value) is want
    assert matches(c("not_equals", constant, case_sensitive=case_sensitive), value) is (not want)
    assert matches(c("in", [constant], case_sensitive=case_sensitive), value) is want
