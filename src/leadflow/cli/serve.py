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
    scoring_process: Annotated[bool | None, typer.Option(
        "--scoring-process/--no-scoring-process",
        help="Score ingested events in a second process (a second core) instead of between requests "
             "(default: settings.scoring_process).")] = None,
) -> None:
    """Serve the web app, the API (/v1, OpenAPI at /docs), Segment-compatible ingestion, the tracking snippet,
    /healthz, /readyz, /metrics; with the webhook worker and SLA checks running in the background."""
    import os

    import uvicorn

    from leadflow.api.observability import configure_logging
    from leadflow.settings import get_settings

    # the serving process runs the background loops (webhook delivery, SLA checks) unless told otherwise
    os.environ.setdefault("LEADFLOW_BACKGROUND", "true")
    if scoring_process is not None:
        os.environ["LEADFLOW_SCORING_PROCESS"] = "true" if scoring_process else "false"
    get_settings.cache_clear()
    settings = get_settings()
    configure_logging(log_level)
    scorer = None
    if settings.scoring_process and settings.ingest_scoring == "deferred":
        import multiprocessing

        from leadflow.store.db import Database
        from leadflow.store.migrate import upgrade

        upgrade(Database(settings.database_url))  # the schema exists before the scorer looks at the queue
        scorer = multiprocessing.get_context("spawn").Process(target=_score_forever, args=(log_level,),
                                                              name="leadflow-scorer", daemon=True)
        scorer.start()
    try:
        uvicorn.run("leadflow.api.app:create_app", factory=True, host=host or settings.host,
                    port=port or settings.port, reload=reload, workers=workers, log_config=None,
                    log_level=log_level, access_log=False, proxy_headers=True)
    finally:
        if scorer is not None:
            scorer.terminate()
            scorer.join(10)


def _score_forever(log_level: str) -> None:  # pragma: no cover - runs in the scorer process
    from leadflow.api.observability import configure_logging
    from leadflow.services.scorer import run_scorer
    from leadflow.settings import get_settings

    configure_logging(log_level)
    run_scorer(get_settings(), follow=True)


def scorer(
    once: Annotated[bool, typer.Option("--once", help="Score what is queued now, then exit.")] = False,
    database_url: Annotated[str | None, typer.Option(
        help="SQLAlchemy URL (default: the LEADFLOW_DATABASE_URL setting).")] = None,
    failed: Annotated[bool, typer.Option(
        "--failed", help="List the queued events set aside after repeated scoring failures, then exit.")] = False,
    retry_failed: Annotated[bool, typer.Option(
        "--retry-failed", help="Put the events set aside back in the queue (after fixing the fault), then score.")
    ] = False,
) -> None:
    """Score the events the HTTP ingest path queued (deferred scoring): once, or until Ctrl-C. `leadflow serve
    --scoring-process` runs this in a second process; run it by hand beside a server, or several on PostgreSQL.
    A queued event whose scoring fails 3 times is set aside (logged, counted by leadflow_qualify_failed) so the
    rest of the queue keeps moving: `--failed` lists them with their error, `--retry-failed` retries them."""
    from rich.console import Console

    from leadflow.services.ingest import failed_rows
    from leadflow.services.ingest import retry_failed as put_back
    from leadflow.services.scorer import run_scorer
    from leadflow.settings import get_settings
    from leadflow.store.db import Database

    settings = get_settings()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    console = Console()
    if failed or retry_failed:
        db = Database(settings.database_url)
        try:
            with db.session() as s:
                if failed:
                    rows = failed_rows(s)
                    for r in rows:  # plain lines (ids and errors whole, greppable)
                        typer.echo(f"seq {r['seq']}  lead {r['lead_id']}  event {r['event_id'] or '(replay)'}  "
                                   f"attempts {r['attempts']}  set aside {r['failed_at']}  error: {r['error']}")
                    if not rows:
                        typer.echo("no queued event is set aside")
                    return
                console.print(f"{put_back(s)} queued event(s) put back")
        finally:
            db.dispose()
    n = run_scorer(settings, follow=not once)
    console.print(f"scored {n} queued event(s)")
