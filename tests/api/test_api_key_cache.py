"""The ingest path's key authentication (``principal_for_key_async``): requests that miss the cache at once share
one store lookup; a key in the second half of its cache life is re-checked once in the background while
requests go on with the cached answer; revocation wins over a re-check in flight; invalid keys get 401."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace

import pytest
from api_helpers import make_api

import async_run
from leadflow.api.deps import KeyCache, principal_for_key_async
from leadflow.api.problems import Problem
from leadflow.services import apikeys


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def setup(tmp_path, monkeypatch):
    api = make_api(f"sqlite:///{tmp_path}/keys.db")
    clock = Clock()
    api.app.state.key_cache = KeyCache(ttl=5.0, clock=clock)
    calls: list[str] = []
    gate = threading.Event()
    gate.set()
    real = apikeys.authenticate

    def counting(session, plaintext):  # noqa: ANN001
        calls.append(plaintext)
        answer = real(session, plaintext)  # read first, then held: the answer may be stale when it returns
        assert gate.wait(10)
        return answer

    monkeypatch.setattr(apikeys, "authenticate", counting)
    yield SimpleNamespace(api=api, clock=clock, calls=calls, gate=gate, request=SimpleNamespace(app=api.app),
                          cache=api.app.state.key_cache)
    api.app.state.db.dispose()


def _run(coro):  # noqa: ANN001, ANN202
    return async_run.run(coro)


def test_concurrent_misses_share_one_lookup(setup):
    key = setup.api.acme.ingest

    async def many():
        setup.gate.clear()
        tasks = [asyncio.create_task(principal_for_key_async(setup.request, key)) for _ in range(25)]
        await asyncio.sleep(0.05)
        setup.gate.set()
        return await asyncio.gather(*tasks)

    who = _run(many())
    assert len(setup.calls) == 1
    assert {w.workspace_id for w in who} == {setup.api.acme.id}
    # cached now: no further lookup within the first half of the cache life
    _run(principal_for_key_async(setup.request, key))
    assert len(setup.calls) == 1


def test_second_half_of_life_rechecks_once_in_the_background(setup):
    key = setup.api.acme.ingest
    _run(principal_for_key_async(setup.request, key))
    assert len(setup.calls) == 1
    digest = apikeys.hash_key(key)
    expires = setup.cache.entry(digest)[0]
    setup.clock.t += 3.0  # 2 s left of 5: second half

    async def during():
        setup.gate.clear()  # the store is slow: requests must not wait for it
        who = [await principal_for_key_async(setup.request, key) for _ in range(10)]  # none waits
        await asyncio.sleep(0.1)  # the re-check's thread reaches the (slow) store
        started = len(setup.calls)
        setup.gate.set()
        for _ in range(200):  # let the background re-check finish
            if setup.cache.entry(digest)[0] > expires:
                break
            await asyncio.sleep(0.01)
        return who, started

    who, started = _run(during())
    assert len(who) == 10 and started == 2  # answered from the cache; one re-check started, not ten
    assert setup.cache.entry(digest)[0] == pytest.approx(setup.clock.t + 5.0)  # renewed by the re-check


def test_a_revocation_during_a_recheck_is_not_undone(setup):
    key = setup.api.acme.ingest
    _run(principal_for_key_async(setup.request, key))
    digest = apikeys.hash_key(key)
    key_id = setup.cache.get(digest).key.id
    setup.clock.t += 3.0

    async def revoke_meanwhile():
        setup.gate.clear()
        await principal_for_key_async(setup.request, key)  # starts the re-check, which reads "valid"...
        await asyncio.sleep(0.02)
        with setup.api.app.state.db.session() as s:
            apikeys.revoke_key(s, setup.api.acme.id, key_id)
        setup.cache.forget(key_id)  # ...the revocation lands while it is in flight
        setup.gate.set()
        await asyncio.sleep(0.2)
        with pytest.raises(Problem) as err:
            await principal_for_key_async(setup.request, key)
        return err.value

    err = _run(revoke_meanwhile())
    assert err.status == 401
    assert setup.cache.get(digest) is None


def test_an_invalid_key_is_401_for_every_request_that_shared_the_lookup(setup):
    bad = "lf_ingest_" + "x" * 32  # a well-formed key of no one: looked up, not found

    async def many():
        results = await asyncio.gather(*(principal_for_key_async(setup.request, bad) for _ in range(5)),
                                       return_exceptions=True)
        return results

    results = _run(many())
    assert all(isinstance(r, Problem) and r.status == 401 for r in results)
    assert len(setup.calls) == 1
    assert setup.cache.get(apikeys.hash_key(bad)) is None


def test_ingest_over_http_still_authenticates(setup):
    c = setup.api.client
    ok = c.post("/v1/track", headers=setup.api.acme.hi, json={"event": "Page Viewed", "userId": "a@x.io"})
    assert ok.status_code == 200, ok.text
    bad = c.post("/v1/track", headers={"Authorization": "Bearer nope"}, json={"event": "Page Viewed", "userId": "a@x.io"})
    assert bad.status_code == 401
