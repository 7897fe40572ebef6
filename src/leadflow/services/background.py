"""Background work a serving process runs beside the requests: webhook delivery and SLA clocks.

``leadflow serve`` turns these on (setting ``background``); tests and embedded uses of ``create_app`` do not.
Each loop runs in a daemon thread, does its work in short transactions and survives a failing round (logged).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from leadflow.services.handoff.sla import check_sla
from leadflow.services.loops import Loop
from leadflow.services.webhooks import RetryPolicy, Worker
from leadflow.settings import Settings
from leadflow.store import handoff_tables as ht
from leadflow.store.db import Database


class SlaChecker(Loop):
    """Every ``interval`` seconds, check the SLA clocks of every workspace that has a sales team."""

    thread_name = "leadflow-sla"

    def __init__(self, database: Database, interval: float = 60.0) -> None:
        super().__init__()
        self.database = database
        self.interval = interval
        self.rounds = 0

    def run_once(self, now: datetime | None = None) -> int:
        """One round (as of ``now``, default the current time); returns how many breaches were found."""
        with self.database.session() as s:
            workspaces = sorted(set(s.scalars(select(ht.Rep.workspace_id))))
        breaches = 0
        for ws in workspaces:
            with self.database.session() as s:
                breaches += len(check_sla(s, ws, now).breaches)
        self.rounds += 1
        return breaches

    def tick(self) -> bool:
        self.run_once()
        return False


@dataclass
class Background:
    """The loops one serving process runs; :meth:`start` / :meth:`stop` from the app's lifespan."""

    webhooks: Worker | None = None
    sla: SlaChecker | None = None
    started: list[str] = field(default_factory=list)

    @classmethod
    def for_settings(cls, database: Database, settings: Settings) -> Background:
        return cls(webhooks=Worker(database, RetryPolicy.from_settings(settings)) if settings.webhook_worker else None,
                   sla=SlaChecker(database, settings.sla_check_seconds) if settings.sla_check_seconds > 0 else None)

    def start(self) -> None:
        if self.webhooks is not None:
            self.webhooks.start()
            self.started.append("webhooks")
        if self.sla is not None:
            self.sla.start()
            self.started.append("sla")

    def stop(self) -> None:
        if self.webhooks is not None:
            self.webhooks.stop()
        if self.sla is not None:
            self.sla.stop()
