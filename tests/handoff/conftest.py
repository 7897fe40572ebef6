"""Handoff fixtures: a store with the handoff subscriber wired, a signal recorder, a settable clock, a team."""

from __future__ import annotations

import sys
import types
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from leadflow.services import signals
from leadflow.services import workspaces as ws_svc
from leadflow.services.handoff import common
from leadflow.services.handoff import team as team_svc
from leadflow.store.db import Database
from leadflow.store.migrate import upgrade

# a module the signal bus can resolve by name ("handoff_recorder:record"); records every signal it sees
_rec = types.ModuleType("handoff_recorder")
_rec.seen = []


def _record(session, workspace_id, sigs):  # noqa: ANN001, ARG001
    _rec.seen.extend(sigs)


_rec.record = _record
sys.modules["handoff_recorder"] = _rec

# a Tuesday 09:30 in Berlin, safely in the past so no event is "from the future"
T0 = datetime(2026, 3, 10, 8, 30, tzinfo=UTC)


@pytest.fixture
def clock(monkeypatch):
    state = SimpleNamespace(now=T0)

    def now():
        return state.now

    def advance(**kw):
        state.now = state.now + timedelta(**kw)
        return state.now

    state.advance = advance
    monkeypatch.setattr(common, "utcnow", now)
    return state


@pytest.fixture
def hs(db_url, clock, monkeypatch):
    """Store + workspace + handoff subscriber (first) + recorder (last) + a small team."""
    monkeypatch.setattr(signals, "SUBSCRIBERS", ("leadflow.services.handoff:on_signals", "handoff_recorder:record"))
    _rec.seen.clear()
    db = Database(db_url)
    upgrade(db)
    with db.session() as s:
        ws = ws_svc.get_or_create_workspace(s, "acme")
        ws_id = ws.id
        team_svc.add_territory(s, ws_id, {"key": "emea", "name": "EMEA", "countries": ["Germany", "France", "UK"],
                                          "priority": 50})
        team_svc.add_territory(s, ws_id, {"key": "world", "name": "Rest of world", "priority": 1000})
        for data in (
            {"key": "alice", "name": "Alice", "role": "sdr", "weight": 2, "capacity": 10, "timezone": "Europe/Berlin",
             "country": "DE", "territories": ["emea"], "team_lead": "tess"},
            {"key": "bob", "name": "Bob", "role": "sdr", "weight": 1, "capacity": 10, "timezone": "Europe/London",
             "country": "GB", "territories": ["emea"], "team_lead": "tess"},
            {"key": "ann", "name": "Ann", "role": "ae", "weight": 1, "capacity": 10, "timezone": "Europe/Berlin",
             "country": "DE", "territories": ["emea", "world"], "team_lead": "vera"},
        ):
            team_svc.add_rep(s, ws_id, data)
    yield SimpleNamespace(db=db, ws_id=ws_id, seen=_rec.seen, clock=clock)
    db.dispose()
