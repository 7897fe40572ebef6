"""Operators and value resolution (leadflow.core.scoring.rules)."""

from __future__ import annotations

import pytest

from leadflow.core.scoring.rules import (
    FREE_MAIL_DOMAINS,
    event_matches,
    fit_rule_matches,
    lead_value,
    matches,
)
from leadflow.core.scoring.spec import Condition, EngagementRule, FitRule, PropertyCondition


def c(op: str, value=None, **kw) -> Condition:
    return Condition(op=op, value=value, **kw)


MISSING = [None, ""]


# ---------------------------------------------------------------------------------------- equals


@pytest.mark.parametrize(("value", "expected"), [("saas", True), ("SaaS", True), ("SAAS", True), ("saas ", False),
                                                  ("sas", False)])
def test_equals_strings_case_insensitive_by_default(value, expected):
    assert matches(c("equals", "saas"), value) is expected


def test_equals_case_sensitive():
    cond = c("equals", "SaaS", case_sensitive=True)
    assert matches(cond, "SaaS")
    assert not matches(cond, "saas")


@pytest.mark.parametrize(("value", "expected"), [(True, True), ("true", True), ("Yes", True), ("1", True), (1, True),
                                                  ("y", True), (" T ", True), (False, False), ("false", False),
                                                  ("no", False), (0, False), ("0", False), ("maybe", False)])
def test_equals_true(value, expected):
    assert matches(c("equals", True), value) is expected


@pytest.mark.parametrize(("value", "expected"), [(False, True), ("no", True), (0, True), ("false", True),
                                                  (True, False), ("yes", False)])
def test_equals_false(value, expected):
    assert matches(c("equals", False), value) is expected


def test_equals_bool_value_against_string_condition():
    assert matches(c("equals", "yes"), True)
    assert not matches(c("equals", "yes"), False)


@pytest.mark.parametrize(("value", "expected"), [(5, True), (5.0, True), ("5", True), ("5.0", True), (" 5 ", True),
                                                  (6, False), ("five", False), (5.5, False)])
def test_equals_numbers(value, expected):
    assert matches(c("equals", 5), value) is expected


def test_equals_string_condition_compares_text():
    assert matches(c("equals", "5"), 5)
    assert matches(c("equals", "5"), "5")
    assert not matches(c("equals", "5"), 5.0)  # "5.0" != "5" as text


@pytest.mark.parametrize("op", ["equals", "in", "contains", "regex"])
@pytest.mark.parametrize("value", MISSING)
def test_missing_values_fail_positive_tests(op, value):
    cond = c(op, ["x"] if op == "in" else "x")
    assert not matches(cond, value)


@pytest.mark.parametrize("value", MISSING)
def test_missing_values_fail_equals_bool_and_range(value):
    assert not matches(c("equals", False), value)  # missing is not "false"
    assert not matches(c("range", min=0), value)
    assert not matches(c("range", max=10), value)


# ------------------------------------------------------------------------------------- not_equals


@pytest.mark.parametrize(("value", "expected"), [("b", True), ("A", False), ("a", False), (None, True), ("", True)])
def test_not_equals(value, expected):
    assert matches(c("not_equals", "a"), value) is expected


def test_not_equals_numbers_and_bools():
    assert not matches(c("not_equals", 5), "5.0")
    assert matches(c("not_equals", 5), 6)
    assert not matches(c("not_equals", True), "yes")
    assert matches(c("not_equals", True), "no")


def test_not_equals_case_sensitive():
    assert matches(c("not_equals", "a", case_sensitive=True), "A")


# ------------------------------------------------------------------------------------- in / not_in


@pytest.mark.parametrize(("value", "expected"), [("VP", True), ("director", True), ("cto", False), ("v", False),
                                                  (None, False), ("", False)])
def test_in(value, expected):
    assert matches(c("in", ["vp", "Director"]), value) is expected


def test_in_case_sensitive_and_numbers():
    assert not matches(c("in", ["vp"], case_sensitive=True), "VP")
    assert matches(c("in", ["vp"], case_sensitive=True), "vp")
    assert matches(c("in", [1, 2, 3]), 2)
    assert matches(c("in", [1, 2, 3]), "2")
    assert not matches(c("in", []), "anything")


@pytest.mark.parametrize(("value", "expected"), [("VP", False), ("cto", True), (None, True), ("", True)])
def test_not_in(value, expected):
    assert matches(c("not_in", ["vp", "director"]), value) is expected


# ---------------------------------------------------------------------------------------- contains


@pytest.mark.parametrize(("value", "expected"), [("Head of Marketing", True), ("MARKETING", True), ("market", False),
                                                  ("Sales", False)])
def test_contains_on_strings_is_substring(value, expected):
    assert matches(c("contains", "marketing"), value) is expected


@pytest.mark.parametrize(("value", "expected"), [(["fintech", "SaaS"], True), (("saas",), True), (["saasy"], False),
                                                  ([], False), ([None], False)])
def test_contains_on_lists_is_membership(value, expected):
    assert matches(c("contains", "saas"), value) is expected


def test_contains_case_sensitive_and_numbers():
    assert not matches(c("contains", "saas", case_sensitive=True), ["SaaS"])
    assert not matches(c("contains", "saas", case_sensitive=True), "SaaS platform")
    assert matches(c("contains", 3), [1, 2, 3])
    assert matches(c("contains", "12"), 31234)  # non-strings are compared as text


# ------------------------------------------------------------------------------------------- regex


@pytest.mark.parametrize(("value", "expected"), [("https://x.io/pricing?plan=pro", True), ("/PRICING", True),
                                                  ("/price", False), ("/docs/pricing-faq", True)])
def test_regex_searches_anywhere_case_insensitive(value, expected):
    assert matches(c("regex", "/pricing"), value) is expected


def test_regex_anchors_and_case_sensitive():
    assert matches(c("regex", r"^\d+$"), 12345)  # values are matched as text
    assert not matches(c("regex", r"^\d+$"), "12a")
    assert not matches(c("regex", "/pricing", case_sensitive=True), "/PRICING")
    assert matches(c("regex", r"\b(student|intern)\b"), "Marketing Intern")
    assert not matches(c("regex", r"\b(student|intern)\b"), "Internal Comms")


# ------------------------------------------------------------------------------------------- range


@pytest.mark.parametrize(("value", "expected"), [(50, True), (49.999, False), (1e12, True), ("120", True),
                                                  ("49", False)])
def test_range_min_only_is_inclusive(value, expected):
    assert matches(c("range", min=50), value) is expected


@pytest.mark.parametrize(("value", "expected"), [(99.999, True), (100, False), (-5, True), (1e12, False)])
def test_range_max_only_is_exclusive(value, expected):
    assert matches(c("range", max=100), value) is expected


@pytest.mark.parametrize(("value", "expected"), [(50, True), (4999, True), (4999.99, True), (5000, False),
                                                  (49, False), ("2500", True)])
def test_range_both(value, expected):
    assert matches(c("range", min=50, max=5000), value) is expected


@pytest.mark.parametrize("value", ["abc", True, False, [100], {"n": 1}, None, ""])
def test_range_non_numbers_never_match(value):
    assert not matches(c("range", min=-1e300), value)


# ------------------------------------------------------------------------------ exists / not_exists


@pytest.mark.parametrize(("value", "present"), [(None, False), ("", False), (0, True), (False, True), ("x", True),
                                                 ([], True), (" ", True)])
def test_exists_and_not_exists(value, present):
    assert matches(c("exists"), value) is present
    assert matches(c("not_exists"), value) is (not present)


# ------------------------------------------------------------------------------------- lead_value


LEAD = {
    "email": "Jane.Doe@ACME.io",
    "title": "VP Marketing",
    "seniority": "vp",
    "properties": {"plan": "pro", "seats": 12},
}
ACCOUNT = {"domain": "acme.io", "employee_count": 250, "industry": "SaaS", "properties": {"tier": "gold"}}


def test_lead_value_plain_fields():
    assert lead_value("lead.title", LEAD, ACCOUNT) == "VP Marketing"
    assert lead_value("lead.country", LEAD, ACCOUNT) is None
    assert lead_value("account.employee_count", LEAD, ACCOUNT) == 250
    assert lead_value("account.industry", LEAD, None) is None
    assert lead_value("account.industry", LEAD, {}) is None


def test_lead_value_email_domain():
    assert lead_value("lead.email_domain", LEAD, None) == "acme.io"
    assert lead_value("lead.email_domain", {"email": "x@Sub.Example.CO.UK"}, None) == "sub.example.co.uk"
    assert lead_value("lead.email_domain", {}, None) == ""
    assert lead_value("lead.email_domain", {"email": None}, None) == ""
    assert lead_value("lead.email_domain", {"email": "no-at-sign"}, None) == ""


def test_lead_value_free_mail():
    assert "gmail.com" in FREE_MAIL_DOMAINS
    assert lead_value("lead.free_mail", {"email": "someone@GMail.com"}, None) is True
    assert lead_value("lead.free_mail", {"email": "x@yahoo.co.uk"}, None) is True
    assert lead_value("lead.free_mail", LEAD, None) is False
    assert lead_value("lead.free_mail", {}, None) is None  # unknown, not False


def test_lead_value_properties():
    assert lead_value("lead.properties.plan", LEAD, None) == "pro"
    assert lead_value("lead.properties.seats", LEAD, None) == 12
    assert lead_value("lead.properties.missing", LEAD, None) is None
    assert lead_value("lead.properties.plan", {}, None) is None
    assert lead_value("lead.properties.plan", {"properties": None}, None) is None
    assert lead_value("account.properties.tier", LEAD, ACCOUNT) == "gold"
    assert lead_value("account.properties.tier", LEAD, None) is None


def fit_rule(**kw) -> FitRule:
    return FitRule(id="r", points=1, **kw)


def test_fit_rule_matches():
    assert fit_rule_matches(fit_rule(field="lead.free_mail", op="equals", value=True), {"email": "a@gmail.com"}, None)
    assert not fit_rule_matches(fit_rule(field="lead.free_mail", op="equals", value=True), LEAD, None)
    # unknown free-mail status (no email) matches neither true nor false
    assert not fit_rule_matches(fit_rule(field="lead.free_mail", op="equals", value=False), {}, None)
    assert fit_rule_matches(fit_rule(field="account.employee_count", op="range", min=50, max=5000), LEAD, ACCOUNT)
    assert not fit_rule_matches(fit_rule(field="account.employee_count", op="range", min=50, max=5000), LEAD, None)
    assert fit_rule_matches(fit_rule(field="lead.email_domain", op="in", value=["ACME.io"]), LEAD, None)
    assert fit_rule_matches(fit_rule(field="lead.properties.plan", op="equals", value="PRO"), LEAD, None)


def test_event_matches():
    rule = EngagementRule(
        id="long_pricing", event="page_view", points=3,
        where=(PropertyCondition(property="url", op="regex", value="/pricing"),
               PropertyCondition(property="seconds_on_page", op="range", min=120)),
    )
    assert event_matches(rule, "page_view", {"url": "/pricing", "seconds_on_page": 120})
    assert not event_matches(rule, "page_view", {"url": "/pricing", "seconds_on_page": 119})
    assert not event_matches(rule, "page_view", {"url": "/blog", "seconds_on_page": 500})
    assert not event_matches(rule, "page_view", {"url": "/pricing"})  # missing property
    assert not event_matches(rule, "email_click", {"url": "/pricing", "seconds_on_page": 500})
    plain = EngagementRule(id="any_view", event="page_view", points=1)
    assert event_matches(plain, "page_view", {})
    assert not event_matches(plain, "page_views", {})
    absent = EngagementRule(id="no_ref", event="page_view", points=1,
                            where=(PropertyCondition(property="referrer", op="not_exists"),))
    assert event_matches(absent, "page_view", {"url": "/"})
    assert not event_matches(absent, "page_view", {"referrer": "google"})
