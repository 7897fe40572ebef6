"""The schema. Every row belongs to one workspace; every query filters on ``workspace_id``.

Events are append-only: the only update ever made to an event row is filling ``lead_id`` once, when an
anonymous visitor is identified (the event itself - type, time, properties - never changes).
Ids are UUIDv7 (time-ordered), so inserts append to the right of the primary-key index.
"""

from __future__ import annotations

from datetime import datetime

import uuid_utils
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONType = JSON().with_variant(JSONB(), "postgresql")
TS = DateTime(timezone=True)


def new_id() -> str:
    """A time-ordered UUIDv7 as 32 hex characters (sorts by creation time)."""
    return uuid_utils.uuid7().hex


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


ID = String(32)


class Workspace(Base):
    __tablename__ = "workspaces"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    lifecycle_model: Mapped[str] = mapped_column(String(64), default="default")
    created_at: Mapped[datetime] = mapped_column(TS)


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), index=True)
    domain: Mapped[str] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(255))
    industry: Mapped[str | None] = mapped_column(String(100))
    employee_count: Mapped[int | None] = mapped_column(Integer)
    annual_revenue: Mapped[float | None] = mapped_column(Float)
    country: Mapped[str | None] = mapped_column(String(100))
    owner: Mapped[str | None] = mapped_column(String(200))
    properties: Mapped[dict] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(TS)
    updated_at: Mapped[datetime] = mapped_column(TS)
    __table_args__ = (UniqueConstraint("workspace_id", "domain"),)


class Lead(Base):
    __tablename__ = "leads"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    email: Mapped[str] = mapped_column(String(320))
    first_name: Mapped[str | None] = mapped_column(String(200))
    last_name: Mapped[str | None] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(200))
    seniority: Mapped[str | None] = mapped_column(String(50))
    department: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(50))
    country: Mapped[str | None] = mapped_column(String(100))
    source: Mapped[str | None] = mapped_column(String(100))
    medium: Mapped[str | None] = mapped_column(String(100))
    campaign: Mapped[str | None] = mapped_column(String(200))
    landing_page: Mapped[str | None] = mapped_column(String(2000))
    consent: Mapped[bool] = mapped_column(Boolean, default=False)
    unsubscribed: Mapped[bool] = mapped_column(Boolean, default=False)
    properties: Mapped[dict] = mapped_column(JSONType, default=dict)
    owner: Mapped[str | None] = mapped_column(String(200))
    account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id"))
    stage: Mapped[str] = mapped_column(String(20), default="subscriber")
    lead_status: Mapped[str] = mapped_column(String(30), default="new")
    created_at: Mapped[datetime] = mapped_column(TS)
    updated_at: Mapped[datetime] = mapped_column(TS)
    __table_args__ = (
        UniqueConstraint("workspace_id", "email"),
        Index("ix_leads_ws_stage", "workspace_id", "stage"),
        Index("ix_leads_ws_owner", "workspace_id", "owner"),
        Index("ix_leads_account", "account_id"),
    )


class Identity(Base):
    """An anonymous id seen before the person was known, and the lead it turned out to be."""

    __tablename__ = "identities"
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), primary_key=True)
    anonymous_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(TS)


class Event(Base):
    __tablename__ = "events"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    lead_id: Mapped[str | None] = mapped_column(ForeignKey("leads.id"))
    anonymous_id: Mapped[str | None] = mapped_column(String(200))
    message_id: Mapped[str | None] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(TS)
    received_at: Mapped[datetime] = mapped_column(TS)
    properties: Mapped[dict] = mapped_column(JSONType, default=dict)
    flags: Mapped[str | None] = mapped_column(String(200))
    __table_args__ = (
        UniqueConstraint("workspace_id", "message_id"),
        Index("ix_events_lead_time", "workspace_id", "lead_id", "occurred_at"),
        Index("ix_events_anon", "workspace_id", "anonymous_id"),
    )


class ScoringModelRow(Base):
    __tablename__ = "scoring_models"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    key: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    yaml: Mapped[str] = mapped_column(Text)
    checksum: Mapped[str] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(TS)
    created_by: Mapped[str | None] = mapped_column(String(200))
    __table_args__ = (UniqueConstraint("workspace_id", "key", "version"),)


class ScoreState(Base):
    """The incremental state of one lead under one scoring model, and its score when last updated."""

    __tablename__ = "score_states"
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id"), primary_key=True)
    model_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    model_version: Mapped[int] = mapped_column(Integer)
    fit: Mapped[float] = mapped_column(Float, default=0.0)
    grade: Mapped[str] = mapped_column(String(1), default="D")
    engagement: Mapped[float] = mapped_column(Float, default=0.0)  # as of ``scored_at``
    scored_at: Mapped[datetime | None] = mapped_column(TS)
    last_event_at: Mapped[datetime | None] = mapped_column(TS)
    state: Mapped[dict] = mapped_column(JSONType, default=dict)
    updated_at: Mapped[datetime] = mapped_column(TS)
    __table_args__ = (Index("ix_score_states_ws_model_eng", "workspace_id", "model_key", "engagement"),)


class QualifyQueue(Base):
    """Stored events not yet folded into their lead's score state (the HTTP ingest path defers scoring).

    ``/v1/track`` and ``/v1/batch`` store events in the log (the truth) and queue them here in the same
    transaction; the ingest writer folds them in when it is not storing (``Ingestor.qualify_queued``), and
    deletes the rows in the transaction that writes the new states, so a crash loses nothing and folds
    nothing twice. ``event_id`` NULL asks for a replay of the whole lead (a new lead, a merged anonymous
    history). Rows live seconds; no foreign keys, to keep the insert cheap (leads are never deleted).
    A row whose scoring keeps failing stays, set aside, until ``leadflow scorer --retry-failed``.
    """

    __tablename__ = "qualify_queue"
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                     autoincrement=True)
    workspace_id: Mapped[str] = mapped_column(ID)
    lead_id: Mapped[str] = mapped_column(ID)
    event_id: Mapped[str | None] = mapped_column(ID)
    enqueued_at: Mapped[datetime] = mapped_column(TS)
    # scoring this row failed this many times (errors of the scoring code, not of the database); after
    # MAX_QUALIFY_ATTEMPTS it is set aside (failed_at, error) so the rest of the queue keeps moving
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failed_at: Mapped[datetime | None] = mapped_column(TS)
    error: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (Index("ix_qualify_queue_ws_seq", "workspace_id", "seq"),)


class StageChange(Base):
    """The stage history: every change with its actor, reason, rule, model and score snapshot.

    Rule and outcome changes are derived from the log; when a late event or a replay changes them, the old
    row is kept and marked ``superseded_at`` (with the reason), so the audit trail never loses a row.
    """

    __tablename__ = "stage_history"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id"))
    from_stage: Mapped[str | None] = mapped_column(String(20))
    to_stage: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(TS)
    recorded_at: Mapped[datetime] = mapped_column(TS)
    actor: Mapped[str] = mapped_column(String(10))
    actor_id: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")
    rule: Mapped[str | None] = mapped_column(String(100))
    model_ref: Mapped[str | None] = mapped_column(String(100))
    score: Mapped[dict | None] = mapped_column(JSONType)
    cause_id: Mapped[str | None] = mapped_column(String(100))
    superseded_at: Mapped[datetime | None] = mapped_column(TS)
    superseded_reason: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (Index("ix_stage_history_lead", "workspace_id", "lead_id", "at"),)


class Outcome(Base):
    __tablename__ = "outcomes"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id"))
    result: Mapped[str] = mapped_column(String(10))  # won | lost
    amount: Mapped[float | None] = mapped_column(Float)
    currency: Mapped[str | None] = mapped_column(String(3))
    closed_at: Mapped[datetime] = mapped_column(TS)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TS)
    __table_args__ = (Index("ix_outcomes_lead", "workspace_id", "lead_id"),)
