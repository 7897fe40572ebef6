"""The outbox: written by the signals subscriber in the same transaction as the change (both stores)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from leadflow.services import webhooks as wh
from leadflow.services.ingest import Ingestor
from leadflow.store.tables import Lead, Workspace
from leadflow.store.webhook_tables import WebhookOutbox

pytestmark = pytest.mark.usefixtures("hooks_on")


def _subscribe(lf, events, url="https://hooks.example.com/in", active=True):
    with lf.db.session() as s:
        return wh.create_subscription(s, lf.workspace_id, url, events, active=active).id


def _outbox(lf):
    with lf.db.session() as s:
        return list(s.scalars(select(WebhookOutbox).order_by(WebhookOutbox.created_at, WebhookOutbox.id)))


def test_no_subscription_no_rows(lf):
    lf.upsert_leads([{"email": "ana@acme.io"}])
    assert _outbox(lf) == []


def test_rows_per_signal_and_matching_subscription(lf):
    created = _subscribe(lf, "lead.created")
    everything = _subscribe(lf, "*")
    _subscribe(lf, "lead.sql")                       # not matching
    _subscribe(lf, "lead.created", active=False)     # inactive
    lf.upsert_leads([{"email": "ana@acme.io", "owner": "rep@us.io"}, {"email": "bo@beta.io"}])
    rows = _outbox(lf)
    assert sorted((r.subscription_id, r.payload["lead"]["email"]) for r in rows) == sorted(
        [(created, "ana@acme.io"), (created, "bo@beta.io"), (everything, "ana@acme.io"),
         (everything, "bo@beta.io")])
    by_event: dict[str, set[str]] = {}
    for r in rows:
        assert r.status == "pending" and r.attempts == 0 and r.kind == "lead.created"
        assert r.event_id == r.payload["id"] and r.event_id.startswith("evt_")
        by_event.setdefault(r.event_id, set()).add(r.subscription_id)
    # one event id per signal, shared by the subscriptions that receive it
    assert sorted(len(v) for v in by_event.values()) == [2, 2]
    p = next(r.payload for r in rows if r.payload["lead"]["email"] == "ana@acme.io")
    assert p["kind"] == "lead.created" and p["workspace"]["slug"] == "acme"
    assert p["lead"]["owner"] == "rep@us.io" and p["lead"]["stage"] == "subscriber"
    assert p["data"] == {"email": "ana@acme.io"} and p["occurred_at"].endswith("Z")


def test_rolled_back_ingest_leaves_no_outbox_row(lf):
    _subscribe(lf, "*")

    class Boom(Exception):
        pass

    with pytest.raises(Boom), lf.db.session() as s:
        ing = Ingestor(s, s.get(Workspace, lf.workspace_id))
        ing.upsert_leads([{"email": "ghost@acme.io"}])
        assert s.scalar(select(func.count()).select_from(WebhookOutbox)) == 1  # written, not yet committed
        raise Boom
    assert _outbox(lf) == []
    with lf.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Lead)) == 0


def test_stage_signals_carry_scores(lf):
    _subscribe(lf, "stage.changed,lead.mql,lead.sql")
    lf.upsert_leads([{"email": "ana@acme.io"}])
    lf.change_stage("ana@acme.io", "mql", reason="asked for a call")
    rows = _outbox(lf)
    kinds = sorted(r.kind for r in rows)
    assert kinds == ["lead.mql", "stage.changed"]
    p = rows[0].payload
    assert p["lead"]["stage"] == "mql"
    assert p["data"]["to"] == "mql" and p["data"]["from"] == "subscriber"
    assert "default" in p["lead"]["scores"] and set(p["lead"]["scores"]["default"]) >= {"fit", "grade", "engagement"}


def test_subscription_crud(lf):
    sid = _subscribe(lf, "lead.mql")
    with lf.db.session() as s:
        sub = wh.update_subscription(s, lf.workspace_id, sid, events=["lead.mql", "lead.sql"], active=False,
                                     rotate_secret=True)
        assert sub.events == ["lead.mql", "lead.sql"] and not sub.active and sub.secret.startswith("whsec_")
        with pytest.raises(wh.WebhookError, match="url"):
            wh.update_subscription(s, lf.workspace_id, sid, url="http://127.0.0.1/")
    with lf.db.session() as s:
        assert [x.id for x in wh.list_subscriptions(s, lf.workspace_id)] == [sid]
        wh.delete_subscription(s, lf.workspace_id, sid)
    with lf.db.session() as s:
        assert wh.list_subscriptions(s, lf.workspace_id) == []
        with pytest.raises(LookupError):
            wh.get_subscription(s, lf.workspace_id, sid)
