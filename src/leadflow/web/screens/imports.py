"""Imports (upload a CSV, map its columns, run it as a background job with progress and per-row errors)
and exports (the lead list as a spreadsheet-safe CSV)."""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from leadflow.core.permissions import Action
from leadflow.core.timeutil import utcnow
from leadflow.services.exporting import csv_cell, neutralize
from leadflow.services.importing.mapping import FIELDS, KINDS, REQUIRED, MappingError, resolve_columns
from leadflow.store.tables import new_id
from leadflow.web import panels
from leadflow.web.auth import WebUser
from leadflow.web.common import need, render, web

router = APIRouter(include_in_schema=False)
MAX_UPLOAD = 200 * 1024 * 1024
SAMPLE_ROWS = 3
ERRORS_KEPT = 500
_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")


def upload_dir() -> Path:
    d = Path(tempfile.gettempdir()) / "leadflow-uploads"
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    return d


def _upload_path(upload_id: str, kind: str) -> Path | None:
    if not _UPLOAD_ID.match(upload_id) or kind not in KINDS:
        return None
    p = upload_dir() / f"{upload_id}.{kind}.csv"
    return p if p.exists() else None


@router.get("/imports")
def imports_page(request: Request, user: WebUser = Depends(need(Action.IMPORTS_WRITE))) -> Response:  # noqa: B008
    st = web(request)
    with st.session() as s:
        jobs = panels.recent_jobs(s, st.workspace_id, "import", 10)
    return render(request, user, "imports.html", kinds=KINDS, jobs=jobs, error="")


def _header_and_sample(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as fh:
        head = fh.read(64 * 1024)
    first = head.splitlines()[0] if head else ""
    delim = max((",", ";", "\t", "|"), key=first.count) if first else ","
    reader = csv.reader(io.StringIO(head), delimiter=delim)
    rows = []
    for i, row in enumerate(reader):
        rows.append(row)
        if i >= SAMPLE_ROWS:
            break
    if not rows:
        return [], []
    return rows[0], rows[1:]


@router.post("/imports/upload")
async def upload(request: Request, user: WebUser = Depends(need(Action.IMPORTS_WRITE))) -> Response:  # noqa: B008
    st = web(request)
    form = await request.form()
    kind = str(form.get("kind") or "")
    f = form.get("file")

    def fail(message: str) -> Response:
        with st.session() as s:
            jobs = panels.recent_jobs(s, st.workspace_id, "import", 10)
        return render(request, user, "imports.html", status=422, kinds=KINDS, jobs=jobs, error=message)

    if kind not in KINDS:
        return fail(f"kind: choose one of {', '.join(KINDS)}")
    if f is None or isinstance(f, str) or not getattr(f, "filename", ""):
        return fail("file: choose a CSV file to upload")
    upload_id = new_id()
    path = upload_dir() / f"{upload_id}.{kind}.csv"
    size = 0
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
        while chunk := await f.read(1024 * 1024):
            size += len(chunk)
            if size > MAX_UPLOAD:
                out.close()
                path.unlink(missing_ok=True)
                return fail(f"file: larger than {MAX_UPLOAD // (1024 * 1024)} MiB")
            out.write(chunk)
    header, sample = _header_and_sample(path)
    if not header:
        path.unlink(missing_ok=True)
        return fail("file: the file is empty (no header row)")
    q = urlencode({"kind": kind, "name": str(f.filename)[:200]})
    return RedirectResponse(f"/imports/{upload_id}/map?{q}", status_code=303)


def _mapping_ctx(path: Path, kind: str) -> dict[str, Any]:
    header, sample = _header_and_sample(path)
    auto = resolve_columns(header, kind)
    cols = []
    for i, name in enumerate(header):
        cols.append({"i": i, "name": name, "auto": auto.get(name), "sample": [r[i] if i < len(r) else "" for r in sample]})
    return dict(columns=cols, fields=FIELDS[kind], required=REQUIRED[kind])


@router.get("/imports/{upload_id}/map")
def map_page(upload_id: str, request: Request, user: WebUser = Depends(need(Action.IMPORTS_WRITE))) -> Response:  # noqa: B008
    kind = request.query_params.get("kind", "")
    path = _upload_path(upload_id, kind)
    if path is None:
        return render(request, user, "error.html", status=404, title="Upload not found",
                      detail="This upload does not exist any more; upload the file again.")
    return render(request, user, "import_map.html", upload_id=upload_id, kind=kind, error="",
                  filename=request.query_params.get("name", "")[:200], **_mapping_ctx(path, kind))


@router.post("/imports/{upload_id}/start")
async def start(upload_id: str, request: Request, user: WebUser = Depends(need(Action.IMPORTS_WRITE))) -> Response:  # noqa: B008
    st = web(request)
    form = await request.form()
    kind = str(form.get("kind") or "")
    path = _upload_path(upload_id, kind)
    if path is None:
        return render(request, user, "error.html", status=404, title="Upload not found",
                      detail="This upload does not exist any more; upload the file again.")
    header, _ = _header_and_sample(path)
    mapping: dict[str, str | None] = {}
    for i, name in enumerate(header):
        v = str(form.get(f"map_{i}") or "auto")
        if v == "auto":
            continue
        mapping[name] = None if v == "ignore" else v
    skip_invalid = form.get("skip_invalid") == "on"
    try:
        targets = resolve_columns(header, kind, mapping)
        missing = [r for r in REQUIRED[kind] if r not in targets.values()]
        if missing:
            raise MappingError(f"no column is mapped to {', '.join(missing)} (required for {kind})")
    except (MappingError, ValueError) as exc:
        return render(request, user, "import_map.html", status=422, upload_id=upload_id, kind=kind,
                      error=f"mapping: {exc}", filename="", **_mapping_ctx(path, kind))
    job_id = panels.start_import(st, path, kind, mapping, skip_invalid, user.email)
    return RedirectResponse(f"/imports?job={job_id}", status_code=303)


@router.get("/exports/leads.csv")
def export_leads(request: Request, user: WebUser = Depends(need(Action.LEADS_EXPORT))) -> Response:  # noqa: B008
    from leadflow.services.queries import export_rows
    from leadflow.web.screens.leads import lifecycle_model

    st = web(request)
    with st.session() as s:
        model = lifecycle_model(s, st.workspace_id)
    if model is None:
        return render(request, user, "error.html", status=409, title="No active model",
                      detail="Activate a scoring model before exporting scores.")
    columns, rows = export_rows(st.db, st.workspace_id, model)

    def stream() -> Iterator[bytes]:
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow([neutralize(c) for c in columns])
        for n, row in enumerate(rows, 1):
            w.writerow([csv_cell(row.get(c)) for c in columns])
            if n % 1000 == 0:
                yield buf.getvalue().encode()
                buf.seek(0)
                buf.truncate()
        yield buf.getvalue().encode()

    name = f"leads-{st.workspace_slug}-{utcnow():%Y%m%d-%H%M}.csv"
    return StreamingResponse(stream(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})
