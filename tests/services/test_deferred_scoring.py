"""Deferred scoring (the HTTP ingest path): events stored and queued, scored later by ``qualify_queued``.

The invariant: however the queue is drained (in one go, a few rows at a time between ingest batches, by two
PostgreSQL sessions at once), the scores, stages and stage history end up exactly what scoring each batch
inline gives; nothing stays queued and nothing is folded twice.
"""

from __future__ import annotations

import asyncio
import random
import threading
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

import async_run
from leadflow.api.writer import IngestWriter, Unit
from leadflow.core.events import validate_event
from leadflow.facade import Leadflow
from leadflow.services.ingest import Ingestor, queue_depth, queued_workspace
from leadflow.settings import Settings
from leadflow.store.tables import Lead, QualifyQueue, ScoreState, StageChange, Workspace

BASE = datetime(2026, 1, 1, tzinfo=UTC)
RECEIVED = BASE + timedelta(days=90)
TYPES = ["page_view", "email_open", "form_submit", "content_download", "demo_requested", "email_unsubscribe"]
URLS = ["/", "/pricing", "/blog/a", "/docs"]

event_st = st.tuples(
    st.integers(0, 3),  # person: 0-2 known by email, 3 an anonymous visitor until identified
    st.sampled_from(TYPES),
    st.floats(0, 60 * 86400, allow_nan=False),  # seconds after BASE
    st.sampled_from(URLS),
    st.integers(0, 300),  # message id seed (collisions make duplicates)
    st.booleans(),  # with the anonymous id as well (identifies the visitor when an email is there too)
)


def _raw(person: int, etype: str, secs: float, path: str, mid: int, anon: bool) -> dict:
    raw = {"type": etype, "message_id": f"m{mid}", "timestamp": (BASE + timedelta(seconds=secs)).isoformat(),
           "properties": {"url": path, "asset_type": "ebook"}}
    if person < 3:
        raw["email"] = f"p{person}@acme.io"
        if anon:
            raw["anonymous_id"] = f"anon-{person}"
    else:
        raw["anonymous_id"] = "anon-0" if anon else "anon-x"
    return raw


def _valid(raws: list[dict]) -> list:
    return [(i, validate_event(r, received_at=RECEIVED)) for i, r in enumerate(raws)]


def _snapshot(lf: Leadflow) -> dict:
    """Per lead (by email): stage, each model's stored score, and the live stage history."""
    out = {}
    with lf.db.session() as s:
        for lead in s.scalars(select(Lead).where(Lead.workspace_id == lf.workspace_id)):
            states = sorted((r.model_key, r.model_version, round(r.fit, 9), r.grade, round(r.engagement, 9),
                             r.last_event_at and r.last_event_at.replace(tzinfo=None))
                            for r in s.scalars(select(ScoreState).where(ScoreState.lead_id == lead.id)))
            live = sorted((r.from_stage, r.to_stage, r.at.replace(tzinfo=None), r.rule, r.actor)
                          for r in s.scalars(select(StageChange).where(StageChange.lead_id == lead.id,
                                                                       StageChange.superseded_at.is_(None))))
            out[lead.email] = (lead.stage, states, live)
    return out


def _ingest_deferred(lf: Leadflow, items: list) -> None:
    with lf.db.session() as s:
        Ingestor(s, s.get(Workspace, lf.workspace_id)).ingest_valid(items, defer_scoring=True)


def _drain(lf: Leadflow, limit: int, rounds: int | None = None) -> int:
    done = 0
    while rounds is None or rounds > 0:
        with lf.db.session() as s:
            n = Ingestor(s, s.get(Workspace, lf.workspace_id)).qualify_queued(limit)
        done += n
        if rounds is not None:
            rounds -= 1
        if n == 0:
            break
    return done


def _stored_engagement(lf: Leadflow, email: str) -> float | None:
    """The engagement score stored for the lead (None: not scored yet)."""
    with lf.db.session() as s:
        return s.scalar(select(ScoreState.engagement).join(Lead, Lead.id == ScoreState.lead_id).where(
            Lead.workspace_id == lf.workspace_id, Lead.email == email))


def _depth(lf: Leadflow) -> int:
    with lf.db.session() as s:
        return queue_depth(s, lf.workspace_id)


@settings(max_examples=25, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(stream=st.lists(event_st, min_size=1, max_size=30), batches=st.integers(1, 4), seed=st.integers(0, 10**6))
def test_deferred_then_drained_equals_inline(tmp_path_factory, stream, batches, seed):
    rng = random.Random(seed)
    raws = [_raw(*e) for e in stream]
    raws = raws + rng.sample(raws, k=min(len(raws), 3))  # re-sent messages
    rng.shuffle(raws)
    size = max(1, len(raws) // batches)
    parts = [raws[i:i + size] for i in range(0, len(raws), size)]
    folder = tmp_path_factory.mktemp("deferred")
    inline, deferred = Leadflow(f"sqlite:///{folder / 'a.db'}", "w"), Leadflow(f"sqlite:///{folder / 'b.db'}", "w")
    try:
        for part in parts:
            with inline.db.session() as s:
                Ingestor(s, s.get(Workspace, inline.workspace_id)).ingest_valid(_valid(part))
            _ingest_deferred(deferred, _valid(part))
            _drain(deferred, limit=rng.randint(1, 6), rounds=rng.randint(0, 2))  # part of the backlog, or none
        _drain(deferred, limit=rng.randint(1, 50))
        assert _depth(deferred) == 0
        assert _snapshot(deferred) == _snapshot(inline)
    finally:
        inline.close()
        deferred.close()


def test_queue_rows_and_a_drain(lf):
    """Each stored event of a lead is queued once; anonymous events (no lead yet) and duplicates are not."""
    raws = [{"type": "page_view", "email": "ana@acme.io", "message_id": "a1",
             "timestamp": BASE.isoformat(), "properties": {"url": "/pricing"}},
            {"type": "demo_requested", "email": "ana@acme.io", "message_id": "a2",
             "timestamp": (BASE + timedelta(hours=1)).isoformat()},
            {"type": "page_view", "anonymous_id": "v1", "message_id": "v1",  # no lead: nothing to score
             "timestamp": BASE.isoformat()}]
    _ingest_deferred(lf, _valid(raws))
    with lf.db.session() as s:
        rows = s.execute(select(QualifyQueue.event_id.is_(None)).where(
            QualifyQueue.workspace_id == lf.workspace_id).order_by(QualifyQueue.seq)).scalars().all()
        assert rows == [False, False]  # two events of one lead, no replay asked
        assert queued_workspace(s) == lf.workspace_id
        assert s.scalar(select(func.count()).select_from(ScoreState)) == 0  # nothing scored yet
    assert _stored_engagement(lf, "ana@acme.io") is None
    _ingest_deferred(lf, _valid(raws))  # re-sent: all duplicates, nothing more queued
    assert _depth(lf) == 2
    assert _drain(lf, limit=1) == 2
    assert _depth(lf) == 0
    assert _stored_engagement(lf, "ana@acme.io") > 0  # the demo request and the pricing visit count
    with lf.db.session() as s:
        assert queued_workspace(s) is None


@pytest.mark.postgres
def test_two_postgres_sessions_drain_the_queue_at_once(pg_url):
    """SKIP LOCKED gives each session its own rows and the lead locks serialise a lead's folds: the result
    is the inline one, and every row is handled exactly once."""
    inline_url = pg_url
    deferred = Leadflow(pg_url, "deferred")
    inline = Leadflow(inline_url, "inline")
    rng = random.Random(7)
    raws = [{"type": rng.choice(TYPES), "email": f"p{rng.randint(0, 9)}@acme.io", "message_id": f"m{i}",
             "timestamp": (BASE + timedelta(seconds=rng.uniform(0, 30 * 86400))).isoformat(),
             "properties": {"url": rng.choice(URLS)}} for i in range(400)]
    try:
        for i in range(0, len(raws), 50):
            part = _valid(raws[i:i + 50])
            with inline.db.session() as s:
                Ingestor(s, s.get(Workspace, inline.workspace_id)).ingest_valid(part)
            _ingest_deferred(deferred, part)
        queued = _depth(deferred)
        handled: list[int] = []
        errors: list[BaseException] = []

        def worker() -> None:
            try:
                handled.append(_drain(deferred, limit=7))
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not errors
        assert sum(handled) == queued and _depth(deferred) == 0
        assert _snapshot(deferred) == _snapshot(inline)
    finally:
        deferred.close()
        inline.close()


def _units(ws_id: str, n: int) -> list[Unit]:
    return [Unit(ws_id, [], [(0, validate_event({"type": "demo_requested", "email": f"u{i}@beta.io",
                                                 "message_id": f"w{i}", "timestamp": BASE.isoformat()},
                                                received_at=RECEIVED))]) for i in range(n)]


async def _write_all(writer: IngestWriter, units: list[Unit]) -> list:
    return await asyncio.gather(*(writer.write(u.workspace_id, u.leads, u.items) for u in units))


def test_the_writer_scores_between_requests_and_settles(db_url):
    lf = Leadflow(db_url, "acme")
    writer = IngestWriter(lf.db, Settings(database_url=db_url, qualify_batch=3))
    try:
        results = async_run.run(_write_all(writer, _units(lf.workspace_id, 10)))
        assert [r[0].status for r in results] == ["accepted"] * 10
        assert writer.settle(60)
        assert _depth(lf) == 0
        with lf.db.session() as s:
            assert s.scalar(select(func.count()).select_from(ScoreState).where(
                ScoreState.workspace_id == lf.workspace_id)) == 10
        assert _stored_engagement(lf, "u3@beta.io") > 0
    finally:
        writer.close()
        lf.close()


def test_a_backlog_left_by_a_stopped_server_is_scored_at_the_next_start(sqlite_url):
    lf = Leadflow(sqlite_url, "acme")
    _ingest_deferred(lf, _valid([{"type": "demo_requested", "email": "left@acme.io", "message_id": "l1",
                                  "timestamp": BASE.isoformat()}]))
    assert _depth(lf) == 1
    writer = IngestWriter(lf.db, Settings(database_url=sqlite_url))
    try:
        writer.start()
        assert writer.settle(60)
        assert _depth(lf) == 0 and _stored_engagement(lf, "left@acme.io") > 0
    finally:
        writer.close()
        lf.close()


def test_inline_setting_scores_in_the_request(sqlite_url):
    lf = Leadflow(sqlite_url, "acme")
    writer = IngestWriter(lf.db, Settings(database_url=sqlite_url, ingest_scoring="inline"))
    try:
        async_run.run(_write_all(writer, _units(lf.workspace_id, 3)))
        assert _depth(lf) == 0  # nothing was queued
        assert _stored_engagement(lf, "u1@beta.io") > 0  # scored before the response
    finally:
        writer.close()
        lf.close()


def test_scorer_process_mode_the_writer_only_stores_and_the_scorer_scores(db_url):
    """With ``scoring_process`` the writer stores and queues; ``QueueScorer`` (the scorer process's loop, on an
    engine that begins IMMEDIATE on SQLite) scores; the result is the inline one."""
    from leadflow.services.scorer import QueueScorer
    from leadflow.store.db import Database

    lf = Leadflow(db_url, "acme")
    settings = Settings(database_url=db_url, scoring_process=True)
    writer = IngestWriter(lf.db, settings)
    scorer_db = Database(db_url, immediate=True)
    try:
        async_run.run(_write_all(writer, _units(lf.workspace_id, 5)))
        assert writer.settle(60)
        assert _depth(lf) == 5 and _stored_engagement(lf, "u2@beta.io") is None  # stored, not scored
        assert QueueScorer(scorer_db, settings).drain() == 5
        assert _depth(lf) == 0 and _stored_engagement(lf, "u2@beta.io") > 0
    finally:
        writer.close()
        scorer_db.dispose()
        lf.close()


def test_scorer_command_drains_the_queue(sqlite_url, monkeypatch):
    from typer.testing import CliRunner

    from leadflow.cli import app
    from leadflow.settings import get_settings

    lf = Leadflow(sqlite_url, "acme")
    _ingest_deferred(lf, _valid([{"type": "demo_requested", "email": "cli@acme.io", "message_id": "c1",
                                  "timestamp": BASE.isoformat()}]))
    monkeypatch.setenv("LEADFLOW_DATABASE_URL", sqlite_url)
    get_settings.cache_clear()
    try:
        out = CliRunner().invoke(app, ["scorer", "--once"])
        assert out.exit_code == 0, out.output
        assert "scored 1 queued event" in out.output
        assert _depth(lf) == 0 and _stored_engagement(lf, "cli@acme.io") > 0
        # --database-url names the store instead of the setting
        _ingest_deferred(lf, _valid([{"type": "page_view", "email": "cli@acme.io", "message_id": "c2",
                                      "timestamp": BASE.isoformat()}]))
        monkeypatch.setenv("LEADFLOW_DATABASE_URL", "sqlite:///does-not-matter.db")
        get_settings.cache_clear()
        out = CliRunner().invoke(app, ["scorer", "--once", "--database-url", sqlite_url])
        assert out.exit_code == 0 and "scored 1 queued event" in out.output, out.output
        assert _depth(lf) == 0
    finally:
        get_settings.cache_clear()
        lf.close()


def test_sqlite_writer_and_scorer_write_concurrently_without_lock_errors(tmp_path):
    """Two writers on one SQLite file (the server's ingest writer, the scorer process's loop, here a thread
    with its own engine): BEGIN IMMEDIATE makes each wait for the write lock, none fails; the outcome equals
    inline scoring of the same events."""
    from leadflow.services.scorer import QueueScorer
    from leadflow.store.db import Database

    url = f"sqlite:///{tmp_path / 'c.db'}"
    lf = Leadflow(url, "acme")
    settings = Settings(database_url=url, scoring_process=True, qualify_batch=7)
    writer = IngestWriter(lf.db, settings)
    scorer_db = Database(url, immediate=True)
    scorer = QueueScorer(scorer_db, settings)
    scorer.interval = 0.001
    rng = random.Random(3)
    raws = [{"type": rng.choice(TYPES), "email": f"p{rng.randint(0, 19)}@acme.io", "message_id": f"m{i}",
             "timestamp": (BASE + timedelta(seconds=rng.uniform(0, 30 * 86400))).isoformat(),
             "properties": {"url": rng.choice(URLS)}} for i in range(300)]
    inline = Leadflow(f"sqlite:///{tmp_path / 'i.db'}", "acme")
    try:
        scorer.start()
        units = [Unit(lf.workspace_id, [], _valid(raws[i:i + 3])) for i in range(0, len(raws), 3)]
        results = async_run.run(_write_all(writer, units))
        assert all(r.status == "accepted" for rs in results for r in rs)
        assert writer.settle(60)
        scorer.stop()
        QueueScorer(scorer_db, settings).drain()
        assert _depth(lf) == 0
        for i in range(0, len(raws), 3):
            inline.ingest(raws[i:i + 3], received_at=RECEIVED)
        assert _snapshot(lf) == _snapshot(inline)
    finally:
        scorer.stop()
        writer.close()
        scorer_db.dispose()
        lf.close()
        inline.close()
