"""Schemathesis over the OpenAPI spec: no 5xx and responses that match their schema (SQLite, bounded)."""

from __future__ import annotations

import schemathesis
from api_helpers import make_api
from hypothesis import HealthCheck, settings

_state: dict = {}


def _app():
    if "app" not in _state:
        import tempfile

        path = tempfile.mkdtemp(prefix="leadflow-st-")
        _state["api"] = make_api(f"sqlite:///{path}/st.db")
        _state["app"] = _state["api"].app
    return _state["app"]


schemathesis.experimental.OPEN_API_3_1.enable()  # FastAPI emits OpenAPI 3.1
schema = schemathesis.openapi.from_asgi("/openapi.json", _app())
schema = schema.exclude(path_regex="^/(metrics|docs)")


@schema.parametrize()
@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_schemathesis_no_server_errors(case):
    api = _state["api"]
    key = api.acme.ingest if case.path.startswith(("/v1/track", "/v1/identify", "/v1/page", "/v1/screen",
                                                   "/v1/batch")) else api.acme.admin
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {key}"}
    response = case.call()
    assert response.status_code < 500, (case.method, case.path, response.text[:500])
    case.validate_response(response, checks=(schemathesis.checks.not_a_server_error,))
