"""Demo team and simulated SDR activity: the handoff screens have data after ``make demo``."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from leadflow.demo.generator import DemoConfig
from leadflow.services import signals
from leadflow.services import workspaces as ws_svc
from leadflow.services.demo import load_demo
from leadflow.services.handoff import reports
from leadflow.services.handoff.demo import seed_demo_team, simulate_activity
from leadflow.services.handoff.routing import route_pending
from leadflow.store import handoff_tables as ht
from leadflow.store.db import Database
from leadflow.store.migrate import upgrade


def test_demo_team_and_activity(sqlite_url, monkeypatch):
    monkeypatch.setattr(signals, "SUBSCRIBERS", ("leadflow.services.handoff:on_signals",))
    db = Database(sqlite_url)
    upgrade(db)
    with db.session() as s:
        ws_id = ws_svc.get_or_create_workspace(s, "acme").id
    cfg = DemoConfig(seed=3, accounts=40, leads=200, start=datetime(2026, 1, 1, tzinfo=UTC), days=60,
                     events_per_lead=12)
    load_demo(db, ws_id, cfg)  # before the team exists: nothing is routed or queued
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(ht.Assignment)) == 0
        assert seed_demo_team(s, ws_id) == {"territories": 5, "reps": 8}
        assert seed_demo_team(s, ws_id) == {"territories": 0, "reps": 0}  # idempotent
        assert len(route_pending(s, ws_id)) > 10
        assert route_pending(s, ws_id) == []  # all routed now
    with db.session() as s:
        routed = s.scalar(select(func.count()).select_from(ht.Assignment).where(ht.Assignment.workspace_id == ws_id))
        assert routed > 10
        counts = simulate_activity(s, ws_id, seed=1, now=datetime(2026, 3, 15, tzinfo=UTC))
        assert counts["worked"] > 0 and counts["accepted"] > 0 and counts["rejected"] > 0
    with db.session() as s:
        rep = reports.full_report(s, ws_id)
        assert rep["speed_to_lead"]["count"] > 0 and rep["speed_to_lead"]["p95_minutes"] >= rep["speed_to_lead"]["p50_minutes"]
        assert rep["rejections"]["rejected"] == counts["rejected"]
        assert rep["distribution"]["pools"]
    db.dispose()
