"""The store-backed path on SQLite and PostgreSQL: point-in-time features, train, score, explain, drift."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import func, select

from leadflow.demo.generator import DemoConfig
from leadflow.predictive import features as F
from leadflow.predictive import service
from leadflow.predictive.errors import TooFewOutcomes
from leadflow.services.demo import load_demo
from leadflow.store.predictive_tables import LeadPrediction, PredictiveModelRow
from leadflow.store.tables import Lead

START = datetime(2026, 1, 1, tzinfo=UTC)


def _features(lf, cutoff):
    rules = service.rules_model(lf.db, lf.workspace_id)
    store, aux = F.open_for(lf.db, lf.workspace_id)
    try:
        spec = F.FeatureSpec(event_types=["page_view", "form_submit", "demo_requested", "email_open"])
        return F.build(store, aux, spec, [cutoff], model=rules, labels=True)
    finally:
        store.close()


def test_features_at_t_ignore_everything_after_t(lf):
    load_demo(lf.db, lf.workspace_id, DemoConfig(seed=11, leads=40, accounts=8, days=60, events_per_lead=8))
    cutoff = START + timedelta(days=40)
    before = _features(lf, cutoff)
    assert len(before) > 5
    with lf.db.session() as s:
        emails = list(s.scalars(select(Lead.email).where(Lead.workspace_id == lf.workspace_id)
                                .order_by(Lead.email).limit(3)))
    later = cutoff + timedelta(days=2)
    lf.ingest([{"type": t, "email": e, "occurred_at": later + timedelta(minutes=k),
                "properties": {"url": "/pricing", "seconds_on_page": 300}}
               for k, (e, t) in enumerate((e, t) for e in emails for t in ("page_view", "demo_requested"))])
    lf.record_outcomes([{"email": emails[0], "result": "won", "amount": 1000.0, "closed_at": later}])
    after = _features(lf, cutoff)
    assert list(after.ids) == list(before.ids)
    for name, col in before.numeric.items():
        assert np.array_equal(np.nan_to_num(col, nan=-1), np.nan_to_num(after.numeric[name], nan=-1)), name
    for name, col in before.categorical.items():
        assert list(col) == list(after.categorical[name]), name
    # the same lead seen after the new events does change
    moved = _features(lf, later + timedelta(hours=1))
    with lf.db.session() as s:
        lid = s.scalar(select(Lead.id).where(Lead.email == emails[1]))
    i = list(moved.ids).index(lid)
    assert moved.numeric["n_demo_requested_7d"][i] >= 1 and moved.numeric["pricing_views_7d"][i] >= 1


def test_too_few_outcomes_falls_back_to_rules_and_writes_nothing(lf, tmp_path):
    load_demo(lf.db, lf.workspace_id, DemoConfig(seed=2, leads=30, accounts=5, days=90, events_per_lead=5))
    with pytest.raises(TooFewOutcomes, match="rule-based score"):
        service.train_store(lf.db, lf.workspace_id, lf.workspace_slug, models_dir=tmp_path / "m")
    assert not (tmp_path / "m" / "acme").exists() or not any((tmp_path / "m" / "acme").iterdir())
    with lf.db.session() as s:
        assert s.scalar(select(func.count()).select_from(PredictiveModelRow)) == 0
    with pytest.raises(service.ArtifactError, match="no active predictive model"):
        service.score_all(lf.db, lf.workspace_id)


def test_train_score_explain_drift(lf, tmp_path):
    load_demo(lf.db, lf.workspace_id, DemoConfig(seed=5, leads=320, accounts=40, days=150, events_per_lead=8))
    out = service.train_store(lf.db, lf.workspace_id, lf.workspace_slug, models_dir=tmp_path / "m",
                              algorithm="logistic", horizon_days=30)
    meta = out.artifact.meta
    assert out.artifact.ref == "conversion@v1" and meta["split"]["kind"] == "temporal"
    assert meta["split"]["gap_s"] == 30 * 86400
    assert meta["rules_model"] == "default@v1" and "rules" in out.report
    assert out.report["model"]["roc_auc"] > 0.7
    assert "at_mql_threshold" in out.report
    row = service.list_models(lf.db, lf.workspace_id)[0]
    assert row.checksum == out.artifact.checksum
    # a second training (same data) makes v2 and leaves v1 in place
    out2 = service.train_store(lf.db, lf.workspace_id, lf.workspace_slug, models_dir=tmp_path / "m",
                               algorithm="logistic")
    assert out2.artifact.version == 2 and out.artifact.path.is_dir()
    assert [r.active for r in service.list_models(lf.db, lf.workspace_id)] == [False, True]
    end = START + timedelta(days=150)
    n = service.score_all(lf.db, lf.workspace_id, at=end)
    with lf.db.session() as s:
        assert s.scalar(select(func.count()).select_from(LeadPrediction)) == n == 320
    top = service.top_predictions(lf.db, lf.workspace_id, n=5)
    assert top[0]["probability"] >= top[-1]["probability"] and top[0]["factors"]
    assert all(f["text"][0] in "+-" for f in top[0]["factors"])
    with lf.db.session() as s:
        lead_id = s.scalar(select(Lead.id).where(Lead.email == top[-1]["email"]))
    stored = service.predict_lead(lf.db, lf.workspace_id, lead_id)
    assert stored["fresh"] is True
    lf.ingest([{"type": "demo_requested", "email": top[-1]["email"], "occurred_at": datetime.now(UTC)}])
    refreshed = service.predict_lead(lf.db, lf.workspace_id, lead_id)
    assert refreshed["scored_at"] > stored["scored_at"]
    rep = service.drift(lf.db, lf.workspace_id, at=end)
    assert rep["calibration"] is not None and rep["features"] and isinstance(rep["retrain"], bool)
