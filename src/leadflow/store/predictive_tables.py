"""Predictive tables: the registry of trained models and the latest prediction of each lead.

A model's weights live in its artifact directory (``var/models/<workspace>/<name>-v<N>/``, see
:mod:`leadflow.predictive.artifacts`); the registry row records where, with its checksum, metrics and
whether it is the active one. ``lead_predictions`` keeps one row per (lead, model name): the latest
probability, the model version that produced it, the per-lead factors and when it was computed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from leadflow.store.tables import ID, TS, Base, JSONType, new_id


class PredictiveModelRow(Base):
    __tablename__ = "predictive_models"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    name: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(String(1000))
    algorithm: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(String(40))
    horizon_days: Mapped[int | None] = mapped_column(Integer)
    checksum: Mapped[str] = mapped_column(String(64))
    format_version: Mapped[int] = mapped_column(Integer)
    metrics: Mapped[dict] = mapped_column(JSONType, default=dict)
    meta: Mapped[dict] = mapped_column(JSONType, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(TS)
    created_by: Mapped[str | None] = mapped_column(String(200))
    __table_args__ = (UniqueConstraint("workspace_id", "name", "version"),)


class LeadPrediction(Base):
    __tablename__ = "lead_predictions"
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id"), primary_key=True)
    model_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    model_version: Mapped[int] = mapped_column(Integer)
    probability: Mapped[float] = mapped_column(Float)
    factors: Mapped[list] = mapped_column(JSONType, default=list)
    scored_at: Mapped[datetime] = mapped_column(TS)
    __table_args__ = (Index("ix_lead_predictions_ws_model_p", "workspace_id", "model_name", "probability"),)
