"""Operations: liveness, readiness and Prometheus metrics (no authentication; keep them off the public edge)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from leadflow.api.metrics import JOB_QUEUE_DEPTH, QUALIFY_BACKLOG, QUALIFY_FAILED, REGISTRY
from leadflow.api.problems import Problem

router = APIRouter(tags=["ops"])


@router.get("/healthz", summary="The process is up")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The store is reachable and migrated to the latest revision",
            responses={503: {"description": "not ready (problem details say why)"}})
def readyz(request: Request) -> dict[str, str]:
    from alembic.script import ScriptDirectory

    from leadflow.store.migrate import alembic_config, current

    db = request.app.state.db
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        rev = current(db)
    except Exception as exc:  # noqa: BLE001
        raise Problem(503, f"database unreachable: {type(exc).__name__}") from None
    head = ScriptDirectory.from_config(alembic_config(db.url)).get_current_head()
    if rev != head:
        raise Problem(503, f"migrations not at head (at {rev}, head {head}); run leadflow db upgrade")
    return {"status": "ready", "revision": rev or ""}


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(request: Request) -> Response:
    from leadflow.services.ingest import queue_depth

    JOB_QUEUE_DEPTH.set(request.app.state.jobs.pending)
    with request.app.state.db.session() as s:
        QUALIFY_BACKLOG.set(queue_depth(s))
        QUALIFY_FAILED.set(queue_depth(s, failed=True))
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
