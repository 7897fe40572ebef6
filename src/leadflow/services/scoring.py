"""Read side of scoring: explanations, scores as of any time, score history - recomputed from the log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadflow.core.qualify import Qualifier
from leadflow.core.scoring.engine import (
    EngagementExplanation,
    FitResult,
    ScoredEvent,
    explain_engagement,
    score_fit,
)
from leadflow.core.scoring.spec import ScoringModel
from leadflow.core.timeutil import epoch, from_epoch, utcnow
from leadflow.services.ingest import account_attrs, lead_attrs
from leadflow.store.tables import Account, Event, Lead, StageChange


@dataclass(frozen=True)
class LeadExplanation:
    lead_id: str
    email: str
    stage: str
    model_ref: str
    at: datetime
    fit: FitResult
    engagement: EngagementExplanation
    band: str
    events: dict[str, dict[str, Any]]  # event id -> {type, occurred_at, properties}
    history: list[dict[str, Any]]


def engagement_from_state(model: ScoringModel, state: dict[str, Any] | None, t: float,
                          stored: float | None = None) -> float:
    """A stored state's engagement at ``t`` (or at its latest event, if that is later than ``t``).

    A state cleared by a batch rescore (``{}``) has no accumulators to decay: its ``stored`` engagement
    (computed by the batch engine as of the rescore) is returned until the lead's next event rebuilds it.
    """
    if not state and stored is not None:
        return stored
    total = Qualifier.from_dict(state).total
    return total.engagement_at(model, max(t, total.max_t if total.max_t is not None else t))


def lead_events(session: Session, workspace_id: str, lead_id: str) -> list[tuple[ScoredEvent, Event]]:
    rows = session.scalars(select(Event).where(Event.workspace_id == workspace_id, Event.lead_id == lead_id)
                           .order_by(Event.occurred_at, Event.id)).all()
    return [(ScoredEvent(epoch(r.occurred_at), r.id, r.type, r.properties or {}), r) for r in rows]


def explain_lead(session: Session, workspace_id: str, lead: Lead, model: ScoringModel,
                 at: datetime | None = None) -> LeadExplanation:
    at = at or utcnow()
    acc = session.get(Account, lead.account_id) if lead.account_id else None
    fit = score_fit(model, lead_attrs(lead), account_attrs(acc))
    pairs = lead_events(session, workspace_id, lead.id)
    eng = explain_engagement(model, [p[0] for p in pairs], epoch(at))
    events = {r.id: {"type": r.type, "occurred_at": ev.t, "properties": r.properties} for ev, r in pairs}
    hist = session.scalars(select(StageChange).where(StageChange.workspace_id == workspace_id,
                                                     StageChange.lead_id == lead.id)
                           .order_by(StageChange.at, StageChange.recorded_at)).all()
    history = [{"from": h.from_stage, "to": h.to_stage, "at": h.at, "actor": h.actor, "actor_id": h.actor_id,
                "reason": h.reason, "rule": h.rule, "model": h.model_ref, "score": h.score,
                "superseded": h.superseded_at is not None} for h in hist]
    return LeadExplanation(lead.id, lead.email, lead.stage, model.ref, at, fit, eng, model.band(eng.score), events, history)


def score_history(session: Session, workspace_id: str, lead_id: str, model: ScoringModel,
                  times: list[datetime]) -> list[tuple[datetime, float]]:
    """Engagement as of each time (only events that had occurred by then count)."""
    evs = [p[0] for p in lead_events(session, workspace_id, lead_id)]
    return [(t, explain_engagement(model, evs, epoch(t)).score) for t in times]


def render_explanation(x: LeadExplanation, limit_events: int = 5) -> list[str]:
    """Plain-text lines explaining a lead's score (used by the CLI and the demo)."""
    lines = [f"{x.email}  stage={x.stage}  model={x.model_ref}  as of {x.at:%Y-%m-%d %H:%M} UTC",
             f"  fit {x.fit.points:+g} -> grade {x.fit.grade}"]
    for h in x.fit.hits:
        lines.append(f"    {h.points:+6g}  {h.rule_id:<22} {h.field} = {h.value!r}")
    lines.append(f"  engagement {x.engagement.score:.1f} ({x.band}; raw {x.engagement.raw:.2f})")
    for r in x.engagement.rules:
        counted = [c for c in r.contributions if c.counted]
        if not r.contributions:
            continue
        decay = f"half-life {r.half_life_days:g}d" if r.half_life_days else "no decay"
        extra = "".join([f", window {r.window_days:g}d" if r.window_days else "", f", cap {r.cap}" if r.cap else ""])
        lines.append(f"    {r.total:+7.2f}  {r.rule_id:<22} {len(counted)} of {len(r.contributions)} events x "
                     f"{r.points:+g} ({decay}{extra})")
        for c in counted[:limit_events]:
            ev = x.events.get(c.event_id, {})
            detail = ev.get("properties", {}).get("url") or ev.get("properties", {}).get("asset") or ""
            lines.append(f"             {from_epoch(c.t):%Y-%m-%d} {ev.get('type', '')} {detail} -> {c.value_now:.2f} now")
    for h in x.history:
        mark = " (superseded)" if h["superseded"] else ""
        lines.append(f"  {h['at']:%Y-%m-%d} {h['from'] or '-'} -> {h['to']} by {h['actor']}: {h['reason']}{mark}")
    return lines
