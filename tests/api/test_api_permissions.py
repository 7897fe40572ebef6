"""The permission matrix, route by route, for every role and for scoped keys; workspace isolation (404)."""

from __future__ import annotations

import pytest
from api_helpers import seed

from leadflow.core.permissions import MATRIX, Action, Role
from leadflow.services import apikeys

# route -> the action it needs. {lead}, {account}, {key} are filled with ids of the caller's workspace.
ROUTES: list[tuple[str, str, Action, dict | None]] = [
    ("GET", "/v1/leads", Action.LEADS_READ, None),
    ("GET", "/v1/leads/{lead}", Action.LEADS_READ, None),
    ("GET", "/v1/leads/{lead}/explanation", Action.LEADS_READ, None),
    ("GET", "/v1/leads/{lead}/timeline", Action.LEADS_READ, None),
    ("POST", "/v1/leads", Action.LEADS_WRITE, {"email": "perm@new.io"}),
    ("PATCH", "/v1/leads/{lead}", Action.LEADS_WRITE, {"title": "CEO"}),
    ("POST", "/v1/leads/{lead}/stage", Action.LEADS_STAGE, {"stage": "nurture", "reason": "later"}),
    ("POST", "/v1/leads/{lead}/status", Action.LEADS_STAGE, {"status": "open_deal", "reason": "r"}),
    ("GET", "/v1/accounts", Action.ACCOUNTS_READ, None),
    ("GET", "/v1/accounts/{account}", Action.ACCOUNTS_READ, None),
    ("PUT", "/v1/accounts", Action.ACCOUNTS_WRITE, {"domain": "perm.io"}),
    ("PATCH", "/v1/accounts/{account}", Action.ACCOUNTS_WRITE, {"industry": "x"}),
    ("POST", "/v1/outcomes", Action.OUTCOMES_WRITE, {"outcomes": [{"email": "ana@acme.io", "result": "lost"}]}),
    ("GET", "/v1/models", Action.MODELS_READ, None),
    ("GET", "/v1/models/default/versions/1", Action.MODELS_READ, None),
    ("POST", "/v1/models", Action.MODELS_WRITE, {"yaml": "key: [unclosed"}),
    ("GET", "/v1/exports/leads", Action.LEADS_EXPORT, None),
    ("GET", "/v1/keys", Action.KEYS_MANAGE, None),
    ("POST", "/v1/keys", Action.KEYS_MANAGE, {"kind": "ingest", "name": "x"}),
    ("POST", "/v1/track", Action.EVENTS_WRITE, {"event": "X", "userId": "ana@acme.io"}),
    ("POST", "/v1/batch", Action.EVENTS_WRITE, {"batch": [{"type": "page", "userId": "ana@acme.io"}]}),
]


def _ids(api, ws: str) -> dict[str, str]:
    leads = seed(api, ws)
    w = getattr(api, ws)
    acc = api.client.get("/v1/accounts", headers=w.h).json()["items"][0]["id"]
    return {"lead": leads["ana@acme.io"], "account": acc}


def _call(api, method, path, body, headers=None):
    return api.client.request(method, path, json=body, headers=headers or {})


@pytest.mark.parametrize("role", list(Role))
def test_every_route_follows_the_matrix_for_each_role(api, as_role, role, sqlite_only=None):
    ids = _ids(api, "acme")
    as_role(role)
    for method, path, action, body in ROUTES:
        r = _call(api, method, path.format(**ids), body)
        allowed = action in MATRIX[role]
        if action == Action.EVENTS_WRITE:  # ingest takes keys only (web users post through the app)
            continue
        assert (r.status_code != 403) == allowed, (role, method, path, r.status_code, r.text)
        if not allowed:
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["action"] == action.value
        else:
            assert r.status_code < 500, (method, path, r.text)


def test_scoped_keys_get_exactly_their_scopes(api):
    ids = _ids(api, "acme")
    with api.app.state.db.session() as s:
        _, reader = apikeys.create_key(s, api.acme.id, kind="secret", name="r", scopes="leads:read,accounts:read")
    h = {"Authorization": f"Bearer {reader}"}
    for method, path, action, body in ROUTES:
        r = _call(api, method, path.format(**ids), body, h)
        allowed = action in (Action.LEADS_READ, Action.ACCOUNTS_READ)
        assert (r.status_code != 403) == allowed, (method, path, r.status_code)
    for method, path, action, body in ROUTES:
        r = _call(api, method, path.format(**ids), body, api.acme.hi)
        assert (r.status_code != 403) == (action == Action.EVENTS_WRITE), (method, path, r.status_code)
    for method, path, _action, body in ROUTES:
        assert _call(api, method, path.format(**ids), body).status_code == 401, (method, path)


def test_workspace_isolation_other_workspaces_rows_are_404(api):
    a_ids = _ids(api, "acme")
    b_ids = _ids(api, "beta")
    assert a_ids != b_ids
    for method, path, _action, body in ROUTES:
        if "{" not in path:
            continue
        r = _call(api, method, path.format(**a_ids), body, api.beta.h)  # beta's admin key on acme's ids
        assert r.status_code == 404, (method, path, r.status_code, r.text)
        assert r.headers["content-type"] == "application/problem+json"
    # lists only show the caller's rows
    acme_emails = {i["id"] for i in api.client.get("/v1/leads", headers=api.acme.h).json()["items"]}
    beta_emails = {i["id"] for i in api.client.get("/v1/leads", headers=api.beta.h).json()["items"]}
    assert acme_emails and beta_emails and not acme_emails & beta_emails
    # keys, jobs: another workspace's key id cannot be revoked
    key_id = api.client.get("/v1/keys", headers=api.acme.h).json()[0]["id"]
    assert api.client.delete(f"/v1/keys/{key_id}", headers=api.beta.h).status_code == 404
    job = api.client.post("/v1/models/default/versions/1/activate", headers=api.acme.h).json()
    assert api.client.get(f"/v1/jobs/{job['id']}", headers=api.beta.h).status_code == 404
    assert api.client.get(f"/v1/jobs/{job['id']}", headers=api.acme.h).status_code == 200
