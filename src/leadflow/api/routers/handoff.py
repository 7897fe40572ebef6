"""The marketing-to-sales handoff over HTTP: team, queue, SDR/AE work, BANT, SLA checks, reports.

Refusals are problem details: 422 with the field and reason (``HandoffError``), 404 for an unknown lead or
rep, 409 for a stage move the lifecycle forbids. Every write is one transaction: refused = nothing changed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from leadflow.api.deps import Principal, SessionDep, require
from leadflow.api.problems import Problem, field_error
from leadflow.core.permissions import Action
from leadflow.core.timeutil import as_utc
from leadflow.services.handoff import HandoffError, assign, check_sla, route, work
from leadflow.services.handoff import reports as reports_svc
from leadflow.services.handoff import team as team_svc
from leadflow.store import handoff_tables as ht
from leadflow.store.tables import Lead

router = APIRouter(prefix="/v1/handoff", tags=["handoff"])

Work = Annotated[Principal, Depends(require(Action.HANDOFF_WORK))]
Manage = Annotated[Principal, Depends(require(Action.TEAM_MANAGE))]
Analytics = Annotated[Principal, Depends(require(Action.ANALYTICS_READ))]
T = TypeVar("T")
Short = Annotated[str, Field(min_length=1, max_length=200)]
Note = Annotated[str | None, Field(max_length=5000)]


def _do(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except HandoffError as exc:
        raise Problem(422, str(exc), errors=[field_error(exc.field, exc.reason)]) from None


def _lead_id(session, who: Principal, ref: str) -> str:  # noqa: ANN001
    return work.find_lead(session, who.workspace_id, ref).id


def _assignment(a: ht.Assignment) -> dict[str, Any]:
    return {"id": a.id, "lead_id": a.lead_id, "rep": a.rep_key, "role": a.role, "stage": a.stage, "method": a.method,
            "territory": a.territory, "segment": a.segment, "explanation": a.explanation, "recycled": a.recycled,
            "open": a.open_lead_id is not None, "assigned_at": _iso(a.assigned_at),
            "first_touch_due": _iso(a.first_touch_due), "decision_due": _iso(a.decision_due),
            "first_touch_at": _iso(a.first_touch_at), "decided_at": _iso(a.decided_at), "decision": a.decision}


def _iso(d: datetime | None) -> str | None:
    return as_utc(d).isoformat() if d else None


# ------------------------------------------------------------------------------------------------- team
class RepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
    name: Short
    role: Literal["sdr", "ae"] = "sdr"
    email: Annotated[str | None, Field(max_length=320)] = None
    weight: Annotated[int, Field(ge=1, le=100)] = 1
    capacity: Annotated[int, Field(ge=0, le=10000)] = 25
    timezone: Annotated[str, Field(max_length=64)] = "UTC"
    work_days: Annotated[str, Field(max_length=40)] = "mon-fri"
    work_start: Annotated[str, Field(pattern=r"^\d{2}:\d{2}$")] = "09:00"
    work_end: Annotated[str, Field(pattern=r"^\d{2}:\d{2}$")] = "17:00"
    country: Annotated[str | None, Field(max_length=100)] = None
    territories: Annotated[list[str], Field(max_length=50)] = []
    named_accounts: Annotated[list[str], Field(max_length=5000)] = []
    team_lead: Annotated[str | None, Field(max_length=200)] = None


class RepPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Short | None = None
    email: Annotated[str | None, Field(max_length=320)] = None
    weight: Annotated[int | None, Field(ge=1, le=100)] = None
    capacity: Annotated[int | None, Field(ge=0, le=10000)] = None
    timezone: Annotated[str | None, Field(max_length=64)] = None
    work_days: Annotated[str | None, Field(max_length=40)] = None
    work_start: Annotated[str | None, Field(pattern=r"^\d{2}:\d{2}$")] = None
    work_end: Annotated[str | None, Field(pattern=r"^\d{2}:\d{2}$")] = None
    country: Annotated[str | None, Field(max_length=100)] = None
    territories: Annotated[list[str] | None, Field(max_length=50)] = None
    named_accounts: Annotated[list[str] | None, Field(max_length=5000)] = None
    team_lead: Annotated[str | None, Field(max_length=200)] = None
    active: bool | None = None


class AwayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    starts_at: datetime
    ends_at: datetime
    reason: Annotated[str, Field(max_length=200)] = ""


class TerritoryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
    name: Annotated[str, Field(max_length=200)] = ""
    countries: Annotated[list[str], Field(max_length=300)] = []
    segments: Annotated[list[str], Field(max_length=20)] = []
    min_employees: Annotated[int | None, Field(ge=0, le=10_000_000)] = None
    max_employees: Annotated[int | None, Field(ge=1, le=10_000_000)] = None
    priority: Annotated[int, Field(ge=0, le=100000)] = 100


@router.get("/reps", summary="The team: reps with open leads, absences, territories")
def list_reps(session: SessionDep, who: Work) -> dict[str, Any]:
    return {"reps": team_svc.list_reps(session, who.workspace_id)}


@router.post("/reps", status_code=201, summary="Add a rep")
def add_rep(body: RepIn, session: SessionDep, who: Manage) -> dict[str, Any]:
    row = _do(lambda: team_svc.add_rep(session, who.workspace_id, body.model_dump()))
    return {"key": row.key, "id": row.id}


@router.patch("/reps/{key}", summary="Change a rep (weight, capacity, hours, territories, active, ...)")
def patch_rep(key: str, body: RepPatch, session: SessionDep, who: Manage) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    row = _do(lambda: team_svc.update_rep(session, who.workspace_id, key, changes))
    return {"key": row.key, "active": row.active, "weight": row.weight, "capacity": row.capacity}


@router.post("/reps/{key}/away", status_code=201, summary="Add an out-of-office period")
def rep_away(key: str, body: AwayIn, session: SessionDep, who: Manage) -> dict[str, Any]:
    a = _do(lambda: team_svc.set_away(session, who.workspace_id, key, body.starts_at, body.ends_at, body.reason))
    return {"id": a.id, "starts_at": _iso(a.starts_at), "ends_at": _iso(a.ends_at)}


@router.get("/territories", summary="Territories (routing rules) by priority")
def territories(session: SessionDep, who: Work) -> dict[str, Any]:
    return {"territories": [{"key": t.key, "name": t.name, "countries": t.countries, "segments": t.segments,
                             "min_employees": t.min_employees, "max_employees": t.max_employees,
                             "priority": t.priority} for t in team_svc.list_territories(session, who.workspace_id)]}


@router.put("/territories", summary="Add or replace a territory")
def put_territory(body: TerritoryIn, session: SessionDep, who: Manage) -> dict[str, Any]:
    row = _do(lambda: team_svc.add_territory(session, who.workspace_id, body.model_dump()))
    return {"key": row.key}


@router.get("/config", summary="Handoff settings: SLA policies by segment, SQL rule, segments, nurture delays")
def get_config(session: SessionDep, who: Work) -> dict[str, Any]:
    return team_svc.get_config(session, who.workspace_id)


@router.patch("/config", summary="Change handoff settings (validated whole)")
def patch_config(body: dict[str, Any], session: SessionDep, who: Manage) -> dict[str, Any]:
    return _do(lambda: team_svc.set_config(session, who.workspace_id, body))


# ------------------------------------------------------------------------------------------ queue / routing
@router.get("/queue", summary="Open leads of a rep (or the unassigned queue), by SLA due time")
def queue(session: SessionDep, who: Work, rep: Annotated[str | None, Query(max_length=64)] = None,
          unassigned: bool = False, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict[str, Any]:
    A = ht.Assignment
    q = select(A, Lead.email, Lead.stage, Lead.lead_status).join(Lead, Lead.id == A.lead_id).where(
        A.workspace_id == who.workspace_id, A.open_lead_id.is_not(None))
    if unassigned:
        q = q.where(A.rep_key.is_(None))
    elif rep:
        q = q.where(A.rep_key == rep)
    rows = session.execute(q.order_by(A.decision_due.is_(None), A.decision_due, A.first_touch_due, A.assigned_at)
                           .limit(limit)).all()
    return {"items": [{**_assignment(a), "email": email, "lead_stage": stage, "lead_status": status}
                      for a, email, stage, status in rows]}


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rep: Annotated[str | None, Field(max_length=64)] = None  # None: route by the rules


@router.post("/leads/{lead}/assign", summary="Route a lead by the rules, or assign it to a rep by hand")
def assign_lead(lead: str, body: AssignIn, session: SessionDep, who: Manage) -> dict[str, Any]:
    lid = _lead_id(session, who, lead)
    if body.rep:
        res = _do(lambda: assign(session, who.workspace_id, lid, body.rep, by=who.actor_id))
    else:
        res = _do(lambda: route(session, who.workspace_id, lid))
    return {"created": res.created, **_assignment(res.assignment)}


@router.get("/leads/{lead}", summary="A lead's handoff: assignments, touches, status history, BANT, decisions")
def lead_handoff(lead: str, session: SessionDep, who: Work) -> dict[str, Any]:
    lid = _lead_id(session, who, lead)
    ws = who.workspace_id

    def rows(model, order):  # noqa: ANN001, ANN202
        return session.scalars(select(model).where(model.workspace_id == ws, model.lead_id == lid).order_by(order))

    rec = work.bant_record(session, ws, lid)
    return {
        "assignments": [_assignment(a) for a in rows(ht.Assignment, ht.Assignment.assigned_at)],
        "touches": [{"rep": t.rep_key, "kind": t.kind, "outcome": t.outcome, "note": t.note, "at": _iso(t.at)}
                    for t in rows(ht.Touch, ht.Touch.at)],
        "status_history": [{"from": c.from_status, "to": c.to_status, "at": _iso(c.at), "by": c.actor_id,
                            "reason": c.reason} for c in rows(ht.StatusChange, ht.StatusChange.at)],
        "bant": {c.value: {"state": r.state.value, "details": dict(r.details), "by": r.recorded_by, "at": r.recorded_at}
                 for c, r in rec.criteria.items()},
        "bant_history": [{"criterion": b.criterion, "state": b.state, "details": b.details, "by": b.recorded_by,
                          "at": _iso(b.recorded_at)} for b in rows(ht.BantEntry, ht.BantEntry.recorded_at)],
        "decisions": [{"decision": d.decision, "reason": d.reason_code, "disposition": d.disposition, "rep": d.rep_key,
                       "note": d.note, "at": _iso(d.at)} for d in rows(ht.Decision, ht.Decision.at)],
        "nurture": [{"source": n.source, "reason": n.reason_code, "entered_at": _iso(n.entered_at),
                     "reengage_at": _iso(n.reengage_at), "ended": n.ended_reason}
                    for n in rows(ht.NurtureTrack, ht.NurtureTrack.entered_at)],
        "opportunities": [{"id": o.id, "rep": o.rep_key, "amount": o.amount, "currency": o.currency,
                           "expected_close": _iso(o.expected_close), "status": o.status, "lost_reason": o.lost_reason}
                          for o in rows(ht.Opportunity, ht.Opportunity.opened_at)],
    }


# -------------------------------------------------------------------------------------------- SDR work
class AttemptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["call", "email", "linkedin", "sms", "meeting"] = "call"
    outcome: Literal["no_answer", "voicemail", "sent", "bounced", "connected", "replied", "meeting_booked"] = "no_answer"
    note: Note = None
    rep: Annotated[str | None, Field(max_length=64)] = None
    at: datetime | None = None


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["new", "attempting_to_contact", "connected", "in_progress"]
    reason: Annotated[str, Field(max_length=2000)] = ""
    rep: Annotated[str | None, Field(max_length=64)] = None


class AcceptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: Note = None
    rep: Annotated[str | None, Field(max_length=64)] = None


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(min_length=1, max_length=40)]
    disposition: Literal["nurture", "disqualified"] | None = None
    reengage_at: datetime | None = None
    note: Note = None
    rep: Annotated[str | None, Field(max_length=64)] = None


class BantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    criterion: Literal["budget", "authority", "need", "timeline"]
    state: Literal["met", "not_met", "unknown"]
    details: Annotated[dict[str, Any], Field(max_length=10)] = {}


class EvaluateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    on_fail: Literal["nurture", "disqualified"] = "nurture"
    reengage_at: datetime | None = None


class OpportunityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: Annotated[float | None, Field(ge=0, le=1e13)] = None
    currency: Annotated[str | None, Field(pattern=r"^[A-Za-z]{3}$")] = None
    expected_close: datetime | None = None
    name: Annotated[str | None, Field(max_length=200)] = None
    rep: Annotated[str | None, Field(max_length=64)] = None


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    result: Literal["won", "lost"]
    amount: Annotated[float | None, Field(ge=0, le=1e13)] = None
    reason: Annotated[str | None, Field(max_length=2000)] = None


@router.post("/leads/{lead}/attempts", status_code=201, summary="Log a contact attempt (stops the first-touch clock)")
def attempt(lead: str, body: AttemptIn, session: SessionDep, who: Work) -> dict[str, Any]:
    lid = _lead_id(session, who, lead)
    t = _do(lambda: work.log_attempt(session, who.workspace_id, lid, kind=body.kind, outcome=body.outcome,
                                     note=body.note, rep=body.rep, at=body.at))
    return {"id": t.id, "at": _iso(t.at)}


@router.post("/leads/{lead}/status", summary="Move the lead status (new -> attempting -> connected -> in progress)")
def status(lead: str, body: StatusIn, session: SessionDep, who: Work) -> dict[str, Any]:
    lid = _lead_id(session, who, lead)
    row = _do(lambda: work.change_status(session, who.workspace_id, lid, body.status, rep=body.rep,
                                         reason=body.reason))
    return {"lead_status": row.lead_status}


@router.post("/leads/{lead}/accept", summary="SDR accepts the MQL (SAL)")
def accept(lead: str, body: AcceptIn, session: SessionDep, who: Work) -> dict[str, Any]:
    lid = _lead_id(session, who, lead)
    d = _do(lambda: work.accept(session, who.workspace_id, lid, rep=body.rep, note=body.note))
    return {"decision": d.decision, "stage": "sal"}


@router.post("/leads/{lead}/reject", summary="Reject with a reason code (-> nurture with a re-engage date, or disqualified)")
def reject(lead: str, body: RejectIn, session: SessionDep, who: Work) -> dict[str, Any]:
    lid = _lead_id(session, who, lead)
    d = _do(lambda: work.reject(session, who.workspace_id, lid, body.reason, rep=body.rep,
                                disposition=body.disposition, reengage_at=body.reengage_at, note=body.note))
    return {"decision": d.decision, "reason": d.reason_code, "disposition": d.disposition}


@router.post("/leads/{lead}/bant", status_code=201, summary="Record one BANT criterion (history is kept)")
def bant(lead: str, body: BantIn, session: SessionDep, who: Work) -> dict[str, Any]:
    lid = _lead_id(session, who, lead)
    row = _do(lambda: work.record_bant(session, who.workspace_id, lid, body.criterion, body.state, body.details,
                                       by=who.actor_id))
    return {"id": row.id, "criterion": row.criterion, "state": row.state, "details": row.details}


@router.post("/leads/{lead}/bant/evaluate", summary="Apply the SQL rule: pass -> SQL (routed to an AE), fail -> nurture")
def evaluate(lead: str, body: EvaluateIn, session: SessionDep, who: Work) -> dict[str, Any]:
    lid = _lead_id(session, who, lead)
    verdict, outcome = _do(lambda: work.evaluate_bant(session, who.workspace_id, lid, on_fail=body.on_fail,
                                                      reengage_at=body.reengage_at))
    return {"passed": verdict.passed, "outcome": outcome, "explanation": verdict.explanation}


@router.post("/leads/{lead}/opportunity", status_code=201, summary="AE accepts the SQL: an opportunity opens")
def opportunity(lead: str, body: OpportunityIn, session: SessionDep, who: Work) -> dict[str, Any]:
    lid = _lead_id(session, who, lead)
    o = _do(lambda: work.ae_accept(session, who.workspace_id, lid, amount=body.amount, currency=body.currency,
                                   expected_close=body.expected_close, name=body.name, rep=body.rep))
    return {"id": o.id, "status": o.status, "amount": o.amount, "currency": o.currency}


@router.post("/leads/{lead}/close", summary="Won -> customer, lost -> nurture (through the outcome write path)")
def close(lead: str, body: CloseIn, session: SessionDep, who: Work) -> dict[str, Any]:
    if not who.allows(Action.OUTCOMES_WRITE):
        raise Problem(403, f"{who.actor_id} may not {Action.OUTCOMES_WRITE.value}")
    lid = _lead_id(session, who, lead)
    o = _do(lambda: work.close_opportunity(session, who.workspace_id, lid, body.result, amount=body.amount,
                                           reason=body.reason))
    return {"id": o.id, "status": o.status}


# ----------------------------------------------------------------------------------------- SLA / reports
@router.post("/sla/check", summary="Find SLA breaches (sla.breached, escalation, reassignment) and route the queue")
def sla_check(session: SessionDep, who: Manage) -> dict[str, Any]:
    r = check_sla(session, who.workspace_id)
    return {"breaches": r.breaches, "reassigned": r.reassigned, "queue_assigned": r.queue_assigned}


@router.get("/reports", summary="Speed-to-lead, SLA compliance, rejections, distribution vs weights, SQL rate, recycled")
def reports(session: SessionDep, who: Analytics, since: datetime | None = None,
            until: datetime | None = None) -> dict[str, Any]:
    return reports_svc.full_report(session, who.workspace_id, since, until)
