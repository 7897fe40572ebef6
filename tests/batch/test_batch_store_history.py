"""The batch store's stage history, outcomes and lead creation times, and ``matched_pairs``.

``Store.stage_changes`` / ``outcomes`` / ``lead_times`` read the store's tables through DuckDB (no
SQLAlchemy on the batch path); they must give exactly the rows and the epoch seconds the SQLAlchemy
queries give (``epoch`` of the stored datetimes), for one workspace, without superseded stage changes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import ibis
import pyarrow as pa
import pytest
from sqlalchemy import select, update

from leadflow.batch import expressions as bx
from leadflow.batch.source import attach, connect, from_arrow, open_store
from leadflow.core.scoring.spec import EngagementRule
from leadflow.core.timeutil import epoch
from leadflow.demo.generator import DemoConfig
from leadflow.facade import Leadflow
from leadflow.services.demo import load_demo
from leadflow.store.tables import Lead, Outcome, StageChange

pytestmark = pytest.mark.filterwarnings("ignore:fetch_arrow_table:DeprecationWarning")

CONFIG = DemoConfig(seed=5, accounts=6, leads=40, days=60, events_per_lead=8,
                    start=datetime(2026, 1, 5, tzinfo=UTC))


@pytest.fixture
def two_workspaces(lf, db_url):
    load_demo(lf.db, lf.workspace_id, CONFIG)
    other = Leadflow(db_url, "other-ws")
    try:
        load_demo(other.db, other.workspace_id, DemoConfig(seed=6, accounts=3, leads=15, days=30,
                                                           start=datetime(2026, 2, 1, tzinfo=UTC)))
    finally:
        other.close()
    with lf.db.session() as s:  # one stage change superseded (as a stage correction leaves it)
        sid = s.scalar(select(StageChange.id).where(StageChange.workspace_id == lf.workspace_id)
                       .order_by(StageChange.id).limit(1))
        s.execute(update(StageChange).where(StageChange.id == sid).values(
            superseded_at=datetime(2026, 3, 1, tzinfo=UTC), superseded_reason="test"))
        s.commit()
    return lf


def _rows(store, table) -> list[tuple]:
    return sorted(tuple(r.values()) for r in store.con.to_pyarrow(table).to_pylist())


def test_history_outcomes_and_lead_times_equal_the_sqlalchemy_reads(two_workspaces):
    lf = two_workspaces
    ws = lf.workspace_id
    with lf.db.session() as s:
        stages = sorted((lid, frm, to, epoch(at)) for lid, frm, to, at in s.execute(
            select(StageChange.lead_id, StageChange.from_stage, StageChange.to_stage, StageChange.at)
            .where(StageChange.workspace_id == ws, StageChange.superseded_at.is_(None))))
        n_superseded = len(s.scalars(select(StageChange.id).where(
            StageChange.workspace_id == ws, StageChange.superseded_at.is_not(None))).all())
        outcomes = sorted((lid, res, epoch(at)) for lid, res, at in s.execute(
            select(Outcome.lead_id, Outcome.result, Outcome.closed_at).where(Outcome.workspace_id == ws)))
        leads = sorted((lid, epoch(at)) for lid, at in s.execute(
            select(Lead.id, Lead.created_at).where(Lead.workspace_id == ws)))
        n_all_leads = len(s.scalars(select(Lead.id)).all())
    assert stages and outcomes and n_superseded == 1 and n_all_leads > len(leads)
    with open_store(lf.db.url, ws) as store:
        assert _rows(store, store.stage_changes()) == stages  # exact floats, superseded row dropped
        assert _rows(store, store.outcomes()) == outcomes
        assert _rows(store, store.lead_times()) == leads
        assert store.stage_changes().columns == ("lead_id", "from_stage", "to_stage", "t")


def test_attach_reads_a_database_and_refuses_parquet(sqlite_url, tmp_path):
    Leadflow(sqlite_url, "acme").close()
    con = connect()
    try:
        db = attach(con, sqlite_url)
        assert {"leads", "events", "stage_history", "outcomes"} <= set(db.list_tables())
        assert db.kind == "sqlite" and "workspace_id" in db.table("leads").columns
        db.detach()
        (tmp_path / "pq").mkdir()
        with pytest.raises(ValueError, match="Parquet"):
            attach(con, tmp_path / "pq")
    finally:
        con.disconnect()


def test_arrow_store_history_and_a_missing_table():
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    leads = {"id": ["a", "b"], "workspace_id": ["w", "x"], "email": ["a@x.io", "b@y.io"],
             "created_at": [t0, t0 + timedelta(days=1)]}
    empty = {"id": pa.array([], pa.string())}
    events = {"id": pa.array([], pa.string()), "lead_id": pa.array([], pa.string()),
              "type": pa.array([], pa.string()), "t": pa.array([], pa.float64())}
    history = {"lead_id": ["a", "a", "b"], "workspace_id": ["w", "w", "x"], "from_stage": [None, "mql", None],
               "to_stage": ["mql", "sql", "mql"], "at": [t0, t0 + timedelta(hours=1), t0],
               "superseded_at": pa.array([None, t0 + timedelta(hours=2), None], pa.timestamp("us", tz="UTC"))}
    with from_arrow(leads, empty, events, "w", tables={"stage_history": history}) as store:
        assert _rows(store, store.lead_times()) == [("a", epoch(t0))]
        assert _rows(store, store.stage_changes()) == [("a", None, "mql", epoch(t0))]
        with pytest.raises(LookupError, match="outcomes"):
            store.outcomes()


def test_matched_pairs_window_keep_and_no_rules():
    rules = [
        EngagementRule(id="pricing", event="page_view", points=5,
                       where=[{"property": "url", "op": "contains", "value": "/pricing"}], window_days=1),
        EngagementRule(id="any_view", event="page_view", points=1),
        EngagementRule(id="form", event="form_submit", points=10),
    ]
    day = 86400.0
    ev = ibis.memtable(pa.table({
        "id": ["e1", "e2", "e3", "e4"], "lead_id": ["l1"] * 4,
        "type": ["page_view", "page_view", "form_submit", "email_open"], "t": [0.0, 2 * day, day, day],
        "properties": ['{"url": "/pricing"}', '{"url": "/Pricing/x"}', "{}", "{}"],
    })).mutate(properties=ibis._.properties.cast("json"))
    con = connect()
    try:
        def pairs(expr) -> list[tuple]:
            return sorted(tuple(r.values()) for r in con.to_pyarrow(expr).to_pylist())

        # contains is case-insensitive by default: both views are on the pricing page
        assert pairs(bx.matched_pairs(rules, ev, ["id", "rule_idx"])) == [
            ("e1", 0), ("e1", 1), ("e2", 0), ("e2", 1), ("e3", 2)]
        # at 2.5 days, e1 is outside the pricing rule's 1-day window (the rules without one keep it)
        assert pairs(bx.matched_pairs(rules, ev, ["id", "rule_idx"], window_at=2.5 * day)) == [
            ("e1", 1), ("e2", 0), ("e2", 1), ("e3", 2)]
        # rule columns can be kept, and rule_idx need not be
        assert pairs(bx.matched_pairs(rules, ev, ["id", "rule_points"])) == [
            ("e1", 1.0), ("e1", 5.0), ("e2", 1.0), ("e2", 5.0), ("e3", 10.0)]
        assert pairs(bx.matched_pairs([], ev, ["id", "rule_idx"])) == []
        ids = bx.matched_pairs(rules, ev, ["rule_idx"])
        assert pairs(ids.select(rid=bx.rule_id_expr(rules, ids.rule_idx)).distinct()) == [
            ("any_view",), ("form",), ("pricing",)]
    finally:
        con.disconnect()
