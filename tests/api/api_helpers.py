"""API fixtures: the app on a store (both stores through ``db_url``), two workspaces and their keys."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from leadflow.api.app import create_app
from leadflow.api.deps import Principal, current_principal
from leadflow.core.permissions import Role
from leadflow.services import apikeys, workspaces
from leadflow.settings import Settings


def make_api(url: str, **overrides) -> SimpleNamespace:
    settings = Settings(database_url=url, secret_key="test", **overrides)
    app = create_app(settings, mount_web=False)
    out = {}
    with app.state.db.session() as s:
        for slug in ("acme", "beta"):
            ws = workspaces.get_or_create_workspace(s, slug)
            _, admin = apikeys.create_key(s, ws.id, kind="secret", name="admin", scopes="*")
            _, ingest = apikeys.create_key(s, ws.id, kind="ingest", name="site")
            out[slug] = SimpleNamespace(id=ws.id, slug=slug, admin=admin, ingest=ingest,
                                        h={"Authorization": f"Bearer {admin}"},
                                        hi={"Authorization": f"Bearer {ingest}"})
    client = TestClient(app)
    return SimpleNamespace(app=app, client=client, settings=settings, **out)


@pytest.fixture
def api(db_url):
    a = make_api(db_url)
    with a.client:
        yield a
    a.app.state.writer.close()
    a.app.state.jobs.shutdown()
    a.app.state.db.dispose()


@pytest.fixture
def as_role(api):
    """Call ``as_role(role, workspace)`` to make every request come from a web user with that role."""

    def use(role: Role | None, ws: str = "acme") -> None:
        if role is None:
            api.app.dependency_overrides.clear()
            return
        w = getattr(api, ws)
        api.app.dependency_overrides[current_principal] = lambda: Principal(w.id, w.slug, f"user:{role}", "user",
                                                                            role)

    yield use
    api.app.dependency_overrides.clear()


def seed(api, ws: str = "acme") -> dict[str, str]:
    """A few leads with events, through the ingest API; returns email -> lead id."""
    w = getattr(api, ws)
    batch = []
    for i, (email, n) in enumerate([("ana@acme.io", 6), ("bob@beta.io", 2), ("cy@gamma.io", 0), ("di@delta.io", 4)]):
        batch.append({"type": "identify", "userId": email, "traits": {"firstName": f"N{i}", "title": "VP Marketing",
                                                                      "company": {"name": f"Co{i}"}},
                      "messageId": f"{ws}-id-{i}", "timestamp": "2026-01-01T00:00:00Z"})
        for k in range(n):
            batch.append({"type": "page", "userId": email, "messageId": f"{ws}-p-{i}-{k}",
                          "properties": {"url": "https://x.io/pricing"}, "timestamp": f"2026-01-0{k + 2}T10:00:00Z"})
    r = api.client.post("/v1/batch", json={"batch": batch}, headers=w.hi)
    assert r.status_code == 200, r.text
    assert r.json()["rejected"] == 0
    out = {}
    cursor = None
    while True:
        page = api.client.get("/v1/leads", params={"limit": 2, **({"cursor": cursor} if cursor else {})},
                              headers=w.h).json()
        out.update({i["email"]: i["id"] for i in page["items"]})
        cursor = page["next_cursor"]
        if not cursor:
            return out
