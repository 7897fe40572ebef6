"""HTTP ingest with deferred scoring (the default): the response says what was stored; the lead's score
follows once the writer has folded the queued events in; /metrics shows the backlog."""

from __future__ import annotations

from api_helpers import make_api


def _lead(api, email: str) -> dict:
    r = api.client.get("/v1/leads", params={"q": email}, headers=api.acme.h)
    assert r.status_code == 200, r.text
    items = [x for x in r.json()["items"] if x["email"] == email]
    assert len(items) == 1
    return items[0]


def test_batch_is_stored_then_scored_and_metrics_show_the_backlog(api):
    batch = [{"type": "track", "event": "Demo Requested", "userId": "dee@acme.io", "messageId": "d1"},
             {"type": "page", "userId": "dee@acme.io", "messageId": "d2",
              "properties": {"url": "https://acme.io/pricing"}}]
    r = api.client.post("/v1/batch", json={"batch": batch}, headers=api.acme.hi)
    assert r.status_code == 200 and r.json()["accepted"] == 2
    assert api.app.state.writer.settle(60)
    lead = _lead(api, "dee@acme.io")
    assert lead["score"] is not None and lead["score"]["engagement"] > 0
    metrics = api.client.get("/metrics").text
    assert "leadflow_qualify_backlog 0.0" in metrics
    assert "leadflow_qualify_events_total" in metrics
    # the same batch again: duplicates, nothing more to score
    again = api.client.post("/v1/batch", json={"batch": batch}, headers=api.acme.hi).json()
    assert again["duplicate"] == 2
    assert api.app.state.writer.settle(60)
    assert _lead(api, "dee@acme.io")["score"] == lead["score"]


def test_inline_scoring_setting(sqlite_url):
    a = make_api(sqlite_url, ingest_scoring="inline")
    try:
        with a.client:
            r = a.client.post("/v1/track", json={"event": "Demo Requested", "userId": "ina@acme.io"},
                              headers=a.acme.hi)
            assert r.status_code == 200
            lead = _lead(a, "ina@acme.io")  # no settle: scored in the request
            assert lead["score"] is not None and lead["score"]["engagement"] > 0
    finally:
        a.app.state.writer.close()
        a.app.state.jobs.shutdown()
        a.app.state.db.dispose()
