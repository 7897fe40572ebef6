"""Backtests on a real store (SQLite and PostgreSQL): a small demo funnel loaded through the write path.

The batch replay of the active model must give the very first-MQL times the incremental write path
recorded in the stage history; labels come from the stage history and outcomes; the CLI and the API
answer on the same data.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

import leadflow.models
from leadflow.batch.source import open_store
from leadflow.core.scoring.spec import load_model_file
from leadflow.demo.generator import DemoConfig
from leadflow.predictive import backtest as bt
from leadflow.predictive import criteria as cr
from leadflow.predictive import thresholds as th
from leadflow.services.demo import load_demo
from leadflow.store.tables import Outcome, StageChange

pytestmark = pytest.mark.filterwarnings("ignore:fetch_arrow_table:DeprecationWarning")

DEFAULT_YAML = Path(leadflow.models.__file__).parent / "default.yaml"
CONFIG = DemoConfig(seed=11, accounts=30, leads=150, days=120, start=datetime(2026, 1, 5, tzinfo=UTC))


@pytest.fixture
def demo(lf):
    counts = load_demo(lf.db, lf.workspace_id, CONFIG)
    assert counts["outcomes"] > 10
    return lf


def test_batch_first_mqls_equal_the_write_paths_stage_history(demo):
    lf = demo
    with lf.db.session() as s:
        model = bt.active_model(s, lf.workspace_id)
        recorded = dict(s.execute(
            select(StageChange.lead_id, func.min(StageChange.at))
            .where(StageChange.workspace_id == lf.workspace_id, StageChange.to_stage == "mql",
                   StageChange.superseded_at.is_(None))
            .group_by(StageChange.lead_id)).all())
    assert recorded, "the demo should produce MQLs"
    with open_store(lf.db.url, lf.workspace_id) as store:
        firsts = bt.first_mql(model, store)
    got = {r["lead_id"]: r["mql_t"] for r in firsts.to_pylist() if r["mql_t"] is not None}
    assert set(got) == set(recorded)
    for lead_id, at in recorded.items():
        assert got[lead_id] == pytest.approx(bt.epoch_of(at), abs=1e-6), lead_id


def test_labels_and_backtest_against_the_active_model(demo):
    lf = demo
    with lf.db.session() as s:
        sql = bt.conversion_labels(s, lf.workspace_id, "sql")
        won = bt.conversion_labels(s, lf.workspace_id, "won")
        n_outcomes = s.scalar(select(func.count(func.distinct(Outcome.lead_id)))
                              .where(Outcome.workspace_id == lf.workspace_id))
        n_won = s.scalar(select(func.count(func.distinct(Outcome.lead_id)))
                         .where(Outcome.workspace_id == lf.workspace_id, Outcome.result == "won"))
        with pytest.raises(ValueError):
            bt.conversion_labels(s, lf.workspace_id, "signed")
    assert sql.num_rows == n_outcomes and won.num_rows == n_won
    assert set(won.column("lead_id").to_pylist()) <= set(sql.column("lead_id").to_pylist())
    same = bt.run_backtest(lf.db, lf.workspace_id, load_model_file(str(DEFAULT_YAML)), "active")
    assert same.baseline is not None
    assert same.candidate.totals == same.baseline.totals
    assert same.as_dict()["difference"] == {"mql_only_a": 0, "mql_only_b": 0, "caught_only_a": 0, "caught_only_b": 0}
    t = same.candidate.totals
    assert t["mqls"] > 0 and t["converters"] > 0 and 0 < t["precision"] <= 1 and 0 < t["recall"] <= 1
    assert sum(w["mqls"] for w in same.candidate.weeks) == t["mqls"]
    assert sum(w["converters"] for w in same.candidate.weeks) == t["converters"]
    # a stricter candidate: fewer or as many MQLs, never more caught
    strict = th.shifted_model(load_model_file(str(DEFAULT_YAML)), 30)
    res = bt.run_backtest(lf.db, lf.workspace_id, strict, None)
    assert res.baseline is None
    assert res.candidate.totals["mqls"] <= t["mqls"] and res.candidate.totals["caught"] <= t["caught"]
    with open_store(lf.db.url, lf.workspace_id) as store:
        summary, feats = cr.rank_features(store, _outcomes(lf), min_support=5)
    assert summary["leads"] == n_outcomes and feats
    assert all(f.n >= 5 for f in feats)


def _outcomes(lf):
    with lf.db.session() as s:
        return cr.outcome_labels(s, lf.workspace_id)


def test_cli(demo, tmp_path):
    from leadflow.cli import app

    lf = demo
    runner = CliRunner()
    common = ["--database-url", lf.db.url, "--workspace", lf.workspace_slug]
    r = runner.invoke(app, ["backtest", "run", str(DEFAULT_YAML), *common], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "total" in r.output and "default@v1 vs default@v1" in r.output
    r = runner.invoke(app, ["backtest", "run", str(DEFAULT_YAML), "--against", "none", "--json", "--horizon-days",
                            "60", "--convert-on", "won", *common])
    assert r.exit_code == 0, r.output
    assert '"convert_on": "won"' in r.output and '"horizon_days": 60' in r.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("fit: {grades: {A: 1, B: 2, C: 3}}\n")
    r = runner.invoke(app, ["backtest", "run", str(bad), *common])
    assert r.exit_code == 1 and "bad.yaml" in r.output
    r = runner.invoke(app, ["backtest", "run", str(DEFAULT_YAML), "--from", "yesterday-ish", *common])
    assert r.exit_code == 1 and "--from" in r.output
    r = runner.invoke(app, ["backtest", "threshold", "--precision", "0.2", *common], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "engagement_at_least" in r.output
    r = runner.invoke(app, ["backtest", "threshold", *common])
    assert r.exit_code == 1 and "exactly one" in r.output
    out = tmp_path / "suggested.yaml"
    r = runner.invoke(app, ["backtest", "suggest", "--min-support", "5", "--yaml-out", str(out), *common],
                      env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "won from lost" in r.output and out.read_text().startswith("# Suggested")


def test_api(demo):
    from fastapi.testclient import TestClient

    from leadflow.api.app import create_app
    from leadflow.services import apikeys
    from leadflow.settings import Settings

    lf = demo
    app = create_app(Settings(database_url=lf.db.url, secret_key="test"), mount_web=False)
    with app.state.db.session() as s:
        _, admin = apikeys.create_key(s, lf.workspace_id, kind="secret", name="admin", scopes="*")
        _, reader = apikeys.create_key(s, lf.workspace_id, kind="secret", name="reader", scopes=["leads:read"])
    h = {"Authorization": f"Bearer {admin}"}
    try:
        with TestClient(app) as client:
            text = DEFAULT_YAML.read_text()
            r = client.post("/v1/models/backtest", json={"yaml": text, "horizon_days": 90}, headers=h)
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["candidate"]["totals"] == body["baseline"]["totals"]
            assert body["candidate"]["model"] == "default@v1" and body["candidate"]["weeks"]
            r = client.post("/v1/models/backtest", json={"yaml": text},
                            headers={"Authorization": f"Bearer {reader}"})
            assert r.status_code == 403
            r = client.post("/v1/models/backtest", json={"yaml": "fit: [1"}, headers=h)
            assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
            r = client.post("/v1/models/backtest", json={"yaml": text, "from": "2026-03-01T00:00:00Z",
                                                         "to": "2026-02-01T00:00:00Z"}, headers=h)
            assert r.status_code == 422
            r = client.post("/v1/models/backtest/threshold", json={"capacity": 5}, headers=h)
            assert r.status_code == 200, r.text
            assert r.json()["rows"] and "goal" in r.json()
            r = client.post("/v1/models/backtest/threshold", json={"capacity": 5, "precision": 0.5}, headers=h)
            assert r.status_code == 422
            r = client.get("/v1/models/backtest/suggest", params={"min_support": 5}, headers=h)
            assert r.status_code == 200, r.text
            assert r.json()["summary"]["leads"] > 0 and r.json()["yaml"].startswith("# Suggested")
    finally:
        app.state.writer.close()
        app.state.jobs.shutdown()
        app.state.db.dispose()
