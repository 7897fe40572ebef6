"""The serving process's background loops: SLA checks find breaches; the app starts and stops its loops."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from leadflow.services.background import Background, SlaChecker
from leadflow.settings import Settings
from leadflow.store import handoff_tables as ht


def test_sla_checker_round_finds_breaches_of_every_team(lf, monkeypatch):
    from leadflow.services import signals
    from leadflow.services.handoff.team import add_rep, add_territory

    monkeypatch.setattr(signals, "SUBSCRIBERS", ("leadflow.services.handoff:on_signals",))
    with lf.db.session() as s:
        add_territory(s, lf.workspace_id, {"key": "world", "name": "Everywhere", "priority": 1000})
        add_rep(s, lf.workspace_id, {"key": "maya", "name": "Maya", "role": "sdr", "capacity": 10,
                                     "timezone": "UTC", "team_lead": "grace", "territories": ["world"]})
    lf.ingest([{"type": "demo_requested", "email": "ana@acme.io", "timestamp": datetime.now(UTC).isoformat()}])
    with lf.db.session() as s:
        assigned = s.scalars(select(ht.Assignment).where(ht.Assignment.workspace_id == lf.workspace_id)).all()
        assert [a.rep_key for a in assigned] == ["maya"]
    checker = SlaChecker(lf.db, interval=3600)
    later = datetime.now(UTC) + timedelta(days=10)
    assert checker.run_once(later) >= 1       # ten days without a touch: the first-touch SLA is breached
    assert checker.run_once(later) == 0       # and never twice
    assert checker.rounds == 2


def test_app_runs_background_loops_only_when_asked(tmp_path):
    from leadflow.api.app import create_app

    base = {"database_url": f"sqlite:///{tmp_path / 'bg.db'}", "workspace": "acme",
            "secret_key": "test-secret", "sla_check_seconds": 3600}
    assert not Settings(**base).background
    bg = Background.for_settings(None, Settings(**base, background=True))  # type: ignore[arg-type]
    assert bg.webhooks is not None and bg.sla is not None
    app = create_app(Settings(**base, background=True))
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        names = {t.name for t in __import__("threading").enumerate()}
        assert {"leadflow-webhooks", "leadflow-sla"} <= names
    names = {t.name for t in __import__("threading").enumerate()}
    assert "leadflow-sla" not in names and "leadflow-webhooks" not in names
