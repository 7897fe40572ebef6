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
    assert "leadflow_qualify_failed 0.0" in metrics
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


def _run_identify_sequence(a) -> dict:
    h = a.acme.hi
    batch = [{"type": "track", "event": "Demo Requested", "userId": "eve@acme.io", "messageId": "e1",
              "timestamp": "2026-05-01T10:00:00Z"},
             {"type": "page", "userId": "eve@acme.io", "messageId": "e2", "timestamp": "2026-05-01T10:05:00Z",
              "properties": {"url": "https://acme.io/pricing"}}]
    assert a.client.post("/v1/batch", json={"batch": batch}, headers=h).json()["accepted"] == 2
    ident = {"userId": "eve@acme.io", "messageId": "e3", "timestamp": "2026-05-01T10:10:00Z",
             "traits": {"firstName": "Eve", "title": "VP Marketing", "seniority": "vp", "department": "marketing",
                        "address": {"country": "Germany"}}}
    assert a.client.post("/v1/identify", json=ident, headers=h).json()["accepted"] == 1
    assert a.app.state.writer.settle(60)
    return _lead(a, "eve@acme.io")


def test_identify_traits_rescored_through_the_queue_equal_inline(tmp_path):
    """With deferred scoring an identify's new traits are not replayed in the request's transaction: the lead
    is queued for a replay, and once the queue is drained its score and stage are what inline scoring gives."""
    out = {}
    for mode in ("deferred", "inline"):
        a = make_api(f"sqlite:///{tmp_path}/{mode}.db", ingest_scoring=mode)
        try:
            with a.client:
                out[mode] = _run_identify_sequence(a)
        finally:
            a.app.state.writer.close()
            a.app.state.jobs.shutdown()
            a.app.state.db.dispose()
    d, i = out["deferred"], out["inline"]
    assert d["title"] == i["title"] == "VP Marketing"
    assert d["score"] == i["score"] and d["stage"] == i["stage"]
    assert d["score"]["fit"] > 0  # the traits reached the fit score


def test_identify_queues_a_replay_instead_of_scoring_in_the_store_transaction(api):
    from sqlalchemy import select

    from leadflow.api.routers.ingest import _prepare
    from leadflow.api.writer import IngestWriter, Unit
    from leadflow.core.timeutil import utcnow
    from leadflow.store.tables import Lead, QualifyQueue

    assert api.client.post("/v1/track", json={"event": "Demo Requested", "userId": "fay@acme.io"},
                           headers=api.acme.hi).status_code == 200
    assert api.app.state.writer.settle(60)
    before = _lead(api, "fay@acme.io")["score"]
    writer = IngestWriter(api.app.state.db, api.settings)  # its thread is never started: no scoring step runs
    req = type("R", (), {"app": api.app})()
    msg = {"userId": "fay@acme.io", "traits": {"title": "VP Marketing", "seniority": "vp"}}
    _, leads, items, _ = _prepare(req, [msg], utcnow(), "identify")
    writer.write_sync(Unit(api.acme.id, leads, items))
    with api.app.state.db.session() as s:
        lead_id = s.scalar(select(Lead.id).where(Lead.email == "fay@acme.io"))
        queued = s.execute(select(QualifyQueue.lead_id, QualifyQueue.event_id)).all()
    assert (lead_id, None) in queued  # a replay of the lead, queued in the same transaction
    assert _lead(api, "fay@acme.io")["score"] == before  # not re-scored yet
    assert api.app.state.writer.settle(60)
    assert _lead(api, "fay@acme.io")["score"]["fit"] > before["fit"]
