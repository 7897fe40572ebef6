"""Tables of the marketing-to-sales handoff (issue 4): team, routing, SLA clocks, work log, BANT, nurture, deals.

Every row belongs to one workspace. An assignment is *open* while ``open_lead_id`` holds the lead's id;
the unique constraint on ``(workspace_id, open_lead_id)`` makes "one open assignment per lead" a database
fact, so two workers routing the same MQL at once cannot both assign it (NULLs, i.e. closed assignments,
never collide).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from leadflow.store.tables import ID, TS, Base, JSONType, new_id


class HandoffConfig(Base):
    """Per-workspace handoff settings: SLA policies by segment, the SQL rule, segment bands."""

    __tablename__ = "handoff_config"
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), primary_key=True)
    config: Mapped[dict] = mapped_column(JSONType, default=dict)
    updated_at: Mapped[datetime] = mapped_column(TS)


class Territory(Base):
    __tablename__ = "handoff_territories"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), default="")
    countries: Mapped[list] = mapped_column(JSONType, default=list)
    segments: Mapped[list] = mapped_column(JSONType, default=list)
    min_employees: Mapped[int | None] = mapped_column(Integer)
    max_employees: Mapped[int | None] = mapped_column(Integer)
    priority: Mapped[int] = mapped_column(Integer, default=100)
    created_at: Mapped[datetime] = mapped_column(TS)
    __table_args__ = (UniqueConstraint("workspace_id", "key"),)


class Rep(Base):
    __tablename__ = "handoff_reps"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(10))
    weight: Mapped[int] = mapped_column(Integer, default=1)
    capacity: Mapped[int] = mapped_column(Integer, default=25)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    work_days: Mapped[list] = mapped_column(JSONType, default=list)
    work_start: Mapped[str] = mapped_column(String(5), default="09:00")
    work_end: Mapped[str] = mapped_column(String(5), default="17:00")
    country: Mapped[str | None] = mapped_column(String(100))
    territories: Mapped[list] = mapped_column(JSONType, default=list)
    named_accounts: Mapped[list] = mapped_column(JSONType, default=list)
    team_lead: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(TS)
    updated_at: Mapped[datetime] = mapped_column(TS)
    __table_args__ = (UniqueConstraint("workspace_id", "key"),)


class RepAway(Base):
    """An out-of-office period of a rep, [starts_at, ends_at)."""

    __tablename__ = "handoff_rep_away"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    rep_id: Mapped[str] = mapped_column(ForeignKey("handoff_reps.id"))
    starts_at: Mapped[datetime] = mapped_column(TS)
    ends_at: Mapped[datetime] = mapped_column(TS)
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(TS)
    __table_args__ = (Index("ix_handoff_rep_away_rep", "workspace_id", "rep_id", "ends_at"),)


class Rotation(Base):
    """One rep's place in one routing pool's weighted rotation (lag = leads owed)."""

    __tablename__ = "handoff_rotation"
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), primary_key=True)
    pool: Mapped[str] = mapped_column(String(100), primary_key=True)
    rep_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    lag: Mapped[float] = mapped_column(Float, default=0.0)
    assigned: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(TS)


class Assignment(Base):
    """A lead handed to a rep (or to the unassigned queue when ``rep_key`` is NULL), with its SLA clock."""

    __tablename__ = "handoff_assignments"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id"))
    open_lead_id: Mapped[str | None] = mapped_column(String(32))  # = lead_id while open, NULL once closed
    rep_key: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(10))  # sdr | ae
    stage: Mapped[str] = mapped_column(String(20))  # the stage that triggered it (mql | sql)
    method: Mapped[str] = mapped_column(String(20))  # named_account | rotation | manual | unassigned | reassigned
    pool: Mapped[str | None] = mapped_column(String(100))
    territory: Mapped[str | None] = mapped_column(String(64))
    segment: Mapped[str | None] = mapped_column(String(30))
    explanation: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict] = mapped_column(JSONType, default=dict)
    recycled: Mapped[bool] = mapped_column(Boolean, default=False)  # the MQL came back from nurture
    qualified_at: Mapped[datetime] = mapped_column(TS)  # when the lead reached the stage (speed-to-lead start)
    assigned_at: Mapped[datetime] = mapped_column(TS)
    first_touch_due: Mapped[datetime | None] = mapped_column(TS)
    decision_due: Mapped[datetime | None] = mapped_column(TS)
    first_touch_at: Mapped[datetime | None] = mapped_column(TS)
    decided_at: Mapped[datetime | None] = mapped_column(TS)
    decision: Mapped[str | None] = mapped_column(String(20))  # accepted | rejected | qualified | disqualified
    first_touch_breached_at: Mapped[datetime | None] = mapped_column(TS)
    decision_breached_at: Mapped[datetime | None] = mapped_column(TS)
    closed_at: Mapped[datetime | None] = mapped_column(TS)
    closed_reason: Mapped[str | None] = mapped_column(String(200))
    assigned_by: Mapped[str | None] = mapped_column(String(200))
    __table_args__ = (
        UniqueConstraint("workspace_id", "open_lead_id"),
        Index("ix_handoff_assignments_lead", "workspace_id", "lead_id", "assigned_at"),
        Index("ix_handoff_assignments_rep_open", "workspace_id", "rep_key", "closed_at"),
    )


class Touch(Base):
    """A contact attempt (call, email, ...) and its outcome."""

    __tablename__ = "handoff_touches"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id"))
    assignment_id: Mapped[str | None] = mapped_column(ForeignKey("handoff_assignments.id"))
    rep_key: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20))
    outcome: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(TS)
    recorded_at: Mapped[datetime] = mapped_column(TS)
    __table_args__ = (Index("ix_handoff_touches_lead", "workspace_id", "lead_id", "at"),)


class StatusChange(Base):
    """The lead-status history (``leads.lead_status`` holds the current value)."""

    __tablename__ = "handoff_status_history"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id"))
    from_status: Mapped[str | None] = mapped_column(String(30))
    to_status: Mapped[str] = mapped_column(String(30))
    at: Mapped[datetime] = mapped_column(TS)
    actor_id: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")
    __table_args__ = (Index("ix_handoff_status_history_lead", "workspace_id", "lead_id", "at"),)


class Decision(Base):
    """An accept (SAL) or a rejection with its reason code and where the lead went."""

    __tablename__ = "handoff_decisions"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id"))
    assignment_id: Mapped[str | None] = mapped_column(ForeignKey("handoff_assignments.id"))
    rep_key: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(10))
    decision: Mapped[str] = mapped_column(String(20))  # accepted | rejected
    reason_code: Mapped[str | None] = mapped_column(String(30))
    disposition: Mapped[str | None] = mapped_column(String(20))  # nurture | disqualified
    note: Mapped[str | None] = mapped_column(Text)
    recycled: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[datetime] = mapped_column(TS)
    __table_args__ = (Index("ix_handoff_decisions_ws", "workspace_id", "decision", "at"),)


class BantEntry(Base):
    """One recorded version of one BANT criterion (the latest per lead and criterion is current)."""

    __tablename__ = "handoff_bant"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id"))
    criterion: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(10))
    details: Mapped[dict] = mapped_column(JSONType, default=dict)
    recorded_by: Mapped[str | None] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(TS)
    __table_args__ = (Index("ix_handoff_bant_lead", "workspace_id", "lead_id", "criterion", "recorded_at"),)


class BantEvaluation(Base):
    __tablename__ = "handoff_bant_evaluations"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id"))
    rule: Mapped[dict] = mapped_column(JSONType, default=dict)
    passed: Mapped[bool] = mapped_column(Boolean)
    explanation: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(20))  # sql | nurture | disqualified
    rep_key: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(TS)
    __table_args__ = (Index("ix_handoff_bant_evaluations_lead", "workspace_id", "lead_id", "at"),)


class NurtureTrack(Base):
    """A lead sent back to marketing: why, when to re-engage, and how the episode ended."""

    __tablename__ = "handoff_nurture"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id"))
    source: Mapped[str] = mapped_column(String(20))  # rejected | bant_failed | lost
    reason_code: Mapped[str | None] = mapped_column(String(30))
    note: Mapped[str | None] = mapped_column(Text)
    entered_at: Mapped[datetime] = mapped_column(TS)
    reengage_at: Mapped[datetime | None] = mapped_column(TS)
    ended_at: Mapped[datetime | None] = mapped_column(TS)
    ended_reason: Mapped[str | None] = mapped_column(String(40))  # requalified | disqualified | ...
    __table_args__ = (Index("ix_handoff_nurture_lead", "workspace_id", "lead_id", "entered_at"),
                      Index("ix_handoff_nurture_reengage", "workspace_id", "ended_at", "reengage_at"))


class Opportunity(Base):
    __tablename__ = "handoff_opportunities"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id"))
    rep_key: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), default="")
    amount: Mapped[float | None] = mapped_column(Float)
    currency: Mapped[str | None] = mapped_column(String(3))
    expected_close: Mapped[datetime | None] = mapped_column(TS)
    status: Mapped[str] = mapped_column(String(10), default="open")  # open | won | lost
    opened_at: Mapped[datetime] = mapped_column(TS)
    closed_at: Mapped[datetime | None] = mapped_column(TS)
    lost_reason: Mapped[str | None] = mapped_column(Text)
    outcome_id: Mapped[str | None] = mapped_column(String(32))
    __table_args__ = (Index("ix_handoff_opportunities_lead", "workspace_id", "lead_id"),
                      Index("ix_handoff_opportunities_status", "workspace_id", "status"))


class Alert(Base):
    """Something a team lead must see: an unassigned lead, an SLA breach (escalation)."""

    __tablename__ = "handoff_alerts"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    kind: Mapped[str] = mapped_column(String(30))  # unassigned | sla_breached
    lead_id: Mapped[str | None] = mapped_column(ForeignKey("leads.id"))
    rep_key: Mapped[str | None] = mapped_column(String(64))
    recipient: Mapped[str | None] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(TS)
    resolved_at: Mapped[datetime | None] = mapped_column(TS)
    __table_args__ = (Index("ix_handoff_alerts_ws", "workspace_id", "resolved_at", "at"),)


TABLES = (HandoffConfig, Territory, Rep, RepAway, Rotation, Assignment, Touch, StatusChange, Decision, BantEntry,
          BantEvaluation, NurtureTrack, Opportunity, Alert)
