"""Exports of leads with their scores decayed to now: CSV (safe to open in a spreadsheet) or Parquet."""

from __future__ import annotations

import os
import tempfile
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from leadflow.api.deps import LeadsExport, SessionDep
from leadflow.api.problems import Problem, field_error
from leadflow.services import exporting
from leadflow.services.queries import export_rows
from leadflow.services.workspaces import active_models
from leadflow.store.tables import Workspace

router = APIRouter(prefix="/v1/exports", tags=["exports"])


@router.get("/leads", summary="All leads with scores as of now (CSV or Parquet)", response_class=FileResponse,
            responses={200: {"content": {"text/csv": {}, "application/vnd.apache.parquet": {}}}})
def export_leads(request: Request, session: SessionDep, who: LeadsExport,
                 format: Annotated[Literal["csv", "parquet"], Query()] = "csv",
                 model: Annotated[str | None, Query(max_length=64)] = None) -> FileResponse:
    key = model or session.get(Workspace, who.workspace_id).lifecycle_model
    m = next((m for m in active_models(session, who.workspace_id) if m.key == key), None)
    if m is None:
        raise Problem(404, f"no active model {key!r}", errors=[field_error("query.model", "not active")])
    columns, rows = export_rows(request.app.state.db, who.workspace_id, m)
    fd, path = tempfile.mkstemp(prefix="leadflow-export-", suffix=f".{format}")
    os.close(fd)
    try:
        if format == "csv":
            exporting.write_csv(rows, path, columns)
            media = "text/csv; charset=utf-8"
        else:
            exporting.write_parquet(rows, path, columns=columns)
            media = "application/vnd.apache.parquet"
    except BaseException:
        os.unlink(path)
        raise
    return FileResponse(path, media_type=media, filename=f"leads-{who.workspace_slug}.{format}",
                        background=BackgroundTask(os.unlink, path))
