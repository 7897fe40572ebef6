"""Routing service: route an MQL to an SDR, an SQL to an AE; the signals subscriber; manual assignment.

Concurrency: routing locks the lead row (``SELECT ... FOR UPDATE`` on PostgreSQL), then the workspace's
handoff config row, which serialises the rotation counters and capacity counts of one workspace; the
unique ``(workspace_id, open_lead_id)`` constraint is the backstop, so a lead has at most one open
assignment whatever happens. A second router that waited on the lock finds the assignment and returns it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadflow.core.handoff import routing as core
from leadflow.core.handoff.sla import start_clock
from leadflow.core.handoff.team import RepRole
from leadflow.core.lifecycle import LeadStatus, Stage
from leadflow.core.timeutil import utcnow
from leadflow.services.handoff.common import (
    HandoffError,
    close_assignment,
    get_lead,
    iso,
    lead_facts,
    load_config,
    load_reps,
    load_territories,
    now_or,
    open_assignment,
    open_counts,
    set_status,
    ws_id_of,
)
from leadflow.services.handoff.common import calendar as rep_calendar
from leadflow.services.signals import Signal, publish
from leadflow.store import handoff_tables as ht
from leadflow.store.tables import Workspace

ROLE_FOR_STAGE = {Stage.MQL.value: RepRole.SDR, Stage.SAL.value: RepRole.SDR, Stage.SQL.value: RepRole.AE}


@dataclass
class RouteResult:
    assignment: ht.Assignment
    created: bool
    signals: list[Signal] = field(default_factory=list)

    @property
    def rep(self) -> str | None:
        return self.assignment.rep_key

    @property
    def explanation(self) -> str:
        return self.assignment.explanation


def route(session: Session, workspace: Workspace | str, lead_id: str, *, role: RepRole | None = None,
          at: datetime | None = None, qualified_at: datetime | None = None, exclude: Collection[str] = (),
          reassign: bool = False, recycled: bool | None = None, emit: bool = True) -> RouteResult:
    """Assign a lead in MQL/SAL (to an SDR) or SQL (to an AE); idempotent while an assignment is open.

    ``reassign`` closes the current assignment and routes again (``exclude`` keeps reps out). With
    ``emit`` the ``lead.assigned`` signal is published to the subscribers; the subscriber path returns it.
    """
    ws_id = ws_id_of(workspace)
    at = now_or(at)
    lead = get_lead(session, ws_id, lead_id, lock=True)
    needed = ROLE_FOR_STAGE.get(lead.stage)
    if needed is None:
        raise HandoffError("lead.stage", f"only MQL, SAL and SQL leads are routed; this lead is {lead.stage}")
    role = role or needed
    cfg = load_config(session, ws_id, lock=True)
    current = open_assignment(session, ws_id, lead_id)
    if current is not None and current.role == role.value and not reassign:
        if current.rep_key is not None or not _anyone_free(session, ws_id, lead, role, cfg, at, exclude):
            return RouteResult(current, False)
    reps = load_reps(session, ws_id)
    facts = lead_facts(session, lead, cfg.segments)
    counts = open_counts(session, ws_id)
    rotations = _rotations(session, ws_id)
    decision = core.decide(facts, role, reps, load_territories(session, ws_id), counts, rotations, at,
                           exclude=exclude, owner_roles=(RepRole.SDR, RepRole.AE) if role == RepRole.SDR else None)
    if current is not None and current.rep_key is None and decision.rep is None and current.role == role.value:
        return RouteResult(current, False)  # still nobody: the lead stays in the queue, no second alert
    previous = current.rep_key if current is not None else None
    if current is not None:
        why = ("handed to an AE" if current.role != role.value else
               "reassigned" if reassign else "routed from the unassigned queue")
        close_assignment(current, at, why, "qualified" if current.role != role.value else None)
        session.flush()  # free the one-open-per-lead slot before the new row
    return _assign(session, ws_id, lead, role, decision, cfg, at, qualified_at, previous, recycled, reps, emit)


def _anyone_free(session: Session, ws_id: str, lead, role: RepRole, cfg, at: datetime,  # noqa: ANN001
                 exclude: Collection[str]) -> bool:
    """Whether a queued (unassigned) lead could now be assigned."""
    d = core.decide(lead_facts(session, lead, cfg.segments), role, load_reps(session, ws_id),
                    load_territories(session, ws_id), open_counts(session, ws_id), _rotations(session, ws_id), at,
                    exclude=exclude)
    return d.rep is not None


def _rotations(session: Session, ws_id: str) -> dict[str, core.RotationState]:
    out: dict[str, core.RotationState] = {}
    for r in session.scalars(select(ht.Rotation).where(ht.Rotation.workspace_id == ws_id)):
        st = out.setdefault(r.pool, core.RotationState())
        st.lags[r.rep_key] = r.lag
        st.assigned[r.rep_key] = r.assigned
    return out


def _save_rotation(session: Session, ws_id: str, pool: str, state: core.RotationState) -> None:
    rows = {r.rep_key: r for r in session.scalars(select(ht.Rotation).where(ht.Rotation.workspace_id == ws_id,
                                                                            ht.Rotation.pool == pool))}
    now = utcnow()
    for key, lag in state.lags.items():
        row = rows.get(key)
        if row is None:
            session.add(ht.Rotation(workspace_id=ws_id, pool=pool, rep_key=key, lag=lag,
                                    assigned=state.assigned.get(key, 0), updated_at=now))
        elif row.lag != lag or row.assigned != state.assigned.get(key, 0):
            row.lag, row.assigned, row.updated_at = lag, state.assigned.get(key, 0), now


def _assign(session: Session, ws_id: str, lead, role: RepRole, d: core.Decision, cfg, at: datetime,  # noqa: ANN001
            qualified_at: datetime | None, previous: str | None, recycled: bool | None, reps,  # noqa: ANN001
            emit: bool, by: str | None = None) -> RouteResult:
    facts = lead_facts(session, lead, cfg.segments)
    policy = cfg.sla.policy(facts.segment)
    rep = next((r for r in reps if r.key == d.rep), None)
    clock = start_clock(rep_calendar(rep, at), policy, at) if rep is not None else None
    if recycled is None:
        recycled = _is_recycled(session, ws_id, lead.id)
    explanation = d.explanation + (f" (previously {previous})" if previous and previous != d.rep else "")
    a = ht.Assignment(
        workspace_id=ws_id, lead_id=lead.id, open_lead_id=lead.id, rep_key=d.rep, role=role.value, stage=lead.stage,
        method=d.method, pool=d.pool, territory=d.territory, segment=facts.segment, explanation=explanation,
        details={**d.details, "skipped": [{"rep": s.rep, "reason": s.reason} for s in d.skipped],
                 "previous": previous, "sla": {"first_touch_hours": policy.first_touch_hours,
                                               "decision_hours": policy.decision_hours}},
        recycled=recycled, qualified_at=qualified_at or at, assigned_at=at,
        first_touch_due=clock.first_touch_due if clock else None, decision_due=clock.decision_due if clock else None,
        assigned_by=by)
    session.add(a)
    if d.rotation is not None and d.pool:
        _save_rotation(session, ws_id, d.pool, d.rotation)
    signals: list[Signal] = []
    if d.rep is None:
        session.add(ht.Alert(workspace_id=ws_id, kind="unassigned", lead_id=lead.id, rep_key=None,
                             recipient=cfg.escalation_contact, message=f"{lead.email}: {d.explanation}", at=at))
    else:
        lead.owner = d.rep
        lead.updated_at = utcnow()
        if role == RepRole.SDR and lead.stage == Stage.MQL.value:
            set_status(session, ws_id, lead, LeadStatus.NEW, at, None, f"assigned to {d.rep}")
        signals.append(Signal("lead.assigned", lead.id, at, {
            "rep": d.rep, "role": role.value, "method": d.method, "territory": d.territory,
            "explanation": explanation, "previous": previous, "recycled": recycled,
            "first_touch_due": iso(a.first_touch_due), "decision_due": iso(a.decision_due)}))
    session.flush()
    if emit and signals:
        publish(session, ws_id, signals)
    return RouteResult(a, True, signals)


def _is_recycled(session: Session, ws_id: str, lead_id: str) -> bool:
    return session.scalar(select(ht.NurtureTrack.id).where(
        ht.NurtureTrack.workspace_id == ws_id, ht.NurtureTrack.lead_id == lead_id).limit(1)) is not None


def assign(session: Session, workspace: Workspace | str, lead_id: str, rep_key: str, *, by: str | None,
           at: datetime | None = None) -> RouteResult:
    """A manager assigns (or reassigns) a lead by hand: refused when the rep is away, full or the wrong role."""
    ws_id = ws_id_of(workspace)
    at = now_or(at)
    lead = get_lead(session, ws_id, lead_id, lock=True)
    role = ROLE_FOR_STAGE.get(lead.stage)
    if role is None:
        raise HandoffError("lead.stage", f"only MQL, SAL and SQL leads are assigned; this lead is {lead.stage}")
    cfg = load_config(session, ws_id, lock=True)
    reps = load_reps(session, ws_id)
    rep = next((r for r in reps if r.key == rep_key), None)
    if rep is None:
        raise HandoffError("rep", f"no rep {rep_key!r}")
    current = open_assignment(session, ws_id, lead_id)
    if current is not None and current.rep_key == rep_key:
        return RouteResult(current, False)
    counts = open_counts(session, ws_id)
    try:
        d = core.manual(rep, counts.get(rep_key, 0), at, role, by)
    except core.NotAssignable as exc:
        raise HandoffError("rep", str(exc)) from None
    previous = current.rep_key if current is not None else None
    if current is not None:
        close_assignment(current, at, f"reassigned by {by or 'a manager'}")
        session.flush()
    return _assign(session, ws_id, lead, role, d, cfg, at, None, previous, None, reps, True, by)


# ------------------------------------------------------------------------------------- subscriber
def on_signals(session: Session, workspace_id: str, signals: Sequence[Signal]) -> list[Signal]:
    """The handoff's subscriber: route each new MQL (to an SDR) and SQL (to an AE), follow exits and outcomes.

    Returns the ``lead.assigned`` signals for the subscribers after it (e.g. webhooks). A workspace
    without any rep does not use the handoff: its MQLs are not queued (no flood of "unassigned" alerts).
    """
    from leadflow.services.handoff.work import on_exit, on_outcome, on_requalified

    out: list[Signal] = []
    has_team: bool | None = None
    for s in signals:
        if s.lead_id is None:
            continue
        if s.kind in ("lead.mql", "lead.sql"):
            if has_team is None:  # no reps yet: the handoff is not in use in this workspace, nothing to route
                has_team = session.scalar(select(ht.Rep.id).where(ht.Rep.workspace_id == workspace_id).limit(1)
                                          ) is not None
            if not has_team:
                continue
            lead = get_lead(session, workspace_id, s.lead_id)
            target = s.kind.removeprefix("lead.")
            if lead.stage != target:  # moved on within the same unit of work
                continue
            recycled = None
            if s.kind == "lead.mql":
                recycled = on_requalified(session, workspace_id, s.lead_id, s.at, s.data)
            role = RepRole.SDR if s.kind == "lead.mql" else RepRole.AE
            res = route(session, workspace_id, s.lead_id, role=role, qualified_at=s.at, at=now_or(None),
                        recycled=recycled, emit=False)
            out.extend(res.signals)
        elif s.kind == "stage.changed" and s.data.get("to") in (Stage.NURTURE.value, Stage.DISQUALIFIED.value,
                                                                 Stage.CUSTOMER.value):
            on_exit(session, workspace_id, s.lead_id, s.at, s.data)
        elif s.kind == "outcome.recorded":
            on_outcome(session, workspace_id, s.lead_id, s.at, s.data)
    return out


def route_pending(session: Session, workspace_id: str, *, limit: int = 1000, at: datetime | None = None
                  ) -> list[RouteResult]:
    """Route MQL / SQL leads that have no open assignment (e.g. qualified before the team was set up)."""
    from sqlalchemy import func

    from leadflow.core.timeutil import as_utc
    from leadflow.store.tables import Lead, StageChange

    A = ht.Assignment
    open_ids = select(A.lead_id).where(A.workspace_id == workspace_id, A.open_lead_id.is_not(None))
    ids = session.scalars(select(Lead.id).where(Lead.workspace_id == workspace_id,
                                                Lead.stage.in_((Stage.MQL.value, Stage.SQL.value)),
                                                Lead.id.not_in(open_ids)).order_by(Lead.id).limit(limit)).all()
    out = []
    for lid in ids:
        stage = session.scalar(select(Lead.stage).where(Lead.id == lid))
        since = session.scalar(select(func.max(StageChange.at)).where(
            StageChange.workspace_id == workspace_id, StageChange.lead_id == lid, StageChange.to_stage == stage,
            StageChange.superseded_at.is_(None)))
        out.append(route(session, workspace_id, lid, at=at, qualified_at=as_utc(since) if since else None))
    return out
