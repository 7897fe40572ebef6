"""Shared plumbing of the handoff services: errors, config, reps as domain objects, calendars, lead facts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import lru_cache
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from leadflow.core.handoff.bant import SqlRule
from leadflow.core.handoff.sla import BusinessCalendar, SlaConfig
from leadflow.core.handoff.team import (
    DEFAULT_SEGMENTS,
    Away,
    LeadFacts,
    Rep,
    RepRole,
    Segment,
    Territory,
    WorkingHours,
    country_code,
)
from leadflow.core.lifecycle import LeadStatus
from leadflow.core.timeutil import as_utc, utcnow
from leadflow.store import handoff_tables as ht
from leadflow.store.tables import Account, Lead, Workspace


class HandoffError(ValueError):
    """A request the handoff refuses: names the field and the reason; nothing was changed."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class NotFound(LookupError):
    pass


DEFAULT_CONFIG: dict[str, Any] = {
    "sla": SlaConfig().to_dict(),
    "sql_rule": SqlRule().to_dict(),
    "segments": [{"key": s.key, "min": s.min_employees, "max": s.max_employees} for s in DEFAULT_SEGMENTS],
    "nurture_days": {"bant_failed": 90, "lost": 180},
    "escalation_contact": "sales-manager",
}


@dataclass(frozen=True)
class Config:
    sla: SlaConfig
    sql_rule: SqlRule
    segments: tuple[Segment, ...]
    nurture_days: Mapping[str, int]
    escalation_contact: str
    raw: Mapping[str, Any]


def now_or(at: datetime | None) -> datetime:
    return as_utc(at) if at is not None else utcnow()


def ws_id_of(workspace: Workspace | str) -> str:
    return workspace if isinstance(workspace, str) else workspace.id


def workspace_of(session: Session, workspace: Workspace | str) -> Workspace:
    if isinstance(workspace, Workspace):
        return workspace
    ws = session.get(Workspace, workspace)
    if ws is None:
        raise NotFound(f"no workspace {workspace}")
    return ws


def is_pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def load_config(session: Session, workspace_id: str, *, lock: bool = False) -> Config:
    q = select(ht.HandoffConfig).where(ht.HandoffConfig.workspace_id == workspace_id)
    if lock and is_pg(session):
        row = session.scalar(q)
        if row is None:  # make the row exist so there is something to lock on
            session.add(ht.HandoffConfig(workspace_id=workspace_id, config={}, updated_at=utcnow()))
            session.flush()
        q = q.with_for_update()
    row = session.scalar(q)
    raw = {**DEFAULT_CONFIG, **(row.config if row is not None and row.config else {})}
    return parse_config(raw)


def parse_config(raw: Mapping[str, Any]) -> Config:
    segs = tuple(Segment(str(s["key"]), int(s.get("min") or 0), None if s.get("max") is None else int(s["max"]))
                 for s in raw.get("segments") or ())
    return Config(SlaConfig.from_dict(raw.get("sla")), SqlRule.from_dict(raw.get("sql_rule")), segs or DEFAULT_SEGMENTS,
                  dict(raw.get("nurture_days") or {}), str(raw.get("escalation_contact") or "sales-manager"), raw)


def rep_domain(row: ht.Rep, away: Sequence[ht.RepAway] = ()) -> Rep:
    return Rep(key=row.key, name=row.name, role=RepRole(row.role), weight=row.weight, capacity=row.capacity,
               hours=WorkingHours(row.timezone, frozenset(row.work_days or (0, 1, 2, 3, 4)),
                                  time.fromisoformat(row.work_start), time.fromisoformat(row.work_end)),
               country=row.country, territories=frozenset(row.territories or ()),
               named_accounts=frozenset(row.named_accounts or ()), team_lead=row.team_lead, email=row.email,
               active=row.active, away=tuple(Away(a.starts_at, a.ends_at, a.reason) for a in away))


def load_reps(session: Session, workspace_id: str, *, with_inactive: bool = True) -> list[Rep]:
    rows = session.scalars(select(ht.Rep).where(ht.Rep.workspace_id == workspace_id).order_by(ht.Rep.key)).all()
    aways: dict[str, list[ht.RepAway]] = {}
    for a in session.scalars(select(ht.RepAway).where(ht.RepAway.workspace_id == workspace_id)):
        aways.setdefault(a.rep_id, []).append(a)
    return [rep_domain(r, aways.get(r.id, ())) for r in rows if with_inactive or r.active]


def rep_row(session: Session, workspace_id: str, key: str) -> ht.Rep:
    row = session.scalar(select(ht.Rep).where(ht.Rep.workspace_id == workspace_id, ht.Rep.key == key))
    if row is None:
        raise NotFound(f"no rep {key!r}")
    return row


def load_territories(session: Session, workspace_id: str) -> list[Territory]:
    return [Territory(t.key, t.name, frozenset(t.countries or ()), frozenset(t.segments or ()), t.min_employees,
                      t.max_employees, t.priority)
            for t in session.scalars(select(ht.Territory).where(ht.Territory.workspace_id == workspace_id))]


@lru_cache(maxsize=256)
def _holidays(code: str, year: int) -> frozenset[date]:
    import holidays

    try:
        return frozenset(holidays.country_holidays(code, years=year).keys())
    except NotImplementedError:  # a country the package does not know: no holidays
        return frozenset()


def calendar(rep: Rep, around: datetime) -> BusinessCalendar:
    """The rep's business calendar with their country's public holidays for the years around ``around``."""
    code = country_code(rep.country)
    days: set[date] = set()
    if code:
        for y in range(around.year - 1, around.year + 3):
            days |= _holidays(code, y)
    return BusinessCalendar(rep.hours, frozenset(days))


def open_counts(session: Session, workspace_id: str) -> dict[str, int]:
    rows = session.execute(select(ht.Assignment.rep_key, func.count()).where(
        ht.Assignment.workspace_id == workspace_id, ht.Assignment.open_lead_id.is_not(None),
        ht.Assignment.rep_key.is_not(None)).group_by(ht.Assignment.rep_key))
    return {k: int(n) for k, n in rows}


def get_lead(session: Session, workspace_id: str, lead_id: str, *, lock: bool = False) -> Lead:
    """The lead, freshly read (the write path updates stages in bulk, so cached objects may be stale)."""
    q = select(Lead).where(Lead.workspace_id == workspace_id, Lead.id == lead_id).execution_options(
        populate_existing=True)
    if lock and is_pg(session):
        q = q.with_for_update()
    lead = session.scalar(q)
    if lead is None:
        raise NotFound(f"no lead {lead_id}")
    return lead


def lead_by_email(session: Session, workspace_id: str, email: str) -> Lead:
    lead = session.scalar(select(Lead).where(Lead.workspace_id == workspace_id, Lead.email == email.strip().lower())
                          .execution_options(populate_existing=True))
    if lead is None:
        raise NotFound(f"no lead with email {email!r}")
    return lead


def lead_facts(session: Session, lead: Lead, segments: Sequence[Segment]) -> LeadFacts:
    acc = session.get(Account, lead.account_id) if lead.account_id else None
    return LeadFacts.build(lead.id, country=lead.country or (acc.country if acc else None),
                           employees=acc.employee_count if acc else None, account_domain=acc.domain if acc else None,
                           account_owner=acc.owner if acc else None, segments=segments)


def open_assignment(session: Session, workspace_id: str, lead_id: str) -> ht.Assignment | None:
    return session.scalar(select(ht.Assignment).where(ht.Assignment.workspace_id == workspace_id,
                                                      ht.Assignment.open_lead_id == lead_id)
                          .execution_options(populate_existing=True))


def close_assignment(a: ht.Assignment, at: datetime, reason: str, decision: str | None = None) -> None:
    a.open_lead_id = None
    a.closed_at = at
    a.closed_reason = reason
    if decision and a.decision is None:
        a.decision = decision
        a.decided_at = a.decided_at or at


def set_status(session: Session, workspace_id: str, lead: Lead, to: LeadStatus, at: datetime, actor_id: str | None,
               reason: str) -> bool:
    """Record a lead-status change (validated by the caller); False when it is already ``to``."""
    if lead.lead_status == to.value:
        return False
    session.add(ht.StatusChange(workspace_id=workspace_id, lead_id=lead.id, from_status=lead.lead_status,
                                to_status=to.value, at=at, actor_id=actor_id, reason=reason))
    lead.lead_status = to.value
    lead.updated_at = utcnow()
    return True


def iso(d: datetime | None) -> str | None:
    return as_utc(d).isoformat() if d is not None else None
