"""Event taxonomy and per-event validation (leadflow.core.events)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadflow.core.events import (
    KNOWN_TYPES,
    MAX_MESSAGE_ID,
    MAX_PROPERTIES_BYTES,
    PROPERTY_SCHEMAS,
    EventRejected,
    EventType,
    ValidEvent,
    normalize_email,
    validate_event,
)

RECEIVED = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
_DROP = object()  # leave the key out


def raw(**overrides):
    base = {"type": "page_view", "occurred_at": "2024-05-01T11:00:00Z", "email": "jane@acme.io"}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not _DROP}


def rejected(event, **kw) -> EventRejected:
    with pytest.raises(EventRejected) as info:
        validate_event(event, received_at=RECEIVED, **kw)
    return info.value


# ------------------------------------------------------------------------------------------ types


def test_taxonomy_is_consistent():
    assert KNOWN_TYPES == {t.value for t in EventType}
    assert set(PROPERTY_SCHEMAS) == KNOWN_TYPES
    assert len(KNOWN_TYPES) == 21


@pytest.mark.parametrize("etype", sorted(KNOWN_TYPES))
def test_each_known_type_is_accepted(etype):
    ev = validate_event(raw(type=etype), received_at=RECEIVED, allow_custom_types=False)
    assert isinstance(ev, ValidEvent)
    assert ev.type == etype
    assert ev.occurred_at == datetime(2024, 5, 1, 11, tzinfo=UTC)
    assert ev.received_at == RECEIVED
    assert ev.email == "jane@acme.io"
    assert ev.flags == ()
    assert ev.properties == {}


def test_type_is_normalised_to_lower_case():
    assert validate_event(raw(type="  Page_View "), received_at=RECEIVED, allow_custom_types=False).type == "page_view"


def test_custom_types_allowed_by_default():
    ev = validate_event(raw(type="trial_extended", properties={"days": "14"}), received_at=RECEIVED)
    assert ev.type == "trial_extended"
    assert ev.properties == {"days": "14"}  # no schema for custom types
    assert validate_event(raw(type="a" * 64), received_at=RECEIVED).type == "a" * 64


def test_custom_types_refused_when_disabled():
    err = rejected(raw(type="trial_extended"), allow_custom_types=False)
    assert err.field == "type"
    assert "custom types are disabled" in err.reason
    assert "trial_extended" in str(err)


@pytest.mark.parametrize("bad", ["bad-name", "1abc", "_abc", "with space", "a" * 65, "café", "page.view"])
def test_bad_custom_type_names(bad):
    err = rejected(raw(type=bad))
    assert err.field == "type"
    assert "lower_snake_case" in err.reason


@pytest.mark.parametrize("bad", [_DROP, None, "", 5, ["page_view"]])
def test_missing_type(bad):
    err = rejected(raw(type=bad))
    assert err.field == "type"
    assert str(err).startswith("type: ")
    assert isinstance(err, ValueError)


# ------------------------------------------------------------------------------------- timestamps


@pytest.mark.parametrize("bad", [_DROP, None, "", "yesterday", "2024-13-01T00:00:00Z", "2024-05-01T25:00", True,
                                 False, [2024, 5, 1], {"y": 2024}, float("nan"), float("inf"), -float("inf"),
                                 10**30, 1e20, -1e20])
def test_missing_or_malformed_timestamp(bad):
    err = rejected(raw(occurred_at=bad))
    assert err.field == "occurred_at"


def test_timestamp_key_is_an_alias():
    ev = validate_event(raw(occurred_at=_DROP, timestamp="2024-05-01T10:30:00+00:00"), received_at=RECEIVED)
    assert ev.occurred_at == datetime(2024, 5, 1, 10, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1714564800, datetime(2024, 5, 1, 12, tzinfo=UTC)),  # epoch seconds
        (1714564800.5, datetime(2024, 5, 1, 12, 0, 0, 500000, tzinfo=UTC)),
        (1714564800000, datetime(2024, 5, 1, 12, tzinfo=UTC)),  # epoch milliseconds
        (1714564800123, datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=UTC)),
        ("2024-05-01T11:00:00Z", datetime(2024, 5, 1, 11, tzinfo=UTC)),
        ("2024-05-01T11:00:00z", datetime(2024, 5, 1, 11, tzinfo=UTC)),
        ("2024-05-01T13:00:00+02:00", datetime(2024, 5, 1, 11, tzinfo=UTC)),
        ("2024-05-01T11:00:00", datetime(2024, 5, 1, 11, tzinfo=UTC)),  # naive: taken as UTC
        ("2024-05-01", datetime(2024, 5, 1, tzinfo=UTC)),
        (datetime(2024, 5, 1, 13, tzinfo=timezone(timedelta(hours=2))), datetime(2024, 5, 1, 11, tzinfo=UTC)),
    ],
)
def test_timestamp_forms(value, expected):
    ev = validate_event(raw(occurred_at=value), received_at=RECEIVED)
    assert ev.occurred_at == expected
    assert ev.occurred_at.utcoffset() == timedelta(0)
    assert ev.flags == ()


def test_naive_received_at_is_utc():
    ev = validate_event(raw(), received_at=datetime(2024, 5, 1, 12))
    assert ev.received_at == RECEIVED


def test_future_up_to_23h_is_kept():
    at = RECEIVED + timedelta(hours=23)
    ev = validate_event(raw(occurred_at=at.isoformat()), received_at=RECEIVED)
    assert ev.occurred_at == at
    assert ev.flags == ()
    ev = validate_event(raw(occurred_at=at.isoformat()), received_at=RECEIVED, future_policy="reject")
    assert ev.occurred_at == at


def test_future_beyond_23h_is_clamped_and_flagged():
    at = RECEIVED + timedelta(hours=23, seconds=1)
    ev = validate_event(raw(occurred_at=at.isoformat()), received_at=RECEIVED)
    assert ev.occurred_at == RECEIVED
    assert ev.flags == ("future_clamped",)
    ev = validate_event(raw(occurred_at="2030-01-01T00:00:00Z"), received_at=RECEIVED, future_policy="clamp")
    assert ev.occurred_at == RECEIVED
    assert "future_clamped" in ev.flags


def test_future_beyond_23h_rejected_with_reject_policy():
    at = RECEIVED + timedelta(hours=23, seconds=1)
    err = rejected(raw(occurred_at=at.isoformat()), future_policy="reject")
    assert err.field == "occurred_at"
    assert "23 h in the future" in err.reason


def test_past_events_are_not_flagged():
    ev = validate_event(raw(occurred_at="2019-01-01T00:00:00Z"), received_at=RECEIVED)
    assert ev.occurred_at == datetime(2019, 1, 1, tzinfo=UTC)
    assert ev.flags == ()


# ------------------------------------------------------------------------------------- properties


def test_properties_size_limit_boundary():
    # '{"k":"' + n chars + '"}' is 8 + n bytes of compact JSON
    at_limit = {"k": "x" * (MAX_PROPERTIES_BYTES - 8)}
    assert len(validate_event(raw(properties=at_limit), received_at=RECEIVED).properties["k"]) == 32 * 1024 - 8
    err = rejected(raw(properties={"k": "x" * (MAX_PROPERTIES_BYTES - 7)}))
    assert err.field == "properties"
    assert "32769 bytes" in err.reason


def test_oversized_properties_rejected():
    err = rejected(raw(type="form_submit", properties={f"f{i}": "v" * 100 for i in range(400)}))
    assert err.field == "properties"


@pytest.mark.parametrize("bad", [[1, 2], "url=/x", 5])
def test_properties_must_be_an_object(bad):
    assert rejected(raw(properties=bad)).field == "properties"


def test_unserialisable_properties_rejected():
    assert rejected(raw(properties={(1, 2): "tuple key"})).field == "properties"


@pytest.mark.parametrize(
    ("etype", "props", "field"),
    [
        ("page_view", {"seconds_on_page": "30"}, "properties.seconds_on_page"),
        ("page_view", {"seconds_on_page": True}, "properties.seconds_on_page"),
        ("page_view", {"seconds_on_page": -1}, "properties.seconds_on_page"),
        ("page_view", {"url": 5}, "properties.url"),
        ("page_view", {"url": "/ok", "title": ["not", "a", "string"]}, "properties.title"),
        ("quote_requested", {"amount": "1000"}, "properties.amount"),
        ("webinar_attended", {"minutes": "45"}, "properties.minutes"),
        ("form_submit", {"form": {"id": 3}}, "properties.form"),
        ("meeting_booked", {"with": 7}, "properties.with"),
    ],
)
def test_wrong_property_types_name_the_field(etype, props, field):
    err = rejected(raw(type=etype, properties=props))
    assert err.field == field
    assert str(err).startswith(field + ": ")


def test_well_typed_and_extra_properties_accepted():
    props = {"url": "/pricing", "seconds_on_page": 42.5, "referrer": None, "utm": {"a": 1}}
    ev = validate_event(raw(properties=props), received_at=RECEIVED)
    assert ev.properties == props
    assert validate_event(raw(properties={"seconds_on_page": 0}), received_at=RECEIVED).properties == {
        "seconds_on_page": 0
    }
    assert validate_event(raw(type="quote_requested", properties={"amount": 10}), received_at=RECEIVED)


def test_properties_are_copied():
    props = {"url": "/a"}
    ev = validate_event(raw(properties=props), received_at=RECEIVED)
    props["url"] = "/b"
    assert ev.properties == {"url": "/a"}


# ------------------------------------------------------------------------------ identity and ids


@pytest.mark.parametrize(
    ("given_email", "expected"),
    [("  Jane.Doe@ACME.io ", "jane.doe@acme.io"), ("JANE@Example.COM", "jane@example.com"), ("a@b.co", "a@b.co")],
)
def test_email_normalisation(given_email, expected):
    assert validate_event(raw(email=given_email), received_at=RECEIVED).email == expected
    assert normalize_email(given_email) == expected


@pytest.mark.parametrize("bad", ["not-an-email", "a@b", "a b@c.de", "@acme.io", "jane@", 42, ["a@b.co"]])
def test_bad_email_rejected(bad):
    err = rejected(raw(email=bad))
    assert err.field == "email"


def test_email_or_anonymous_id_required():
    err = rejected(raw(email=_DROP))
    assert err.field == "email"
    assert "anonymous_id" in err.reason
    assert rejected(raw(email="", anonymous_id="")).field == "email"
    ev = validate_event(raw(email=None, anonymous_id="anon-1"), received_at=RECEIVED)
    assert ev.email is None
    assert ev.anonymous_id == "anon-1"
    ev = validate_event(raw(anonymous_id=""), received_at=RECEIVED)
    assert ev.anonymous_id is None


@pytest.mark.parametrize("bad", ["x" * 201, 5, ["anon"]])
def test_bad_anonymous_id(bad):
    assert rejected(raw(email=None, anonymous_id=bad)).field == "anonymous_id"


def test_message_id_length():
    ok = "m" * MAX_MESSAGE_ID
    assert validate_event(raw(message_id=ok), received_at=RECEIVED).message_id == ok
    err = rejected(raw(message_id="m" * (MAX_MESSAGE_ID + 1)))
    assert err.field == "message_id"
    assert "100" in err.reason


@pytest.mark.parametrize("bad", ["", 12345, ["m1"]])
def test_bad_message_id(bad):
    assert rejected(raw(message_id=bad)).field == "message_id"


def test_message_id_optional():
    assert validate_event(raw(), received_at=RECEIVED).message_id is None


# ---------------------------------------------------------------------------------------- property

_values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=30),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)
_FIELDS = {"type", "occurred_at", "message_id", "email", "anonymous_id", "properties",
           *(f"properties.{k}" for schema in PROPERTY_SCHEMAS.values() for k in schema)}


@settings(max_examples=300, deadline=None)
@given(
    etype=st.one_of(st.sampled_from(sorted(KNOWN_TYPES)), _values),
    ts=st.one_of(_values, st.integers(min_value=-(10**20), max_value=10**20), st.datetimes()),
    email=st.one_of(st.just("jane@acme.io"), _values),
    anon=st.one_of(st.just("anon-1"), _values),
    message_id=_values,
    props=st.one_of(_values, st.dictionaries(st.sampled_from(["url", "seconds_on_page", "amount", "minutes", "x"]),
                                              _values, max_size=4)),
    policy=st.sampled_from(["clamp", "reject"]),
)
def test_validation_either_accepts_or_rejects_naming_a_field(etype, ts, email, anon, message_id, props, policy):
    event = {"type": etype, "occurred_at": ts, "email": email, "anonymous_id": anon, "message_id": message_id,
             "properties": props}
    try:
        ev = validate_event(event, received_at=RECEIVED, future_policy=policy)
    except EventRejected as err:
        assert err.field in _FIELDS
        return
    assert ev.type in KNOWN_TYPES or ev.type == str(etype).strip().lower()
    assert ev.occurred_at.utcoffset() == timedelta(0)
    assert ev.occurred_at - RECEIVED <= timedelta(hours=23)
    assert ev.email is not None or ev.anonymous_id is not None


@given(st.dictionaries(st.text(max_size=20), st.one_of(st.none(), st.booleans(), st.integers(), st.floats(),
                                                      st.text(max_size=200)), max_size=30))
def test_flat_size_bound_is_an_upper_bound(props):
    import json

    from leadflow.core.events import _flat_size_bound

    assert _flat_size_bound(props) >= len(json.dumps(props, separators=(",", ":"), default=str))
