"""Scoring models: the active YAML, versions, upload with inline validation errors, backtest, activation
with a live progress bar for the rescore (a background job)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from leadflow.core.permissions import Action
from leadflow.core.scoring.spec import ModelFileError, parse_model
from leadflow.services import workspaces as ws_svc
from leadflow.store.tables import ScoringModelRow
from leadflow.web import panels
from leadflow.web.auth import WebUser
from leadflow.web.common import need, render, web

router = APIRouter(include_in_schema=False)
MAX_MODEL_BYTES = 256 * 1024


def _models_ctx(request: Request, user: WebUser) -> dict[str, Any]:
    st = web(request)
    with st.session() as s:
        rows = ws_svc.list_models(s, st.workspace_id)
        jobs = panels.recent_jobs(s, st.workspace_id, "rescore", 5)
    active = [r for r in rows if r.active]
    versions = sorted(rows, key=lambda r: (r.key, -r.version))
    key = request.query_params.get("key", "")
    show = next((r for r in active if r.key == key), active[0] if active else None)
    return dict(active=active, versions=versions, show=show, jobs=jobs, backtest=panels.backtest_available())


@router.get("/models")
def models_page(request: Request, user: WebUser = Depends(need(Action.MODELS_READ))) -> Response:  # noqa: B008
    return render(request, user, "models.html", problems=[], upload_error="", yaml_text="", **_models_ctx(request, user))


@router.post("/models/upload")
async def upload(request: Request, user: WebUser = Depends(need(Action.MODELS_WRITE))) -> Response:  # noqa: B008
    st = web(request)
    form = await request.form()
    text = ""
    source = "upload"
    f = form.get("file")
    if f is not None and not isinstance(f, str) and getattr(f, "filename", ""):
        raw = await f.read(MAX_MODEL_BYTES + 1)
        source = str(f.filename)[:200]
        if len(raw) > MAX_MODEL_BYTES:
            return _upload_error(request, user, "", f"file: larger than {MAX_MODEL_BYTES // 1024} KiB")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return _upload_error(request, user, "", "file: not UTF-8 text")
    else:
        v = form.get("yaml")
        text = v if isinstance(v, str) else ""
        if len(text.encode()) > MAX_MODEL_BYTES:
            return _upload_error(request, user, text, f"yaml: larger than {MAX_MODEL_BYTES // 1024} KiB")
    if not text.strip():
        return _upload_error(request, user, text, "yaml: paste a model or choose a file")
    try:
        parse_model(text, source=source)
    except ModelFileError as exc:
        return _upload_error(request, user, text, "", problems=exc.problems)
    try:
        with st.session() as s:
            row = ws_svc.install_model(s, st.workspace_id, text, source=source, activate=False, created_by=user.email)
            key, version = row.key, row.version
    except (ws_svc.ModelVersionConflict, ValueError) as exc:
        return _upload_error(request, user, text, f"version: {exc}")
    return RedirectResponse(f"/models?key={key}&msg=uploaded&uploaded={version}", status_code=303)


def _upload_error(request: Request, user: WebUser, text: str, message: str,
                  problems: list[tuple[int | None, str, str]] | None = None) -> Response:
    return render(request, user, "models.html", status=422, problems=problems or [], upload_error=message,
                  yaml_text=text, **_models_ctx(request, user))


@router.post("/models/{key}/{version}/activate")
def activate(key: str, version: int, request: Request,
             user: WebUser = Depends(need(Action.MODELS_ACTIVATE))) -> Response:  # noqa: B008
    st = web(request)
    with st.session() as s:
        row = s.scalar(select(ScoringModelRow).where(ScoringModelRow.workspace_id == st.workspace_id,
                                                     ScoringModelRow.key == key, ScoringModelRow.version == version))
        if row is None:
            return render(request, user, "error.html", status=404, title="No such model version",
                          detail=f"There is no model {key} version {version} in this workspace.")
        ws_svc.set_active(s, st.workspace_id, key, version)
    job_id = panels.start_rescore(st, key, user.email)
    return RedirectResponse(f"/models?key={key}&msg=activated&job={job_id}", status_code=303)


@router.get("/jobs/{job_id}")
def job_status(job_id: str, request: Request, user: WebUser = Depends(need(Action.MODELS_READ))) -> Response:  # noqa: B008
    st = web(request)
    with st.session() as s:
        job = panels.job_view(s, st.workspace_id, job_id)
    if job is None:
        return render(request, user, "error.html", status=404, title="No such job", detail="This job does not exist.")
    return render(request, user, "job.html", job=job)


@router.post("/models/backtest")
async def backtest(request: Request, user: WebUser = Depends(need(Action.PREDICT_TRAIN))) -> Response:  # noqa: B008
    st = web(request)
    form = await request.form()
    key = str(form.get("key") or "")[:64]
    try:
        version = int(str(form.get("version") or "0"))
    except ValueError:
        version = 0
    convert_on = str(form.get("convert_on") or "sql")
    if convert_on not in ("sql", "opportunity", "won"):
        convert_on = "sql"
    result = panels.run_backtest(st, key, version, convert_on)
    return render(request, user, "backtest.html", result=result)
