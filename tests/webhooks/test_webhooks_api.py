"""/v1/webhooks: subscription CRUD, delivery list and detail, replay, permissions (both stores)."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from leadflow.api.app import create_app
from leadflow.api.deps import Principal, current_principal
from leadflow.core.permissions import Role
from leadflow.core.timeutil import utcnow
from leadflow.services import apikeys, workspaces
from leadflow.services import webhooks as wh
from leadflow.settings import Settings

pytestmark = pytest.mark.usefixtures("hooks_on")


@pytest.fixture
def api(db_url):
    settings = Settings(database_url=db_url, secret_key="test", webhook_allow_private_urls=True)
    app = create_app(settings, mount_web=False)
    with app.state.db.session() as s:
        ws = workspaces.get_or_create_workspace(s, "acme")
        _, admin = apikeys.create_key(s, ws.id, kind="secret", name="admin", scopes="*")
        _, reader = apikeys.create_key(s, ws.id, kind="secret", name="reader", scopes="leads:read")
        _, ingest = apikeys.create_key(s, ws.id, kind="ingest", name="site")
        other = workspaces.get_or_create_workspace(s, "beta")
        _, other_admin = apikeys.create_key(s, other.id, kind="secret", name="admin", scopes="*")
    a = SimpleNamespace(app=app, client=TestClient(app), ws_id=ws.id, h={"Authorization": f"Bearer {admin}"},
                        reader={"Authorization": f"Bearer {reader}"}, ingest={"Authorization": f"Bearer {ingest}"},
                        other={"Authorization": f"Bearer {other_admin}"})
    with a.client:
        yield a
    app.dependency_overrides.clear()
    app.state.writer.close()
    app.state.jobs.shutdown()
    app.state.db.dispose()


def test_subscription_crud_and_validation(api):
    c = api.client
    r = c.post("/v1/webhooks/subscriptions", json={"url": "https://hooks.example.com/x", "events": ["lead.mql"]},
               headers=api.h)
    assert r.status_code == 201, r.text
    sub = r.json()
    assert sub["secret"].startswith("whsec_") and len(sub["secret"]) > 40 and sub["events"] == ["lead.mql"]
    listed = c.get("/v1/webhooks/subscriptions", headers=api.h).json()
    assert [x["id"] for x in listed] == [sub["id"]] and listed[0]["secret"].endswith("…")
    assert sub["secret"] not in c.get(f"/v1/webhooks/subscriptions/{sub['id']}", headers=api.h).text

    r = c.patch(f"/v1/webhooks/subscriptions/{sub['id']}", json={"events": ["*"], "active": False,
                                                                 "rotate_secret": True}, headers=api.h)
    assert r.status_code == 200 and r.json()["events"] == ["*"] and not r.json()["active"]
    assert r.json()["secret"] != sub["secret"] and r.json()["secret"].startswith("whsec_")

    bad = c.post("/v1/webhooks/subscriptions", json={"url": "ftp://x", "events": ["lead.mql"]}, headers=api.h)
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    assert bad.json()["errors"][0]["field"] == "body.url"
    bad = c.post("/v1/webhooks/subscriptions", json={"url": "https://a.io/", "events": ["lead.won"]}, headers=api.h)
    assert bad.status_code == 422 and "unknown event kind" in bad.json()["errors"][0]["reason"]
    bad = c.post("/v1/webhooks/subscriptions", json={"url": "https://a.io/", "events": []}, headers=api.h)
    assert bad.status_code == 422

    # another workspace does not see it; other keys may not manage webhooks
    assert c.get(f"/v1/webhooks/subscriptions/{sub['id']}", headers=api.other).status_code == 404
    assert c.get("/v1/webhooks/subscriptions", headers=api.reader).status_code == 403
    assert c.get("/v1/webhooks/subscriptions", headers=api.ingest).status_code == 403
    assert c.get("/v1/webhooks/subscriptions").status_code == 401
    assert c.delete(f"/v1/webhooks/subscriptions/{sub['id']}", headers=api.h).status_code == 204
    assert c.get(f"/v1/webhooks/subscriptions/{sub['id']}", headers=api.h).status_code == 404


@pytest.mark.parametrize("role, status", [(Role.ADMIN, 200), (Role.MARKETING, 403), (Role.SALES, 403)])
def test_roles(api, role, status):
    api.app.dependency_overrides[current_principal] = lambda: Principal(api.ws_id, "acme", "user:x", "user", role)
    assert api.client.get("/v1/webhooks/deliveries").status_code == status


def test_deliveries_pages_detail_and_replay(api, receiver):
    c = api.client
    r = c.post("/v1/webhooks/subscriptions", json={"url": receiver.url, "events": ["lead.created"]}, headers=api.h)
    assert r.status_code == 201, r.text
    batch = [{"type": "identify", "userId": f"u{i}@acme.io", "messageId": f"m{i}"} for i in range(5)]
    assert c.post("/v1/batch", json={"batch": batch}, headers=api.ingest).json()["accepted"] == 5

    seen, cursor = [], None
    while True:
        page = c.get("/v1/webhooks/deliveries", params={"limit": 2, **({"cursor": cursor} if cursor else {})},
                     headers=api.h).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 5 and len({d["id"] for d in seen}) == 5
    assert {d["status"] for d in seen} == {"pending"} and all(d["kind"] == "lead.created" for d in seen)
    assert c.get("/v1/webhooks/deliveries", params={"cursor": "garbage"}, headers=api.h).status_code == 422

    receiver.always_status = 410
    receiver.start()
    policy = wh.RetryPolicy(max_attempts=1, allow_private=True, timeout=3)
    wh.deliver_due(api.app.state.db, now=utcnow() + timedelta(seconds=1), policy=policy)
    failed = c.get("/v1/webhooks/deliveries", params={"status": "failed"}, headers=api.h).json()["items"]
    assert len(failed) == 5
    detail = c.get(f"/v1/webhooks/deliveries/{failed[0]['id']}", headers=api.h).json()
    assert detail["attempt_log"][0]["status_code"] == 410 and detail["payload"]["id"] == detail["event_id"]
    assert detail["payload"]["lead"]["email"].endswith("@acme.io")

    receiver.always_status = None
    r = c.post(f"/v1/webhooks/deliveries/{failed[0]['id']}/replay", headers=api.h)
    assert r.status_code == 202 and r.json()["status"] == "pending"
    again = c.post(f"/v1/webhooks/deliveries/{failed[0]['id']}/replay", headers=api.h)
    assert again.status_code == 409
    assert c.post("/v1/webhooks/deliveries/nope/replay", headers=api.h).status_code == 404
    assert c.post(f"/v1/webhooks/deliveries/{failed[0]['id']}/replay", headers=api.other).status_code == 404
    wh.deliver_due(api.app.state.db, now=utcnow() + timedelta(seconds=1), policy=policy)
    detail = c.get(f"/v1/webhooks/deliveries/{failed[0]['id']}", headers=api.h).json()
    assert detail["status"] == "succeeded" and [a["success"] for a in detail["attempt_log"]] == [False, True]
    assert receiver.event_ids().count(detail["event_id"]) == 2
