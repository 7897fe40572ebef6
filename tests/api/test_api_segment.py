"""core.segment: Segment messages -> leadflow raw events (pure): skew correction, mapping, idempotence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadflow.core import segment
from leadflow.core.events import EventRejected, validate_event

RECEIVED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC))


@settings(max_examples=100, deadline=None)
@given(ts=times, sent=times, received=times)
def test_skew_correction_keeps_the_client_side_gap(ts, sent, received):
    got = segment.corrected_timestamp(ts.isoformat(), sent.isoformat(), received)
    assert got == received - (sent - ts)
    assert received - got == sent - ts


@settings(max_examples=50, deadline=None)
@given(ts=times)
def test_without_sent_at_timestamp_is_kept_and_without_timestamp_received_at_is_used(ts):
    assert segment.corrected_timestamp(ts.isoformat(), None, RECEIVED) == ts
    assert segment.corrected_timestamp(None, ts.isoformat(), RECEIVED) == RECEIVED


names = st.text(alphabet=st.characters(codec="ascii", categories=("L", "N", "Zs", "Pd", "Pc")), min_size=1,
                max_size=80)


@settings(max_examples=100, deadline=None)
@given(name=names)
def test_snake_case_is_idempotent_and_valid(name):
    s = segment.snake_case(name)
    assert segment.snake_case(s) == s
    if s:
        assert s[0].isalpha() and len(s) <= 64 and s == s.lower()


messages = st.fixed_dictionaries(
    {"type": st.sampled_from(["track", "page", "identify", "screen"]),
     "event": st.sampled_from(["Demo Requested", "Form Submitted", "Signed Up", "Pricing Viewed", "clicked CTA"]),
     "userId": st.one_of(st.none(), st.sampled_from(["ana@acme.io", "42", "u-7"])),
     "anonymousId": st.one_of(st.none(), st.text(alphabet="abcdef0123456789", min_size=1, max_size=20)),
     "messageId": st.one_of(st.none(), st.text(alphabet="abc123-", min_size=1, max_size=100)),
     "timestamp": times.map(lambda t: t.isoformat()),
     "properties": st.dictionaries(st.sampled_from(["tier", "x", "label"]), st.integers(0, 9), max_size=3),
     "traits": st.fixed_dictionaries({"email": st.sampled_from(["bo@beta.io", "nope"]),
                                      "firstName": st.just("Bo")})})


@settings(max_examples=100, deadline=None)
@given(msg=messages)
def test_translation_is_deterministic_and_its_events_validate(msg):
    try:
        a = segment.translate(msg, RECEIVED)
    except EventRejected as exc:
        assert exc.field and exc.reason
        return
    assert a == segment.translate(dict(msg), RECEIVED)  # same message, same output (safe retries)
    mids = [e["message_id"] for e in a.events if e["message_id"]]
    assert len(mids) == len(set(mids))
    for raw in a.events:
        ev = validate_event(raw, received_at=RECEIVED, allow_custom_types=True)
        assert ev.email or ev.anonymous_id
        assert ev.occurred_at <= RECEIVED + timedelta(hours=23)


def test_known_names_map_to_the_taxonomy_and_others_are_snake_cased():
    assert segment.event_type("Demo Requested") == "demo_requested"
    assert segment.event_type("Form Submitted") == "form_submit"
    assert segment.event_type("Signed Up") == "trial_started"
    assert segment.event_type("Pricing Page Viewed") == "pricing_page_viewed"
    assert segment.event_type("clickedCTA") == "clicked_cta"


def test_who_email_user_id_traits_or_uid():
    t = segment.translate({"type": "track", "event": "X", "userId": "Ana@Acme.io"}, RECEIVED)
    assert t.events[0]["email"] == "ana@acme.io"
    t = segment.translate({"type": "track", "event": "X", "userId": "42",
                           "context": {"traits": {"email": "b@beta.io"}}}, RECEIVED)
    assert t.events[0]["email"] == "b@beta.io"
    t = segment.translate({"type": "track", "event": "X", "userId": "42"}, RECEIVED)
    assert t.events[0]["anonymous_id"] == "uid:42" and t.events[0]["email"] is None
    with pytest.raises(EventRejected) as e:
        segment.translate({"type": "track", "event": "X"}, RECEIVED)
    assert e.value.field == "userId"


def test_identify_links_anonymous_and_user_ids_and_maps_traits():
    t = segment.translate({"type": "identify", "userId": "42", "anonymousId": "a1", "messageId": "m1",
                           "traits": {"email": "bo@beta.io", "firstName": "Bo", "lastName": "Li", "title": "CTO",
                                      "company": {"name": "Beta", "domain": "https://www.beta.io/"},
                                      "plan": "pro"}}, RECEIVED)
    assert [e["anonymous_id"] for e in t.events] == ["a1", "uid:42"]
    assert all(e["email"] == "bo@beta.io" and e["type"] == "identify" for e in t.events)
    assert t.events[0]["message_id"] == "m1" and t.events[1]["message_id"] != "m1"
    assert t.lead == {"email": "bo@beta.io", "first_name": "Bo", "last_name": "Li", "title": "CTO",
                      "company_name": "Beta", "company_domain": "beta.io", "properties": {"plan": "pro"}}
    with pytest.raises(EventRejected) as e:
        segment.translate({"type": "identify", "userId": "a@b.io", "traits": {"firstName": "x" * 300}}, RECEIVED)
    assert e.value.field == "traits.firstName"


def test_page_takes_context_page_and_campaign():
    t = segment.translate({"type": "page", "anonymousId": "a", "name": "Pricing",
                           "context": {"page": {"url": "https://x.io/p", "referrer": "https://g.co"},
                                       "campaign": {"source": "google", "name": "spring"}}}, RECEIVED)
    p = t.events[0]["properties"]
    assert t.events[0]["type"] == "page_view"
    assert p["url"] == "https://x.io/p" and p["referrer"] == "https://g.co" and p["name"] == "Pricing"
    assert p["utm_source"] == "google" and p["utm_campaign"] == "spring"


def test_unsupported_types_are_rejected_with_the_field():
    for bad in ({"type": "group", "userId": "a@b.io"}, {"type": "alias", "userId": "a@b.io"}, {"userId": "a@b.io"}):
        with pytest.raises(EventRejected) as e:
            segment.translate(bad, RECEIVED)
        assert e.value.field == "type"
