"""store/bulk.py writes below SQLAlchemy's parameter processing on SQLite: it must store exactly what a Core
statement of the same rows stores, for every column type of the tables the ingest path writes with it (leads,
accounts, score states, stage history), and refuse rows it cannot write faithfully."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, insert, update
from sqlalchemy.dialects.sqlite import insert as sqlite_upsert

from leadflow.store import bulk
from leadflow.store.tables import Account, Base, Lead, ScoreState, StageChange

text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=10)
scalars = st.none() | st.booleans() | st.integers(-10**18, 10**18) | text | \
    st.floats(allow_nan=False, allow_infinity=False)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) |
                           st.dictionaries(text, inner, max_size=3), max_leaves=6)
aware = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1), timezones=st.just(UTC))
opt = st.none()


def _engine(tmp_path, name):
    engine = create_engine(f"sqlite:///{tmp_path}/{name}.db")
    Base.metadata.create_all(engine, tables=[Lead.__table__, Account.__table__, ScoreState.__table__,
                                             StageChange.__table__])
    return engine


def _raw(engine, table, order="id"):
    path = engine.url.database
    with sqlite3.connect(path) as c:
        return c.execute(f'SELECT * FROM "{table}" ORDER BY {order}').fetchall()  # noqa: S608 - test tables


def _lead(i, props, when, consent, name):
    return {"id": f"lead{i:04d}", "workspace_id": "ws", "email": f"p{i}@x.io", "account_id": None,
            "properties": props, "stage": "subscriber", "lead_status": "new", "created_at": when,
            "updated_at": when + timedelta(microseconds=i), "consent": consent, "unsubscribed": not consent,
            "first_name": name, "last_name": None, "title": name, "seniority": None, "department": None,
            "phone": None, "country": "DE", "source": None, "medium": None, "campaign": None, "landing_page": None,
            "owner": None}


def _both(tmp_path, table, rows, core_stmt=None, **kw):
    """Write ``rows`` with a Core statement into one store and with store/bulk into another; the raw rows."""
    a, b = _engine(tmp_path, "core"), _engine(tmp_path, "bulk")
    with a.begin() as c:
        c.execute(core_stmt if core_stmt is not None else insert(table), rows)
    with b.begin() as c:
        bulk.sqlite_insert(c, table, rows, **kw)
    try:
        return _raw(a, table.name, kw.get("order", "rowid")), _raw(b, table.name, kw.get("order", "rowid"))
    finally:
        a.dispose()
        b.dispose()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.dictionaries(text, json_values, max_size=4), aware, st.booleans(), text | opt),
                min_size=1, max_size=6))
def test_leads_store_what_a_core_insert_stores(tmp_path_factory, cases):
    tmp = tmp_path_factory.mktemp("leads")
    rows = [_lead(i, *c) for i, c in enumerate(cases)]
    core, fast = _both(tmp, Lead.__table__, rows)
    assert core == fast
    assert len(fast) == len(rows)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.floats(allow_nan=False, allow_infinity=False), aware | opt,
                          st.dictionaries(text, json_values, max_size=4)), min_size=1, max_size=6),
       st.floats(allow_nan=False, allow_infinity=False))
def test_score_state_upsert_stores_what_a_core_upsert_stores(tmp_path_factory, cases, again):
    """Insert, then upsert the same keys with new values: both writes as the Core upsert does them."""
    tmp = tmp_path_factory.mktemp("states")
    now = datetime(2026, 5, 1, 12, 0, 0, 1, tzinfo=UTC)

    def rows(shift):
        return [{"lead_id": f"lead{i}", "model_key": "default", "workspace_id": "ws", "model_version": 3,
                 "fit": fit + shift, "grade": "B", "engagement": fit * 2, "scored_at": t, "last_event_at": t,
                 "state": state, "updated_at": now} for i, (fit, t, state) in enumerate(cases)]

    update_cols = ("model_version", "fit", "grade", "engagement", "scored_at", "last_event_at", "state", "updated_at")
    a, b = _engine(tmp, "core"), _engine(tmp, "bulk")
    for shift in (0.0, again):
        ins = sqlite_upsert(ScoreState.__table__)
        stmt = ins.on_conflict_do_update(index_elements=["lead_id", "model_key"],
                                         set_={c: ins.excluded[c] for c in update_cols})
        with a.begin() as c:
            c.execute(stmt, rows(shift))
        with b.begin() as c:
            bulk.sqlite_insert(c, ScoreState.__table__, rows(shift), conflict=("lead_id", "model_key"),
                               update=update_cols)
    assert _raw(a, "score_states", "lead_id") == _raw(b, "score_states", "lead_id")
    assert len(_raw(b, "score_states", "lead_id")) == len(cases)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(aware, text, st.none() | st.dictionaries(text, json_values, max_size=3), text | opt),
                min_size=1, max_size=6))
def test_stage_history_stores_what_a_core_insert_stores(tmp_path_factory, cases):
    """Includes a NULL score: the JSON type stores Python None as JSON null, and so does the bulk path."""
    tmp = tmp_path_factory.mktemp("history")
    rows = [{"id": f"h{i}", "workspace_id": "ws", "lead_id": "lead1", "from_stage": None, "to_stage": "lead",
             "at": at, "recorded_at": at, "actor": "rule", "actor_id": None, "reason": reason, "rule": rule,
             "model_ref": "default@1", "score": score, "cause_id": None}
            for i, (at, reason, score, rule) in enumerate(cases)]
    core, fast = _both(tmp, StageChange.__table__, rows)
    assert core == fast


def test_update_by_id_stores_what_a_core_update_stores(tmp_path):
    when = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    rows = [_lead(i, {"k": i}, when, i % 2 == 0, "n") for i in range(4)]
    moves = [{"id": "lead0001", "stage": "mql", "updated_at": when + timedelta(days=1)},
             {"id": "lead0003", "stage": "lead", "updated_at": when + timedelta(days=2, microseconds=7)}]
    a, b = _engine(tmp_path, "core"), _engine(tmp_path, "bulk")
    for eng in (a, b):
        with eng.begin() as c:
            c.execute(insert(Lead.__table__), rows)
    with a.begin() as c:
        for m in moves:
            c.execute(update(Lead.__table__).where(Lead.__table__.c.id == m["id"])
                      .values(stage=m["stage"], updated_at=m["updated_at"]))
    with b.begin() as c:
        assert bulk.sqlite_update_by_id(c, Lead.__table__, moves) == 2
    assert _raw(a, "leads") == _raw(b, "leads")
    assert [r[0] for r in _raw(b, "leads") if "mql" in r or "lead" in r] == ["lead0001", "lead0003"]


def test_conflict_without_update_skips_and_counts(tmp_path):
    engine = _engine(tmp_path, "skip")
    when = datetime(2026, 1, 2, tzinfo=UTC)
    with engine.begin() as c:
        assert bulk.sqlite_insert(c, Lead.__table__, [_lead(1, {}, when, True, "a")]) == 1
        again = [_lead(1, {"x": 1}, when, True, "b"), _lead(2, {}, when, True, "c")]
        assert bulk.sqlite_insert(c, Lead.__table__, again, conflict=("id",)) == 1  # the first one skipped
    rows = _raw(engine, "leads")
    assert [r[0] for r in rows] == ["lead0001", "lead0002"]
    names = {r[0]: r for r in rows}
    assert "a" in names["lead0001"] and "b" not in names["lead0001"]


def test_rows_it_cannot_write_faithfully_are_refused(tmp_path):
    engine = _engine(tmp_path, "bad")
    when = datetime(2026, 1, 2, tzinfo=UTC)
    good = _lead(1, {}, when, True, "a")
    short = {k: v for k, v in _lead(2, {}, when, True, "b").items() if k != "owner"}  # Core would default it
    with engine.begin() as c:
        with pytest.raises(ValueError, match="same columns"):
            bulk.sqlite_insert(c, Lead.__table__, [good, short])
        with pytest.raises(ValueError, match="no column 'nickname'"):
            bulk.sqlite_insert(c, Lead.__table__, [{**good, "nickname": "x"}])
        with pytest.raises(ValueError, match="no column"):
            bulk.sqlite_update_by_id(c, Lead.__table__, [{"id": "lead0001", "stage; DROP TABLE leads": "x"}])
    assert _raw(engine, "leads") == []
    assert bulk.sqlite_insert(None, Lead.__table__, []) == 0
