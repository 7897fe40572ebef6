"""The fast paths of HTTP ingest: group commit coalescing, per-request results and failures, the hand-built
response body, request ids and cached metric children. Both stores (``api`` runs on ``db_url``)."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

import async_run
from leadflow.api.observability import _latency
from leadflow.api.routers.ingest import IngestResponse
from leadflow.api.writer import IngestWriter, Unit
from leadflow.core.events import validate_event
from leadflow.services.ingest import Ingestor
from leadflow.store.tables import Event

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)


def _valid(i: int, mid: str, email: str = "ana@acme.io"):
    return validate_event({"type": "page_view", "email": email, "message_id": mid, "occurred_at": NOW,
                           "properties": {"url": f"https://x.io/{i}"}}, received_at=NOW)


def _stored(api, ws_id: str) -> int:
    with api.app.state.db.session() as s:
        return s.scalar(select(func.count()).select_from(Event).where(Event.workspace_id == ws_id))


async def _write_queued(writer: IngestWriter, units: list[Unit]) -> list:
    """Queue every unit before the writer thread starts, so it takes them all in one go; returns each
    unit's results or exception."""
    loop = asyncio.get_running_loop()
    for u in units:
        u.loop, u.future = loop, loop.create_future()
        writer.q.put(u)
    writer._ensure_thread()
    return await asyncio.gather(*(u.future for u in units), return_exceptions=True)


def _recording(writer: IngestWriter) -> list[int]:
    """Record how many requests each store transaction took."""
    sizes: list[int] = []
    orig = writer._apply

    def apply(s, units):  # noqa: ANN001
        sizes.append(len(units))
        return orig(s, units)

    writer._apply = apply
    return sizes


def test_queued_requests_share_one_transaction_and_each_gets_its_own_results(api):
    writer = IngestWriter(api.app.state.db, api.settings)
    sizes = _recording(writer)
    ws = api.acme.id
    units = [Unit(ws, [], [(0, _valid(0, "a-0")), (1, _valid(1, "a-1"))]),
             Unit(ws, [], [(0, _valid(2, "b-0")), (1, _valid(3, "a-1"))]),  # a-1 again: duplicate
             Unit(ws, [], [(0, _valid(4, "c-0", "new@beta.io"))])]
    try:
        results = async_run.run(_write_queued(writer, units))
    finally:
        writer.close()
    assert sizes == [3]  # one transaction for the three requests
    assert [sorted((r.index, r.status) for r in rs) for rs in results] == [
        [(0, "accepted"), (1, "accepted")], [(0, "accepted"), (1, "duplicate")], [(0, "accepted")]]
    assert all(r.id for rs in results for r in rs if r.status == "accepted")
    assert _stored(api, ws) == 4


def test_a_failing_request_fails_alone_and_the_others_are_stored(api, monkeypatch):
    ws = api.acme.id
    orig = Ingestor.ingest_valid

    def failing(self, items, **kw):  # noqa: ANN001, ANN003
        if any(ev.message_id == "boom" for _, ev in items):
            raise RuntimeError("database error")
        return orig(self, items, **kw)

    monkeypatch.setattr(Ingestor, "ingest_valid", failing)
    writer = IngestWriter(api.app.state.db, api.settings)
    sizes = _recording(writer)
    units = [Unit(ws, [], [(0, _valid(0, "ok-0"))]),
             Unit(ws, [], [(0, _valid(1, "ok-1")), (1, _valid(2, "boom"))]),
             Unit(ws, [], [(0, _valid(3, "ok-2"))])]
    try:
        results = async_run.run(_write_queued(writer, units))
    finally:
        writer.close()
    assert sizes == [3, 1, 1, 1]  # the shared transaction failed: each request retried alone
    assert [r.status for r in results[0]] == ["accepted"]
    assert isinstance(results[1], RuntimeError)
    assert [r.status for r in results[2]] == ["accepted"]
    with api.app.state.db.session() as s:  # nothing of the failed request is stored, not even its good event
        mids = set(s.scalars(select(Event.message_id).where(Event.workspace_id == ws)))
    assert mids == {"ok-0", "ok-2"}


def test_requests_of_two_workspaces_in_one_pass_are_stored_in_their_own_workspace(api):
    writer = IngestWriter(api.app.state.db, api.settings)
    units = [Unit(api.acme.id, [], [(0, _valid(0, "same"))]), Unit(api.beta.id, [], [(0, _valid(0, "same"))]),
             Unit("no-such-workspace", [], [(0, _valid(0, "x"))])]
    try:
        results = async_run.run(_write_queued(writer, units))
    finally:
        writer.close()
    assert [r.status for r in results[0]] == ["accepted"]
    assert [r.status for r in results[1]] == ["accepted"]  # dedup is per workspace
    assert isinstance(results[2], LookupError)
    assert _stored(api, api.acme.id) == 1 and _stored(api, api.beta.id) == 1


def test_concurrent_http_requests_each_get_their_results_and_a_retry_is_all_duplicates(api):
    h = api.acme.hi
    bodies = [{"batch": [{"type": "track", "event": "Page Viewed", "userId": f"u{r}@acme.io",
                          "messageId": f"r{r}-{i}"} for i in range(3)]
               + [{"type": "track", "userId": f"u{r}@acme.io", "messageId": f"r{r}-bad"}]} for r in range(6)]

    async def send_all():
        import httpx
        transport = httpx.ASGITransport(app=api.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return await asyncio.gather(*(c.post("/v1/batch", json=b, headers=h) for b in bodies))

    first = async_run.run(send_all())
    again = async_run.run(send_all())
    for r, body in zip(first, bodies, strict=True):
        data = r.json()
        assert r.status_code == 200
        IngestResponse.model_validate(data)
        assert [o["messageId"] for o in data["results"]] == [m["messageId"] for m in body["batch"]]
        assert [o["status"] for o in data["results"]] == ["accepted"] * 3 + ["rejected"]
        assert data["results"][3]["field"] == "event" and "id" not in data["results"][3]
        assert (data["accepted"], data["duplicate"], data["rejected"]) == (3, 0, 1)
    for r in again:
        assert [o["status"] for o in r.json()["results"]] == ["duplicate"] * 3 + ["rejected"]
    assert _stored(api, api.acme.id) == 18


def test_response_body_has_the_model_members_and_leaves_out_missing_ones(api):
    h = api.acme.hi
    r = api.client.post("/v1/batch", headers=h, json={"batch": [
        {"type": "track", "event": "Demo Requested", "userId": "ana@acme.io", "messageId": "m-1",
         "timestamp": "2099-01-01T00:00:00Z"},
        {"type": "identify", "userId": "ana@acme.io", "anonymousId": "an-1", "traits": {"firstName": "Ana"}},
        "not an object",
        {"type": "track", "event": "Demo Requested", "userId": "ana@acme.io", "messageId": "m-1"}]})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    data = r.json()
    assert list(data) == ["accepted", "duplicate", "rejected", "results"]
    one, two, three, four = data["results"]
    assert list(one) == ["index", "status", "messageId", "id", "flags"] and one["flags"] == ["future_clamped"]
    assert list(two) == ["index", "status", "id"]  # no messageId sent, no flags
    assert three == {"index": 2, "status": "rejected", "field": "(event)", "reason": "must be a JSON object"}
    assert four == {"index": 3, "status": "duplicate", "messageId": "m-1"}
    assert IngestResponse.model_validate(data).model_dump(exclude_none=True) == data
    single = api.client.post("/v1/track", headers=h, json={"event": "X", "userId": "bo@acme.io"})
    assert single.status_code == 200 and single.json()["accepted"] == 1
    bad = api.client.post("/v1/track", headers=h, json={"event": "X"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "userId"


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rid=st.one_of(st.none(), st.text(min_size=0, max_size=140)))
def test_request_ids_are_kept_when_well_formed_else_generated(api, rid):
    headers = {"x-request-id": rid} if rid is not None and rid.isascii() and rid.isprintable() else {}
    r = api.client.get("/healthz", headers=headers)
    out = r.headers["x-request-id"]
    sent = headers.get("x-request-id")
    if sent and re.fullmatch(r"[A-Za-z0-9._:-]{1,128}", sent):
        assert out == sent
    else:
        assert re.fullmatch(r"[0-9a-f]{32}", out)


def test_generated_request_ids_differ_and_latency_children_are_reused(api):
    ids = {api.client.get("/healthz").headers["x-request-id"] for _ in range(50)}
    assert len(ids) == 50
    assert _latency("GET", "/healthz", 2) is _latency("GET", "/healthz", 2)
    assert _latency("GET", "/healthz", 2) is not _latency("GET", "/healthz", 5)
