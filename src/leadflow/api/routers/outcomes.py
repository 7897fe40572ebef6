"""Outcomes: won / lost deals, by lead email (won -> customer, lost -> nurture)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from leadflow.api.common import ingestor
from leadflow.api.deps import OutcomesWrite, SessionDep
from leadflow.api.problems import Problem, field_error

router = APIRouter(prefix="/v1/outcomes", tags=["outcomes"])


class OutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: Annotated[str, Field(max_length=320)]
    result: Literal["won", "lost"]
    amount: Annotated[float | None, Field(ge=0, le=1e13)] = None
    currency: Annotated[str | None, Field(pattern=r"^[A-Z]{3}$")] = None
    closed_at: datetime | None = None
    reason: Annotated[str | None, Field(max_length=2000)] = None


class OutcomesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcomes: Annotated[list[OutcomeIn], Field(min_length=1, max_length=1000)]


class OutcomesOut(BaseModel):
    ids: list[str]


@router.post("", response_model=OutcomesOut, status_code=201,
             summary="Record won / lost outcomes (all or nothing; an unknown email is a 422)")
def record(body: OutcomesIn, request: Request, session: SessionDep, who: OutcomesWrite) -> OutcomesOut:
    from leadflow.core.events import EventRejected, normalize_email
    errors = []
    for i, o in enumerate(body.outcomes):
        try:
            normalize_email(o.email)
        except EventRejected as exc:
            errors.append(field_error(f"body.outcomes.{i}.email", exc.reason))
    if errors:
        raise Problem(422, "invalid outcomes", errors=errors)
    try:
        ids = ingestor(session, who, request.app.state.settings).record_outcomes(
            [o.model_dump() for o in body.outcomes])
    except LookupError as exc:
        raise Problem(422, str(exc).strip("'\""), errors=[field_error("body.outcomes.email", str(exc).strip("'\""))]
                      ) from None
    return OutcomesOut(ids=ids)
