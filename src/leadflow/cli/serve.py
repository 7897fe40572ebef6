"""``leadflow serve``: the HTTP service (API, ingestion, web app) with uvicorn, JSON logs."""

from __future__ import annotations

from typing import Annotated

import typer


def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (default: settings.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: settings.port).")] = None,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development).")] = False,
    workers: Annotated[int, typer.Option(help="Worker processes (SQLite: keep 1, one writer per database).")] = 1,
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error.")] = "info",
) -> None:
    """Serve the web app, the API (/v1, OpenAPI at /docs), Segment-compatible ingestion, the tracking snippet,
    /healthz, /readyz, /metrics; with the webhook worker and SLA checks running in the background."""
    import os

    import uvicorn

    from leadflow.api.observability import configure_logging
    from leadflow.settings import get_settings

    # the serving process runs the background loops (webhook delivery, SLA checks) unless told otherwise
    os.environ.setdefault("LEADFLOW_BACKGROUND", "true")
    get_settings.cache_clear()
    settings = get_settings()
    configure_logging(log_level)
    uvicorn.run("leadflow.api.app:create_app", factory=True, host=host or settings.host, port=port or settings.port,
                reload=reload, workers=workers, log_config=None, log_level=log_level, access_log=False,
                proxy_headers=True)
