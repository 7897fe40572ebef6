"""Scoring models: versions, upload (validated, errors with line and field), activation (a background rescore)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from leadflow.api.deps import ModelsActivate, ModelsRead, ModelsWrite, SessionDep
from leadflow.api.problems import Problem, field_error
from leadflow.api.routers.jobs import JobOut, job_view
from leadflow.services import jobs as jobs_svc
from leadflow.services import workspaces as ws_svc
from leadflow.store.tables import ScoringModelRow, Workspace

router = APIRouter(prefix="/v1/models", tags=["models"])
Version = Annotated[int, Path(ge=1, le=2**31 - 1)]
Key = Annotated[str, Path(max_length=64)]
MAX_MODEL_BYTES = 256 * 1024


class ModelVersion(BaseModel):
    key: str
    version: int
    active: bool
    lifecycle: bool = Field(description="This key drives lifecycle stages.")
    checksum: str
    created_at: datetime
    created_by: str | None = None


class ModelDetail(ModelVersion):
    yaml: str


class ModelUpload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    yaml: Annotated[str, Field(min_length=1, max_length=MAX_MODEL_BYTES, description="The model file (YAML).")]


def _view(row: ScoringModelRow, lifecycle: str, detail: bool = False) -> dict[str, Any]:
    out = {"key": row.key, "version": row.version, "active": row.active, "lifecycle": row.key == lifecycle,
           "checksum": row.checksum, "created_at": row.created_at, "created_by": row.created_by}
    if detail:
        out["yaml"] = row.yaml
    return out


def _lifecycle(session: SessionDep, workspace_id: str) -> str:
    return session.get(Workspace, workspace_id).lifecycle_model


@router.get("", response_model=list[ModelVersion], summary="Every version of every model")
def list_models(session: SessionDep, who: ModelsRead) -> list[dict[str, Any]]:
    lc = _lifecycle(session, who.workspace_id)
    return [_view(r, lc) for r in ws_svc.list_models(session, who.workspace_id)]


def _row(session: SessionDep, workspace_id: str, key: str, version: int) -> ScoringModelRow:
    row = session.scalar(select(ScoringModelRow).where(ScoringModelRow.workspace_id == workspace_id,
                                                       ScoringModelRow.key == key, ScoringModelRow.version == version))
    if row is None:
        raise Problem(404, f"no model {key!r} version {version}")
    return row


@router.get("/{key}/versions/{version}", response_model=ModelDetail, summary="One version with its YAML")
def get_version(key: Key, version: Version, session: SessionDep, who: ModelsRead) -> dict[str, Any]:
    return _view(_row(session, who.workspace_id, key, version), _lifecycle(session, who.workspace_id), True)


@router.post("", response_model=ModelDetail, status_code=201,
             summary="Upload a new version (not active until activated); invalid files list line, field and reason",
             responses={409: {"description": "this version exists with other content"},
                        422: {"description": "invalid model file"}})
def upload(body: ModelUpload, session: SessionDep, who: ModelsWrite) -> dict[str, Any]:
    try:
        row = ws_svc.install_model(session, who.workspace_id, body.yaml, source="upload", activate=False,
                                   created_by=who.actor_id)
    except ws_svc.ModelVersionConflict as exc:
        raise Problem(409, str(exc), errors=[field_error("version", str(exc))]) from None
    return _view(row, _lifecycle(session, who.workspace_id), True)


@router.post("/{key}/versions/{version}/activate", response_model=JobOut, status_code=202,
             summary="Activate a version; starts a background rescore (poll GET /v1/jobs/{id})")
def activate(key: Key, version: Version, request: Request, who: ModelsActivate) -> JobOut:
    db = request.app.state.db
    with db.session() as s:  # committed before the job starts
        _row(s, who.workspace_id, key, version)
        ws_svc.set_active(s, who.workspace_id, key, version)
        job = jobs_svc.create_job(s, who.workspace_id, "rescore", {"model": key, "version": version},
                                  created_by=who.actor_id)
        view = job_view(job)
    workspace_id = who.workspace_id

    def work(progress: jobs_svc.Progress) -> dict[str, Any]:
        from leadflow.services.rescore import rescore_workspace

        report = rescore_workspace(db, workspace_id, model_key=key, progress=progress)
        return asdict(report)

    request.app.state.jobs.submit(job.id, work)
    return view
