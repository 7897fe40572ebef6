"""The declarative scoring model and its line-numbered errors (leadflow.core.scoring.spec)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

import leadflow.models
from leadflow.core.scoring.spec import (
    Condition,
    ModelFileError,
    ScoringModel,
    checksum,
    load_model_file,
    parse_model,
)

DEFAULT_PATH = Path(leadflow.models.__file__).parent / "default.yaml"

# Line numbers matter below: keep one key per line.
BASE = """\
key: t
fit:
  rules:
    - id: senior
      field: lead.seniority
      op: in
      value: [vp]
      points: 10
  grades: {A: 30, B: 20, C: 10}
engagement:
  rules:
    - id: visit
      event: page_view
      points: 1
lifecycle:
  mql:
    any_of:
      - engagement_at_least: 50
"""


def variant(old: str, new: str) -> str:
    assert BASE.count(old) == 1, old
    return BASE.replace(old, new)


def problems(text: str, source: str = "m.yaml") -> list[tuple[int | None, str, str]]:
    with pytest.raises(ModelFileError) as info:
        parse_model(text, source)
    err = info.value
    assert err.source == source
    assert str(err).startswith("invalid scoring model\n")
    for line, path, msg in err.problems:
        assert f"{source}:{line or '?'}: {path or '(top)'}: {msg}" in str(err)
    return err.problems


# ------------------------------------------------------------------------------------ default model


def test_default_model_parses():
    model = load_model_file(str(DEFAULT_PATH))
    assert model.key == "default"
    assert model.version == 1
    assert model.ref == "default@v1"
    assert len(model.fit.rules) == 10
    assert len(model.engagement.rules) == 24
    assert (model.fit.grades.A, model.fit.grades.B, model.fit.grades.C) == (40, 25, 10)
    assert (model.engagement.floor, model.engagement.ceiling) == (0, 100)
    ids = [r.id for r in (*model.fit.rules, *model.engagement.rules)]
    assert len(ids) == len(set(ids))
    rules = {r.id: r for r in model.engagement.rules}
    pricing = rules["pricing_page"]
    assert (pricing.points, pricing.half_life_days, pricing.window_days, pricing.cap) == (12, 14, 30, 3)
    assert pricing.buffered
    assert pricing.where[0].property == "url" and pricing.where[0].op == "regex"
    assert "sql_signal" in pricing.tags
    assert rules["unsubscribed"].half_life_days is None and rules["unsubscribed"].points == -40
    assert not rules["demo_requested"].buffered
    assert len(model.lifecycle.mql.any_of) == 4
    assert model.lifecycle.lead is not None


def test_default_model_text_and_file_agree():
    text = DEFAULT_PATH.read_text(encoding="utf-8")
    assert parse_model(text) == load_model_file(str(DEFAULT_PATH))
    assert checksum(text) == checksum(text)
    assert len(checksum(text)) == 16
    assert checksum(text) != checksum(text + " ")


def test_base_document_parses():
    model = parse_model(BASE)
    assert model.key == "t"
    assert model.fit.rules[0].value == ["vp"]
    assert model.lifecycle.lead is None
    assert model.engagement.bands["cold"] == float("-inf")


# ---------------------------------------------------------------------------- line-numbered errors


def test_unknown_field_names_line_and_path():
    probs = problems(variant("      points: 10\n", "      points: 10\n      weight: 3\n"))
    assert probs == [(9, "fit.rules.0.weight", "unknown field")]


def test_unknown_top_level_field():
    assert problems(BASE + "colour: red\n") == [(19, "colour", "unknown field")]


def test_regex_that_does_not_compile():
    text = variant("      points: 1\n", "      points: 1\n      where:\n        - {property: url, op: regex, value: '([a-z'}\n")
    [(line, path, msg)] = problems(text)
    assert (line, path) == (16, "engagement.rules.0.where.0")
    assert "does not compile" in msg and "([a-z" in msg


def test_fit_regex_that_does_not_compile():
    text = variant("      op: in\n      value: [vp]\n", "      op: regex\n      value: '*vp'\n")
    [(line, path, msg)] = problems(text)
    assert (line, path) == (4, "fit.rules.0")
    assert "does not compile" in msg


def test_range_without_min_or_max():
    [(line, path, msg)] = problems(variant("      op: in\n      value: [vp]\n", "      op: range\n"))
    assert (line, path) == (4, "fit.rules.0")
    assert msg == "op 'range' needs min, max or both"


def test_grade_thresholds_out_of_order():
    [(line, path, msg)] = problems(variant("{A: 30, B: 20, C: 10}", "{A: 10, B: 20, C: 5}"))
    assert (line, path) == (9, "fit.grades")
    assert "A >= B >= C" in msg


def test_duplicate_rule_ids_point_at_the_second_use():
    [(line, path, msg)] = problems(variant("id: visit", "id: senior"))
    assert (line, path) == (12, "engagement.rules.0.id")
    assert "'senior' is used twice" in msg
    assert "fit.rules.0.id" in msg


def test_duplicate_rule_ids_within_one_section():
    text = variant("      points: 1\n", "      points: 1\n    - id: visit\n      event: email_open\n      points: 2\n")
    [(line, path, msg)] = problems(text)
    assert (line, path) == (15, "engagement.rules.1.id")
    assert "'visit' is used twice" in msg


def test_yaml_syntax_error_has_line():
    [(line, path, msg)] = problems(variant("      points: 1\n", "      points: 1: 2\n"))
    assert (line, path) == (14, "")
    assert msg.startswith("YAML syntax:")


def test_yaml_syntax_error_unclosed_flow_sequence():
    [(line, _path, msg)] = problems(variant("value: [vp]", "value: [vp"))
    assert line == 8  # detected on the next key
    assert msg.startswith("YAML syntax:")


def test_unknown_lead_field():
    [(line, path, msg)] = problems(variant("lead.seniority", "lead.shoe_size"))
    assert (line, path) == (5, "fit.rules.0.field")
    assert "unknown lead field 'shoe_size'" in msg


@pytest.mark.parametrize(
    ("field", "fragment"),
    [
        ("account.shoe_size", "unknown account field"),
        ("person.title", "must start with 'lead.' or 'account.'"),
        ("lead.properties.", "unknown lead field"),
        ("title", "must start with"),
    ],
)
def test_other_bad_fields(field, fragment):
    [(line, path, msg)] = problems(variant("lead.seniority", field))
    assert (line, path) == (5, "fit.rules.0.field")
    assert fragment in msg


@pytest.mark.parametrize("field", ["lead.properties.plan", "account.properties.tier", "account.employee_count",
                                   "lead.email_domain", "lead.free_mail"])
def test_good_fields(field):
    assert parse_model(variant("lead.seniority", field)).fit.rules[0].field == field


def test_several_problems_are_all_listed():
    text = variant("{A: 30, B: 20, C: 10}", "{A: 10, B: 20, C: 5}").replace("      points: 1\n", "      pts: 1\n")
    probs = problems(text)
    assert (9, "fit.grades", "grade thresholds must satisfy A >= B >= C") in probs
    assert (14, "engagement.rules.0.pts", "unknown field") in probs
    assert (12, "engagement.rules.0.points", "Field required") in probs


def test_missing_section():
    text = BASE.split("lifecycle:")[0]
    assert problems(text) == [(1, "lifecycle", "Field required")]


@pytest.mark.parametrize("text", ["- a\n- b\n", "", "just a string\n"])
def test_document_must_be_a_mapping(text):
    assert problems(text) == [(1, "", "the file must be a YAML mapping")]


def test_load_model_file_names_the_file(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text(variant("      points: 10\n", "      points: 10\n      weight: 3\n"), encoding="utf-8")
    with pytest.raises(ModelFileError) as info:
        load_model_file(str(path))
    assert info.value.source == str(path)
    assert f"{path}:9: fit.rules.0.weight: unknown field" in str(info.value)


@pytest.mark.parametrize(
    ("old", "new", "line", "path"),
    [
        ("      points: 1\n", "      points: 1\n      half_life_days: 0\n", 15, "engagement.rules.0.half_life_days"),
        ("      points: 1\n", "      points: 1\n      cap: 0\n", 15, "engagement.rules.0.cap"),
        ("      points: 1\n", "      points: 1\n      window_days: -3\n", 15, "engagement.rules.0.window_days"),
        ("      event: page_view\n", "      event: Page View\n", 13, "engagement.rules.0.event"),
        ("id: visit", "id: Visit-1", 12, "engagement.rules.0.id"),
        ("key: t", "key: T!", 1, "key"),
        ("      - engagement_at_least: 50\n", "      - fit_grade_at_least: E\n", 18,
         "lifecycle.mql.any_of.0.fit_grade_at_least"),
        ("    any_of:\n      - engagement_at_least: 50\n", "    any_of: []\n", 17, "lifecycle.mql.any_of"),
    ],
)
def test_field_constraints(old, new, line, path):
    # the first problem is the precise one (pydantic may add a follow-up "tuple too short" for a failed item)
    got_line, got_path, _msg = problems(variant(old, new))[0]
    assert (got_line, got_path) == (line, path)


def test_floor_above_ceiling():
    [(line, path, msg)] = problems(variant("engagement:\n", "engagement:\n  floor: 50\n  ceiling: 10\n"))
    assert (line, path) == (10, "engagement")
    assert "floor must not exceed ceiling" in msg


def test_empty_criterion():
    line, path, msg = problems(variant("      - engagement_at_least: 50\n", "      - {}\n"))[0]
    assert (line, path) == (18, "lifecycle.mql.any_of.0")
    assert "at least one test" in msg


# ------------------------------------------------------------------------------ condition checks


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"op": "in", "value": "vp"}, "needs a list value"),
        ({"op": "not_in", "value": 3}, "needs a list value"),
        ({"op": "equals"}, "needs a value"),
        ({"op": "equals", "value": 1, "min": 0}, "min / max only go with op 'range'"),
        ({"op": "exists", "value": 1}, "takes no value"),
        ({"op": "not_exists", "value": "x"}, "takes no value"),
        ({"op": "range", "value": 1, "min": 0}, "takes min / max, not value"),
        ({"op": "range"}, "needs min, max or both"),
        ({"op": "regex", "value": 5}, "needs a string value"),
        ({"op": "regex", "value": "(unclosed"}, "does not compile"),
        ({"op": "startswith", "value": "x"}, "Input should be"),
        ({"op": "equals", "value": "x", "colour": "red"}, "Extra inputs are not permitted"),
    ],
)
def test_condition_validation(kwargs, fragment):
    with pytest.raises(ValidationError) as info:
        Condition(**kwargs)
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    "kwargs",
    [{"op": "range", "min": 1}, {"op": "range", "max": 1}, {"op": "range", "min": 1, "max": 2}, {"op": "exists"},
     {"op": "not_exists"}, {"op": "in", "value": []}, {"op": "regex", "value": r"\bvp\b"},
     {"op": "equals", "value": False}, {"op": "equals", "value": 0}],
)
def test_valid_conditions(kwargs):
    assert Condition(**kwargs).op == kwargs["op"]


# ----------------------------------------------------------------------------- grades and bands


def test_grade_boundaries_are_inclusive():
    model = parse_model(BASE)  # A 30, B 20, C 10
    assert [model.grade(p) for p in (100, 30, 29.999, 20, 19.999, 10, 9.999, 0, -50)] == [
        "A", "A", "B", "B", "C", "C", "D", "D", "D"
    ]


def test_equal_grade_thresholds_allowed():
    model = parse_model(variant("{A: 30, B: 20, C: 10}", "{A: 20, B: 20, C: 20}"))
    assert model.grade(20) == "A"
    assert model.grade(19) == "D"


def test_bands_pick_highest_reached_threshold():
    model = load_model_file(str(DEFAULT_PATH))  # hot 60, warm 30, cold 0
    assert [model.band(x) for x in (100, 60, 59.9, 30, 29.9, 0)] == ["hot", "hot", "warm", "warm", "cold", "cold"]
    assert model.band(-1) == ""  # below every threshold
    assert parse_model(BASE).band(-1e9) == "cold"  # the built-in bands end at -inf


def test_model_is_frozen():
    model = parse_model(BASE)
    with pytest.raises(ValidationError):
        model.key = "other"  # type: ignore[misc]
    assert isinstance(model, ScoringModel)
