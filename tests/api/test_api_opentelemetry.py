"""Setting ``opentelemetry``: off by default, FastAPI's native OpenTelemetry is disabled, so requests do not look
up the global providers; on, FastAPI looks them up per request (and would emit spans with an SDK configured)."""

from __future__ import annotations

import pytest
from api_helpers import make_api
from opentelemetry import trace


@pytest.fixture
def provider_lookups(monkeypatch):
    calls = []
    real = trace.get_tracer_provider

    def counting():
        calls.append(1)
        return real()

    monkeypatch.setattr(trace, "get_tracer_provider", counting)
    return calls


@pytest.mark.parametrize("on", [False, True])
def test_opentelemetry_setting(tmp_path, provider_lookups, on):
    kwargs = {} if not on else {"opentelemetry": True}
    api = make_api(f"sqlite:///{tmp_path}/otel.db", **kwargs)
    with api.client:
        before = len(provider_lookups)
        r = api.client.post("/v1/track", headers=api.acme.hi,
                            json={"event": "Page Viewed", "userId": "ann@acme.io", "messageId": "m-1"})
        assert r.status_code == 200, r.text
        assert api.client.get("/healthz").status_code == 200
        looked_up = len(provider_lookups) - before
    assert api.settings.opentelemetry is on
    assert (looked_up > 0) is on
