"""Channel spend, for channel economics (cost per lead / MQL / SQL / customer).

One row per channel and period: what was spent on a channel (a lead ``source``, a ``source/medium`` pair or
any named channel) between ``period_start`` and ``period_end`` (both inclusive dates). A channel and period
is stored once per workspace: importing it again replaces the amount.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Float, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from leadflow.store.tables import ID, TS, Base, new_id


class ChannelSpend(Base):
    __tablename__ = "channel_spend"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), index=True)
    channel: Mapped[str] = mapped_column(String(200))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    amount: Mapped[float] = mapped_column(Float)
    currency: Mapped[str] = mapped_column(String(3))
    origin: Mapped[str] = mapped_column(String(10), default="api")  # csv | api
    created_at: Mapped[datetime] = mapped_column(TS)
    updated_at: Mapped[datetime] = mapped_column(TS)
    __table_args__ = (UniqueConstraint("workspace_id", "channel", "period_start", "period_end"),)
