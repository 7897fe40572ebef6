"""Panels that depend on other areas' services (predictive scoring, handoff/BANT, analytics).

Each returns ``{"available": False, "why": ...}`` until its module has landed, so a screen shows a clear
"not available yet" state instead of inventing data.
"""

from __future__ import annotations

from typing import Any

from leadflow.core.permissions import Action
from leadflow.web.auth import WebUser
from leadflow.web.common import available


def predictive_panel(s: Any, workspace_id: str, lead: Any, user: WebUser) -> dict[str, Any]:
    if not user.can(Action.PREDICT_READ):
        return {"available": False, "hidden": True, "why": ""}
    return {"available": False, "hidden": False,
            "why": "Predictive scoring is not available yet in this installation."}


def bant_panel(s: Any, workspace_id: str, lead: Any, user: WebUser) -> dict[str, Any]:
    if not available("leadflow.services.handoff.bant"):
        return {"available": False, "why": "BANT qualification is not available yet (the handoff service has not landed)."}
    return {"available": False, "why": "BANT qualification is not available yet."}


# ------------------------------------------------------------------------------------------ jobs
def _runner(st: Any) -> Any:
    if st.runner is None:  # a bare app without the API's runner (tests): one of our own
        from leadflow.services.jobs import JobRunner

        st.runner = JobRunner(st.db, workers=1)
    return st.runner


def start_rescore(st: Any, model_key: str, created_by: str) -> str:
    """Queue a rescore of every lead under ``model_key`` as a background job; returns the job id."""
    from leadflow.services.jobs import create_job
    from leadflow.services.rescore import rescore_workspace

    with st.session() as s:
        job = create_job(s, st.workspace_id, "rescore", {"model_key": model_key}, created_by=created_by)
        job_id = job.id

    def work(progress: Any) -> dict[str, Any]:
        rep = rescore_workspace(st.db, st.workspace_id, model_key=model_key, progress=progress)
        return {"leads": rep.leads, "models": rep.models, "scores_written": rep.scores_written,
                "requalified": rep.requalified, "transitions": rep.transitions}

    _runner(st).submit(job_id, work)
    return job_id


def job_view(s: Any, workspace_id: str, job_id: str) -> dict[str, Any] | None:
    from leadflow.services.jobs import get_job

    try:
        job = get_job(s, workspace_id, job_id[:32])
    except LookupError:
        return None
    return _job_dict(job)


def _job_dict(job: Any) -> dict[str, Any]:
    pct = None
    if job.total:
        pct = min(100, round(100 * job.done / job.total))
    return {"id": job.id, "kind": job.kind, "status": job.status, "done": job.done, "total": job.total,
            "pct": pct, "result": job.result or {}, "error": job.error, "params": job.params or {},
            "created_at": job.created_at, "finished_at": job.finished_at, "created_by": job.created_by,
            "running": job.status in ("queued", "running")}


def recent_jobs(s: Any, workspace_id: str, kind: str | None = None, limit: int = 5) -> list[dict[str, Any]]:
    from leadflow.services.jobs import list_jobs

    return [_job_dict(j) for j in list_jobs(s, workspace_id, 50) if kind is None or j.kind == kind][:limit]


# ------------------------------------------------------------------------------------------ backtest
def backtest_available() -> bool:
    return False


def run_backtest(st: Any, key: str, version: int) -> dict[str, Any]:
    return {"available": False, "why": "Backtesting is not available yet in this installation."}


# ------------------------------------------------------------------------------------------ imports
def start_import(st: Any, path: Any, kind: str, mapping: dict[str, str | None], skip_invalid: bool,
                 created_by: str) -> str:
    """Queue a file import as a background job (progress in rows; per-row errors kept in the result)."""
    from leadflow.services.imports import ImportRejected, import_file
    from leadflow.services.jobs import JobFailed, create_job

    with st.session() as s:
        job = create_job(s, st.workspace_id, "import", {"kind": kind, "file": path.name, "skip_invalid": skip_invalid,
                                                        "mapping": mapping}, created_by=created_by)
        job_id = job.id
    settings = st.settings

    def errors(errs: list[Any]) -> list[dict[str, Any]]:
        return [{"row": e.row, "column": e.column, "value": e.value, "reason": e.reason} for e in errs[:500]]

    def work(progress: Any) -> dict[str, Any]:
        with open(path, "rb") as fh:
            total = max(sum(1 for _ in fh) - 1, 0)
        done = [0]

        def tick(n: int) -> None:
            done[0] += n
            progress(min(done[0], total), total)

        progress(0, total)
        try:
            summary = import_file(st.db, st.workspace_id, path, kind, mapping=mapping or None, fmt="csv",
                                  skip_invalid=skip_invalid, chunk_size=settings.batch_size,
                                  allow_custom_types=settings.allow_custom_event_types,
                                  future_policy=settings.future_timestamps, progress=tick)
        except ImportRejected as exc:
            raise JobFailed(f"{len(exc.errors)} invalid rows; nothing was stored (tick 'store the valid rows' "
                            "to import the rest)", {"errors": errors(exc.errors), "error_count": len(exc.errors)}) from None
        finally:
            path.unlink(missing_ok=True)
        return {"rows": summary.rows, "stored": summary.stored, "duplicates": summary.duplicates,
                "rejected": summary.rejected, "transitions": summary.transitions,
                "warnings": summary.warnings[:20], "errors": errors(summary.errors),
                "error_count": len(summary.errors)}

    _runner(st).submit(job_id, work)
    return job_id
