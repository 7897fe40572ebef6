"""SLA checks: find breached clocks, emit ``sla.breached``, escalate to the team lead, reassign per policy;
then retry the unassigned queue (someone may be back or have capacity)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadflow.core.timeutil import as_utc
from leadflow.services.handoff.common import HandoffError, iso, load_config, load_reps, now_or
from leadflow.services.handoff.routing import route
from leadflow.services.signals import Signal, publish
from leadflow.store import handoff_tables as ht


@dataclass
class SlaReport:
    breaches: list[dict] = field(default_factory=list)
    reassigned: list[dict] = field(default_factory=list)
    queue_assigned: list[dict] = field(default_factory=list)
    signals: list[Signal] = field(default_factory=list)


def check_sla(session: Session, workspace_id: str, now: datetime | None = None) -> SlaReport:
    now = now_or(now)
    cfg = load_config(session, workspace_id)
    reps = {r.key: r for r in load_reps(session, workspace_id)}
    report = SlaReport()
    due = session.scalars(select(ht.Assignment).where(
        ht.Assignment.workspace_id == workspace_id, ht.Assignment.open_lead_id.is_not(None),
        ht.Assignment.rep_key.is_not(None)).order_by(ht.Assignment.assigned_at, ht.Assignment.id)).all()
    to_reassign: list[tuple[ht.Assignment, str]] = []
    for a in due:
        kinds = []
        if (a.first_touch_at is None and a.decided_at is None and a.first_touch_due is not None
                and as_utc(a.first_touch_due) <= now and a.first_touch_breached_at is None):
            a.first_touch_breached_at = now
            kinds.append(("first_touch", a.first_touch_due))
        if (a.decided_at is None and a.decision_due is not None and as_utc(a.decision_due) <= now
                and a.decision_breached_at is None):
            a.decision_breached_at = now
            kinds.append(("decision", a.decision_due))
        for kind, due_at in kinds:
            rep = reps.get(a.rep_key)
            lead_to = (rep.team_lead if rep and rep.team_lead else None) or cfg.escalation_contact
            policy = cfg.sla.policy(a.segment)
            msg = (f"SLA breached: {kind.replace('_', ' ')} for lead {a.lead_id} assigned to {a.rep_key} was due "
                   f"{as_utc(due_at):%Y-%m-%d %H:%M} UTC ({policy.first_touch_hours if kind == 'first_touch' else policy.decision_hours:g} "
                   f"business hours, segment {a.segment or 'default'}); escalated to {lead_to}")
            session.add(ht.Alert(workspace_id=workspace_id, kind="sla_breached", lead_id=a.lead_id, rep_key=a.rep_key,
                                 recipient=lead_to, message=msg, at=now))
            item = {"lead_id": a.lead_id, "assignment_id": a.id, "rep": a.rep_key, "kind": kind, "due": iso(due_at),
                    "escalated_to": lead_to, "role": a.role}
            report.breaches.append(item)
            report.signals.append(Signal("sla.breached", a.lead_id, as_utc(due_at), dict(item)))
            if policy.reassign_on_breach and kind == "first_touch":
                to_reassign.append((a, a.rep_key))
    session.flush()
    for a, old in to_reassign:
        try:
            res = route(session, workspace_id, a.lead_id, at=now, reassign=True, exclude={old}, emit=False)
        except HandoffError:
            continue
        report.reassigned.append({"lead_id": a.lead_id, "from": old, "to": res.rep, "why": res.explanation})
        report.signals.extend(res.signals)
    # the unassigned queue
    queued = session.scalars(select(ht.Assignment).where(
        ht.Assignment.workspace_id == workspace_id, ht.Assignment.open_lead_id.is_not(None),
        ht.Assignment.rep_key.is_(None)).order_by(ht.Assignment.assigned_at)).all()
    for a in queued:
        try:
            res = route(session, workspace_id, a.lead_id, at=now, emit=False)
        except HandoffError:
            continue
        if res.created and res.rep:
            report.queue_assigned.append({"lead_id": a.lead_id, "to": res.rep, "why": res.explanation})
            report.signals.extend(res.signals)
    publish(session, workspace_id, report.signals)
    return report
