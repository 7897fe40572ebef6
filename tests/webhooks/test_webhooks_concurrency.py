"""Two workers on PostgreSQL never send the same outbox row at the same time (FOR UPDATE SKIP LOCKED + lease)."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from leadflow.core.timeutil import utcnow
from leadflow.facade import Leadflow
from leadflow.services import webhooks as wh
from leadflow.store.webhook_tables import WebhookDelivery, WebhookOutbox

pytestmark = [pytest.mark.usefixtures("hooks_on"), pytest.mark.postgres]

POLICY = wh.RetryPolicy(timeout=5, allow_private=True)


@pytest.fixture
def pg_lf(pg_url):
    app = Leadflow(pg_url, "acme")
    yield app
    app.close()


def _setup(lf, receiver, n):
    with lf.db.session() as s:
        wh.create_subscription(s, lf.workspace_id, receiver.url, "lead.created", allow_private=True)
    lf.upsert_leads([{"email": f"c{i}@acme.io"} for i in range(n)])


def test_skip_locked_claims_disjoint_rows(pg_lf, receiver):
    _setup(pg_lf, receiver, 10)
    now = utcnow() + timedelta(seconds=1)
    with pg_lf.db.session() as s:
        ids = list(s.scalars(select(WebhookOutbox.id).order_by(WebhookOutbox.next_attempt_at, WebhookOutbox.id)))
    # another transaction holds row locks on the first four rows (as a worker in the middle of its claim)
    with pg_lf.db.session() as s:
        locked = set(s.scalars(select(WebhookOutbox.id).where(WebhookOutbox.id.in_(ids[:4])).with_for_update()))
        claimed = wh.claim_due(pg_lf.db, now, 100, "w2", POLICY)  # does not wait for them, skips them
        assert {c.id for c in claimed} == set(ids) - locked
    # and rows under another worker's lease are not claimed again until it runs out
    assert {c.id for c in wh.claim_due(pg_lf.db, now, 100, "w3", POLICY)} == locked  # the four once locked
    assert wh.claim_due(pg_lf.db, now, 100, "w4", POLICY) == []
    later = now + timedelta(seconds=POLICY.lease + POLICY.timeout * 10 + 1)
    assert len(wh.claim_due(pg_lf.db, later, 100, "w5", POLICY)) == 10


def test_two_workers_never_send_the_same_row(pg_lf, receiver):
    _setup(pg_lf, receiver, 24)
    receiver.delay = 0.03  # keeps both workers busy at once
    receiver.start()
    now = utcnow() + timedelta(seconds=1)
    runs: dict[str, list[str]] = {"a": [], "b": []}
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def work(name):
        try:
            barrier.wait()
            while True:
                run = wh.deliver_due(pg_lf.db, now=now, limit=3, policy=POLICY, worker_id=name)
                if run.claimed == 0:
                    return
                runs[name].extend(run.outbox_ids)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in runs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert not set(runs["a"]) & set(runs["b"])
    assert len(runs["a"]) + len(runs["b"]) == 24
    ids = receiver.event_ids()
    assert len(ids) == 24 and len(set(ids)) == 24 and receiver.max_in_flight == 1
    with pg_lf.db.session() as s:
        log = list(s.scalars(select(WebhookDelivery)))
        rows = list(s.scalars(select(WebhookOutbox)))
    assert Counter(d.outbox_id for d in log) == Counter({r.id: 1 for r in rows})
    assert all(r.status == "succeeded" for r in rows)
    assert {d.worker for d in log} <= {"a", "b"}
