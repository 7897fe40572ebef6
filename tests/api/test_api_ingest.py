"""Segment-compatible ingestion over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

from api_helpers import make_api

from leadflow.core.timeutil import parse_ts


def test_track_dedups_by_message_id_and_retried_batch_is_safe(api):
    h = api.acme.hi
    ev = {"event": "Demo Requested", "userId": "ana@acme.io", "messageId": "m-1",
          "timestamp": "2026-01-01T10:00:00Z", "properties": {"product": "core"}}
    r = api.client.post("/v1/track", json=ev, headers=h)
    assert r.status_code == 200 and r.json()["results"][0]["status"] == "accepted"
    assert r.headers["content-type"].startswith("application/json")
    r = api.client.post("/v1/track", json=ev, headers=h)
    assert r.json()["results"][0]["status"] == "duplicate"
    batch = {"batch": [
        {"type": "track", "event": "Form Submitted", "userId": "ana@acme.io", "messageId": "m-2"},
        {"type": "group", "groupId": "g", "userId": "ana@acme.io", "messageId": "m-3"},
        {"type": "track", "event": "Bad Type", "userId": "ana@acme.io", "messageId": "x" * 101},
        {"type": "page", "anonymousId": "anon-1", "messageId": "m-4"},
        {"type": "track", "event": "Signed Up", "userId": "ana@acme.io", "messageId": "m-1"}]}
    first = api.client.post("/v1/batch", json=batch, headers=h).json()
    assert [x["status"] for x in first["results"]] == ["accepted", "rejected", "rejected", "accepted", "duplicate"]
    assert first["results"][1]["field"] == "type"
    assert first["results"][2]["field"] == "message_id" and "100" in first["results"][2]["reason"]
    again = api.client.post("/v1/batch", json=batch, headers=h).json()
    assert [x["status"] for x in again["results"]] == ["duplicate", "rejected", "rejected", "duplicate", "duplicate"]
    assert again["accepted"] == 0
    # the other workspace has its own dedup space
    other = api.client.post("/v1/track", json=ev, headers=api.beta.hi).json()
    assert other["results"][0]["status"] == "accepted"


def test_identify_merges_anonymous_history_and_sets_attributes(api):
    h = api.acme.hi
    for i in range(3):
        api.client.post("/v1/page", json={"anonymousId": "anon-9", "messageId": f"pv-{i}",
                                          "properties": {"url": "https://x.io/pricing"},
                                          "timestamp": f"2026-02-0{i + 1}T10:00:00Z"}, headers=h)
    r = api.client.post("/v1/identify", json={"anonymousId": "anon-9", "userId": "u-77", "messageId": "id-1",
                                              "traits": {"email": "Zoe@Zeta.io", "firstName": "Zoe",
                                                         "title": "Head of Growth"}}, headers=h)
    assert r.status_code == 200, r.text
    # later events by user id alone land on the same lead
    api.client.post("/v1/track", json={"userId": "u-77", "event": "Demo Requested", "messageId": "t-1"}, headers=h)
    leads = api.client.get("/v1/leads", params={"q": "zeta"}, headers=api.acme.h).json()["items"]
    assert len(leads) == 1 and leads[0]["first_name"] == "Zoe" and leads[0]["title"] == "Head of Growth"
    tl = api.client.get(f"/v1/leads/{leads[0]['id']}/timeline", headers=api.acme.h).json()
    types = [i["type"] for i in tl["items"] if i["kind"] == "event"]
    assert types.count("page_view") == 3 and "demo_requested" in types and "identify" in types


def test_clock_skew_corrected_and_future_clamped(api):
    h = api.acme.hi
    now = datetime.now(UTC)
    # the client's clock is 1 h fast: sentAt - timestamp = 10 s, so occurred ~ received - 10 s
    ts, sent = now + timedelta(hours=1), now + timedelta(hours=1, seconds=10)
    api.client.post("/v1/track", json={"userId": "s@skew.io", "event": "X", "messageId": "sk-1",
                                       "timestamp": ts.isoformat(), "sentAt": sent.isoformat()}, headers=h)
    api.client.post("/v1/track", json={"userId": "s@skew.io", "event": "Y", "messageId": "sk-2",
                                       "timestamp": (now + timedelta(days=3)).isoformat()}, headers=h)
    lead = api.client.get("/v1/leads", params={"q": "skew"}, headers=api.acme.h).json()["items"][0]
    items = {i["type"]: i for i in api.client.get(f"/v1/leads/{lead['id']}/timeline",
                                                  headers=api.acme.h).json()["items"] if i["kind"] == "event"}
    gap = now - parse_ts(items["x"]["at"])
    assert timedelta(seconds=5) < gap < timedelta(seconds=60)
    assert items["y"]["flags"] == ["future_clamped"]
    assert abs(parse_ts(items["y"]["at"]) - now) < timedelta(seconds=60)


def test_auth_variants_and_write_only_keys(api):
    ev = {"event": "X", "userId": "a@auth.io"}
    assert api.client.post("/v1/track", json=ev).status_code == 401
    basic = base64.b64encode(f"{api.acme.ingest}:".encode()).decode()
    assert api.client.post("/v1/track", json=ev, headers={"Authorization": f"Basic {basic}"}).status_code == 200
    assert api.client.post("/v1/track", json={**ev, "writeKey": api.acme.ingest}).status_code == 200
    r = api.client.post("/v1/track", json=ev, headers={"Authorization": "Bearer lf_ingest_nope"})
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    # an ingest key cannot read anything
    r = api.client.get("/v1/leads", headers=api.acme.hi)
    assert r.status_code == 403 and r.json()["action"] == "leads:read"


def test_limits_413_and_rejections_name_the_field(api):
    h = api.acme.hi
    r = api.client.post("/v1/track", json={"event": "X", "userId": "a@b.io", "properties": {"x": "y" * 33000}},
                        headers=h)
    assert r.status_code == 413 and r.json()["errors"][0]["field"] == "body"
    too_many = {"batch": [{"type": "track", "event": "X", "userId": "a@b.io"}] * 501}
    assert api.client.post("/v1/batch", json=too_many, headers=h).status_code == 413
    big = {"batch": [{"type": "track", "event": "X", "userId": "a@b.io", "properties": {"p": "z" * 30000}}] * 18}
    assert api.client.post("/v1/batch", json=big, headers=h).status_code == 413
    one_big = {"batch": [{"type": "track", "event": "X", "userId": "a@b.io", "properties": {"p": "z" * 33000}}]}
    res = api.client.post("/v1/batch", json=one_big, headers=h).json()["results"][0]
    assert res["status"] == "rejected" and "32768" in res["reason"]
    r = api.client.post("/v1/track", json={"event": "X", "userId": "a@b.io", "timestamp": "yesterday"}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "timestamp"
    r = api.client.post("/v1/track", content=b"{not json", headers={**h, "content-type": "application/json"})
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"


def test_rate_limit_429_with_retry_after(sqlite_url):
    a = make_api(sqlite_url, rate_limit_per_second=1, rate_limit_burst=2)
    with a.client:
        codes = [a.client.post("/v1/track", json={"event": "X", "userId": "a@b.io"}, headers=a.acme.hi)
                 for _ in range(4)]
        assert [r.status_code for r in codes[:2]] == [200, 200]
        assert codes[-1].status_code == 429 and int(codes[-1].headers["retry-after"]) >= 1
        # another key has its own bucket
        assert a.client.post("/v1/track", json={"event": "X", "userId": "a@b.io"},
                             headers=a.beta.hi).status_code == 200
    a.app.state.writer.close()


def test_cors_only_on_ingest(api):
    pre = {"Origin": "https://customer.example", "Access-Control-Request-Method": "POST",
           "Access-Control-Request-Headers": "content-type"}
    r = api.client.options("/v1/track", headers=pre)
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*"
    r = api.client.options("/v1/leads", headers=pre)
    assert "access-control-allow-origin" not in r.headers


def test_without_group_commit_same_results(sqlite_url):
    a = make_api(sqlite_url, ingest_group_commit=False)
    with a.client:
        r = a.client.post("/v1/batch", json={"batch": [
            {"type": "track", "event": "X", "userId": "a@b.io", "messageId": "1"},
            {"type": "track", "event": "X", "userId": "a@b.io", "messageId": "1"}]}, headers=a.acme.hi).json()
        assert [x["status"] for x in r["results"]] == ["accepted", "duplicate"]
