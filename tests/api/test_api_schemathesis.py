"""Schemathesis over the OpenAPI spec: no 5xx and responses that match their schema (SQLite, bounded)."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings

from conftest import make_api

_state: dict = {}


class _CompatMany:
    """hypothesis-jsonschema (as installed) calls ``many(...).more()``, which Hypothesis 6.170 removed; this shim
    gives it the old protocol so object schemas can be generated. Remove once the two are compatible again."""

    def __init__(self, data, min_size, max_size, average_size):  # noqa: ANN001
        self.data, self.min_size, self.max_size = data, min_size, max_size
        self.p = 1.0 - 1.0 / (1.0 + max(average_size - min_size, 0.0))
        self.count = self.rejections = 0
        self.force_stop = False

    def more(self) -> bool:
        if self.force_stop or self.count >= self.max_size:
            return False
        go = self.count < self.min_size or self.data.draw_boolean(self.p)
        self.count += go
        return go

    def reject(self, why=None) -> None:  # noqa: ANN001
        self.count -= 1
        self.rejections += 1
        if self.rejections > max(3, 2 * self.count):
            if self.count < self.min_size:
                self.data.mark_invalid(why)
            else:
                self.force_stop = True


def _patch_hypothesis_jsonschema() -> None:
    from types import SimpleNamespace

    import hypothesis_jsonschema._from_schema as fs

    if not hasattr(fs.cu.many, "more"):
        fs.cu = SimpleNamespace(many=_CompatMany)


_patch_hypothesis_jsonschema()


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
