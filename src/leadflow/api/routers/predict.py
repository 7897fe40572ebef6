"""Predictive scores over HTTP (``docs/predictive.md``).

``GET /v1/predict/leads/{lead_id}`` - the lead's probability and its factors in words (recomputed on read
when an event arrived after it was scored); ``GET /v1/predict/top`` - the highest predictions;
``GET /v1/predict/models`` - the registry; ``GET /v1/predict/drift`` - drift report (need
``predict:read``). ``POST /v1/predict/train`` - train on the store's outcomes; ``POST /v1/predict/score`` -
score every lead (need ``predict:train``; synchronous).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from leadflow.api.deps import Allowed
from leadflow.api.problems import Problem
from leadflow.core.permissions import Action
from leadflow.predictive import service
from leadflow.predictive.errors import ArtifactError, PredictiveError, TooFewOutcomes

router = APIRouter(prefix="/v1/predict", tags=["predict"])
Reader = Allowed[Action.PREDICT_READ]
Trainer = Allowed[Action.PREDICT_TRAIN]
Name = Annotated[str, Query(pattern=r"^[a-z][a-z0-9_-]{0,63}$", description="Model name.")]


class TrainIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field("conversion", pattern=r"^[a-z][a-z0-9_-]{0,63}$")
    target: Literal["sql", "customer"] = "sql"
    horizon_days: int = Field(30, ge=1, le=365)
    algorithm: Literal["auto", "logistic", "lightgbm"] = "auto"


def _problem(exc: PredictiveError) -> Problem:
    if isinstance(exc, TooFewOutcomes):
        return Problem(422, str(exc), title="Too few outcomes", positives=exc.positives, negatives=exc.negatives,
                       needed=exc.needed)
    if isinstance(exc, ArtifactError):
        return Problem(409, str(exc), title="No usable predictive model")
    return Problem(422, str(exc))


def _settings(request: Request) -> Any:
    return request.app.state.settings


@router.get("/leads/{lead_id}")
async def lead_prediction(lead_id: str, request: Request, who: Reader, name: Name = "conversion") -> dict[str, Any]:
    try:
        pred = await run_in_threadpool(service.predict_lead, request.app.state.db, who.workspace_id, lead_id,
                                       name=name)
    except LookupError:
        raise Problem(404, f"no lead {lead_id}") from None
    except PredictiveError as exc:
        raise _problem(exc) from None
    if pred is None:
        raise Problem(404, f"lead {lead_id} cannot be scored yet")
    return {"lead_id": lead_id, "model": name, **pred}


@router.get("/top")
def top(request: Request, who: Reader, name: Name = "conversion",
        n: Annotated[int, Query(ge=1, le=1000)] = 20) -> list[dict[str, Any]]:
    return service.top_predictions(request.app.state.db, who.workspace_id, name=name, n=n)


@router.get("/models")
def models(request: Request, who: Reader) -> list[dict[str, Any]]:
    return [{"name": r.name, "version": r.version, "active": r.active, "algorithm": r.algorithm, "target": r.target,
             "horizon_days": r.horizon_days, "metrics": r.metrics, "created_at": r.created_at}
            for r in service.list_models(request.app.state.db, who.workspace_id)]


@router.get("/drift")
async def drift(request: Request, who: Reader, name: Name = "conversion",
                days: Annotated[int, Query(ge=1, le=730)] = 60, at: datetime | None = None) -> dict[str, Any]:
    try:
        return await run_in_threadpool(service.drift, request.app.state.db, who.workspace_id, name=name,
                                       recent_days=days, at=at)
    except PredictiveError as exc:
        raise _problem(exc) from None


@router.post("/train")
async def train(body: TrainIn, request: Request, who: Trainer) -> dict[str, Any]:
    try:
        out = await run_in_threadpool(
            service.train_store, request.app.state.db, who.workspace_id, who.workspace_slug,
            models_dir=_settings(request).models_dir, name=body.name, target=body.target,
            horizon_days=body.horizon_days, algorithm=body.algorithm, created_by=who.actor_id)
    except PredictiveError as exc:
        raise _problem(exc) from None
    m = out.artifact.meta
    return {"model": out.artifact.ref, "algorithm": m["algorithm"], "split": m["split"], "metrics": m["metrics"],
            "candidates": m["candidates"], "warnings": out.warnings}


@router.post("/score")
async def score(request: Request, who: Trainer, name: Name = "conversion", at: datetime | None = None) -> dict:
    try:
        n = await run_in_threadpool(service.score_all, request.app.state.db, who.workspace_id, name=name, at=at)
    except PredictiveError as exc:
        raise _problem(exc) from None
    return {"scored": n, "model": name}
