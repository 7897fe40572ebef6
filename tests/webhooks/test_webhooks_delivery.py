"""Delivery: a receiver that is down or failing for a while gets every delivery once it is back (both stores)."""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from leadflow.core.timeutil import utcnow
from leadflow.services import webhooks as wh
from leadflow.store.webhook_tables import WebhookDelivery, WebhookOutbox

pytestmark = pytest.mark.usefixtures("hooks_on")

POLICY = wh.RetryPolicy(max_attempts=8, base_delay=1.0, max_delay=8.0, timeout=3.0, allow_private=True)


def _subscribe(lf, url, events="lead.created"):
    with lf.db.session() as s:
        sub = wh.create_subscription(s, lf.workspace_id, url, events, allow_private=True)
        return sub.id, sub.secret


def _state(lf):
    with lf.db.session() as s:
        rows = list(s.scalars(select(WebhookOutbox)))
        log = list(s.scalars(select(WebhookDelivery).order_by(WebhookDelivery.outbox_id, WebhookDelivery.attempt)))
    return rows, log


def _drain(lf, now, *, rounds=40, before_round=None, policy=POLICY):
    """Step a virtual clock past every possible backoff and deliver until nothing is pending."""
    rng = random.Random(1)
    for i in range(rounds):
        if before_round:
            before_round(i)
        wh.deliver_due(lf.db, now=now, policy=policy, worker_id="w1", rand=rng.random)
        rows, _ = _state(lf)
        if all(r.status != "pending" for r in rows):
            return now
        now += timedelta(seconds=policy.max_delay + 1)
    raise AssertionError("deliveries still pending")


def _check_exactly_once_in_log(rows, log):
    successes = Counter(d.outbox_id for d in log if d.success)
    assert all(r.status == "succeeded" for r in rows)
    assert successes == Counter({r.id: 1 for r in rows})
    for r in rows:  # same event id on every attempt, attempts numbered 1..n
        attempts = [d for d in log if d.outbox_id == r.id]
        assert {d.event_id for d in attempts} == {r.event_id}
        assert [d.attempt for d in attempts] == list(range(1, len(attempts) + 1)) == list(range(1, r.attempts + 1))
        assert attempts[-1].success and not any(d.success for d in attempts[:-1])


def test_receiver_down_then_back_gets_every_delivery(lf, receiver):
    _, secret = _subscribe(lf, receiver.url)
    lf.upsert_leads([{"email": f"p{i}@acme.io"} for i in range(6)])
    now = utcnow() + timedelta(seconds=1)

    def bring_back(i):
        if i == 3:  # down for three rounds (connection refused), then it comes back
            receiver.start()

    _drain(lf, now, before_round=bring_back)
    rows, log = _state(lf)
    assert len(rows) == 6
    _check_exactly_once_in_log(rows, log)
    assert all(r.attempts == 4 for r in rows)
    assert all(d.error and d.status_code is None for d in log if not d.success)
    # every event arrived at least once, with a valid signature and the id in the header and the body
    got = {h["X-Leadflow-Event-Id"] for h, _ in receiver.requests}
    assert got == {r.event_id for r in rows}
    for headers, body in receiver.requests:
        wh.verify_signature(secret, body, headers["X-Leadflow-Signature"], now=time.time())
        payload = json.loads(body)
        assert payload["id"] == headers["X-Leadflow-Event-Id"] and payload["kind"] == "lead.created"
        assert headers["Content-Type"] == "application/json"


def test_flaky_receiver_503_then_ok(lf, receiver):
    _subscribe(lf, receiver.url)
    receiver.fail_first = 5
    receiver.start()
    lf.upsert_leads([{"email": f"q{i}@acme.io"} for i in range(3)])
    _drain(lf, utcnow() + timedelta(seconds=1))
    rows, log = _state(lf)
    _check_exactly_once_in_log(rows, log)
    failed = [d for d in log if not d.success]
    assert len(failed) == 5 and {d.status_code for d in failed} == {503}
    assert all(d.response_snippet == "unavailable" and d.error == "HTTP 503" for d in failed)
    ids = receiver.event_ids()
    assert len(ids) == 8 and set(ids) == {r.event_id for r in rows}  # retried with the same event id


def test_retry_waits_for_backoff(lf, receiver):
    _subscribe(lf, receiver.url)
    receiver.always_status = 500
    receiver.start()
    lf.upsert_leads([{"email": "w@acme.io"}])
    now = utcnow() + timedelta(seconds=1)
    first = wh.deliver_due(lf.db, now=now, policy=POLICY, rand=lambda: 0.999)
    assert (first.claimed, first.retrying) == (1, 1)
    rows, _ = _state(lf)
    wait = (rows[0].next_attempt_at.replace(tzinfo=None) - now.replace(tzinfo=None)).total_seconds()
    assert 0 <= wait <= POLICY.base_delay
    # not due yet: nothing claimed before the backoff has passed
    assert wh.deliver_due(lf.db, now=now, policy=POLICY).claimed == 0
    assert wh.deliver_due(lf.db, now=now + timedelta(seconds=POLICY.base_delay), policy=POLICY).claimed == 1


def test_gives_up_after_max_attempts_then_replay_resends(lf, receiver):
    _subscribe(lf, receiver.url)
    receiver.always_status = 500
    receiver.start()
    lf.upsert_leads([{"email": "z@acme.io"}])
    policy = wh.RetryPolicy(max_attempts=3, base_delay=1, max_delay=2, timeout=3, allow_private=True)
    now = _drain(lf, utcnow() + timedelta(seconds=1), policy=policy)
    rows, log = _state(lf)
    assert [r.status for r in rows] == ["failed"] and rows[0].attempts == 3 and len(log) == 3
    assert not any(d.success for d in log)

    receiver.always_status = None
    with lf.db.session() as s:
        wh.replay(s, lf.workspace_id, rows[0].id, now=now)
    with lf.db.session() as s, pytest.raises(wh.WebhookError, match="pending"):
        wh.replay(s, lf.workspace_id, rows[0].id)
    run = wh.deliver_due(lf.db, now=now, policy=policy)
    assert run.succeeded == 1
    rows, log = _state(lf)
    assert rows[0].status == "succeeded" and rows[0].attempts == 4 and rows[0].cycle_attempts == 1
    assert [d.success for d in log] == [False, False, False, True]
    assert set(receiver.event_ids()) == {rows[0].event_id} and len(receiver.event_ids()) == 4


def test_gives_up_after_max_age(lf, receiver):
    _subscribe(lf, receiver.url)
    lf.upsert_leads([{"email": "old@acme.io"}])
    policy = wh.RetryPolicy(max_attempts=100, max_age=timedelta(minutes=5), allow_private=True, timeout=2)
    wh.deliver_due(lf.db, now=utcnow() + timedelta(hours=1), policy=policy)  # receiver down, 1 h later
    rows, log = _state(lf)
    assert rows[0].status == "failed" and len(log) == 1 and "ConnectError" in log[0].error


def test_private_destination_refused_unless_allowed(lf, receiver):
    receiver.start()
    _subscribe(lf, receiver.url)
    lf.upsert_leads([{"email": "p@acme.io"}])
    strict = wh.RetryPolicy(allow_private=False)
    wh.deliver_due(lf.db, now=utcnow() + timedelta(seconds=1), policy=strict)
    rows, log = _state(lf)
    assert rows[0].status == "pending" and "not allowed" in log[0].error
    assert receiver.requests == []


def test_inactive_subscription_is_not_delivered(lf, receiver):
    sid, _ = _subscribe(lf, receiver.url)
    receiver.start()
    lf.upsert_leads([{"email": "i@acme.io"}])
    with lf.db.session() as s:
        wh.update_subscription(s, lf.workspace_id, sid, active=False)
    assert wh.deliver_due(lf.db, now=utcnow() + timedelta(seconds=1), policy=POLICY).claimed == 0
    with lf.db.session() as s:
        wh.update_subscription(s, lf.workspace_id, sid, active=True)
    assert wh.deliver_due(lf.db, now=utcnow() + timedelta(seconds=1), policy=POLICY).succeeded == 1


def test_worker_thread_delivers(lf, receiver):
    _subscribe(lf, receiver.url)
    receiver.start()
    lf.upsert_leads([{"email": f"t{i}@acme.io"} for i in range(3)])
    worker = wh.Worker(lf.db, POLICY, interval=0.05).start()
    try:
        deadline = time.monotonic() + 20
        while len(receiver.requests) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop()
    rows, log = _state(lf)
    _check_exactly_once_in_log(rows, log)
    assert worker.total.succeeded == 3


def test_leased_rows_are_not_claimed_twice(lf):
    _subscribe(lf, "http://127.0.0.1:9/never")
    lf.upsert_leads([{"email": f"l{i}@acme.io"} for i in range(4)])
    now = utcnow() + timedelta(seconds=1)
    first = wh.claim_due(lf.db, now, 3, "w1", POLICY)
    second = wh.claim_due(lf.db, now, 10, "w2", POLICY)
    assert len(first) == 3 and len(second) == 1 and not {c.id for c in first} & {c.id for c in second}
    assert wh.claim_due(lf.db, now, 10, "w3", POLICY) == []
