"""RFC 9457 problem details: every error the API returns is ``application/problem+json``.

A problem names what went wrong (``title``, ``status``, ``detail``) and, for input errors, each field at fault
with the reason: ``errors: [{"field": "body.email", "reason": "..."}]``. Services raise plain Python errors
(``LookupError``, ``IllegalTransition``, ``ModelFileError``...); the handlers here turn them into problems, so
routers rarely need to catch anything.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from leadflow.core.lifecycle import IllegalTransition
from leadflow.core.scoring.spec import ModelFileError

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://leadflow.dev/problems/"
log = logging.getLogger("leadflow.api")

TITLES = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found", 405: "Method not allowed",
          406: "Not acceptable", 409: "Conflict", 413: "Content too large", 415: "Unsupported media type",
          422: "Unprocessable content", 429: "Too many requests", 500: "Internal server error",
          503: "Service unavailable"}
SLUGS = {400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found", 405: "method-not-allowed",
         406: "not-acceptable", 409: "conflict", 413: "too-large", 415: "unsupported-media-type",
         422: "validation", 429: "rate-limited", 500: "internal", 503: "unavailable"}


def field_error(field: str, reason: str) -> dict[str, str]:
    return {"field": field, "reason": reason}


class Problem(Exception):
    """Raise anywhere in a request to answer with a problem document.

    ``errors`` lists ``{"field", "reason"}``; ``extra`` adds members (RFC 9457 extension members).
    """

    def __init__(self, status: int, detail: str | None = None, *, title: str | None = None,
                 type: str | None = None, errors: Sequence[Mapping[str, Any]] | None = None,
                 headers: Mapping[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail or title or TITLES.get(status, "Error"))
        self.status = status
        self.title = title or TITLES.get(status, "Error")
        self.detail = detail
        self.type = type or TYPE_BASE + SLUGS.get(status, str(status))
        self.errors = [dict(e) for e in errors] if errors else []
        self.headers = dict(headers or {})
        self.extra = extra

    def body(self, instance: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "title": self.title, "status": self.status}
        if self.detail:
            out["detail"] = self.detail
        if instance:
            out["instance"] = instance
        if self.errors:
            out["errors"] = self.errors
        out.update(self.extra)
        return out


def problem_response(problem: Problem, request: Request | None = None) -> JSONResponse:
    rid = getattr(request.state, "request_id", None) if request is not None else None
    body = problem.body(request.url.path if request is not None else None)
    if rid:
        body["request_id"] = rid
    return JSONResponse(body, status_code=problem.status, headers=problem.headers, media_type=PROBLEM_JSON)


def _loc_to_field(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc]
    return ".".join(parts) if parts else "(request)"


def validation_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    out = []
    for err in exc.errors():
        out.append(field_error(_loc_to_field(err.get("loc", ())), str(err.get("msg", "is invalid"))))
    return out


def model_file_errors(exc: ModelFileError) -> list[dict[str, Any]]:
    return [{"field": path or "(top)", "reason": msg, "line": line} for line, path, msg in exc.problems]


def install(app: FastAPI) -> None:
    """Register the handlers that make every error a problem document."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc, request)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = validation_errors(exc)
        detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors[:5])
        return problem_response(Problem(422, detail, title="Invalid request", errors=errors), request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail != TITLES.get(exc.status_code) else None
        if exc.status_code == 404 and detail in (None, "Not Found"):
            detail = f"no route {request.url.path}"
        if exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}"
        return problem_response(Problem(exc.status_code, detail, headers=getattr(exc, "headers", None)), request)

    @app.exception_handler(LookupError)
    async def _lookup(request: Request, exc: LookupError) -> JSONResponse:
        return problem_response(Problem(404, str(exc).strip("'\"")), request)

    @app.exception_handler(IllegalTransition)
    async def _illegal(request: Request, exc: IllegalTransition) -> JSONResponse:
        return problem_response(Problem(409, str(exc), title="Illegal stage transition",
                                        type=TYPE_BASE + "illegal-transition",
                                        errors=[field_error("stage", str(exc))]), request)

    @app.exception_handler(ModelFileError)
    async def _model(request: Request, exc: ModelFileError) -> JSONResponse:
        return problem_response(Problem(422, f"invalid scoring model ({len(exc.problems)} problems)",
                                        title="Invalid scoring model", type=TYPE_BASE + "invalid-model",
                                        errors=model_file_errors(exc)), request)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(Problem(500, "an unexpected error occurred; the request id identifies it in "
                                             "the server log"), request)
