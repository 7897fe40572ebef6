"""A queued event whose scoring keeps failing does not stall deferred scoring: it is isolated, counted, set
aside after MAX_QUALIFY_ATTEMPTS, listed and put back by ``leadflow scorer``; database errors are not counted
against a row. Both stores (``db_url``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from leadflow.api.writer import IngestWriter
from leadflow.core.events import validate_event
from leadflow.facade import Leadflow
from leadflow.services.ingest import (
    MAX_QUALIFY_ATTEMPTS,
    Ingestor,
    QueueDrainer,
    failed_rows,
    queue_depth,
    retry_failed,
)
from leadflow.settings import Settings
from leadflow.store.tables import Lead, QualifyQueue, ScoreState, Workspace

BASE = datetime(2026, 1, 1, tzinfo=UTC)
PEOPLE = ["ann@acme.io", "bad@acme.io", "cat@acme.io", "dan@acme.io"]


def _queue_events(lf: Leadflow) -> None:
    raws = []
    for i in range(3):
        for p, email in enumerate(PEOPLE):
            raws.append({"type": "page_view" if i else "demo_requested", "email": email, "message_id": f"{p}-{i}",
                         "timestamp": (BASE + timedelta(hours=i, minutes=p)).isoformat(),
                         "properties": {"url": "/pricing"}})
    items = [(i, validate_event(r, received_at=BASE + timedelta(days=1))) for i, r in enumerate(raws)]
    with lf.db.session() as s:
        Ingestor(s, s.get(Workspace, lf.workspace_id)).ingest_valid(items, defer_scoring=True)


def _lead_id(lf: Leadflow, email: str) -> str:
    with lf.db.session() as s:
        return s.scalar(select(Lead.id).where(Lead.workspace_id == lf.workspace_id, Lead.email == email))


def _scored(lf: Leadflow) -> set[str]:
    with lf.db.session() as s:
        return set(s.scalars(select(Lead.email).join(ScoreState, ScoreState.lead_id == Lead.id)))


@pytest.fixture
def poisoned(monkeypatch):
    """Make scoring raise whenever the lead ``bad@acme.io`` is among the leads folded; returns a switch."""
    state = {"on": True, "bad": None, "error": ValueError("rule blew up")}
    orig = Ingestor._qualify

    def qualify(self, new_events, replay_ids):  # noqa: ANN001
        if state["on"] and state["bad"] in (set(new_events) | set(replay_ids)):
            raise state["error"]
        return orig(self, new_events, replay_ids)

    monkeypatch.setattr(Ingestor, "_qualify", qualify)
    return state


def _open_queued(url: str, poisoned: dict) -> Leadflow:
    """A store with the events of PEOPLE queued (not scored), bad@acme.io's scoring poisoned."""
    lf = Leadflow(url, "acme")
    _queue_events(lf)
    poisoned["bad"] = _lead_id(lf, "bad@acme.io")
    return lf


@pytest.fixture
def queued(db_url, poisoned):
    lf = _open_queued(db_url, poisoned)
    yield lf
    lf.close()


def _drain(drainer: QueueDrainer, limit: int) -> tuple[int, int]:
    scored = failures = 0
    for _ in range(200):
        n = drainer.step(limit)
        scored += n
        failures += drainer.last_failed
        if n == 0 and not drainer.last_failed:
            break
    return scored, failures


def test_a_failing_row_is_set_aside_and_the_rest_is_scored(db_url, poisoned, queued):
    lf = queued
    drainer = QueueDrainer(lf.db, Settings(database_url=db_url))
    scored, failures = _drain(drainer, limit=5)
    assert _scored(lf) == {"ann@acme.io", "cat@acme.io", "dan@acme.io"}
    with lf.db.session() as s:
        assert queue_depth(s) == 0
        aside = failed_rows(s)
        assert queue_depth(s, failed=True) == len(aside) == 3  # bad@'s three events
    assert {r["lead_id"] for r in aside} == {poisoned["bad"]}
    assert all(r["attempts"] == MAX_QUALIFY_ATTEMPTS and "ValueError: rule blew up" in r["error"] for r in aside)
    assert failures == 3 * MAX_QUALIFY_ATTEMPTS
    assert scored == 9
    # once the fault is fixed, the rows put back are scored like the others
    poisoned["on"] = False
    with lf.db.session() as s:
        assert retry_failed(s) == 3
    assert _drain(drainer, limit=5) == (3, 0)
    assert "bad@acme.io" in _scored(lf)
    with lf.db.session() as s:
        assert queue_depth(s) == 0 and queue_depth(s, failed=True) == 0


def test_database_errors_are_retried_not_counted(db_url, poisoned, queued):
    lf = queued
    poisoned["error"] = OperationalError("SELECT 1", {}, Exception("database is locked"))
    drainer = QueueDrainer(lf.db, Settings(database_url=db_url))
    for _ in range(MAX_QUALIFY_ATTEMPTS + 2):
        with pytest.raises(OperationalError):
            drainer.step(50)
    with lf.db.session() as s:
        assert s.scalar(select(QualifyQueue.attempts).order_by(QualifyQueue.attempts.desc()).limit(1)) == 0
        assert queue_depth(s, failed=True) == 0 and queue_depth(s) == 12


def test_the_writer_keeps_scoring_past_a_failing_row(db_url, poisoned, queued):
    lf = queued
    writer = IngestWriter(lf.db, Settings(database_url=db_url))
    try:
        assert writer.settle(60)  # not stalled: every other row is scored, bad@'s are set aside
    finally:
        writer.close()
    assert _scored(lf) == {"ann@acme.io", "cat@acme.io", "dan@acme.io"}
    with lf.db.session() as s:
        assert queue_depth(s) == 0 and queue_depth(s, failed=True) == 3


def test_scorer_command_lists_and_retries_the_rows_set_aside(sqlite_url, poisoned, monkeypatch):
    from typer.testing import CliRunner

    from leadflow.cli import app
    from leadflow.settings import get_settings

    lf = _open_queued(sqlite_url, poisoned)
    monkeypatch.setenv("LEADFLOW_DATABASE_URL", sqlite_url)
    get_settings.cache_clear()
    try:
        poisoned["error"] = KeyError("[bold]x[/bold]")  # shown as text, not as console markup
        out = CliRunner().invoke(app, ["scorer", "--once"])
        assert out.exit_code == 0 and "scored 9 queued event" in out.output, out.output
        out = CliRunner().invoke(app, ["scorer", "--failed"])
        assert out.exit_code == 0, out.output
        assert out.output.count(poisoned["bad"]) == 3 and "[bold]x[/bold]" in out.output
        poisoned["on"] = False
        out = CliRunner().invoke(app, ["scorer", "--retry-failed", "--once"])
        assert out.exit_code == 0, out.output
        assert "3 queued event(s) put back" in out.output and "scored 3 queued event" in out.output
        assert "no queued event is set aside" in CliRunner().invoke(app, ["scorer", "--failed"]).output
    finally:
        get_settings.cache_clear()
        lf.close()


def test_on_postgresql_a_failure_counts_against_the_row_the_step_took(pg_url, poisoned):
    """With several drainers, SKIP LOCKED hands a step the oldest row *not locked by another*: the failure must be
    counted against that row, not against the oldest pending one (which another drainer holds: counting there
    would also wait for that drainer's lock)."""
    import threading

    lf = _open_queued(pg_url, poisoned)
    try:
        with lf.db.session() as s:
            seqs = {email: s.scalar(select(QualifyQueue.seq).join(Lead, Lead.id == QualifyQueue.lead_id)
                                    .where(Lead.email == email).order_by(QualifyQueue.seq).limit(1))
                    for email in ("ann@acme.io", "bad@acme.io")}
        assert seqs["ann@acme.io"] < seqs["bad@acme.io"]  # ann's rows are the oldest
        drainer = QueueDrainer(lf.db, Settings(database_url=pg_url))
        drainer.careful = 1  # take one row, as after a failed slice
        with lf.db.engine.connect() as other:  # another drainer holds every row older than bad's first
            held = other.execute(select(QualifyQueue.seq).where(QualifyQueue.seq < seqs["bad@acme.io"])
                                 .with_for_update()).scalars().all()
            assert seqs["ann@acme.io"] in held
            out: list = []
            t = threading.Thread(target=lambda: out.append(drainer.step(5)), daemon=True)
            t.start()
            t.join(20)
            assert not t.is_alive(), "the failure count waited for the row another drainer holds"
            other.rollback()
        assert out == [0] and drainer.last_failed
        with lf.db.session() as s:
            attempts = dict(s.execute(select(QualifyQueue.seq, QualifyQueue.attempts)).all())
        assert attempts[seqs["bad@acme.io"]] == 1
        assert attempts[seqs["ann@acme.io"]] == 0
    finally:
        lf.close()


def test_on_postgresql_the_writer_does_not_spin_while_another_drainer_holds_every_row(pg_url, poisoned):
    """Rows held by another drainer (SKIP LOCKED skips them all): the writer looks again after a pause instead of
    polling the queue in a tight loop."""
    import time

    poisoned["on"] = False
    lf = _open_queued(pg_url, poisoned)
    writer = IngestWriter(lf.db, Settings(database_url=pg_url))
    steps = []
    real_step = writer._qualify_step

    def counting_step() -> None:
        steps.append(time.monotonic())
        real_step()

    writer._qualify_step = counting_step  # type: ignore[method-assign]
    try:
        with lf.db.engine.connect() as other:  # another drainer holds every queued row
            other.execute(select(QualifyQueue.seq).with_for_update())
            writer.start()
            time.sleep(1.0)
            held = len(steps)
            other.rollback()
        assert writer.settle(30)  # released: everything is scored
    finally:
        writer.close()
    assert 1 <= held <= 40, f"{held} scoring steps in 1 s while every row was held"
    assert _scored(lf) == set(PEOPLE)
    lf.close()
