"""Workspaces and the scoring-model registry (versions, activation)."""

from __future__ import annotations

from functools import cache, lru_cache
from importlib import resources
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from leadflow.core.scoring.spec import ScoringModel, checksum, parse_model
from leadflow.core.timeutil import utcnow
from leadflow.store.tables import ScoringModelRow, Workspace


def default_model_text() -> str:
    return resources.files("leadflow.models").joinpath("default.yaml").read_text(encoding="utf-8")


def get_or_create_workspace(session: Session, slug: str, name: str | None = None) -> Workspace:
    ws = session.scalar(select(Workspace).where(Workspace.slug == slug))
    if ws is None:
        ws = Workspace(slug=slug, name=name or slug, lifecycle_model="default", created_at=utcnow())
        session.add(ws)
        session.flush()
        install_model(session, ws.id, default_model_text(), source="default.yaml", activate=True, created_by="system")
    return ws


class ModelVersionConflict(ValueError):
    pass


def install_model(session: Session, workspace_id: str, text: str, *, source: str = "<upload>",
                  activate: bool = False, created_by: str | None = None) -> ScoringModelRow:
    """Validate and store a model version. The version in the file must be new for its key."""
    model = parse_model(text, source=source)
    exists = session.scalar(select(ScoringModelRow).where(
        ScoringModelRow.workspace_id == workspace_id, ScoringModelRow.key == model.key,
        ScoringModelRow.version == model.version))
    if exists is not None:
        if exists.checksum == checksum(text):
            row = exists
        else:
            latest = latest_version(session, workspace_id, model.key)
            raise ModelVersionConflict(
                f"{source}: model {model.key!r} version {model.version} exists with other content; "
                f"set version: {latest + 1}")
    else:
        row = ScoringModelRow(workspace_id=workspace_id, key=model.key, version=model.version, yaml=text,
                              checksum=checksum(text), active=False, created_at=utcnow(), created_by=created_by)
        session.add(row)
        session.flush()
    if activate:
        set_active(session, workspace_id, model.key, model.version)
    return row


def latest_version(session: Session, workspace_id: str, key: str) -> int:
    rows = session.scalars(select(ScoringModelRow.version).where(
        ScoringModelRow.workspace_id == workspace_id, ScoringModelRow.key == key)).all()
    return max(rows, default=0)


def set_active(session: Session, workspace_id: str, key: str, version: int) -> None:
    session.execute(update(ScoringModelRow).where(ScoringModelRow.workspace_id == workspace_id,
                                                  ScoringModelRow.key == key).values(active=False))
    n = session.execute(update(ScoringModelRow).where(
        ScoringModelRow.workspace_id == workspace_id, ScoringModelRow.key == key,
        ScoringModelRow.version == version).values(active=True)).rowcount
    if n != 1:
        raise LookupError(f"no model {key!r} version {version} in this workspace")


@cache
def _active_rows_stmt() -> Any:
    """Built once (bound parameter ``ws``): it runs in every ingest transaction, where building it each time
    cost as much as running it."""
    m = ScoringModelRow.__table__.c  # table columns: a Core select skips the ORM's per-statement bookkeeping
    return select(m.id, m.key, m.version, m.checksum).where(
        m.workspace_id == bindparam("ws"), m.active.is_(True)).order_by(m.key)


def active_models(session: Session, workspace_id: str) -> list[ScoringModel]:
    """The workspace's active models, by key. Only ids are read each time: a stored version never changes,
    so its YAML is fetched and parsed once per process."""
    rows = session.execute(_active_rows_stmt(), {"ws": workspace_id}).all()
    out = []
    for r in rows:
        model = _BY_ROW.get((r.id, r.checksum))
        if model is None:
            text = session.scalar(select(ScoringModelRow.yaml).where(ScoringModelRow.id == r.id))
            model = _parsed(text, f"{r.key}@v{r.version}")
            if len(_BY_ROW) > 256:
                _BY_ROW.clear()
            _BY_ROW[(r.id, r.checksum)] = model
        out.append(model)
    return out


_BY_ROW: dict[tuple[str, str], ScoringModel] = {}


@lru_cache(maxsize=64)
def _parsed(text: str, source: str) -> ScoringModel:
    """Stored versions are immutable and ScoringModel is frozen, so each is parsed once per process."""
    return parse_model(text, source=source)


def list_models(session: Session, workspace_id: str) -> list[ScoringModelRow]:
    return list(session.scalars(select(ScoringModelRow).where(ScoringModelRow.workspace_id == workspace_id)
                                .order_by(ScoringModelRow.key, ScoringModelRow.version)).all())
