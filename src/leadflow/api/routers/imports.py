"""File imports (CSV / JSON Lines / Parquet of accounts, leads, events or outcomes), run as background jobs."""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Request, UploadFile

from leadflow.api.deps import ImportsWrite, PrincipalDep, SessionDep
from leadflow.api.problems import Problem, field_error
from leadflow.api.routers.jobs import JobOut, job_view
from leadflow.services import jobs as jobs_svc

router = APIRouter(prefix="/v1/imports", tags=["imports"])
MAX_ERRORS_KEPT = 1000
MAX_UPLOAD_BYTES = 1024 * 1024 * 1024  # 1 GiB


def _errors(errors: list[Any]) -> list[dict[str, Any]]:
    return [{"row": e.row, "column": e.column, "value": e.value, "reason": e.reason} for e in errors[:MAX_ERRORS_KEPT]]


@router.post("", response_model=JobOut, status_code=202,
             summary="Upload a file to import; returns a job to poll (per-row errors in its result)")
def upload(request: Request, who: ImportsWrite,
           file: Annotated[UploadFile, File(description="CSV, JSON Lines or Parquet (optionally .gz)")],
           kind: Annotated[Literal["accounts", "leads", "events", "outcomes"], Form()],
           skip_invalid: Annotated[bool, Form(description="Store the valid rows even if some are invalid.")] = False,
           ) -> JobOut:
    name = os.path.basename(file.filename or "upload.csv") or "upload.csv"
    suffix = "".join(s for s in (os.path.splitext(name)[1], ".gz" if name.endswith(".gz") else "") if s)
    if name.endswith(".gz"):
        suffix = os.path.splitext(name[:-3])[1] + ".gz"
    if suffix.lstrip(".").split(".")[0] not in ("csv", "tsv", "jsonl", "ndjson", "json", "parquet", "txt"):
        raise Problem(415, f"{name}: unsupported file type (csv, tsv, jsonl, parquet, optionally .gz)",
                      errors=[field_error("file", "unsupported file type")])
    fd, path = tempfile.mkstemp(prefix="leadflow-import-", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(file.file, out, 1024 * 1024)
        if os.path.getsize(path) > MAX_UPLOAD_BYTES:
            raise Problem(413, "the file is larger than 1 GiB", errors=[field_error("file", "too large")])
    except BaseException:
        os.unlink(path)
        raise
    db, settings = request.app.state.db, request.app.state.settings
    with db.session() as s:
        job = jobs_svc.create_job(s, who.workspace_id, "import", {"kind": kind, "file": name,
                                                                   "skip_invalid": skip_invalid},
                                  created_by=who.actor_id)
        view = job_view(job)
    workspace_id = who.workspace_id

    def work(progress: jobs_svc.Progress) -> dict[str, Any]:
        from leadflow.services.importing.readers import ImportFileError
        from leadflow.services.imports import ImportRejected, import_file

        rows = [0]

        def tick(n: int) -> None:
            rows[0] += n
            progress(rows[0], None)

        try:
            summary = import_file(db, workspace_id, path, kind, skip_invalid=skip_invalid,
                                  chunk_size=settings.batch_size, allow_custom_types=settings.allow_custom_event_types,
                                  future_policy=settings.future_timestamps, progress=tick)
        except ImportRejected as exc:
            raise jobs_svc.JobFailed(f"{len(exc.errors)} invalid rows; nothing was stored (set skip_invalid to "
                                     "store the valid rows)", {"rows": rows[0], "stored": 0,
                                                               "errors": _errors(exc.errors),
                                                               "errors_total": len(exc.errors)}) from None
        except (ImportFileError, ValueError) as exc:
            raise jobs_svc.JobFailed(str(exc), {"rows": rows[0], "stored": 0}) from None
        finally:
            os.unlink(path)
        return {"rows": summary.rows, "stored": summary.stored, "duplicates": summary.duplicates,
                "rejected": summary.rejected, "transitions": summary.transitions, "warnings": summary.warnings,
                "errors": _errors(summary.errors), "errors_total": len(summary.errors)}

    request.app.state.jobs.submit(job.id, work)
    return view


@router.get("/{job_id}", response_model=JobOut, summary="An import's progress, counts and per-row errors")
def get_import(job_id: str, request: Request, session: SessionDep, who: PrincipalDep) -> JobOut:
    try:
        job = jobs_svc.get_job(session, who.workspace_id, job_id)
    except LookupError:
        raise Problem(404, f"no import {job_id}") from None
    if job.kind != "import":
        raise Problem(404, f"no import {job_id}")
    return job_view(job, request.app.state.jobs)
