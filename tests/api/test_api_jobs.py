"""Models (upload with errors, activation as a polled rescore job), imports with per-row errors, exports, keys,
ops endpoints and problem documents."""

from __future__ import annotations

import csv
import io
import time

from api_helpers import seed

from leadflow.services.workspaces import default_model_text
from leadflow.store.auth_tables import ApiKey


def _wait(api, job_id: str, h) -> dict:
    for _ in range(300):
        job = api.client.get(f"/v1/jobs/{job_id}", headers=h).json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def test_model_upload_errors_and_activation_rescore(api):
    seed(api)
    h = api.acme.h
    r = api.client.post("/v1/models", json={"yaml": "key: default\nversion: 2\nfit: 12\n"}, headers=h)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    errs = r.json()["errors"]
    assert errs and all({"field", "reason", "line"} <= set(e) for e in errs)
    v2 = default_model_text().replace("version: 1", "version: 2", 1)
    assert "version: 2" in v2
    r = api.client.post("/v1/models", json={"yaml": v2}, headers=h)
    assert r.status_code == 201 and r.json()["version"] == 2 and r.json()["active"] is False
    conflict = v2 + "\n# changed\n"
    r = api.client.post("/v1/models", json={"yaml": conflict}, headers=h)
    assert r.status_code == 409
    r = api.client.post("/v1/models/default/versions/2/activate", headers=h)
    assert r.status_code == 202 and r.json()["kind"] == "rescore"
    job = _wait(api, r.json()["id"], h)
    assert job["status"] == "succeeded", job
    assert job["result"]["leads"] == 4 and job["progress"] == 1.0
    versions = {(m["key"], m["version"]): m["active"] for m in api.client.get("/v1/models", headers=h).json()}
    assert versions == {("default", 1): False, ("default", 2): True}
    assert api.client.post("/v1/models/default/versions/9/activate", headers=h).status_code == 404


def test_import_job_reports_row_errors_and_export_csv_is_safe(api):
    h = api.acme.h
    text = "email,first_name,title\nok@imp.io,Ok,CTO\nnot-an-email,Bad,CEO\nfine@imp.io,=HYPERLINK(1),VP\n"
    r = api.client.post("/v1/imports", data={"kind": "leads"}, files={"file": ("leads.csv", text, "text/csv")},
                        headers=h)
    assert r.status_code == 202, r.text
    job = _wait(api, r.json()["id"], h)
    assert job["status"] == "failed" and job["result"]["stored"] == 0
    assert job["result"]["errors"][0]["row"] == 3 and job["result"]["errors"][0]["column"] == "email"
    assert api.client.get(f"/v1/imports/{job['id']}", headers=h).json()["id"] == job["id"]
    r = api.client.post("/v1/imports", data={"kind": "leads", "skip_invalid": "true"},
                        files={"file": ("leads.csv", text, "text/csv")}, headers=h)
    job = _wait(api, r.json()["id"], h)
    assert job["status"] == "succeeded" and job["result"]["stored"] == 2 and job["result"]["errors_total"] == 1
    r = api.client.post("/v1/imports", data={"kind": "leads"}, files={"file": ("x.exe", b"MZ", "x")}, headers=h)
    assert r.status_code == 415
    r = api.client.get("/v1/exports/leads", headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert {x["email"] for x in rows} == {"ok@imp.io", "fine@imp.io"}
    assert next(x for x in rows if x["email"] == "fine@imp.io")["first_name"] == "'=HYPERLINK(1)"
    r = api.client.get("/v1/exports/leads", params={"format": "parquet"}, headers=h)
    assert r.status_code == 200 and r.content[:4] == b"PAR1"


def test_keys_shown_once_stored_hashed_and_revocable(api):
    h = api.acme.h
    r = api.client.post("/v1/keys", json={"kind": "secret", "name": "crm sync", "scopes": ["leads:read"]}, headers=h)
    assert r.status_code == 201
    created = r.json()
    key = created["key"]
    assert key.startswith("lf_secret_") and created["prefix"] == key[:14]
    listed = api.client.get("/v1/keys", headers=h).json()
    assert all("key" not in k for k in listed)
    with api.app.state.db.session() as s:
        stored = {row.key_hash for row in s.query(ApiKey)}
    assert key not in stored and len(stored) == 5
    kh = {"Authorization": f"Bearer {key}"}
    assert api.client.get("/v1/leads", headers=kh).status_code == 200
    assert api.client.delete(f"/v1/keys/{created['id']}", headers=h).json()["revoked_at"]
    r = api.client.get("/v1/leads", headers=kh)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    r = api.client.post("/v1/keys", json={"kind": "ingest", "name": "x", "scopes": ["leads:read"]}, headers=h)
    assert r.status_code == 422
    r = api.client.post("/v1/keys", json={"kind": "secret", "name": "x", "scopes": ["leads:fly"]}, headers=h)
    assert r.status_code == 422 and "leads:fly" in r.json()["detail"]
    ingest = api.client.post("/v1/keys", json={"kind": "ingest", "name": "site"}, headers=h).json()
    assert ingest["key"].startswith("lf_ingest_") and ingest["scopes"] == ["events:write"]


def test_ops_and_problem_documents(api):
    assert api.client.get("/healthz").json() == {"status": "ok"}
    ready = api.client.get("/readyz").json()
    assert ready["status"] == "ready"
    api.client.post("/v1/track", json={"event": "X", "userId": "m@x.io"}, headers=api.acme.hi)
    m = api.client.get("/metrics").text
    assert 'leadflow_ingest_events_total{result="accepted"}' in m
    assert "leadflow_http_request_duration_seconds_bucket" in m and "leadflow_job_queue_depth" in m
    r = api.client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    assert len(api.client.get("/healthz", headers={"X-Request-ID": "bad id\n"}).headers["x-request-id"]) == 32
    for method, path, status in (("GET", "/v1/nope", 404), ("DELETE", "/v1/leads", 405),
                                 ("GET", "/v1/leads/zzz", 404), ("GET", "/v1/leads?limit=0", 422)):
        r = api.client.request(method, path, headers=api.acme.h)
        assert r.status_code == status and r.headers["content-type"] == "application/problem+json"
        body = r.json()
        assert body["status"] == status and body["title"] and body["type"].startswith("https://")
    r = api.client.get("/v1/leads?limit=0", headers=api.acme.h).json()
    assert r["errors"][0]["field"] == "query.limit"
    assert api.client.get("/openapi.json").json()["info"]["title"] == "leadflow"
    assert api.client.get("/docs").status_code == 200
