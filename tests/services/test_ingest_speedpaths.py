"""The Ingestor's driver-level event insert stores exactly what a SQLAlchemy Core insert of the same rows stores.

``Ingestor._insert_events`` serialises properties and (on SQLite) datetimes itself and executes below
SQLAlchemy's type processing; these tests insert the same rows both ways and compare the raw stored values
(SQLite text, PostgreSQL ``jsonb::text`` and ``timestamptz``) and the values read back through the ORM, on both
stores, and check that dedup by message_id still returns exactly the rows inserted.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select
from sqlalchemy.dialects.sqlite.base import DATETIME

from leadflow.services.ingest import Ingestor
from leadflow.store.bulk import sqlite_datetime
from leadflow.store.tables import Event, Workspace, new_id

aware = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC))


@settings(max_examples=100, deadline=None)
@given(aware)
def test_sqlite_datetime_is_what_sqlalchemy_stores(value):
    from sqlalchemy.dialects import sqlite

    process = DATETIME().bind_processor(sqlite.dialect())
    assert sqlite_datetime(value) == process(value)


# no NUL and no lone surrogates: PostgreSQL refuses them whatever the insert path
text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
scalars = st.none() | st.booleans() | st.integers(-10**20, 10**20) | text | \
    st.floats(allow_nan=False, allow_infinity=False)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) |
                           st.dictionaries(text, inner, max_size=3), max_leaves=8)
props_st = st.dictionaries(text, json_values, max_size=5)


def _rows(ws_id: str, props_list: list[dict], prefix: str) -> list[dict]:
    base = datetime(2026, 3, 1, 9, 0, 0, 123456, tzinfo=UTC)
    rows = []
    for i, props in enumerate(props_list):
        rows.append({"id": new_id(), "workspace_id": ws_id, "lead_id": None,
                     "anonymous_id": f"anon-{i}" if i % 2 else None,
                     "message_id": f"{prefix}-{i}" if i % 3 else None, "type": "page_view",
                     "occurred_at": base + timedelta(seconds=i * 7919.000001),
                     "received_at": base + timedelta(days=30),
                     "properties": props, "flags": "future_clamped" if i % 4 == 1 else None})
    return rows


def _stored(s, dialect: str, ids: list[str]) -> list[tuple]:
    """Raw stored values, in the order of ``ids`` (id and message_id left out)."""
    if dialect == "sqlite":
        sql = ("SELECT id, workspace_id, lead_id, anonymous_id, type, occurred_at, received_at, properties, flags "
               "FROM events")
    else:
        sql = ("SELECT id, workspace_id, lead_id, anonymous_id, type, occurred_at, received_at, properties::text, "
               "flags FROM events")
    raw = {r[0]: tuple(r[1:]) for r in s.connection().exec_driver_sql(sql)}
    return [raw[i] for i in ids]


def _orm(s, ids: list[str]) -> list[tuple]:
    got = {e.id: e for e in s.scalars(select(Event).where(Event.id.in_(ids)))}
    return [(got[i].anonymous_id, got[i].type, got[i].occurred_at, got[i].received_at, got[i].properties,
             got[i].flags) for i in ids]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(props_list=st.lists(props_st, min_size=1, max_size=12))
def test_fast_insert_stores_what_a_core_insert_stores(lf, props_list):
    with lf.db.session() as s:
        ws = s.get(Workspace, lf.workspace_id)
        ing = Ingestor(s, ws)
        prefix = new_id()
        core_rows = _rows(ws.id, props_list, f"core-{prefix}")
        fast_rows = _rows(ws.id, props_list, f"fast-{prefix}")
        s.execute(insert(Event), [dict(r) for r in core_rows])
        inserted = ing._insert_events([dict(r) for r in fast_rows])
        assert inserted == {r["id"] for r in fast_rows}
        s.flush()
        dialect = ing.dialect
        core_ids, fast_ids = [r["id"] for r in core_rows], [r["id"] for r in fast_rows]
        assert _stored(s, dialect, fast_ids) == _stored(s, dialect, core_ids)
        s.expire_all()
        assert _orm(s, fast_ids) == _orm(s, core_ids)
        if dialect == "sqlite":  # the JSON text itself: json.dumps with its defaults, as the JSON type writes it
            assert [r[6] for r in _stored(s, dialect, fast_ids)] == [json.dumps(p) for p in props_list]


def test_fast_insert_dedup_returns_only_new_rows(lf):
    with lf.db.session() as s:
        ws = s.get(Workspace, lf.workspace_id)
        ing = Ingestor(s, ws)
        first = _rows(ws.id, [{"n": i} for i in range(6)], "dup")
        assert ing._insert_events(first) == {r["id"] for r in first}
    with lf.db.session() as s:
        ws = s.get(Workspace, lf.workspace_id)
        ing = Ingestor(s, ws)
        again = _rows(ws.id, [{"n": i} for i in range(9)], "dup")  # same message ids for 0..5, new ones after
        got = ing._insert_events(again)
        # rows without a message_id (i % 3 == 0) are always new; those with one are new only past index 5
        assert got == {r["id"] for i, r in enumerate(again) if i % 3 == 0 or i > 5}
        assert ing._insert_events([]) == set()
    with lf.db.session() as s:
        n = len(s.scalars(select(Event.id).where(Event.workspace_id == lf.workspace_id)).all())
        assert n == 6 + len([i for i in range(9) if i % 3 == 0 or i > 5])


def test_ingest_events_round_trip_on_both_stores(lf):
    """Through the public path: stored rows read back as the events sent (aware UTC on PostgreSQL)."""
    raw = [{"type": "page_view", "email": "x@acme.io", "message_id": "m1", "timestamp": "2026-03-01T09:00:00.5Z",
            "properties": {"url": "/pricing", "é": ["ü", 1.5, None, True], "nested": {"a": {"b": 2}}}},
           {"type": "form_submit", "anonymous_id": "an-1", "timestamp": 1772355600,
            "properties": {"form": "contact"}}]
    received = datetime(2026, 3, 2, tzinfo=UTC)
    rep = lf.ingest(raw, received_at=received)
    assert [r.status for r in rep.results] == ["accepted", "accepted"]
    with lf.db.session() as s:
        rows = {e.type: e for e in s.scalars(select(Event).where(Event.workspace_id == lf.workspace_id))}
    pv, fs = rows["page_view"], rows["form_submit"]
    assert pv.properties == raw[0]["properties"] and fs.properties == {"form": "contact"}
    assert pv.message_id == "m1" and fs.message_id is None and fs.anonymous_id == "an-1" and fs.lead_id is None
    occ = pv.occurred_at if pv.occurred_at.tzinfo else pv.occurred_at.replace(tzinfo=UTC)
    assert occ == datetime(2026, 3, 1, 9, 0, 0, 500000, tzinfo=UTC)
    rec = fs.received_at if fs.received_at.tzinfo else fs.received_at.replace(tzinfo=UTC)
    assert rec == received
    if lf.db.engine.dialect.name == "postgresql":
        assert pv.occurred_at.tzinfo is not None
    rep = lf.ingest(raw[:1], received_at=received)
    assert [r.status for r in rep.results] == ["duplicate"]


def test_fast_insert_twice_in_one_transaction_and_after_a_rollback(lf):
    """The PostgreSQL stage table is left empty after each insert and survives (or is re-made after) a rollback."""
    import pytest

    with pytest.raises(RuntimeError), lf.db.session() as s:
        ing = Ingestor(s, s.get(Workspace, lf.workspace_id))
        doomed = _rows(lf.workspace_id, [{"n": 1}, {"n": 2}], "rolled-back")
        assert ing._insert_events(doomed) == {r["id"] for r in doomed}
        raise RuntimeError("roll back")
    with lf.db.session() as s:
        ing = Ingestor(s, s.get(Workspace, lf.workspace_id))
        a = _rows(lf.workspace_id, [{"n": i} for i in range(4)], "a")
        b = _rows(lf.workspace_id, [{"n": i} for i in range(5)], "b")
        assert ing._insert_events(a) == {r["id"] for r in a}
        assert ing._insert_events(b) == {r["id"] for r in b}
        again = _rows(lf.workspace_id, [{"n": i} for i in range(4)], "a")  # new ids, a's message ids
        new = {r["id"] for i, r in enumerate(again) if i % 3 == 0}  # those without a message_id
        assert ing._insert_events(again) == new
    with lf.db.session() as s:
        ids = set(s.scalars(select(Event.id).where(Event.workspace_id == lf.workspace_id)))
    assert ids == {r["id"] for r in a} | {r["id"] for r in b} | new
