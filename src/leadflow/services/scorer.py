"""The queue scorer: folds the events the HTTP ingest path queued (deferred scoring) into scores and stages,
in its own process, so storing (the server's ingest writer) and scoring run on two cores.

By default the ingest writer scores between requests in the serving process. With ``scoring_process`` on,
``leadflow serve`` starts this loop in a second process instead (``leadflow scorer`` runs it by hand, e.g.
beside a server that was started without it, or several of them on PostgreSQL, where the queue hands each
its own rows with ``SKIP LOCKED``). On SQLite both processes write, so both open their write transactions
with ``BEGIN IMMEDIATE`` (:class:`~leadflow.store.db.Database` ``immediate=True``): a transaction waits for the
write lock up front instead of failing when it upgrades from reading.
"""

from __future__ import annotations

import logging
import time

from leadflow.services.ingest import QueueDrainer
from leadflow.services.loops import Loop
from leadflow.services.pacing import StepSizer
from leadflow.settings import Settings
from leadflow.store.db import Database

log = logging.getLogger("leadflow.scorer")


class QueueScorer(Loop):
    """Scores queued events, a slice per transaction; polls every ``interval`` seconds when the queue is empty."""

    thread_name = "leadflow-scorer"
    interval = 0.02

    def __init__(self, db: Database, settings: Settings, *, slice_seconds: float = 0.01) -> None:
        super().__init__()
        self.db = db
        self.settings = settings
        self.slice_seconds = slice_seconds
        # SQLite has one write lock and its busy wait polls (1, 2, 5, 10 ... ms): back-to-back slices would starve
        # the server's ingest writer, so after each slice the scorer pauses a part of the time the slice took
        self.pause = db.engine.dialect.name == "sqlite"
        self.pause_ratio = 0.3
        # slices sized from how the last ones went; on SQLite without a fixed part per slice (see StepSizer)
        self.sizer = StepSizer(cap=settings.qualify_batch, amortize=not self.pause)
        self.scored = 0
        self.drainer = QueueDrainer(db, settings)  # a row whose scoring keeps failing is set aside

    def tick(self) -> bool:
        started = time.perf_counter()
        done = self.drainer.step(self.sizer.size(self.slice_seconds))
        took = time.perf_counter() - started
        self.sizer.observe(done, took)
        if done:
            self.scored += done
            if self.pause and not self._stop.is_set():
                time.sleep(took * self.pause_ratio)
        return done > 0 or self.drainer.last_failed

    def drain(self) -> int:
        """Score until the queue is empty; returns how many queue rows were handled."""
        before = self.scored
        while self.tick():
            pass
        return self.scored - before


def run_scorer(settings: Settings, *, follow: bool = True) -> int:
    """Drain the queue once, or (``follow``) keep scoring until interrupted. Returns rows handled."""
    db = Database(settings.database_url, immediate=True)
    scorer = QueueScorer(db, settings)
    try:
        if not follow:
            return scorer.drain()
        scorer.run()
        return scorer.scored
    except KeyboardInterrupt:
        return scorer.scored
    finally:
        db.dispose()
