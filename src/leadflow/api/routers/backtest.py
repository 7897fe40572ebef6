"""Backtests: judge a scoring model against history before activating it (``docs/backtest.md``).

``POST /v1/models/backtest`` replays a candidate model (YAML in the body) over the workspace's events and
answers weekly MQLs, precision, recall and lead time, next to the active model's (or another YAML's);
``POST /v1/models/backtest/threshold`` suggests MQL thresholds for a capacity or a precision;
``GET /v1/models/backtest/suggest`` ranks attributes and behaviours by how they separate won from lost.
All need ``predict:train``. They run synchronously (seconds on a few hundred thousand events).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, model_validator

from leadflow.api.deps import Allowed
from leadflow.api.problems import Problem, field_error
from leadflow.core.permissions import Action
from leadflow.core.scoring.spec import parse_model

router = APIRouter(prefix="/v1/models/backtest", tags=["backtest"])
Trainer = Allowed[Action.PREDICT_TRAIN]
MAX_MODEL_BYTES = 256 * 1024
ConvertOn = Literal["sql", "opportunity", "won"]
ModelText = Annotated[str, Field(min_length=1, max_length=MAX_MODEL_BYTES)]


class Period(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: datetime | None = Field(None, alias="from", description="Start of the period (default: first event).")
    end: datetime | None = Field(None, alias="to", description="End, exclusive (default: after the last event).")
    horizon_days: Annotated[float, Field(gt=0, le=3650)] | None = Field(
        None, description="Count a conversion only within this many days after the MQL (default: any time).")
    convert_on: ConvertOn = Field("sql", description="What counts as converted.")

    @model_validator(mode="after")
    def _order(self) -> Period:
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError("'to' must come after 'from'")
        return self

    def bounds(self) -> tuple[float | None, float | None]:
        def ts(d: datetime | None) -> float | None:
            if d is None:
                return None
            from leadflow.core.timeutil import as_utc

            return as_utc(d).timestamp()

        return ts(self.start), ts(self.end)


class BacktestIn(Period):
    yaml: ModelText = Field(description="The candidate model (YAML).")
    against: Literal["active", "none"] | None = Field(
        "active", description="Compare with the active model ('active', default), nothing ('none'), or give "
                              "'against_yaml'.")
    against_yaml: ModelText | None = Field(None, description="Another model (YAML) to compare with.")


class ThresholdIn(Period):
    capacity: Annotated[float, Field(gt=0)] | None = Field(None, description="MQLs per week sales can take.")
    precision: Annotated[float, Field(gt=0, le=1)] | None = Field(None, description="Target precision (0-1].")
    yaml: ModelText | None = Field(None, description="Tune this model (default: the active model).")

    @model_validator(mode="after")
    def _goal(self) -> ThresholdIn:
        if (self.capacity is None) == (self.precision is None):
            raise ValueError("give exactly one of capacity and precision")
        return self


def _model(text: str, field: str) -> Any:
    from leadflow.core.scoring.spec import ModelFileError

    try:
        return parse_model(text, source=field)
    except ModelFileError as exc:
        raise Problem(422, "invalid scoring model",
                      errors=[field_error(f"{field}:{line or '?'}:{path}", msg) for line, path, msg in exc.problems]
                      ) from None


@router.post("", summary="Backtest a candidate model against history (and the active model)")
async def run(body: BacktestIn, request: Request, who: Trainer) -> dict[str, Any]:
    from leadflow.predictive.backtest import run_backtest

    candidate = _model(body.yaml, "yaml")
    against: Any = _model(body.against_yaml, "against_yaml") if body.against_yaml else (
        None if body.against == "none" else "active")
    start, end = body.bounds()
    db = request.app.state.db

    def work() -> dict[str, Any]:
        return run_backtest(db, who.workspace_id, candidate, against, convert_on=body.convert_on, start=start,
                            end=end, horizon_days=body.horizon_days).as_dict()

    try:
        return await run_in_threadpool(work)
    except LookupError as exc:
        raise Problem(404, str(exc)) from None
    except ValueError as exc:
        raise Problem(422, str(exc), errors=[field_error("from", str(exc))]) from None


@router.post("/threshold", summary="Suggest MQL engagement thresholds for a capacity or a precision")
async def threshold(body: ThresholdIn, request: Request, who: Trainer) -> dict[str, Any]:
    from leadflow.batch.source import open_store
    from leadflow.predictive.backtest import active_model, conversion_labels
    from leadflow.predictive.thresholds import suggest_threshold

    db = request.app.state.db
    start, end = body.bounds()
    given = _model(body.yaml, "yaml") if body.yaml else None

    def work() -> dict[str, Any]:
        with db.session() as s:
            model = given or active_model(s, who.workspace_id)
            labels = conversion_labels(s, who.workspace_id, body.convert_on)
        with open_store(db.url, who.workspace_id) as store:
            sug = suggest_threshold(model, store, labels, capacity=body.capacity, precision=body.precision,
                                    start=start, end=end, horizon_days=body.horizon_days)
        return {"model": model.ref, "goal": sug.goal, "note": sug.note,
                "chosen": sug.chosen.__dict__ if sug.chosen else None, "rows": [r.__dict__ for r in sug.rows]}

    try:
        return await run_in_threadpool(work)
    except LookupError as exc:
        raise Problem(404, str(exc)) from None
    except ValueError as exc:
        raise Problem(422, str(exc)) from None


@router.get("/suggest", summary="Rank attributes and behaviours by won vs lost; suggested points as YAML")
async def suggest(request: Request, who: Trainer,
                  min_support: Annotated[int, Query(ge=1, le=100000)] = 20,
                  top: Annotated[int, Query(ge=1, le=500)] = 50,
                  points_per_doubling: Annotated[float, Query(gt=0, le=100)] = 10.0) -> dict[str, Any]:
    from leadflow.batch.source import open_store
    from leadflow.predictive.backtest import active_model
    from leadflow.predictive.criteria import outcome_labels, rank_features, suggest_yaml

    db = request.app.state.db

    def work() -> dict[str, Any]:
        with db.session() as s:
            outcomes = outcome_labels(s, who.workspace_id)
            try:
                model = active_model(s, who.workspace_id)
            except LookupError:
                model = None
        with open_store(db.url, who.workspace_id) as store:
            summary, features = rank_features(store, outcomes, model, min_support=min_support,
                                              points_per_doubling=points_per_doubling)
        return {"summary": summary, "features": [f.as_dict() for f in features[:top]],
                "yaml": suggest_yaml(features, model)}

    return await run_in_threadpool(work)
