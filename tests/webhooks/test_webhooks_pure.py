"""Pure parts: backoff schedule, signatures, URL and event-kind validation."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadflow.services.webhooks import (
    WebhookError,
    backoff_ceiling,
    backoff_delay,
    body_of,
    sign,
    validate_events,
    validate_url,
    verify_signature,
)


@settings(max_examples=100)
@given(attempt=st.integers(1, 200), base=st.floats(0.01, 600), cap=st.floats(0.01, 86400),
       u=st.floats(0.0, 1.0, exclude_max=True))
def test_backoff_full_jitter_within_bounds(attempt, base, cap, u):
    ceiling = backoff_ceiling(attempt, base, cap)
    assert ceiling == min(cap, base * 2.0 ** min(attempt - 1, 64))
    delay = backoff_delay(attempt, base, cap, lambda: u)
    assert 0.0 <= delay <= ceiling <= cap


@settings(max_examples=100)
@given(attempt=st.integers(1, 60), base=st.floats(0.01, 100), cap=st.floats(0.01, 1e6))
def test_backoff_ceiling_doubles_until_cap(attempt, base, cap):
    a, b = backoff_ceiling(attempt, base, cap), backoff_ceiling(attempt + 1, base, cap)
    assert b >= a
    if b < cap:
        assert b == pytest.approx(2 * a)


def test_backoff_is_exponential_and_jittered():
    import random

    rng = random.Random(7)
    delays = [[backoff_delay(n, 10, 3600, rng.random) for _ in range(200)] for n in (1, 2, 3, 4)]
    for n, ds in enumerate(delays, start=1):
        assert max(ds) < 10 * 2 ** (n - 1)
        assert len(set(ds)) > 150  # jittered, not a fixed schedule
    means = [sum(ds) / len(ds) for ds in delays]
    assert means[0] < means[1] < means[2] < means[3]
    with pytest.raises(ValueError):
        backoff_ceiling(0, 1, 1)


def test_signature_roundtrip_and_format():
    body = body_of({"id": "evt_1", "kind": "lead.mql", "lead": {"email": "ana@acme.io"}})
    header = sign("whsec_test_secret_123", body, 1_700_000_000)
    t, v1 = header.split(",")
    assert t == "t=1700000000"
    expected = hmac.new(b"whsec_test_secret_123", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert v1 == f"v1={expected}"
    verify_signature("whsec_test_secret_123", body, header, now=1_700_000_100)


@pytest.mark.parametrize("mutate, reason", [
    (lambda b, h: (b + b" ", h), "does not match"),
    (lambda b, h: (b, h.replace("v1=", "v1=0")), "does not match"),
    (lambda b, h: (b, "v1=abc"), "no valid t="),
    (lambda b, h: (b, h.split(",")[0]), "no v1="),
    (lambda b, h: (b, h.replace("t=1700000000", "t=1600000000")), "away from now"),
])
def test_signature_rejections(mutate, reason):
    body = body_of({"id": "evt_2"})
    b, h = mutate(body, sign("whsec_test_secret_123", body, 1_700_000_000))
    with pytest.raises(WebhookError, match=reason):
        verify_signature("whsec_test_secret_123", b, h, now=1_700_000_010)
    with pytest.raises(WebhookError, match="does not match"):
        verify_signature("another_secret_xxxxxx", body, sign("whsec_test_secret_123", body, 1_700_000_000),
                         now=1_700_000_010)


def test_body_is_canonical_json():
    assert body_of({"b": 1, "a": "é"}) == '{"a":"é","b":1}'.encode()
    assert json.loads(body_of({"x": [1, 2]})) == {"x": [1, 2]}


@pytest.mark.parametrize("url", ["https://hooks.example.com/leadflow", "http://example.org:8080/x?y=1",
                                 "https://93.184.216.34/hook"])
def test_valid_urls(url):
    assert validate_url(url) == url


@pytest.mark.parametrize("url, reason", [
    ("", "is required"), ("ftp://example.com/x", "https://"), ("https:///path", "no host"),
    ("https://user:pw@example.com/", "user name"), ("https://example.com/a b", "whitespace"),
    ("https://127.0.0.1/x", "private"), ("http://localhost:9000/", "private"), ("http://10.1.2.3/", "private"),
    ("http://169.254.169.254/latest/meta-data", "private"), ("http://[::1]/", "private"),
    ("http://[::ffff:127.0.0.1]/", "private"), ("http://db.internal/", "private"),
    ("https://example.com:99999/", "not a valid URL"), ("https://example.com/#frag", "fragment"),
    ("https://example.com/" + "a" * 2000, "longer than"),
])
def test_invalid_urls(url, reason):
    with pytest.raises(WebhookError, match=reason) as info:
        validate_url(url)
    assert info.value.field == "url"


def test_private_urls_allowed_when_configured():
    assert validate_url("http://127.0.0.1:9000/hook", allow_private=True) == "http://127.0.0.1:9000/hook"


def test_event_kinds():
    assert validate_events("lead.mql, lead.sql,lead.mql") == ["lead.mql", "lead.sql"]
    assert validate_events(["lead.created", "*"]) == ["*"]
    with pytest.raises(WebhookError, match="unknown event kind 'lead.won'"):
        validate_events("lead.won")
    with pytest.raises(WebhookError, match="at least one"):
        validate_events(" , ")
