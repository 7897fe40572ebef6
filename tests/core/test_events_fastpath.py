"""``validate_event``'s shortcuts change nothing: it agrees with the straightforward reference below (the
implementation before the shortcuts) on every input, accepted (same ValidEvent) or rejected (same field and
reason)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from leadflow.core.events import (
    CUSTOM_TYPE_RE,
    KNOWN_TYPES,
    MAX_MESSAGE_ID,
    MAX_PROPERTIES_BYTES,
    PROPERTY_SCHEMAS,
    EventRejected,
    ValidEvent,
    _flat_size_bound,
    normalize_email,
    validate_event,
)
from leadflow.core.timeutil import MAX_FUTURE, as_utc, parse_ts


def _reference_bound(props: Mapping[str, Any]) -> float:
    total = 2
    for k, v in props.items():
        if not isinstance(k, str):
            return float("inf")
        if isinstance(v, str):
            total += 12 * (len(k) + len(v)) + 6
        elif isinstance(v, int) and not isinstance(v, bool) and not -10**20 < v < 10**20:
            total += 12 * len(k) + len(str(v)) + 6
        elif v is None or isinstance(v, bool | int | float):
            total += 12 * len(k) + 30
        else:
            return float("inf")
    return total


def _reference(raw: Mapping[str, Any], *, received_at: datetime, allow_custom_types: bool = True,
               future_policy: str = "clamp") -> ValidEvent:
    received_at = as_utc(received_at)
    etype = raw.get("type")
    if not isinstance(etype, str) or not etype:
        raise EventRejected("type", "is missing")
    etype = etype.strip().lower()
    if etype not in KNOWN_TYPES:
        if not allow_custom_types:
            raise EventRejected("type", f"unknown event type {etype!r} (custom types are disabled)")
        if not CUSTOM_TYPE_RE.match(etype):
            raise EventRejected("type", f"{etype!r} must be lower_snake_case, at most 64 characters")
    ts_raw = raw.get("occurred_at", raw.get("timestamp"))
    try:
        occurred_at = parse_ts(ts_raw)
    except ValueError as exc:
        raise EventRejected("occurred_at", str(exc)) from None
    flags: list[str] = []
    if occurred_at - received_at > MAX_FUTURE:
        if future_policy == "reject":
            raise EventRejected("occurred_at", f"{occurred_at.isoformat()} is more than 23 h in the future")
        occurred_at = received_at
        flags.append("future_clamped")
    message_id = raw.get("message_id")
    if message_id is not None:
        if not isinstance(message_id, str) or not message_id:
            raise EventRejected("message_id", "must be a non-empty string")
        if len(message_id) > MAX_MESSAGE_ID:
            raise EventRejected("message_id", f"is longer than {MAX_MESSAGE_ID} characters")
    email = raw.get("email")
    anonymous_id = raw.get("anonymous_id")
    if email in (None, "") and anonymous_id in (None, ""):
        raise EventRejected("email", "an event needs an email or an anonymous_id")
    email = normalize_email(email) if email not in (None, "") else None
    if anonymous_id is not None and anonymous_id != "":
        if not isinstance(anonymous_id, str) or len(anonymous_id) > 200:
            raise EventRejected("anonymous_id", "must be a string of at most 200 characters")
    else:
        anonymous_id = None
    props = raw.get("properties") or {}
    if not isinstance(props, Mapping):
        raise EventRejected("properties", "must be an object")
    if _reference_bound(props) > MAX_PROPERTIES_BYTES:
        try:
            size = len(json.dumps(props, separators=(",", ":"), default=str))
        except (TypeError, ValueError) as exc:
            raise EventRejected("properties", f"cannot be serialised: {exc}") from None
    else:
        size = 0
    if size > MAX_PROPERTIES_BYTES:
        raise EventRejected("properties", f"is {size} bytes, more than the {MAX_PROPERTIES_BYTES} allowed")
    schema = PROPERTY_SCHEMAS.get(etype, {})
    for key, types in schema.items():
        value = props.get(key)
        if value is not None and (not isinstance(value, types) or isinstance(value, bool)):
            names = " or ".join(t.__name__ for t in types)
            raise EventRejected(f"properties.{key}", f"must be {names}, got {type(value).__name__}")
    secs = props.get("seconds_on_page")
    if isinstance(secs, int | float) and secs < 0:
        raise EventRejected("properties.seconds_on_page", "must not be negative")
    return ValidEvent(type=etype, occurred_at=occurred_at, received_at=received_at, message_id=message_id,
                      email=email, anonymous_id=anonymous_id, properties=dict(props), flags=tuple(flags))


class Str(str):
    """A str subclass (as some parsers hand over)."""


RECEIVED = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(-10**25, 10**25), st.floats(),
                     st.text(max_size=20), st.just(""))
_values = st.one_of(_scalars, st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5),
                                                                                    st.integers(), max_size=3))
_types = st.one_of(st.sampled_from(sorted(KNOWN_TYPES)), st.sampled_from(sorted(KNOWN_TYPES)).map(str.upper),
                   st.sampled_from(sorted(KNOWN_TYPES)).map(lambda t: f" {t} "),
                   st.sampled_from(sorted(KNOWN_TYPES)).map(Str), st.just("trial_extended"), st.just("Bad-Type"),
                   _values)
_times = st.one_of(st.datetimes(timezones=st.just(UTC)), st.datetimes(),
                   st.datetimes(timezones=st.sampled_from([timezone(timedelta(hours=2)), timezone(timedelta(0), "Z")])),
                   st.datetimes(min_value=datetime(2024, 4, 30), max_value=datetime(2024, 5, 3),
                                timezones=st.just(UTC)),
                   st.integers(-10**12, 10**13), st.floats(), st.text(max_size=25), _values,
                   st.sampled_from(["2024-05-01T11:00:00Z", "2024-05-02T12:00:00z", "2024-05-01", "yesterday"]))
_props = st.one_of(
    _values,
    st.dictionaries(st.sampled_from(["url", "title", "seconds_on_page", "amount", "minutes", "form", "with",
                                     "asset_type", "x"]), _scalars, max_size=5),
    st.dictionaries(st.one_of(st.text(max_size=5), st.integers()), _values, max_size=3),
    st.just({"k": "x" * (MAX_PROPERTIES_BYTES - 7)}), st.just({"k": "é" * 3000}),
)


def _outcome(fn, raw, **kw):
    try:
        return ("ok", fn(raw, **kw))
    except EventRejected as exc:
        return ("rejected", exc.field, exc.reason)


@settings(max_examples=100, deadline=None)
@given(etype=_types, ts=_times, ts_key=st.sampled_from(["occurred_at", "timestamp"]),
       email=st.one_of(st.just("Jane@Acme.io "), st.just("jane@acme.io"), _values),
       anon=st.one_of(st.just("anon-1"), _values), message_id=st.one_of(st.just("m-1"), _values), props=_props,
       received=st.one_of(st.just(RECEIVED), st.just(datetime(2024, 5, 1, 12)),
                          st.just(datetime(2024, 5, 1, 14, tzinfo=timezone(timedelta(hours=2))))),
       custom=st.booleans(), policy=st.sampled_from(["clamp", "reject"]),
       drop=st.sets(st.sampled_from(["type", "email", "anonymous_id", "message_id", "properties"])))
def test_validate_event_agrees_with_the_reference(etype, ts, ts_key, email, anon, message_id, props, received,
                                                  custom, policy, drop):
    raw = {"type": etype, ts_key: ts, "email": email, "anonymous_id": anon, "message_id": message_id,
           "properties": props}
    for key in drop:
        raw.pop(key)
    kw = {"received_at": received, "allow_custom_types": custom, "future_policy": policy}
    got, want = _outcome(validate_event, raw, **kw), _outcome(_reference, raw, **kw)
    assert got == want
    if got[0] == "ok":
        assert type(got[1].type) is str and got[1].occurred_at.tzinfo is not None
        assert got[1].occurred_at.utcoffset() == timedelta(0) and got[1].received_at.utcoffset() == timedelta(0)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.one_of(st.text(max_size=10), st.integers()),
                       st.one_of(st.none(), st.booleans(), st.integers(), st.integers(-10**25, 10**25), st.floats(),
                                 st.text(max_size=50), st.text(max_size=5).map(Str), st.lists(st.integers())),
                       max_size=8))
def test_flat_size_bound_unchanged(props):
    assert _flat_size_bound(props) == _reference_bound(props)
