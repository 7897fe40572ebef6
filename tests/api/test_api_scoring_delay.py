"""Deferred scoring gathers (setting ``scoring_delay_ms``): stored events wait up to the delay, or until a step's
worth is queued, before the ingest writer scores them - and it scores them by itself when that time comes."""

from __future__ import annotations

import time

from api_helpers import make_api

from leadflow.services.ingest import queue_depth


def _depth(api) -> int:
    with api.app.state.db.session() as s:
        return queue_depth(s)


def _wait_for_empty_queue(api, seconds: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if _depth(api) == 0:
            return time.monotonic() - start
        time.sleep(0.02)
    raise AssertionError(f"queue not scored within {seconds} s")


def test_a_few_events_wait_for_the_delay_then_are_scored_without_a_nudge(sqlite_url):
    api = make_api(sqlite_url, scoring_delay_ms=1500)
    with api.client:
        assert api.app.state.writer.settle(30)  # nothing left from start-up
        r = api.client.post("/v1/track", headers=api.acme.hi,
                            json={"event": "Demo Requested", "userId": "ann@acme.io", "messageId": "m-1"})
        assert r.status_code == 200 and r.json()["accepted"] == 1
        time.sleep(0.3)
        assert _depth(api) == 1  # stored and queued, not scored yet: the step waits to gather more
        waited = _wait_for_empty_queue(api, 15)  # no settle(): the writer scores once the delay is up
        assert waited > 0.5


def test_a_step_worth_of_events_is_scored_at_once(sqlite_url):
    api = make_api(sqlite_url, scoring_delay_ms=10_000)  # the longest delay allowed
    with api.client:
        assert api.app.state.writer.settle(30)
        batch = [{"type": "track", "event": "Page Viewed", "userId": f"u{i}@acme.io", "messageId": f"b-{i}"}
                 for i in range(400)]
        r = api.client.post("/v1/batch", headers=api.acme.hi, json={"batch": batch})
        assert r.status_code == 200 and r.json()["accepted"] == 400
        assert _wait_for_empty_queue(api, 8) < 8  # 400 queued >= a step's worth: not held for the 10 s


def test_no_delay_scores_after_every_write(sqlite_url):
    api = make_api(sqlite_url, scoring_delay_ms=0)
    with api.client:
        assert api.app.state.writer.settle(30)
        r = api.client.post("/v1/track", headers=api.acme.hi,
                            json={"event": "Demo Requested", "userId": "ann@acme.io", "messageId": "m-1"})
        assert r.status_code == 200
        _wait_for_empty_queue(api, 15)
