"""API keys and background jobs (issue 3), plus the indexes the API's lead list needs at a million leads.

API keys store only the SHA-256 of the key (keys are 32 random bytes, so a fast hash is enough: there is
nothing to brute-force, unlike a password) and a short prefix to recognise a key in a list.
Jobs are persisted so their progress and result can be polled from any process, and survive a restart
(a job found ``running`` at start-up belonged to a dead process and is marked failed).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from leadflow.store.tables import ID, TS, Base, Lead, ScoreState, new_id

JSONType = JSON().with_variant(JSONB(), "postgresql")


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # ingest | secret
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(32))  # e.g. lf_secret_AbC1 (display only)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the whole key
    scopes: Mapped[str] = mapped_column(Text)  # comma-separated action names
    created_at: Mapped[datetime] = mapped_column(TS)
    created_by: Mapped[str | None] = mapped_column(String(200))
    last_used_at: Mapped[datetime | None] = mapped_column(TS)
    revoked_at: Mapped[datetime | None] = mapped_column(TS)


class Job(Base):
    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    kind: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(12))  # queued | running | succeeded | failed
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int | None] = mapped_column(Integer)
    params: Mapped[dict] = mapped_column(JSONType, default=dict)
    result: Mapped[dict | None] = mapped_column(JSONType)
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(TS)
    started_at: Mapped[datetime | None] = mapped_column(TS)
    finished_at: Mapped[datetime | None] = mapped_column(TS)
    __table_args__ = (Index("ix_jobs_ws_created", "workspace_id", "created_at"),)


# Indexes for the lead list (keyset pagination on (sort key, id) within a workspace, filters), created by
# migration 0002. Declared here so the metadata matches the migrated schema.
LEAD_LIST_INDEXES = (
    Index("ix_leads_ws_created_id", Lead.workspace_id, Lead.created_at, Lead.id),
    Index("ix_leads_ws_updated_id", Lead.workspace_id, Lead.updated_at, Lead.id),
    Index("ix_leads_ws_status", Lead.workspace_id, Lead.lead_status),
    Index("ix_score_states_ws_model_eng_lead", ScoreState.workspace_id, ScoreState.model_key,
          ScoreState.engagement, ScoreState.lead_id),
    Index("ix_score_states_ws_model_fit_lead", ScoreState.workspace_id, ScoreState.model_key,
          ScoreState.fit, ScoreState.lead_id),
)
