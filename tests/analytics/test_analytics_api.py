"""The analytics API: reports as JSON, permissions, spend in (JSON and CSV), problem details on bad input."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from analytics_store import StoreBuilder, small_funnel
from fastapi.testclient import TestClient

from leadflow.api.app import create_app
from leadflow.api.deps import Principal, current_principal
from leadflow.core.permissions import Role
from leadflow.services import apikeys, workspaces
from leadflow.settings import Settings


def make_api(url: str) -> SimpleNamespace:
    settings = Settings(database_url=url, secret_key="test")
    app = create_app(settings, mount_web=False)
    out = {}
    with app.state.db.session() as s:
        for slug in ("acme", "beta"):
            ws = workspaces.get_or_create_workspace(s, slug)
            _, admin = apikeys.create_key(s, ws.id, kind="secret", name="admin", scopes="*")
            out[slug] = SimpleNamespace(id=ws.id, h={"Authorization": f"Bearer {admin}"})
    return SimpleNamespace(app=app, client=TestClient(app), settings=settings, **out)


@pytest.fixture
def api(sqlite_url):
    a = make_api(sqlite_url)
    with a.client:
        yield a
    a.app.dependency_overrides.clear()
    a.app.state.writer.close()
    a.app.state.jobs.shutdown()
    a.app.state.db.dispose()


def test_funnel_endpoint_and_workspace_isolation(api):
    b = StoreBuilder(api.settings.database_url, workspace_id=api.acme.id)
    small_funnel(b)
    b.close()
    r = api.client.get("/v1/analytics/funnel", params={"by": "source"}, headers=api.acme.h)
    assert r.status_code == 200, r.text
    body = r.json()
    counts = {row["group"]: row for row in body["tables"]["counts"]}
    assert counts["ads"]["customer"] == 1 and counts["seo"]["sql"] == 1
    assert body["params"]["by"] == "source"
    other = api.client.get("/v1/analytics/funnel", headers=api.beta.h).json()
    assert all(row["leads"] == 0 for row in other["tables"]["counts"]) or other["tables"]["counts"] == []
    v = api.client.get("/v1/analytics/velocity", headers=api.acme.h).json()
    assert {row["stage"]: row for row in v["tables"]["velocity"]}["mql"]["median_days"] == pytest.approx(4.0)
    for path in ("converts", "score-health", "sales", "channels"):
        assert api.client.get(f"/v1/analytics/{path}", headers=api.acme.h).status_code == 200, path


def test_bad_parameters_are_problems(api):
    r = api.client.get("/v1/analytics/funnel", params={"by": "email"}, headers=api.acme.h)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    r = api.client.get("/v1/analytics/converts", params={"population": "sql", "target": "mql"}, headers=api.acme.h)
    assert r.status_code == 422 and "must come after" in r.json()["detail"]


def test_spend_json_csv_and_channels(api):
    rows = [{"channel": "ads", "period": "2026-01", "amount": 600, "currency": "EUR"},
            {"channel": "seo", "period_start": "2026-02-01", "period_end": "2026-02-28", "amount": 900}]
    r = api.client.post("/v1/spend", json={"rows": rows, "default_currency": "EUR"}, headers=api.acme.h)
    assert r.status_code == 201, r.text
    assert r.json() == {"rows": 2, "inserted": 2, "updated": 0, "channels": ["ads", "seo"]}
    csv = "channel,period,amount,currency\nads,2026-01,700,EUR\n"
    r = api.client.post("/v1/spend", content=csv, headers={**api.acme.h, "Content-Type": "text/csv"})
    assert r.status_code == 201 and r.json()["updated"] == 1
    stored = api.client.get("/v1/spend", headers=api.acme.h).json()["rows"]
    assert [(s["channel"], s["amount"], s["origin"]) for s in stored] == [("ads", 700.0, "csv"), ("seo", 900.0, "api")]
    b = StoreBuilder(api.settings.database_url, workspace_id=api.acme.id)
    small_funnel(b)
    b.close()
    ch = api.client.get("/v1/analytics/channels", headers=api.acme.h).json()["tables"]["channels"]
    ads = {c["channel"]: c for c in ch}["ads"]
    assert ads["cost_per_lead"] == pytest.approx(350.0) and ads["flagged"] is False


def test_spend_rejected_whole(api):
    bad = "channel,period,amount,currency\nads,2026-01,10,EUR\nads,2026-13,x,EURO\n"
    r = api.client.post("/v1/spend", content=bad, headers={**api.acme.h, "Content-Type": "text/csv"})
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert {"body.rows.1.period", "body.rows.1.amount", "body.rows.1.currency"} <= fields
    assert api.client.get("/v1/spend", headers=api.acme.h).json()["rows"] == []
    r = api.client.post("/v1/spend", json={"rows": [{"channel": "ads", "amount": -1}]}, headers=api.acme.h)
    assert r.status_code == 422


def test_permissions(api):
    api.app.dependency_overrides[current_principal] = lambda: Principal(
        api.acme.id, "acme", "user:s", "user", Role.SALES)
    assert api.client.get("/v1/analytics/funnel").status_code == 200  # sales may read analytics
    r = api.client.post("/v1/spend", json={"rows": [{"channel": "a", "period": "2026-01", "amount": 1,
                                                     "currency": "EUR"}]})
    assert r.status_code == 403  # ... but not write spend
    api.app.dependency_overrides[current_principal] = lambda: Principal(
        api.acme.id, "acme", "user:m", "user", Role.MARKETING)
    r = api.client.post("/v1/spend", json={"rows": [{"channel": "a", "period": "2026-01", "amount": 1,
                                                     "currency": "EUR"}]})
    assert r.status_code == 201
    api.app.dependency_overrides.clear()
    assert api.client.get("/v1/analytics/funnel").status_code == 401


def test_deals_endpoint(api):
    b = StoreBuilder(api.settings.database_url, workspace_id=api.acme.id)
    small_funnel(b)
    b.close()
    r = api.client.get("/v1/analytics/deals", params={"by": "source"}, headers=api.acme.h)
    assert r.status_code == 200, r.text
    rows = {row["group"]: row for row in r.json()["tables"]["deals"]}
    assert rows["ads"]["won"] == 1 and rows["ads"]["won_amount"] == pytest.approx(1000.0)  # l1, won for 1,000
    assert rows["seo"]["won"] == 0 and rows["seo"]["leads"] == 2  # l3 and l5
    bad = api.client.get("/v1/analytics/deals", params={"by": "email"}, headers=api.acme.h)
    assert bad.status_code == 422 and "by must be one of" in bad.json()["detail"]
