"""Inline scoring from two PostgreSQL sessions at once (an import job beside live traffic, two API processes
with inline scoring): the leads folded are locked, so no fold is lost - the stored scores, stages and stage
history equal a full recompute from the log afterwards."""

from __future__ import annotations

import json
import random
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from leadflow.core.events import validate_event
from leadflow.facade import Leadflow
from leadflow.services.ingest import Ingestor
from leadflow.store.tables import Lead, ScoreState, StageChange, Workspace

BASE = datetime(2026, 1, 1, tzinfo=UTC)
TYPES = ["page_view", "email_open", "form_submit", "content_download", "demo_requested", "email_unsubscribe"]


def _snapshot(lf: Leadflow) -> dict:
    out = {}
    with lf.db.session() as s:
        for lead in s.scalars(select(Lead).where(Lead.workspace_id == lf.workspace_id)):
            # the whole fold state too: the engagement score alone saturates at the model's ceiling
            states = sorted((r.model_key, round(r.fit, 9), r.grade, round(r.engagement, 9), r.last_event_at,
                             json.dumps(r.state, sort_keys=True))
                            for r in s.scalars(select(ScoreState).where(ScoreState.lead_id == lead.id)))
            live = sorted((r.from_stage, r.to_stage, r.at, r.rule)
                          for r in s.scalars(select(StageChange).where(StageChange.lead_id == lead.id,
                                                                       StageChange.superseded_at.is_(None))))
            out[lead.email] = (lead.stage, states, live)
    return out


def _ingest(lf: Leadflow, raws: list[dict]) -> None:
    items = [(i, validate_event(r, received_at=BASE + timedelta(days=60))) for i, r in enumerate(raws)]
    with lf.db.session() as s:
        Ingestor(s, s.get(Workspace, lf.workspace_id)).ingest_valid(items)


@pytest.mark.postgres
def test_two_inline_writers_on_the_same_leads_lose_no_fold(pg_url, monkeypatch):
    # widen the window between reading a lead's state and writing the folded one, where a concurrent fold of
    # the same lead would be lost without the lock
    orig = Ingestor._write_states

    def slow_write(self, rows):  # noqa: ANN001
        time.sleep(0.01)
        return orig(self, rows)

    monkeypatch.setattr(Ingestor, "_write_states", slow_write)
    lf = Leadflow(pg_url, "acme")
    people = [f"p{i}@acme.io" for i in range(3)]
    try:
        _ingest(lf, [{"type": "page_view", "email": p, "message_id": f"seed-{p}", "timestamp": BASE.isoformat()}
                     for p in people])
        errors: list[BaseException] = []

        def writer(seed: int) -> None:
            rng = random.Random(seed)
            try:
                for b in range(25):
                    # events mostly in time order (the O(1) fold), some late (a replay)
                    raws = [{"type": rng.choice(TYPES), "email": rng.choice(people), "message_id": f"{seed}-{b}-{j}",
                             "timestamp": (BASE + timedelta(hours=b * 10 + j - (30 if rng.random() < 0.1 else 0),
                                                            minutes=seed)).isoformat(),
                             "properties": {"url": "/pricing", "asset_type": "ebook"}} for j in range(4)]
                    _ingest(lf, raws)
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(seed,)) for seed in (1, 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(180)
        assert not errors, errors
        stored = _snapshot(lf)
        with lf.db.session() as s:  # a full recompute of every lead from the log
            ing = Ingestor(s, s.get(Workspace, lf.workspace_id))
            ing.requalify(sorted(s.scalars(select(Lead.id).where(Lead.workspace_id == lf.workspace_id))))
        assert stored == _snapshot(lf)
    finally:
        lf.close()
