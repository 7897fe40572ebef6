"""Background jobs with progress, persisted in the ``jobs`` table.

A job is created (``queued``) inside the request's transaction, then handed to a :class:`JobRunner` (a small
thread pool in the serving process) once that transaction has committed. The runner marks it ``running``,
calls the work function with a ``progress(done, total)`` callback (written to the row at most every
``PROGRESS_EVERY`` seconds, and at the end), and stores its JSON result (``succeeded``) or error (``failed``).
Anyone can poll the row. On SQLite, progress is kept in the runner's memory instead of being written while the
job runs (a job such as an import holds SQLite's single write lock for its whole transaction, so a progress
write from another connection would wait for it): :meth:`JobRunner.live` gives it to readers in this process.
A job found ``queued`` or ``running`` when a runner starts belonged to a process that
died: it is marked failed with that reason (re-run it; the work functions are idempotent).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from leadflow.core.timeutil import utcnow
from leadflow.store.auth_tables import Job
from leadflow.store.db import Database

log = logging.getLogger("leadflow.jobs")
PROGRESS_EVERY = 0.25  # seconds between progress writes
Progress = Callable[[int, int | None], None]
Work = Callable[[Progress], dict[str, Any] | None]


class JobFailed(Exception):
    """Raise from a work function to fail the job with a message and a JSON result (e.g. per-row errors)."""

    def __init__(self, message: str, result: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.result = result


def create_job(session: Session, workspace_id: str, kind: str, params: dict[str, Any] | None = None,
               created_by: str | None = None) -> Job:
    job = Job(workspace_id=workspace_id, kind=kind, status="queued", done=0, total=None, params=params or {},
              created_by=created_by, created_at=utcnow())
    session.add(job)
    session.flush()
    return job


def get_job(session: Session, workspace_id: str, job_id: str) -> Job:
    job = session.scalar(select(Job).where(Job.workspace_id == workspace_id, Job.id == job_id))
    if job is None:
        raise LookupError(f"no job {job_id}")
    return job


def list_jobs(session: Session, workspace_id: str, limit: int = 50) -> list[Job]:
    return list(session.scalars(select(Job).where(Job.workspace_id == workspace_id)
                                .order_by(Job.created_at.desc(), Job.id.desc()).limit(limit)))


def queue_depth(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Job).where(Job.status.in_(("queued", "running"))))
               or 0)


class JobRunner:
    """Runs jobs in ``workers`` threads of this process."""

    def __init__(self, db: Database, workers: int = 1) -> None:
        self.db = db
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="leadflow-job")
        self.pending = 0
        self._lock = threading.Lock()
        self._live: dict[str, tuple[int, int | None]] = {}
        self._persist_progress = db.engine.dialect.name != "sqlite"

    def live(self, job_id: str) -> tuple[int, int | None] | None:
        """In-memory progress (done, total) of a job running in this process, if any."""
        return self._live.get(job_id)

    def recover(self) -> int:
        """Mark jobs left queued/running by a dead process as failed; returns how many."""
        with self.db.session() as s:
            return s.execute(update(Job).where(Job.status.in_(("queued", "running"))).values(
                status="failed", error="interrupted: the server stopped before the job finished; run it again",
                finished_at=utcnow())).rowcount or 0

    def submit(self, job_id: str, work: Work) -> Future:
        with self._lock:
            self.pending += 1
        return self.pool.submit(self._run, job_id, work)

    def _set(self, job_id: str, **values: Any) -> None:
        with self.db.session() as s:
            s.execute(update(Job).where(Job.id == job_id).values(**values))

    def _run(self, job_id: str, work: Work) -> None:
        try:
            self._set(job_id, status="running", started_at=utcnow())
            last = [0.0]

            def progress(done: int, total: int | None) -> None:
                self._live[job_id] = (int(done), None if total is None else int(total))
                if not self._persist_progress:
                    return
                now = time.monotonic()
                if now - last[0] >= PROGRESS_EVERY or (total is not None and done >= total):
                    last[0] = now
                    self._set(job_id, done=int(done), total=None if total is None else int(total))

            try:
                result = work(progress)
            except JobFailed as exc:
                done, total = self._live.get(job_id, (0, None))
                self._set(job_id, status="failed", done=done, total=total, error=str(exc), result=exc.result, finished_at=utcnow())
            except Exception as exc:  # noqa: BLE001 - a job's failure is recorded, not raised
                log.exception("job %s failed", job_id)
                self._set(job_id, status="failed", error=f"{type(exc).__name__}: {exc}", finished_at=utcnow())
            else:
                done, total = self._live.get(job_id, (0, None))
                with self.db.session() as s:
                    job = s.get(Job, job_id)
                    if job is not None:
                        job.status = "succeeded"
                        job.result = result or {}
                        job.finished_at = utcnow()
                        job.total = total if total is not None else job.total
                        job.done = job.total if job.total is not None else done
        finally:
            self._live.pop(job_id, None)
            with self._lock:
                self.pending -= 1

    def shutdown(self, wait: bool = True) -> None:
        self.pool.shutdown(wait=wait, cancel_futures=not wait)
