"""The ingest writer: one writer thread per database that coalesces concurrent ingest requests (group commit).

Each ingest request validates its events itself (pure, no I/O), then hands them to the writer and awaits the
per-event results. The writer thread takes every request waiting in its queue (up to ``max_events``), and
stores them in ONE transaction through :meth:`Ingestor.upsert_leads` / :meth:`Ingestor.ingest_valid` (the one
write path): on SQLite a commit (an fsync of the WAL) is the main cost of a small request, so sharing it
across the requests that arrived meanwhile raises throughput and keeps latency flat under load (the Datasette
"one write thread per database" pattern). Nothing is half-stored: if the shared transaction fails, each
request is retried alone, so one bad request fails only itself.

With ``ingest_group_commit`` off, each request writes in its own transaction from the thread pool.

Scoring is deferred (setting ``ingest_scoring``, default ``deferred``): a request's transaction stores the
events in the log and queues them (``qualify_queue``); the response goes out once they are stored. Once
scoring is due - the oldest stored event has waited ``scoring_delay_ms`` (50 ms), or a step's worth is queued -
the writer folds slices of the queued events into scores and stages until the queue is empty, whenever no
request is waiting and after every group of requests (so scoring always progresses under load), each slice in
one transaction (:meth:`Ingestor.qualify_queued`): as many as fit in ~15 ms while requests wait, ~50 ms otherwise,
at most ``qualify_batch``, but enough that a step's fixed cost (its round trips) is at most half of it
(:class:`~leadflow.services.pacing.StepSizer`). Storing and scoring share this one thread, so on SQLite they
never contend for the write lock. A backlog left by a stopped server is drained when the next one starts.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from anyio import to_thread
from sqlalchemy.exc import IntegrityError

from leadflow.api.metrics import (
    INGEST_BATCH_SIZE,
    INGEST_QUEUE_DEPTH,
    QUALIFY_BACKLOG,
    QUALIFY_EVENTS,
    QUALIFY_FAILED,
)
from leadflow.core.events import ValidEvent
from leadflow.services.ingest import EventResult, Ingestor, QueueDrainer, queue_depth, workspace_row
from leadflow.services.pacing import StepSizer
from leadflow.settings import Settings
from leadflow.store.db import Database

log = logging.getLogger("leadflow.ingest")


@dataclass
class Unit:
    """One request's work: lead records to upsert and validated events ``(index in request, event)``."""

    workspace_id: str
    leads: list[Mapping[str, Any]]
    items: list[tuple[int, ValidEvent]]
    future: asyncio.Future | None = None
    loop: asyncio.AbstractEventLoop | None = None
    results: list[EventResult] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.items) + len(self.leads)


_KICK = object()  # wakes the writer to look at the scoring queue (a request stored without the writer)


def _resolve(fut: asyncio.Future, value: Any, exc: BaseException | None) -> None:
    if fut.done():
        return
    if exc is not None:
        fut.set_exception(exc)
    else:
        fut.set_result(value)


def _resolve_all(pairs: Sequence[tuple[asyncio.Future, Any]], exc: BaseException | None) -> None:
    for fut, value in pairs:
        _resolve(fut, value, exc)


class IngestWriter:
    def __init__(self, db: Database, settings: Settings, *, max_events: int = 2000) -> None:
        self.db = db
        self.settings = settings
        self.group_commit = settings.ingest_group_commit
        self.max_events = max_events
        self.defer = settings.ingest_scoring == "deferred"
        # with a scoring process (services/scorer.py) the writer only stores; on SQLite it then takes the write
        # lock up front (BEGIN IMMEDIATE), as the other process writes too
        self.score_here = self.defer and not settings.scoring_process
        self._own_db = settings.scoring_process and db.engine.dialect.name == "sqlite"
        if self._own_db:
            self.db = Database(db.url, immediate=True)
        self.qualify_batch = settings.qualify_batch
        self._drainer = QueueDrainer(self.db, settings)
        self._sizer = StepSizer(cap=self.qualify_batch)  # steps sized from how the last ones went
        # gathering: stored events wait up to scoring_delay (or until a step's worth is queued) before a step
        self.delay = settings.scoring_delay_ms / 1000.0
        self._pending = 0  # events (and identified leads) stored since the queue was last seen empty
        self._pending_since: float | None = 0.0  # when the oldest of them was stored; 0.0: unknown, due now
        self.q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False
        # until the queue is seen empty: a previous server may have left events to score
        self._backlog = settings.ingest_scoring == "inline" or self.score_here
        self._idle = threading.Event()  # set while nothing is waiting: no request and no queued event

    # -- public -------------------------------------------------------------------------------------
    async def write(self, workspace_id: str, leads: Sequence[Mapping[str, Any]],
                    items: Sequence[tuple[int, ValidEvent]]) -> list[EventResult]:
        """Store one request's leads and events; returns a result per event (accepted / duplicate)."""
        unit = Unit(workspace_id, list(leads), list(items))
        if not unit.size:
            return []
        if not self.group_commit:
            results = await to_thread.run_sync(self.write_sync, unit)
            if self.defer:
                self._put(_KICK)
            return results
        loop = asyncio.get_running_loop()
        unit.loop, unit.future = loop, loop.create_future()
        self._put(unit)
        INGEST_QUEUE_DEPTH.inc()
        return await unit.future

    def write_sync(self, unit: Unit) -> list[EventResult]:
        self._commit([unit], raise_errors=True)
        return unit.results

    def start(self) -> None:
        """Start the writer thread now (the app does at start-up, to score what a previous run left queued)."""
        self._put(_KICK)

    def settle(self, timeout: float = 30.0) -> bool:
        """Wait until every request is stored and every queued event scored (tests, benchmarks, shutdown);
        False if that took longer than ``timeout`` seconds."""
        self._put(_KICK)
        return self._idle.wait(timeout)

    def close(self) -> None:
        self._closed = True
        if self._thread is not None:
            self.q.put(None)
            self._thread.join(timeout=10)
            self._thread = None
        if self._own_db:
            self.db.dispose()

    def _put(self, item: Any) -> None:
        self._ensure_thread()
        with self._lock:
            self._idle.clear()
            self.q.put(item)

    # -- writer thread ------------------------------------------------------------------------------
    def _ensure_thread(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="leadflow-ingest-writer", daemon=True)
                    self._thread.start()

    def _run(self) -> None:
        stop = False
        while not stop:
            if not self._backlog:
                with self._lock:
                    if self.q.empty():
                        self._idle.set()
            try:
                # with events left to score, look for requests until scoring is due, and score when none came
                if self._backlog:
                    wait = self._score_wait()
                    first = self.q.get_nowait() if wait <= 0 else self.q.get(timeout=wait)
                else:
                    first = self.q.get()
            except queue.Empty:
                self._qualify_step()
                continue
            if first is None:
                break
            batch: list[Unit] = []
            n = 0
            item = first
            while True:
                if item is None:
                    stop = True
                elif item is _KICK:
                    self._backlog = self.score_here
                    if self._pending_since is None:  # stored elsewhere (no group commit): counts from now
                        self._pending_since = time.monotonic()
                else:
                    batch.append(item)
                    n += item.size
                if stop or n >= self.max_events:
                    break
                try:
                    item = self.q.get_nowait()
                except queue.Empty:
                    break
            if batch:
                INGEST_QUEUE_DEPTH.dec(len(batch))
                by_ws: dict[str, list[Unit]] = defaultdict(list)
                for u in batch:
                    by_ws[u.workspace_id].append(u)
                for units in by_ws.values():
                    try:
                        self._commit(units, raise_errors=False)
                    except BaseException as exc:  # noqa: BLE001 - never let the writer thread die
                        log.exception("ingest writer failed")
                        self._finish_all(units, exc)
                if self.score_here:
                    self._backlog = True
                    self._pending += n
                    if self._pending_since is None:
                        self._pending_since = time.monotonic()
            if self._backlog and not stop and self._score_wait() <= 0:
                # scoring progresses under a steady stream of requests too, once it is due
                self._qualify_step()

    def _score_wait(self) -> float:
        """Seconds until the next scoring step is due: at once when the oldest stored event has waited
        ``scoring_delay`` or a step's worth of events is queued (or the backlog is of unknown age), else when
        the oldest will have waited that long. Steps of a few events cost their fixed part (round trips) each."""
        if self._pending_since is None or self.delay <= 0 or self._pending >= self._sizer.target(0.05):
            return 0.0
        return self._pending_since + self.delay - time.monotonic()

    def _limit(self) -> int:
        """Queued events to score in the next step: what fits in a short time slice as the last steps went
        (15 ms while requests wait, 50 ms otherwise, so a request never waits long behind scoring), at most
        ``qualify_batch``; more when a step's fixed cost alone exceeds the slice (see StepSizer)."""
        return self._sizer.size(0.015 if not self.q.empty() else 0.05)

    def _qualify_step(self) -> None:
        """Score one batch of queued events; clears the backlog flag when the queue is empty."""
        limit = self._limit()
        started = time.perf_counter()
        try:
            done = self._drainer.step(limit)
            QUALIFY_EVENTS.inc(done)
            self._sizer.observe(done, time.perf_counter() - started)
            self._pending = max(self._pending - done, 0)
            if done >= limit:  # more is queued, and it was due already: keep scoring until the queue is empty
                self._pending_since = 0.0
            if done < limit:
                with self.db.session() as s:
                    left = queue_depth(s)
                    if self._drainer.last_failed:
                        QUALIFY_FAILED.set(queue_depth(s, failed=True))
                QUALIFY_BACKLOG.set(left)
                self._backlog = left > 0
                if not self._backlog:
                    self._pending, self._pending_since = 0, None
                elif self._drainer.last_failed:
                    self._pending_since = 0.0  # rows left behind a failure: keep going
                elif done == 0:
                    # every queued row is held by another drainer (PostgreSQL, SKIP LOCKED): look again after the
                    # scoring delay (at least 50 ms) instead of polling the queue without a pause
                    self._pending, self._pending_since = 0, time.monotonic() + max(0.05 - self.delay, 0.0)
        except Exception:  # noqa: BLE001 - never let the writer thread die; the rows stay queued
            log.exception("scoring queued events failed; retrying in a second")
            time.sleep(1.0)

    def _finish(self, unit: Unit, exc: BaseException | None = None) -> None:
        self._finish_all([unit], exc)

    @staticmethod
    def _finish_all(units: Sequence[Unit], exc: BaseException | None = None) -> None:
        """Resolve the requests' futures: one wake-up per event loop, not one per request."""
        by_loop: dict[asyncio.AbstractEventLoop, list[Unit]] = {}
        for u in units:
            if u.future is not None and u.loop is not None:
                by_loop.setdefault(u.loop, []).append(u)
        for loop, us in by_loop.items():
            try:
                loop.call_soon_threadsafe(_resolve_all, [(u.future, u.results) for u in us], exc)
            except RuntimeError:  # the request's event loop is gone (server stopping)
                pass

    def _commit(self, units: list[Unit], *, raise_errors: bool, attempt: int = 1) -> None:
        try:
            with self.db.session() as s:
                self._apply(s, units)
        except IntegrityError:
            # another writer (a second server process, or requests without group commit) created the same new
            # lead or account between our read and our insert: run again, it now sees the row
            if attempt < 3:
                for u in units:
                    u.results = []
                self._commit(units, raise_errors=raise_errors, attempt=attempt + 1)
                return
            raise
        except Exception as exc:
            if len(units) > 1:  # retry each alone: one bad request fails only itself
                for u in units:
                    u.results = []
                    self._commit([u], raise_errors=raise_errors)
                return
            if raise_errors:
                raise
            log.warning("ingest write failed: %s", exc)
            self._finish(units[0], exc)
            return
        INGEST_BATCH_SIZE.observe(sum(len(u.items) for u in units))
        self._finish_all(units)

    def _apply(self, s: Any, units: list[Unit]) -> None:
        ws = workspace_row(s, units[0].workspace_id)
        if ws is None:
            raise LookupError(f"no workspace {units[0].workspace_id}")
        ing = Ingestor(s, ws, allow_custom_types=self.settings.allow_custom_event_types,
                       future_policy=self.settings.future_timestamps)
        leads = [r for u in units for r in u.leads]
        if leads:
            # identify traits may change fit: with deferred scoring the leads are replayed by the queue too
            ing.upsert_leads(leads, defer_scoring=self.defer)
        combined: list[tuple[int, ValidEvent]] = []
        owner: list[tuple[Unit, int]] = []
        for u in units:
            for idx, ev in u.items:
                combined.append((len(owner), ev))
                owner.append((u, idx))
        if not combined:
            return
        report = ing.ingest_valid(combined, defer_scoring=self.defer)
        for r in report.results:
            u, idx = owner[r.index]
            u.results.append(EventResult(idx, r.status, id=r.id, field=r.field, reason=r.reason))
