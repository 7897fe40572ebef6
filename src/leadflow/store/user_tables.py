"""Users of the web app (issue 3) and the indexes the web app's lead list needs.

A user belongs to one workspace and has one role (``leadflow.core.permissions.Role``). Passwords are
stored only as argon2id hashes. ``rep_id`` optionally links a sales user to the handoff's rep record.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from leadflow.store.tables import ID, TS, Base, Lead, ScoreState, new_id


class User(Base):
    __tablename__ = "users"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    rep_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(TS)
    last_login_at: Mapped[datetime | None] = mapped_column(TS)
    __table_args__ = (UniqueConstraint("workspace_id", "email"),)


# Web lead-list indexes beyond those of migration 0002 (created by migration 0006): the source filter, the
# name search and the grade filter with the score sort stay index-driven on a million leads
# (see benchmarks/leadlist.py).
WEB_LEAD_LIST_INDEXES = (
    Index("ix_leads_ws_source", Lead.workspace_id, Lead.source),
    Index("ix_leads_ws_last_name", Lead.workspace_id, Lead.last_name),
    Index("ix_score_states_ws_model_grade_eng", ScoreState.workspace_id, ScoreState.model_key, ScoreState.grade,
          ScoreState.engagement, ScoreState.lead_id),
    # walking a sort index, each row's lead filters are checked on this index alone (no table read)
    Index("ix_leads_list_cover", Lead.id, Lead.workspace_id, Lead.stage, Lead.lead_status, Lead.owner, Lead.source,
          Lead.last_name),
)
