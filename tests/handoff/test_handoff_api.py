"""The handoff HTTP API: team, queue, work, BANT, reports; refusals as problem details; permissions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from leadflow.api.app import create_app
from leadflow.api.deps import Principal, current_principal
from leadflow.core.permissions import Role
from leadflow.services import apikeys, signals
from leadflow.services import workspaces as ws_svc
from leadflow.services.ingest import Ingestor
from leadflow.settings import Settings
from leadflow.store.tables import Workspace


@pytest.fixture
def api(sqlite_url, monkeypatch):
    monkeypatch.setattr(signals, "SUBSCRIBERS", ("leadflow.services.handoff:on_signals",))
    app = create_app(Settings(database_url=sqlite_url, secret_key="test"), mount_web=False)
    with app.state.db.session() as s:
        ws = ws_svc.get_or_create_workspace(s, "acme")
        _, key = apikeys.create_key(s, ws.id, kind="secret", name="admin", scopes="*")
        ws_id = ws.id
    client = TestClient(app)
    with client:
        client.headers["Authorization"] = f"Bearer {key}"
        yield client, app, ws_id
    app.state.writer.close()
    app.state.jobs.shutdown()
    app.state.db.dispose()


def test_team_work_and_reports_over_http(api):
    c, app, ws_id = api
    assert c.put("/v1/handoff/territories", json={"key": "all", "name": "Everything"}).status_code == 200
    r = c.post("/v1/handoff/reps", json={"key": "sam", "name": "Sam", "role": "sdr", "territories": ["all"],
                                         "weight": 2})
    assert r.status_code == 201
    r = c.post("/v1/handoff/reps", json={"key": "sam", "name": "Sam again"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "rep.key"
    r = c.post("/v1/handoff/reps", json={"key": "x", "name": "X", "timezone": "Mars/Base"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "timezone"
    c.post("/v1/handoff/reps", json={"key": "amy", "name": "Amy", "role": "ae", "territories": ["all"]})
    # an MQL arrives through the normal ingest path and is routed by the subscriber
    ts = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    with app.state.db.session() as s:
        Ingestor(s, s.get(Workspace, ws_id)).ingest_events([{"type": "contact_request", "email": "kim@corp.io",
                                                               "timestamp": ts}])
    q = c.get("/v1/handoff/queue", params={"rep": "sam"}).json()["items"]
    assert [i["email"] for i in q] == ["kim@corp.io"] and "because territory Everything" in q[0]["explanation"]
    lead = "kim@corp.io"
    assert c.post(f"/v1/handoff/leads/{lead}/attempts", json={"kind": "call", "outcome": "connected"}).status_code == 201
    r = c.post(f"/v1/handoff/leads/{lead}/opportunity", json={"amount": 5})
    assert r.status_code == 422 and "not an AE" in r.json()["detail"]
    assert c.post(f"/v1/handoff/leads/{lead}/accept", json={}).json()["stage"] == "sal"
    assert c.post(f"/v1/handoff/leads/{lead}/accept", json={}).status_code == 409  # SAL -> SAL: illegal
    for crit in ("need", "timeline", "budget"):
        assert c.post(f"/v1/handoff/leads/{lead}/bant", json={"criterion": crit, "state": "met"}).status_code == 201
    r = c.post(f"/v1/handoff/leads/{lead}/bant", json={"criterion": "budget", "state": "met",
                                                       "details": {"currency": "EURO"}})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "bant.budget.currency"
    r = c.post(f"/v1/handoff/leads/{lead}/bant/evaluate", json={}).json()
    assert r["passed"] and r["outcome"] == "sql"
    assert c.get("/v1/handoff/queue", params={"rep": "amy"}).json()["items"][0]["email"] == lead
    r = c.post(f"/v1/handoff/leads/{lead}/opportunity", json={"amount": 12000, "currency": "usd"})
    assert r.status_code == 201 and r.json()["currency"] == "USD"
    r = c.post(f"/v1/handoff/leads/{lead}/close", json={"result": "lost"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason"
    assert c.post(f"/v1/handoff/leads/{lead}/close", json={"result": "won"}).json()["status"] == "won"
    detail = c.get(f"/v1/handoff/leads/{lead}").json()
    assert [a["rep"] for a in detail["assignments"]] == ["sam", "amy"]
    assert detail["bant"]["need"]["state"] == "met" and detail["opportunities"][0]["status"] == "won"
    rep = c.get("/v1/handoff/reports").json()
    assert rep["speed_to_lead"]["count"] == 1 and rep["sql_rate"]["by_rep"][0]["sql"] == 1
    assert c.get("/v1/handoff/leads/nobody@x.io").status_code == 404
    assert c.post("/v1/handoff/sla/check").status_code == 200
    # permissions: marketing may read reports but not work leads or manage the team
    app.dependency_overrides[current_principal] = lambda: Principal(ws_id, "acme", "user:m", "user", Role.MARKETING)
    assert c.get("/v1/handoff/reports").status_code == 200
    assert c.post(f"/v1/handoff/leads/{lead}/attempts", json={}).status_code == 403
    app.dependency_overrides[current_principal] = lambda: Principal(ws_id, "acme", "user:s", "user", Role.SALES)
    assert c.get("/v1/handoff/queue").status_code == 200
    assert c.post("/v1/handoff/reps", json={"key": "z", "name": "Z"}).status_code == 403
    app.dependency_overrides.clear()


def test_territory_employee_bounds_are_validated(api):
    """Found by schemathesis: 2**63 reached SQLite and raised OverflowError (500); now a 422 naming the field."""
    c, _, _ = api
    r = c.put("/v1/handoff/territories", json={"key": "big", "max_employees": 2**63})
    assert r.status_code == 422, r.text
    assert any("max_employees" in e["field"] for e in r.json()["errors"])
    assert c.put("/v1/handoff/territories", json={"key": "big", "min_employees": 50,
                                                  "max_employees": 5000}).status_code == 200
