"""Background jobs (rescore after a model activation, file imports): status and progress to poll."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from leadflow.api.deps import PrincipalDep, SessionDep
from leadflow.api.problems import Problem
from leadflow.services import jobs as jobs_svc
from leadflow.store.auth_tables import Job

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


class JobOut(BaseModel):
    id: str
    kind: str
    status: str = Field(description="queued | running | succeeded | failed")
    done: int
    total: int | None = Field(None, description="Unknown (null) until the job knows its size.")
    progress: float | None = Field(None, description="done / total, 0..1")
    params: dict[str, Any] = Field(default_factory=dict)
    result: dict[str, Any] | None = None
    error: str | None = None
    created_by: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None


def job_view(job: Job, runner: jobs_svc.JobRunner | None = None) -> JobOut:
    done, total = job.done, job.total
    live = runner.live(job.id) if runner is not None and job.status == "running" else None
    if live is not None:
        done, total = live
    progress = None
    if total:
        progress = round(min(done / total, 1.0), 4)
    elif job.status == "succeeded":
        progress = 1.0
    return JobOut(id=job.id, kind=job.kind, status=job.status, done=done, total=total, progress=progress,
                  params=job.params or {}, result=job.result, error=job.error, created_by=job.created_by,
                  created_at=job.created_at, started_at=job.started_at, finished_at=job.finished_at)


@router.get("", response_model=list[JobOut], summary="Recent jobs of the workspace, newest first")
def list_jobs(request: Request, session: SessionDep, who: PrincipalDep,
              limit: Annotated[int, Query(ge=1, le=200)] = 50) -> list[JobOut]:
    return [job_view(j, request.app.state.jobs) for j in jobs_svc.list_jobs(session, who.workspace_id, limit)]


@router.get("/{job_id}", response_model=JobOut, summary="A job's status, progress and result")
def get_job(job_id: str, request: Request, session: SessionDep, who: PrincipalDep) -> JobOut:
    try:
        return job_view(jobs_svc.get_job(session, who.workspace_id, job_id), request.app.state.jobs)
    except LookupError:
        raise Problem(404, f"no job {job_id}") from None
