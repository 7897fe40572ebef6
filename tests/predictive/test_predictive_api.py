"""The predict router: permissions, problem details when no model or too few outcomes."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from leadflow.api.app import create_app
from leadflow.api.deps import Principal, current_principal
from leadflow.core.permissions import Role
from leadflow.services import apikeys, workspaces
from leadflow.settings import Settings


@pytest.fixture
def api(sqlite_url, tmp_path):
    settings = Settings(database_url=sqlite_url, secret_key="test", models_dir=str(tmp_path / "models"))
    app = create_app(settings, mount_web=False)
    with app.state.db.session() as s:
        ws = workspaces.get_or_create_workspace(s, "acme")
        _, admin = apikeys.create_key(s, ws.id, kind="secret", name="admin", scopes="*")
    client = TestClient(app)
    with client:
        yield app, client, ws.id, {"Authorization": f"Bearer {admin}"}
    app.dependency_overrides.clear()
    app.state.writer.close()
    app.state.jobs.shutdown()
    app.state.db.dispose()


def test_predict_endpoints_guarded_and_explain_errors(api, tmp_path):
    app, client, ws_id, h = api
    assert client.get("/v1/predict/models").status_code == 401
    r = client.get("/v1/predict/models", headers=h)
    assert r.status_code == 200 and r.json() == []
    r = client.get("/v1/predict/leads/nope", headers=h)
    assert r.status_code == 404
    r = client.post("/v1/predict/train", headers=h, json={"horizon_days": 30})
    assert r.status_code == 422 and "too few outcomes" in r.json()["detail"]
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").rglob("*-v*"))
    r = client.post("/v1/predict/score", headers=h)
    assert r.status_code == 409 and "no active predictive model" in r.json()["detail"]
    r = client.post("/v1/predict/train", headers=h, json={"target": "revenue"})
    assert r.status_code == 422
    app.dependency_overrides[current_principal] = lambda: Principal(ws_id, "acme", "user:s", "user", Role.SALES)
    assert client.get("/v1/predict/top").status_code == 200
    assert client.post("/v1/predict/train", json={}).status_code == 403
