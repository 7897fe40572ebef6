"""Domain signals: what happened to leads in a unit of work, handed to the services that react to it.

The write path (``Ingestor``) publishes a :class:`Signal` for every lead created, every change of a lead's
current stage (plus ``lead.mql`` / ``lead.sql`` when it reaches those stages) and every outcome, *inside the
same transaction* as the change. Subscribers run in that transaction too, so what they write (a webhook
outbox row, an assignment) commits or rolls back with the change itself.

Subscribers are listed here, explicitly, as ``"module:function"`` names resolved on first use; each takes
``(session, workspace_id, signals)`` and may return further signals (e.g. ``lead.assigned``), which are
published in turn to the subscribers after it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy.orm import Session

KINDS = ("lead.created", "stage.changed", "lead.mql", "lead.sql", "lead.assigned", "sla.breached",
         "outcome.recorded")

#: in order: the handoff reacts first (routing a new MQL emits lead.assigned), the webhook outbox last
SUBSCRIBERS: tuple[str, ...] = (
    "leadflow.services.handoff:on_signals",
    "leadflow.services.webhooks:on_signals",
)


@dataclass(frozen=True)
class Signal:
    kind: str
    lead_id: str | None
    at: datetime
    data: dict[str, Any] = field(default_factory=dict)


Subscriber = Callable[[Session, str, Sequence[Signal]], Sequence[Signal] | None]


@cache
def _resolve(name: str) -> Subscriber:
    module, _, attr = name.partition(":")
    return getattr(importlib.import_module(module), attr)


def publish(session: Session, workspace_id: str, signals: Sequence[Signal],
            subscribers: Sequence[str] | None = None) -> None:
    """Hand signals to every subscriber, in order; signals they return go to the subscribers after them."""
    if not signals:
        return
    names = SUBSCRIBERS if subscribers is None else tuple(subscribers)
    pending = list(signals)
    for name in names:
        more = _resolve(name)(session, workspace_id, pending)
        if more:  # later subscribers see the original signals and what this one added
            pending = pending + list(more)
