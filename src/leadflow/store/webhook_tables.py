"""Webhook tables: subscriptions, the outbox (one row per signal and subscription) and the delivery log.

The outbox row is written in the same transaction as the change that caused it (a rolled-back ingest
leaves none); a worker claims due rows, posts them and writes one ``webhook_deliveries`` row per attempt.
``event_id`` is the same for every subscription that receives a given signal and never changes across
retries or replays, so receivers can deduplicate on it (delivery is at-least-once).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from leadflow.store.tables import ID, TS, Base, JSONType, new_id

#: outbox statuses
PENDING, SUCCEEDED, FAILED = "pending", "succeeded", "failed"


class WebhookSubscription(Base):
    __tablename__ = "webhook_subscriptions"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(200))
    events: Mapped[list] = mapped_column(JSONType, default=list)  # signal kinds, or ["*"]
    description: Mapped[str | None] = mapped_column(String(500))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(TS)
    updated_at: Mapped[datetime] = mapped_column(TS)
    __table_args__ = (Index("ix_webhook_subscriptions_ws_active", "workspace_id", "active"),)


class WebhookOutbox(Base):
    """One signal to send to one subscription, with its retry state."""

    __tablename__ = "webhook_outbox"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    subscription_id: Mapped[str] = mapped_column(ForeignKey("webhook_subscriptions.id"))
    event_id: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(40))
    lead_id: Mapped[str | None] = mapped_column(String(32))
    payload: Mapped[dict] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(12), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)         # every attempt ever made
    cycle_attempts: Mapped[int] = mapped_column(Integer, default=0)   # attempts since creation or last replay
    cycle_started_at: Mapped[datetime] = mapped_column(TS)            # creation or last replay
    next_attempt_at: Mapped[datetime] = mapped_column(TS)
    locked_by: Mapped[str | None] = mapped_column(String(64))         # worker holding the lease
    locked_until: Mapped[datetime | None] = mapped_column(TS)
    last_attempt_at: Mapped[datetime | None] = mapped_column(TS)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(TS)
    created_at: Mapped[datetime] = mapped_column(TS)
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id"),
        Index("ix_webhook_outbox_due", "status", "next_attempt_at"),
        Index("ix_webhook_outbox_ws_created", "workspace_id", "created_at"),
    )


class WebhookDelivery(Base):
    """One attempt to deliver an outbox row: what the receiver answered, or why it could not be reached."""

    __tablename__ = "webhook_deliveries"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    outbox_id: Mapped[str] = mapped_column(ForeignKey("webhook_outbox.id"))
    subscription_id: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(String(40))
    attempt: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    duration_ms: Mapped[float] = mapped_column(Float)
    success: Mapped[bool] = mapped_column(Boolean)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    response_snippet: Mapped[str | None] = mapped_column(Text)
    worker: Mapped[str | None] = mapped_column(String(64))
    __table_args__ = (Index("ix_webhook_deliveries_outbox", "outbox_id", "attempt"),)
