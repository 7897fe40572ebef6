"""The SDR / AE work on a lead: attempts, status, accept (SAL) or reject, BANT, opportunity, won / lost.

Every stage move goes through the one write path, :meth:`Ingestor.change_stage` (forbidden moves raise
:class:`~leadflow.core.lifecycle.IllegalTransition`) and :meth:`Ingestor.record_outcomes`. Each function
validates everything *before* writing, so a refused request changes nothing; the caller's unit of work
(one transaction) holds the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadflow.core.handoff.bant import (
    BantRecord,
    Criterion,
    CriterionRecord,
    CriterionState,
    Verdict,
    evaluate,
    validate_details,
)
from leadflow.core.handoff.team import TeamError
from leadflow.core.handoff.workflow import (
    CONNECTING_OUTCOMES,
    REASONS,
    WORKABLE,
    Disposition,
    IllegalStatus,
    RejectReason,
    TouchKind,
    TouchOutcome,
    check_status,
    parse_reason,
    plan_rejection,
)
from leadflow.core.lifecycle import Actor, IllegalTransition, LeadStatus, Stage, check_transition
from leadflow.core.timeutil import as_utc, utcnow
from leadflow.services.handoff.common import (
    HandoffError,
    NotFound,
    close_assignment,
    get_lead,
    load_config,
    now_or,
    open_assignment,
    set_status,
    workspace_of,
    ws_id_of,
)
from leadflow.services.ingest import Ingestor
from leadflow.store import handoff_tables as ht
from leadflow.store.tables import Lead, Workspace

__all__ = ["IllegalStatus", "IllegalTransition"]


def _enum(cls, value: Any, field: str):  # noqa: ANN001, ANN202
    try:
        return cls(str(value).strip().lower())
    except ValueError:
        raise HandoffError(field, f"unknown value {value!r} (known: {', '.join(m.value for m in cls)})") from None


def _acting_rep(a: ht.Assignment | None, rep: str | None, lead: Lead) -> str | None:
    return rep or (a.rep_key if a is not None else None) or lead.owner


def _check_owner(a: ht.Assignment | None, rep: str | None, role: str | None = None) -> ht.Assignment:
    if a is None or a.rep_key is None:
        raise HandoffError("lead", "has no open assignment to a rep (route or assign it first)")
    if role is not None and a.role != role:
        raise HandoffError("lead", f"is assigned to an {a.role.upper()}, not an {role.upper()}")
    if rep is not None and rep != a.rep_key:
        raise HandoffError("rep", f"the lead is assigned to {a.rep_key}, not {rep}")
    return a


def _move(session: Session, ws: Workspace, lead_id: str, to: Stage, reason: str, actor_id: str | None,
          at: datetime) -> None:
    Ingestor(session, ws).change_stage(lead_id, to, reason=reason, actor_id=actor_id, actor=Actor.USER, at=at)


# ------------------------------------------------------------------------------------- attempts / status
def log_attempt(session: Session, workspace: Workspace | str, lead_id: str, *, kind: str = "call",
                outcome: str = "no_answer", note: str | None = None, rep: str | None = None,
                at: datetime | None = None) -> ht.Touch:
    """Log a contact attempt; the first one stops the first-touch clock and moves the status on."""
    ws_id = ws_id_of(workspace)
    at = now_or(at)
    k = _enum(TouchKind, kind, "kind")
    o = _enum(TouchOutcome, outcome, "outcome")
    if note is not None and len(note) > 5000:
        raise HandoffError("note", "at most 5000 characters")
    lead = get_lead(session, ws_id, lead_id)
    if lead.stage not in (Stage.MQL.value, Stage.SAL.value, Stage.SQL.value):
        raise HandoffError("lead.stage", f"attempts are logged on MQL, SAL or SQL leads; this lead is {lead.stage}")
    a = _check_owner(open_assignment(session, ws_id, lead_id), rep)
    if at < as_utc(a.assigned_at) - timedelta(seconds=1):
        raise HandoffError("at", "an attempt cannot precede the assignment")
    t = ht.Touch(workspace_id=ws_id, lead_id=lead_id, assignment_id=a.id, rep_key=a.rep_key, kind=k.value,
                 outcome=o.value, note=note, at=at, recorded_at=utcnow())
    session.add(t)
    if a.first_touch_at is None:
        a.first_touch_at = at
    cur = lead.lead_status
    if o in CONNECTING_OUTCOMES and cur in (LeadStatus.NEW.value, LeadStatus.ATTEMPTING_TO_CONTACT.value):
        set_status(session, ws_id, lead, LeadStatus.CONNECTED, at, a.rep_key, f"{k.value}: {o.value}")
    elif cur == LeadStatus.NEW.value:
        set_status(session, ws_id, lead, LeadStatus.ATTEMPTING_TO_CONTACT, at, a.rep_key, f"{k.value}: {o.value}")
    session.flush()
    return t


def change_status(session: Session, workspace: Workspace | str, lead_id: str, status: str, *, rep: str | None = None,
                  reason: str = "", at: datetime | None = None) -> Lead:
    """A rep moves the lead status (new -> attempting -> connected -> in progress); other moves are refused."""
    ws_id = ws_id_of(workspace)
    at = now_or(at)
    to = _enum(LeadStatus, status, "status")
    lead = get_lead(session, ws_id, lead_id)
    a = _check_owner(open_assignment(session, ws_id, lead_id), rep)
    try:
        check_status(lead.lead_status, to)
    except IllegalStatus as exc:
        raise HandoffError("status", str(exc)) from None
    set_status(session, ws_id, lead, to, at, a.rep_key, reason or "status changed by the rep")
    session.flush()
    return lead


# ----------------------------------------------------------------------------------- accept / reject
def accept(session: Session, workspace: Workspace | str, lead_id: str, *, rep: str | None = None,
           note: str | None = None, at: datetime | None = None) -> ht.Decision:
    """The SDR accepts the MQL: SAL."""
    ws = workspace_of(session, workspace)
    at = now_or(at)
    lead = get_lead(session, ws.id, lead_id)
    a = _check_owner(open_assignment(session, ws.id, lead_id), rep, "sdr")
    check_transition(Stage(lead.stage), Stage.SAL)
    if lead.lead_status not in {s.value for s in WORKABLE}:
        raise HandoffError("status", f"a lead in status {lead.lead_status} cannot be accepted")
    _move(session, ws, lead_id, Stage.SAL, f"accepted by {a.rep_key}" + (f": {note}" if note else ""), a.rep_key, at)
    a.decided_at, a.decision = at, "accepted"
    d = ht.Decision(workspace_id=ws.id, lead_id=lead_id, assignment_id=a.id, rep_key=a.rep_key, role=a.role,
                    decision="accepted", note=note, recycled=a.recycled, at=at)
    session.add(d)
    lead = get_lead(session, ws.id, lead_id)
    set_status(session, ws.id, lead, LeadStatus.IN_PROGRESS, at, a.rep_key, "accepted (SAL)")
    session.flush()
    return d


def reject(session: Session, workspace: Workspace | str, lead_id: str, reason: str, *, rep: str | None = None,
           disposition: str | None = None, reengage_at: datetime | None = None, note: str | None = None,
           at: datetime | None = None) -> ht.Decision:
    """The SDR (or AE) rejects the lead with a reason code: back to marketing as nurture or disqualified."""
    ws = workspace_of(session, workspace)
    at = now_or(at)
    try:
        code = parse_reason(reason)
        disp = _enum(Disposition, disposition, "disposition") if disposition else None
        plan = plan_rejection(code, at, disposition=disp, reengage_at=as_utc(reengage_at) if reengage_at else None)
    except ValueError as exc:
        if isinstance(exc, HandoffError):
            raise
        field, _, why = str(exc).partition(": ")
        raise HandoffError(field, why) from None
    if code == RejectReason.OTHER and not (note or "").strip():
        raise HandoffError("note", "a rejection with reason 'other' needs a note")
    lead = get_lead(session, ws.id, lead_id)
    a = _check_owner(open_assignment(session, ws.id, lead_id), rep)
    check_transition(Stage(lead.stage), plan.to_stage)
    label = REASONS[code].label
    why = f"rejected by {a.rep_key}: {label}" + (f" ({note})" if note else "") + f" -> {plan.disposition.value}"
    # the nurture track first, so the exit handler sees it and does not open a second one
    if plan.to_stage == Stage.NURTURE:
        session.add(ht.NurtureTrack(workspace_id=ws.id, lead_id=lead_id, source="rejected", reason_code=code.value,
                                    note=note, entered_at=at, reengage_at=plan.reengage_at))
    d = ht.Decision(workspace_id=ws.id, lead_id=lead_id, assignment_id=a.id, rep_key=a.rep_key, role=a.role,
                    decision="rejected", reason_code=code.value, disposition=plan.disposition.value, note=note,
                    recycled=a.recycled, at=at)
    session.add(d)
    a.decided_at, a.decision = a.decided_at or at, "rejected"
    close_assignment(a, at, why)
    session.flush()
    _move(session, ws, lead_id, plan.to_stage, why, a.rep_key, at)
    lead = get_lead(session, ws.id, lead_id)
    set_status(session, ws.id, lead, plan.to_status, at, a.rep_key, why)
    session.flush()
    return d


# ------------------------------------------------------------------------------------------------ BANT
def record_bant(session: Session, workspace: Workspace | str, lead_id: str, criterion: str, state: str,
                details: Mapping[str, Any] | None = None, *, by: str | None = None,
                at: datetime | None = None) -> ht.BantEntry:
    """Record one BANT criterion (a new version; the history keeps the old ones). Lead must be MQL or SAL."""
    ws_id = ws_id_of(workspace)
    at = now_or(at)
    c = _enum(Criterion, criterion, "criterion")
    s = _enum(CriterionState, state, "state")
    try:
        clean = validate_details(c, details or {})
    except TeamError as exc:
        raise HandoffError(exc.field, exc.reason) from None
    lead = get_lead(session, ws_id, lead_id)
    if lead.stage not in (Stage.MQL.value, Stage.SAL.value):
        raise HandoffError("lead.stage", f"BANT is recorded on MQL or SAL leads; this lead is {lead.stage}")
    a = open_assignment(session, ws_id, lead_id)
    row = ht.BantEntry(workspace_id=ws_id, lead_id=lead_id, criterion=c.value, state=s.value, details=clean,
                       recorded_by=by or (a.rep_key if a else None), recorded_at=at)
    session.add(row)
    session.flush()
    return row


def bant_record(session: Session, workspace_id: str, lead_id: str) -> BantRecord:
    latest: dict[Criterion, CriterionRecord] = {}
    for r in session.scalars(select(ht.BantEntry).where(ht.BantEntry.workspace_id == workspace_id,
                                                        ht.BantEntry.lead_id == lead_id)
                             .order_by(ht.BantEntry.recorded_at, ht.BantEntry.id)):
        latest[Criterion(r.criterion)] = CriterionRecord(Criterion(r.criterion), CriterionState(r.state), r.details,
                                                         r.recorded_by, r.recorded_at.isoformat())
    return BantRecord({c: latest.get(c, CriterionRecord(c)) for c in Criterion})


def bant_history(session: Session, workspace_id: str, lead_id: str) -> list[ht.BantEntry]:
    return list(session.scalars(select(ht.BantEntry).where(ht.BantEntry.workspace_id == workspace_id,
                                                           ht.BantEntry.lead_id == lead_id)
                                .order_by(ht.BantEntry.recorded_at, ht.BantEntry.id)))


def evaluate_bant(session: Session, workspace: Workspace | str, lead_id: str, *, by: str | None = None,
                  on_fail: str = "nurture", reengage_at: datetime | None = None,
                  at: datetime | None = None) -> tuple[Verdict, str]:
    """Apply the workspace's SQL rule: pass -> SQL (routed to an AE); fail -> nurture (re-engage date) or
    disqualified. Returns the verdict and where the lead went."""
    ws = workspace_of(session, workspace)
    at = now_or(at)
    fail_to = _enum(Disposition, on_fail, "on_fail")
    lead = get_lead(session, ws.id, lead_id)
    if lead.stage not in (Stage.MQL.value, Stage.SAL.value):
        raise HandoffError("lead.stage", f"BANT is evaluated on MQL or SAL leads; this lead is {lead.stage}")
    a = _check_owner(open_assignment(session, ws.id, lead_id), None, "sdr")
    cfg = load_config(session, ws.id)
    verdict = evaluate(bant_record(session, ws.id, lead_id), cfg.sql_rule)
    actor = by or a.rep_key
    if verdict.passed:
        outcome = Stage.SQL.value
        a.decided_at = a.decided_at or at
        a.decision = a.decision or "accepted"
        session.add(ht.BantEvaluation(workspace_id=ws.id, lead_id=lead_id, rule=cfg.sql_rule.to_dict(), passed=True,
                                      explanation=verdict.explanation, outcome=outcome, rep_key=actor, at=at))
        session.flush()
        _move(session, ws, lead_id, Stage.SQL, verdict.explanation, actor, at)  # lead.sql -> routed to an AE
        return verdict, outcome
    if reengage_at is not None and fail_to != Disposition.NURTURE:
        raise HandoffError("reengage_at", "only a nurture disposition has a re-engage date")
    if reengage_at is not None and as_utc(reengage_at) <= at:
        raise HandoffError("reengage_at", "must be in the future")
    to = Stage.NURTURE if fail_to == Disposition.NURTURE else Stage.DISQUALIFIED
    check_transition(Stage(lead.stage), to)
    days = int(cfg.nurture_days.get("bant_failed", 90))
    if to == Stage.NURTURE:
        session.add(ht.NurtureTrack(workspace_id=ws.id, lead_id=lead_id, source="bant_failed", reason_code=None,
                                    note=verdict.explanation, entered_at=at,
                                    reengage_at=as_utc(reengage_at) if reengage_at else at + timedelta(days=days)))
    session.add(ht.BantEvaluation(workspace_id=ws.id, lead_id=lead_id, rule=cfg.sql_rule.to_dict(), passed=False,
                                  explanation=verdict.explanation, outcome=to.value, rep_key=actor, at=at))
    a.decided_at = a.decided_at or at
    a.decision = a.decision or "rejected"
    close_assignment(a, at, f"BANT failed -> {to.value}")
    session.flush()
    _move(session, ws, lead_id, to, verdict.explanation, actor, at)
    lead = get_lead(session, ws.id, lead_id)
    set_status(session, ws.id, lead, LeadStatus.UNQUALIFIED if to == Stage.DISQUALIFIED else LeadStatus.BAD_TIMING,
               at, actor, verdict.explanation)
    session.flush()
    return verdict, to.value


# ---------------------------------------------------------------------------------- AE: opportunities
def ae_accept(session: Session, workspace: Workspace | str, lead_id: str, *, amount: float | None = None,
              currency: str | None = None, expected_close: datetime | None = None, name: str | None = None,
              rep: str | None = None, at: datetime | None = None) -> ht.Opportunity:
    """The AE accepts the SQL: an opportunity opens (amount, expected close)."""
    ws = workspace_of(session, workspace)
    at = now_or(at)
    if amount is not None and (not isinstance(amount, int | float) or isinstance(amount, bool) or amount < 0
                               or amount != amount or amount == float("inf")):
        raise HandoffError("amount", "must be a finite number >= 0")
    if currency is not None and not (len(currency) == 3 and currency.isalpha()):
        raise HandoffError("currency", "must be a 3-letter code like EUR")
    if expected_close is not None and as_utc(expected_close) < at - timedelta(days=1):
        raise HandoffError("expected_close", "must not be in the past")
    lead = get_lead(session, ws.id, lead_id)
    a = _check_owner(open_assignment(session, ws.id, lead_id), rep, "ae")
    check_transition(Stage(lead.stage), Stage.OPPORTUNITY)
    opp = ht.Opportunity(workspace_id=ws.id, lead_id=lead_id, rep_key=a.rep_key, name=(name or lead.email)[:200],
                         amount=float(amount) if amount is not None else None,
                         currency=currency.upper() if currency else None,
                         expected_close=as_utc(expected_close) if expected_close else None, status="open", opened_at=at)
    session.add(opp)
    a.decided_at, a.decision = a.decided_at or at, "accepted"
    close_assignment(a, at, "opportunity opened")
    session.flush()
    amount_txt = f" {opp.amount:,.0f} {opp.currency or ''}".rstrip() if opp.amount is not None else ""
    _move(session, ws, lead_id, Stage.OPPORTUNITY, f"accepted by AE {a.rep_key}: opportunity{amount_txt}", a.rep_key, at)
    lead = get_lead(session, ws.id, lead_id)
    set_status(session, ws.id, lead, LeadStatus.OPEN_DEAL, at, a.rep_key, "opportunity opened")
    session.add(ht.Decision(workspace_id=ws.id, lead_id=lead_id, assignment_id=a.id, rep_key=a.rep_key, role="ae",
                            decision="accepted", recycled=a.recycled, at=at))
    session.flush()
    return opp


def close_opportunity(session: Session, workspace: Workspace | str, lead_id: str, result: str, *,
                      amount: float | None = None, reason: str | None = None,
                      at: datetime | None = None) -> ht.Opportunity:
    """Won -> customer, lost -> nurture (with the reason), through ``Ingestor.record_outcomes``."""
    ws = workspace_of(session, workspace)
    at = now_or(at)
    result = str(result).strip().lower()
    if result not in ("won", "lost"):
        raise HandoffError("result", f"must be won or lost, got {result!r}")
    if result == "lost" and not (reason or "").strip():
        raise HandoffError("reason", "a lost opportunity needs a reason")
    lead = get_lead(session, ws.id, lead_id)
    opp = session.scalar(select(ht.Opportunity).where(ht.Opportunity.workspace_id == ws.id,
                                                      ht.Opportunity.lead_id == lead_id,
                                                      ht.Opportunity.status == "open"))
    if opp is None or lead.stage != Stage.OPPORTUNITY.value:
        raise HandoffError("lead", f"has no open opportunity (stage {lead.stage})")
    Ingestor(session, ws).record_outcomes([{"email": lead.email, "result": result,
                                            "amount": amount if amount is not None else opp.amount,
                                            "currency": opp.currency, "closed_at": at, "reason": reason}])
    session.flush()
    session.refresh(opp)
    return opp


# ----------------------------------------------------------------------------- reactions (subscriber)
def on_requalified(session: Session, workspace_id: str, lead_id: str, at: datetime, data: Mapping[str, Any]) -> bool:
    """A lead reached MQL: if it came back from nurture, end its nurture track. Returns whether recycled."""
    tracks = list(session.scalars(select(ht.NurtureTrack).where(
        ht.NurtureTrack.workspace_id == workspace_id, ht.NurtureTrack.lead_id == lead_id,
        ht.NurtureTrack.ended_at.is_(None))))
    for t in tracks:
        t.ended_at, t.ended_reason = at, "requalified"
    return data.get("from") == Stage.NURTURE.value or bool(tracks)


def on_exit(session: Session, workspace_id: str, lead_id: str, at: datetime, data: Mapping[str, Any]) -> None:
    """A lead left the sales funnel (nurture, disqualified, customer): close its open assignment."""
    a = open_assignment(session, workspace_id, lead_id)
    if a is not None:
        close_assignment(a, at, f"lead moved to {data.get('to')} ({data.get('reason') or 'no reason'})")
    if data.get("to") == Stage.DISQUALIFIED.value:
        for t in session.scalars(select(ht.NurtureTrack).where(
                ht.NurtureTrack.workspace_id == workspace_id, ht.NurtureTrack.lead_id == lead_id,
                ht.NurtureTrack.ended_at.is_(None))):
            t.ended_at, t.ended_reason = at, "disqualified"


def on_outcome(session: Session, workspace_id: str, lead_id: str, at: datetime, data: Mapping[str, Any]) -> None:
    """Close the lead's open opportunity with the outcome; a loss opens a nurture track (closed loop)."""
    opp = session.scalar(select(ht.Opportunity).where(ht.Opportunity.workspace_id == workspace_id,
                                                      ht.Opportunity.lead_id == lead_id,
                                                      ht.Opportunity.status == "open"))
    result = data.get("result")
    if opp is not None:
        opp.status, opp.closed_at, opp.outcome_id = result, at, data.get("outcome_id")
        if data.get("amount") is not None:
            opp.amount = data["amount"]
        if result == "lost":
            opp.lost_reason = data.get("reason")
    if result == "lost":
        cfg = load_config(session, workspace_id)
        open_track = session.scalar(select(ht.NurtureTrack.id).where(
            ht.NurtureTrack.workspace_id == workspace_id, ht.NurtureTrack.lead_id == lead_id,
            ht.NurtureTrack.ended_at.is_(None)))
        if open_track is None:
            session.add(ht.NurtureTrack(workspace_id=workspace_id, lead_id=lead_id, source="lost", reason_code=None,
                                        note=data.get("reason"), entered_at=at,
                                        reengage_at=at + timedelta(days=int(cfg.nurture_days.get("lost", 180)))))
    session.flush()


def nurture_due(session: Session, workspace_id: str, at: datetime | None = None) -> list[ht.NurtureTrack]:
    """Open nurture tracks whose re-engage date has come (marketing's list)."""
    at = now_or(at)
    return list(session.scalars(select(ht.NurtureTrack).where(
        ht.NurtureTrack.workspace_id == workspace_id, ht.NurtureTrack.ended_at.is_(None),
        ht.NurtureTrack.reengage_at <= at).order_by(ht.NurtureTrack.reengage_at)))


def find_lead(session: Session, workspace_id: str, ref: str) -> Lead:
    """A lead by id or email."""
    q = select(Lead).where(Lead.workspace_id == workspace_id)
    lead = session.scalar(q.where(Lead.email == ref.strip().lower()) if "@" in ref else q.where(Lead.id == ref))
    if lead is None:
        raise NotFound(f"no lead {ref!r}")
    return lead
