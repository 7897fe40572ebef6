"""Background work a serving process runs beside the requests: webhook delivery and SLA clocks.

``leadflow serve`` turns these on (setting ``background``); tests and embedded uses of ``create_app`` do not.
Each loop runs in a daemon thread, does its work in short transactions and survives a failing round (logged).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from leadflow.services.handoff.sla import check_sla
from leadflow.services.webhooks import RetryPolicy, Worker
from leadflow.settings import Settings
from leadflow.store import handoff_tables as ht
from leadflow.store.db import Database

log = logging.getLogger("leadflow.background")


class SlaChecker:
    """Every ``interval`` seconds, check the SLA clocks of every workspace that has a sales team."""

    def __init__(self, database: Database, interval: float = 60.0) -> None:
        self.database = database
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
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

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # noqa: BLE001 - a database hiccup must not stop the clocks for good
                log.exception("SLA check round failed")
            self._stop.wait(self.interval)

    def start(self) -> SlaChecker:
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="leadflow-sla", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float | None = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None


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
