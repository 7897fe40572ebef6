"""/t.js and /t/demo as served: caching, compression, size, escaping, CSP."""

from __future__ import annotations

import gzip

import pytest
from fastapi.testclient import TestClient

from leadflow.api.app import create_app
from leadflow.settings import Settings


@pytest.fixture
def client(sqlite_url):
    app = create_app(Settings(database_url=sqlite_url, secret_key="test", snippet_demo_key="ik_from_settings"),
                     mount_web=False)
    with TestClient(app) as c:
        yield c
    app.state.writer.close()
    app.state.jobs.shutdown()
    app.state.db.dispose()


def test_snippet_cached_compressed_and_small(client):
    r = client.get("/t.js", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert r.headers["cache-control"] == "public, max-age=3600" and r.headers["etag"]
    assert r.headers["content-encoding"] == "gzip" and "leadflow" in r.text
    raw = client.get("/t.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in raw.headers and raw.content == r.content
    assert len(raw.content) < 8 * 1024 and len(gzip.compress(raw.content)) < 3 * 1024
    assert "import " not in raw.text and "require(" not in raw.text  # no dependencies
    assert client.get("/t.js", headers={"If-None-Match": r.headers["etag"]}).status_code == 304
    for path in ("/v1/page", "/v1/track", "/v1/batch", "writeKey", "lf_aid", "sendBeacon", "doNotTrack"):
        assert path in raw.text


def test_demo_page_escapes_key_and_sets_csp(client):
    r = client.get("/t/demo", params={"key": '"><script>alert(1)</script>', "consent": "required"})
    assert r.status_code == 200
    assert "<script>alert(1)" not in r.text and "&lt;script&gt;" in r.text
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert "data-require-consent" in r.text and "data-capture-forms" in r.text
    default = client.get("/t/demo").text
    assert '<script src="/t.js" data-key="ik_from_settings" data-capture-forms async>' in default
    assert client.get("/t/demo", params={"consent": "maybe"}).status_code == 422
