"""The FastAPI application: REST API under /v1, Segment-compatible ingestion, ops endpoints, the web app.

``create_app(settings)`` migrates the store, includes every module of :mod:`leadflow.api.routers` that defines
``router`` (ingest first, then by name) and mounts the web app (``leadflow.web.routes.mount``) when it is installed.
Shared objects live on ``app.state``: ``settings``, ``db`` (the :class:`~leadflow.store.db.Database`),
``jobs`` (the :class:`~leadflow.services.jobs.JobRunner`), ``writer`` (the ingest writer), ``key_cache``,
``limiter``.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from leadflow.api import problems
from leadflow.api.deps import KeyCache
from leadflow.api.gctune import restore_gc, tune_gc
from leadflow.api.observability import RequestContext
from leadflow.api.ratelimit import TokenBuckets
from leadflow.api.writer import IngestWriter
from leadflow.services.background import Background
from leadflow.services.jobs import JobRunner
from leadflow.settings import Settings, get_settings
from leadflow.store.db import Database
from leadflow.store.migrate import upgrade

API_VERSION = "1"
DESCRIPTION = """The leadflow HTTP API.

* Authentication: `Authorization: Bearer <key>` (keys from `leadflow keys create` or `POST /v1/keys`). Ingest
  endpoints also take Segment-style Basic auth (the key as user name) or a `writeKey` in the body.
* Errors are RFC 9457 problem details (`application/problem+json`) naming each field at fault and the reason.
* Lists use keyset pagination: pass the `next_cursor` of a page as `cursor` to get the next one.
"""
INGEST_PATHS = ("/v1/track", "/v1/identify", "/v1/page", "/v1/screen", "/v1/batch", "/v1/import")


def router_modules() -> list[str]:
    import leadflow.api.routers as pkg

    # the ingest router first: the busiest routes are matched before every other one is tried
    first = f"{pkg.__name__}.ingest"
    return sorted((m.name for m in pkgutil.iter_modules(pkg.__path__, pkg.__name__ + ".")),
                  key=lambda name: (name != first, name))


class IngestCORS:
    """CORS from any origin, but only on the ingest endpoints (the tracking snippet runs on customer sites)."""

    def __init__(self, app) -> None:  # noqa: ANN001
        self.app = app
        self.cors = CORSMiddleware(app, allow_origins=["*"], allow_methods=["POST", "OPTIONS"],
                                   allow_headers=["authorization", "content-type", "x-request-id"],
                                   expose_headers=["x-request-id", "retry-after"], max_age=86400)

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] == "http" and scope["path"].startswith(INGEST_PATHS):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def create_app(settings: Settings | None = None, *, mount_web: bool = True) -> FastAPI:
    """The whole service. ``mount_web=False`` leaves the web app out (API-only tests, benchmarks)."""
    settings = settings or get_settings()
    db = Database(settings.database_url, echo=settings.echo_sql)
    upgrade(db)
    jobs = JobRunner(db, workers=1)
    jobs.recover()
    writer = IngestWriter(db, settings)

    background = Background.for_settings(db, settings) if settings.background else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        writer.start()  # scores what a previous run left queued
        if background is not None:
            background.start()
        gc_state = tune_gc() if settings.gc_freeze else None
        try:
            yield
        finally:
            if gc_state is not None:
                restore_gc(gc_state)
            if background is not None:
                background.stop()
            writer.close()
            jobs.shutdown(wait=False)

    app = FastAPI(title="leadflow", version=API_VERSION, description=DESCRIPTION, docs_url="/docs",
                  redoc_url=None, openapi_url="/openapi.json", lifespan=lifespan,
                  # off: FastAPI then does not look up the global OpenTelemetry providers on every request
                  telemetry=None if settings.opentelemetry else {"tracing": False, "metrics": False, "logs": False})
    app.state.settings = settings
    app.state.db = db
    app.state.jobs = jobs
    app.state.writer = writer
    app.state.key_cache = KeyCache()
    app.state.limiter = TokenBuckets(settings.rate_limit_per_second, settings.rate_limit_burst)
    problems.install(app)
    for name in router_modules():
        module = importlib.import_module(name)
        router = getattr(module, "router", None)
        if router is not None:
            app.include_router(router)
    if mount_web:
        from leadflow.web.routes import mount

        mount(app, settings)
    app.add_middleware(IngestCORS)
    app.add_middleware(RequestContext)
    return app
