"""Leads: create, update, get, search and filter with keyset pagination, explanation, timeline, stage/status."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import and_, or_, select, tuple_
from sqlalchemy.orm import Session

from leadflow.api.common import decode_cursor, encode_cursor, ingestor, like_pattern, workspace
from leadflow.api.deps import LeadsRead, LeadsStage, LeadsWrite, Principal, SessionDep
from leadflow.api.problems import Problem, field_error
from leadflow.core.events import EventRejected, normalize_email
from leadflow.core.lifecycle import Actor, LeadStatus, Stage
from leadflow.core.timeutil import as_utc, from_epoch, utcnow
from leadflow.services import scoring as scoring_svc
from leadflow.services.workspaces import active_models
from leadflow.store.tables import Account, Event, Lead, ScoreState, StageChange

router = APIRouter(prefix="/v1/leads", tags=["leads"])

Text200 = Annotated[str | None, Field(max_length=200)]


class LeadFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    first_name: Text200 = None
    last_name: Text200 = None
    title: Text200 = None
    seniority: Annotated[str | None, Field(max_length=50)] = None
    department: Annotated[str | None, Field(max_length=100)] = None
    phone: Annotated[str | None, Field(max_length=50)] = None
    country: Annotated[str | None, Field(max_length=100)] = None
    source: Annotated[str | None, Field(max_length=100)] = None
    medium: Annotated[str | None, Field(max_length=100)] = None
    campaign: Text200 = None
    landing_page: Annotated[str | None, Field(max_length=2000)] = None
    owner: Text200 = None
    consent: bool | None = None
    unsubscribed: bool | None = None
    company_domain: Annotated[str | None, Field(max_length=255, pattern=r"^[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")] = None
    company_name: Annotated[str | None, Field(max_length=255)] = None
    properties: dict[str, Any] | None = None


class LeadCreate(LeadFields):
    email: Annotated[str, Field(max_length=320, examples=["ana@acme.io"])]


class LeadUpdate(LeadFields):
    pass


class AccountRef(BaseModel):
    id: str
    domain: str
    name: str | None = None


class Score(BaseModel):
    model: str
    fit: float
    grade: str
    engagement: float = Field(description="Engagement as of the lead's last event (not decayed to now).")
    as_of: datetime | None = None


class LeadOut(BaseModel):
    id: str
    email: str
    first_name: str | None = None
    last_name: str | None = None
    title: str | None = None
    seniority: str | None = None
    department: str | None = None
    phone: str | None = None
    country: str | None = None
    source: str | None = None
    medium: str | None = None
    campaign: str | None = None
    owner: str | None = None
    stage: str
    lead_status: str
    consent: bool
    unsubscribed: bool
    account: AccountRef | None = None
    score: Score | None = None
    properties: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
    updated_at: datetime


class LeadPage(BaseModel):
    items: list[LeadOut]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page; null on the last page.")


class StageChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stage: Stage
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class StatusChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: LeadStatus
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


def _view(lead: Lead, acc: Account | None, st: ScoreState | None) -> LeadOut:
    data = {c: getattr(lead, c) for c in LeadOut.model_fields if c not in ("account", "score") and hasattr(lead, c)}
    data["properties"] = lead.properties or {}
    if acc is not None:
        data["account"] = AccountRef(id=acc.id, domain=acc.domain, name=acc.name)
    if st is not None:
        data["score"] = Score(model=st.model_key, fit=st.fit, grade=st.grade, engagement=round(st.engagement, 6),
                              as_of=st.scored_at)
    return LeadOut(**data)


def _load(session: Session, who: Principal, lead_id: str) -> tuple[Lead, Account | None, ScoreState | None]:
    ws = workspace(session, who)
    row = session.execute(
        select(Lead, Account, ScoreState)
        .outerjoin(Account, Account.id == Lead.account_id)
        .outerjoin(ScoreState, and_(ScoreState.lead_id == Lead.id, ScoreState.model_key == ws.lifecycle_model))
        .where(Lead.workspace_id == who.workspace_id, Lead.id == lead_id)).first()
    if row is None:
        raise Problem(404, f"no lead {lead_id}")
    return row[0], row[1], row[2]


SORTS = {"created_at": "datetime", "updated_at": "datetime", "email": "str", "score": "float", "fit": "float"}


@router.get("", response_model=LeadPage, summary="List, filter, search and sort leads (keyset pagination)")
def list_leads(
    session: SessionDep, who: LeadsRead,
    stage: Annotated[list[Stage] | None, Query(description="One or more stages.")] = None,
    status: Annotated[list[LeadStatus] | None, Query(description="One or more lead statuses.")] = None,
    owner: Annotated[str | None, Query(max_length=200)] = None,
    grade: Annotated[list[Literal["A", "B", "C", "D"]] | None, Query()] = None,
    score_min: Annotated[float | None, Query(description="Engagement as of the last event, at least.")] = None,
    score_max: Annotated[float | None, Query()] = None,
    source: Annotated[str | None, Query(max_length=100)] = None,
    q: Annotated[str | None, Query(max_length=200, description="Search email, name, company name/domain.")] = None,
    sort: Annotated[Literal["created_at", "-created_at", "updated_at", "-updated_at", "email", "-email", "score",
                            "-score", "fit", "-fit"], Query()] = "-created_at",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> LeadPage:
    ws = workspace(session, who)
    desc = sort.startswith("-")
    key = sort.lstrip("-")
    scored = key in ("score", "fit") or grade or score_min is not None or score_max is not None
    join_score = and_(ScoreState.lead_id == Lead.id, ScoreState.model_key == ws.lifecycle_model)
    stmt = select(Lead, Account, ScoreState).outerjoin(Account, Account.id == Lead.account_id)
    stmt = stmt.join(ScoreState, join_score) if scored else stmt.outerjoin(ScoreState, join_score)
    stmt = stmt.where(Lead.workspace_id == who.workspace_id)
    if scored:
        stmt = stmt.where(ScoreState.workspace_id == who.workspace_id)
    if stage:
        stmt = stmt.where(Lead.stage.in_([s.value for s in stage]))
    if status:
        stmt = stmt.where(Lead.lead_status.in_([s.value for s in status]))
    if owner is not None:
        stmt = stmt.where(Lead.owner == owner)
    if source is not None:
        stmt = stmt.where(Lead.source == source)
    if grade:
        stmt = stmt.where(ScoreState.grade.in_(grade))
    if score_min is not None:
        stmt = stmt.where(ScoreState.engagement >= score_min)
    if score_max is not None:
        stmt = stmt.where(ScoreState.engagement <= score_max)
    if q:
        pat = like_pattern(q.strip().lower())
        stmt = stmt.where(or_(Lead.email.like(pat, escape="\\"), Lead.first_name.ilike(pat, escape="\\"),
                              Lead.last_name.ilike(pat, escape="\\"), Account.name.ilike(pat, escape="\\"),
                              Account.domain.like(pat, escape="\\")))
    col = {"created_at": Lead.created_at, "updated_at": Lead.updated_at, "email": Lead.email,
           "score": ScoreState.engagement, "fit": ScoreState.fit}[key]
    id_col = ScoreState.lead_id if key in ("score", "fit") else Lead.id
    if cursor:
        value, last_id = decode_cursor(cursor, [SORTS[key], "str"])
        if value is None:
            raise Problem(422, "invalid cursor", errors=[field_error("query.cursor", "invalid cursor")])
        cmp = tuple_(col, id_col) < tuple_(value, last_id) if desc else tuple_(col, id_col) > tuple_(value, last_id)
        stmt = stmt.where(cmp)
    stmt = stmt.order_by(col.desc(), id_col.desc()) if desc else stmt.order_by(col, id_col)
    rows = session.execute(stmt.limit(limit + 1)).all()
    items = [_view(lead, acc, st) for lead, acc, st in rows[:limit]]
    nxt = None
    if len(rows) > limit:
        lead, _acc, st = rows[limit - 1]
        value = {"score": st.engagement if st else None, "fit": st.fit if st else None}.get(key, getattr(lead, key, None))
        nxt = encode_cursor([value, lead.id])
    return LeadPage(items=items, next_cursor=nxt)


def _records(body: LeadFields, email: str) -> dict[str, Any]:
    rec = body.model_dump(exclude_unset=True, exclude_none=False)
    rec = {k: v for k, v in rec.items() if v is not None or k in ("owner",)}
    rec["email"] = email
    return rec


@router.post("", response_model=LeadOut, status_code=201, summary="Create a lead (409 if the email exists)",
             responses={409: {"description": "a lead with this email exists"}})
def create_lead(body: LeadCreate, request: Request, response: Response, session: SessionDep,
                who: LeadsWrite) -> LeadOut:
    try:
        email = normalize_email(body.email)
    except EventRejected as exc:
        raise Problem(422, exc.reason, errors=[field_error("body.email", exc.reason)]) from None
    exists = session.scalar(select(Lead.id).where(Lead.workspace_id == who.workspace_id, Lead.email == email))
    if exists:
        raise Problem(409, f"a lead with email {email} exists", errors=[field_error("body.email", "already exists")],
                      lead_id=exists)
    ids = ingestor(session, who, request.app.state.settings).upsert_leads([_records(body, email)])
    response.headers["Location"] = f"/v1/leads/{ids[email]}"
    return _view(*_load(session, who, ids[email]))


@router.get("/{lead_id}", response_model=LeadOut, summary="One lead with its account and score")
def get_lead(lead_id: str, session: SessionDep, who: LeadsRead) -> LeadOut:
    return _view(*_load(session, who, lead_id))


@router.patch("/{lead_id}", response_model=LeadOut, summary="Update a lead's attributes (re-scores its fit)")
def update_lead(lead_id: str, body: LeadUpdate, request: Request, session: SessionDep, who: LeadsWrite) -> LeadOut:
    lead, _, _ = _load(session, who, lead_id)
    ingestor(session, who, request.app.state.settings).upsert_leads([_records(body, lead.email)])
    session.expire_all()
    return _view(*_load(session, who, lead_id))


@router.post("/{lead_id}/stage", response_model=LeadOut,
             summary="Move a lead to a stage by hand, with a reason (409 if the move is not allowed)",
             responses={409: {"description": "illegal transition"}})
def change_stage(lead_id: str, body: StageChangeIn, request: Request, session: SessionDep,
                 who: LeadsStage) -> LeadOut:
    _load(session, who, lead_id)
    ingestor(session, who, request.app.state.settings).change_stage(
        lead_id, body.stage, reason=body.reason, actor_id=who.actor_id, actor=Actor.USER)
    session.expire_all()
    return _view(*_load(session, who, lead_id))


@router.post("/{lead_id}/status", response_model=LeadOut, summary="Set a lead's status (HubSpot values), with a reason")
def change_status(lead_id: str, body: StatusChangeIn, request: Request, session: SessionDep,
                  who: LeadsStage) -> LeadOut:
    lead, _, _ = _load(session, who, lead_id)
    props = {"status_reason": body.reason, "status_changed_by": who.actor_id,
             "status_changed_at": utcnow().isoformat()}
    ingestor(session, who, request.app.state.settings).upsert_leads(
        [{"email": lead.email, "lead_status": body.status.value, "properties": props}])
    session.expire_all()
    return _view(*_load(session, who, lead_id))


def _model(session: Session, who: Principal, key: str | None):  # noqa: ANN202
    ws = workspace(session, who)
    key = key or ws.lifecycle_model
    for m in active_models(session, who.workspace_id):
        if m.key == key:
            return m
    raise Problem(404, f"no active scoring model {key!r}", errors=[field_error("query.model", "not active")])


@router.get("/{lead_id}/explanation", summary="Why the lead scores what it does: fit rules, engagement rules, events")
def explanation(lead_id: str, session: SessionDep, who: LeadsRead,
                at: Annotated[datetime | None, Query(description="As of this time (default now).")] = None,
                model: Annotated[str | None, Query(max_length=64)] = None) -> dict[str, Any]:
    lead, _, _ = _load(session, who, lead_id)
    m = _model(session, who, model)
    x = scoring_svc.explain_lead(session, who.workspace_id, lead, m, as_utc(at) if at else None)
    eng = x.engagement
    return {
        "lead_id": x.lead_id, "email": x.email, "stage": x.stage, "model": x.model_ref, "at": x.at,
        "band": x.band,
        "fit": {"points": x.fit.points, "grade": x.fit.grade,
                "hits": [{"rule": h.rule_id, "field": h.field, "value": h.value, "points": h.points}
                         for h in x.fit.hits]},
        "engagement": {"score": eng.score, "raw": eng.raw, "rules": [
            {"rule": r.rule_id, "points": r.points, "total": r.total, "half_life_days": r.half_life_days,
             "window_days": r.window_days, "cap": r.cap,
             "events": [{"event_id": c.event_id, "at": from_epoch(c.t), "counted": c.counted,
                         "value_now": c.value_now, "type": x.events.get(c.event_id, {}).get("type")}
                        for c in r.contributions]}
            for r in eng.rules if r.contributions]},
        "history": x.history,
    }


@router.get("/{lead_id}/timeline", summary="Events, stage changes and score history of a lead, newest first")
def timeline(lead_id: str, session: SessionDep, who: LeadsRead,
             limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> dict[str, Any]:
    lead, _, _ = _load(session, who, lead_id)
    m = _model(session, who, None)
    events = session.scalars(select(Event).where(Event.workspace_id == who.workspace_id, Event.lead_id == lead.id)
                             .order_by(Event.occurred_at.desc(), Event.id.desc()).limit(limit)).all()
    changes = session.scalars(select(StageChange).where(StageChange.workspace_id == who.workspace_id,
                                                        StageChange.lead_id == lead.id)
                              .order_by(StageChange.at.desc(), StageChange.recorded_at.desc()).limit(limit)).all()
    times = sorted({as_utc(e.occurred_at) for e in events}) + [utcnow()]
    history = scoring_svc.score_history(session, who.workspace_id, lead.id, m, times)
    items: list[dict[str, Any]] = [
        {"kind": "event", "at": as_utc(e.occurred_at), "id": e.id, "type": e.type, "properties": e.properties,
         "flags": e.flags.split(",") if e.flags else []} for e in events]
    items += [{"kind": "stage_change", "at": as_utc(c.at), "id": c.id, "from": c.from_stage, "to": c.to_stage,
               "actor": c.actor, "actor_id": c.actor_id, "reason": c.reason, "rule": c.rule, "model": c.model_ref,
               "superseded": c.superseded_at is not None} for c in changes]
    items.sort(key=lambda i: (i["at"], i["id"]), reverse=True)
    return {"lead_id": lead.id, "model": m.ref, "items": items,
            "score_history": [{"at": t, "engagement": round(v, 6)} for t, v in history]}
