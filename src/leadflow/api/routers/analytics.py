"""Analytics (funnel, velocity, channel economics, what converts, score health, sales, deals) and channel spend.

Every GET answers a report as JSON: ``{"report", "params", "tables": {name: [rows]}, "notes"}`` (see
docs/analytics.md). ``POST /v1/spend`` stores channel spend (JSON rows, or a CSV body with
``Content-Type: text/csv``): all rows or none.
"""

from __future__ import annotations

import io
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from leadflow.analytics import reports
from leadflow.analytics.spend import SpendRejected, list_spend, parse_spend, read_spend_csv, store_spend
from leadflow.api.deps import Allowed, SessionDep
from leadflow.api.problems import Problem, field_error
from leadflow.core.permissions import Action

router = APIRouter(tags=["analytics"])
AnalyticsRead = Allowed[Action.ANALYTICS_READ]
SpendWrite = Allowed[Action.SPEND_WRITE]

By = Literal["source", "medium", "campaign", "landing_page", "owner", "segment"]
StageName = Literal["subscriber", "lead", "mql", "sal", "sql", "opportunity", "customer"]
MAX_SPEND_ROWS = 10000
#: the created-date range of the reports about leads (UTC days, both inclusive)
Since = Annotated[date | None, Query(description="only leads created on or after this day (UTC)")]
Until = Annotated[date | None, Query(description="only leads created on or before this day (UTC)")]


class ReportOut(BaseModel):
    report: str
    params: dict[str, Any]
    tables: dict[str, list[dict[str, Any]]]
    notes: list[str]


def _run(request: Request, workspace_id: str, name: str, **params: Any) -> ReportOut:
    try:
        rep = reports.run(request.app.state.db.url, workspace_id, name, **params)
    except LookupError as exc:
        raise Problem(409, str(exc)) from None
    except ValueError as exc:
        raise Problem(422, str(exc), errors=[field_error("query", str(exc))]) from None
    return ReportOut(**rep.to_dict())


@router.get("/v1/analytics/funnel", response_model=ReportOut,
            summary="Leads reaching each stage and conversion between every pair, by breakdown and cohort")
def get_funnel(request: Request, who: AnalyticsRead, by: By | None = None,
               cohort: Literal["month", "week"] | None = None,
               stages: Annotated[list[StageName] | None, Query()] = None,
               since: Since = None, until: Until = None) -> ReportOut:
    return _run(request, who.workspace_id, "funnel", by=by, cohort=cohort, stages=stages, since=since, until=until)


@router.get("/v1/analytics/velocity", response_model=ReportOut,
            summary="Median and P90 days in each stage and from creation to each stage")
def get_velocity(request: Request, who: AnalyticsRead, by: By | None = None,
                 cohort: Literal["month", "week"] | None = None,
                 since: Since = None, until: Until = None) -> ReportOut:
    return _run(request, who.workspace_id, "velocity", by=by, cohort=cohort, since=since, until=until)


@router.get("/v1/analytics/channels", response_model=ReportOut,
            summary="Spend per channel against cost per lead / MQL / SQL / customer and lead value")
def get_channels(request: Request, who: AnalyticsRead,
                 key: Literal["source", "source/medium", "campaign"] = "source",
                 since: date | None = None, until: date | None = None) -> ReportOut:
    return _run(request, who.workspace_id, "channels", key=key, since=since, until=until)


@router.get("/v1/analytics/converts", response_model=ReportOut,
            summary="Pages, assets, forms, offers, ads and emails converters touched more (lift with CI)")
def get_converts(request: Request, who: AnalyticsRead, target: StageName = "customer",
                 population: StageName | None = None,
                 kinds: Annotated[list[Literal["page", "asset", "form", "offer", "ad", "email"]] | None,
                                  Query()] = None,
                 min_support: Annotated[int, Query(ge=1, le=1_000_000)] = 20,
                 confidence: Annotated[float, Query(gt=0.5, lt=1)] = 0.95,
                 limit: Annotated[int | None, Query(ge=1, le=10000)] = 200,
                 since: Since = None, until: Until = None) -> ReportOut:
    return _run(request, who.workspace_id, "converts", target=target, population=population,
                kinds=tuple(kinds) if kinds else None, min_support=min_support, confidence=confidence, limit=limit,
                since=since, until=until)


@router.get("/v1/analytics/score-health", response_model=ReportOut,
            summary="Conversion by grade and score band (is a higher score better?) and MQL volume")
def get_score_health(request: Request, who: AnalyticsRead, basis: Literal["current", "mql"] = "current",
                     target: StageName = "customer",
                     fit_width: Annotated[float, Query(gt=0, le=1e6)] = 20.0,
                     engagement_width: Annotated[float, Query(gt=0, le=1e6)] = 20.0,
                     min_support: Annotated[int, Query(ge=1, le=1_000_000)] = 10,
                     period: Literal["month", "week", "day"] = "month",
                     since: Since = None, until: Until = None) -> ReportOut:
    return _run(request, who.workspace_id, "score-health", basis=basis, target=target, fit_width=fit_width,
                engagement_width=engagement_width, min_support=min_support, period=period, since=since, until=until)


@router.get("/v1/analytics/sales", response_model=ReportOut,
            summary="Speed to lead, SLA compliance, acceptance, rejection reasons, SQL rate per rep")
def get_sales(request: Request, who: AnalyticsRead, since: datetime | None = None) -> ReportOut:
    return _run(request, who.workspace_id, "sales", since=since)


@router.get("/v1/analytics/deals", response_model=ReportOut,
            summary="Pipeline: opportunities, open / won / lost, win rate, won amount and cycle per group")
def get_deals(request: Request, who: AnalyticsRead,
              by: Annotated[str | None, Query(max_length=200, description="a breakdown (source, medium, campaign, "
                                              "landing_page, owner, segment) or properties.<name>")] = None
              ) -> ReportOut:
    return _run(request, who.workspace_id, "deals", by=by)


# ------------------------------------------------------------------------------------------- spend
class SpendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channel: Annotated[str, Field(min_length=1, max_length=200)]
    period_start: date | None = None
    period_end: date | None = None
    period: Annotated[str | None, Field(pattern=r"^\d{4}-\d{2}$")] = None
    amount: Annotated[float, Field(ge=0, le=1e13)]
    currency: Annotated[str | None, Field(pattern=r"^[A-Za-z]{3}$")] = None


class SpendBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rows: Annotated[list[SpendIn], Field(min_length=1, max_length=MAX_SPEND_ROWS)]
    default_currency: Annotated[str | None, Field(pattern=r"^[A-Za-z]{3}$")] = None


class SpendOut(BaseModel):
    rows: int
    inserted: int
    updated: int
    channels: list[str]


def _inline_schema() -> dict[str, Any]:
    """The JSON body's schema without references (it is not a FastAPI-declared body)."""
    schema = SpendBatchIn.model_json_schema()
    defs = schema.pop("$defs", {})
    schema["properties"]["rows"]["items"] = defs["SpendIn"]
    return schema


def _rejected(exc: SpendRejected) -> Problem:
    return Problem(422, str(exc), errors=[field_error(f"body.rows.{e.row - 1}.{e.field}"
                                                      if e.row else e.field, e.reason) for e in exc.errors[:1000]])


@router.post("/v1/spend", response_model=SpendOut, status_code=201,
             summary="Store channel spend (JSON rows or a text/csv body); a channel and period is replaced",
             openapi_extra={"requestBody": {"content": {
                 "application/json": {"schema": _inline_schema()},
                 "text/csv": {"schema": {"type": "string"}}}, "required": True}})
async def post_spend(request: Request, session: SessionDep, who: SpendWrite,
                     default_currency: Annotated[str | None, Query(pattern=r"^[A-Za-z]{3}$")] = None) -> SpendOut:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await request.body()
    if len(raw) > 20 * 1024 * 1024:
        raise Problem(413, "spend body larger than 20 MiB")
    try:
        if ctype == "text/csv":
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise Problem(422, "the CSV body is not UTF-8", errors=[field_error("body", "not UTF-8")]) from None
            rows = read_spend_csv(io.StringIO(text), default_currency=default_currency)
        else:
            try:
                batch = SpendBatchIn.model_validate_json(raw or b"{}")
            except ValueError as exc:
                errors = [field_error(".".join(str(p) for p in ("body", *e["loc"])), e["msg"])
                          for e in getattr(exc, "errors", lambda: [])()]
                raise Problem(422, "invalid spend rows", errors=errors or [field_error("body", str(exc))]) from None
            rows = parse_spend([r.model_dump() for r in batch.rows],
                               default_currency=batch.default_currency or default_currency)
    except SpendRejected as exc:
        raise _rejected(exc) from None
    if len(rows) > MAX_SPEND_ROWS:
        raise Problem(413, f"at most {MAX_SPEND_ROWS} spend rows per request")
    summary = await run_in_threadpool(store_spend, session, who.workspace_id, rows,
                                      origin="csv" if ctype == "text/csv" else "api")
    return SpendOut(rows=summary.rows, inserted=summary.inserted, updated=summary.updated,
                    channels=summary.channels)


@router.get("/v1/spend", summary="The stored channel spend rows")
def get_spend(session: SessionDep, who: AnalyticsRead) -> dict[str, list[dict[str, Any]]]:
    return {"rows": list_spend(session, who.workspace_id)}
