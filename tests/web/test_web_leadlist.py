"""The lead-list query on both stores: every filter and sort, paged by keyset cursor, equals the same list
computed naively in Python; both plans (match set and sort-index walk) give the same pages."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from leadflow.store.db import Database
from leadflow.store.migrate import upgrade
from leadflow.store.tables import Lead, ScoreState, new_id
from leadflow.web import leadlist
from leadflow.web.leadlist import FilterError, LeadFilter, decode_cursor, encode_cursor, list_leads

N = 160
STAGES = ["subscriber", "lead", "mql", "sal", "customer"]
STATUSES = ["new", "connected", "unqualified"]
LAST = ["Schmidt", "Schneider", "Smith", "Brown", "Müller", None]


@pytest.fixture
def store(db_url):
    from leadflow.services.workspaces import get_or_create_workspace

    db = Database(db_url)
    upgrade(db)
    rng = random.Random(5)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    with db.session() as s:
        ws = get_or_create_workspace(s, "acme").id
        other = get_or_create_workspace(s, "other").id
        leads, states, expected = [], [], []
        for i in range(N):
            lid = new_id()
            row = {"id": lid, "workspace_id": ws, "email": f"user{i:03d}@x{i % 7}.io", "first_name": "F",
                   "last_name": rng.choice(LAST), "stage": rng.choice(STAGES), "lead_status": rng.choice(STATUSES),
                   "owner": rng.choice(["rep_a", "rep_b", None]), "source": rng.choice(["ads", "web", None]),
                   "consent": False, "unsubscribed": False, "properties": {},
                   "created_at": t0 + timedelta(hours=rng.randrange(0, 50)), "updated_at": t0}
            eng = float(rng.choice([0, 10, 10, 25.5, 40, 77, 100]))  # many ties: the id breaks them
            fit = float(rng.choice([0, 15, 30, 45]))
            grade = "A" if fit >= 40 else "B" if fit >= 25 else "C" if fit >= 10 else "D"
            leads.append(row)
            states.append({"lead_id": lid, "model_key": "default", "workspace_id": ws, "model_version": 1,
                           "fit": fit, "grade": grade, "engagement": eng, "scored_at": t0, "last_event_at": t0,
                           "state": {}, "updated_at": t0})
            expected.append({**row, "engagement": eng, "fit": fit, "grade": grade})
        # a lead of another workspace that must never show
        leads.append({**leads[0], "id": new_id(), "workspace_id": other, "email": "intruder@x.io"})
        s.execute(insert(Lead), leads)
        s.execute(insert(ScoreState), states)
    yield db, ws, expected
    db.dispose()


def _naive(rows, f: LeadFilter) -> list[str]:
    def ok(r) -> bool:
        if f.q and not (r["email"].startswith(f.q.lower())
                        or (r["last_name"] or "").startswith(f.q[:1].upper() + f.q[1:])):
            return False
        for name, col in (("stage", "stage"), ("status", "lead_status"), ("owner", "owner"), ("source", "source"),
                          ("grade", "grade")):
            if getattr(f, name) and r[col] != getattr(f, name):
                return False
        if f.score_min is not None and r["engagement"] < f.score_min:
            return False
        return not (f.score_max is not None and r["engagement"] > f.score_max)

    key = {"score": lambda r: (r["engagement"], r["id"]), "fit": lambda r: (r["fit"], r["id"]),
           "newest": lambda r: (r["created_at"], r["id"])}[f.sort]
    return [r["id"] for r in sorted(filter(ok, rows), key=key, reverse=True)]


def _all_pages(db, ws, params) -> list[str]:
    f = LeadFilter.from_params(params)
    f.limit = 7
    out: list[str] = []
    with db.session() as s:
        while True:
            page = list_leads(s, ws, "default", f)
            out += [r["id"] for r in page.rows]
            assert len(page.rows) <= f.limit
            if not page.next_cursor:
                return out
            f.cursor = page.next_cursor


CASES = [{}, {"sort": "fit"}, {"sort": "newest"}, {"stage": "mql"}, {"status": "connected", "sort": "fit"},
         {"owner": "rep_a", "grade": "A"}, {"source": "ads", "score_min": "10", "score_max": "77"},
         {"q": "sch"}, {"q": "user01"}, {"q": "USER00", "sort": "newest"}, {"grade": "B", "sort": "newest"},
         {"stage": "customer", "owner": "rep_b", "source": "web"}, {"q": "nobody"}]


@pytest.mark.parametrize("params", CASES, ids=[str(c) for c in CASES])
@pytest.mark.parametrize("small_set", [0, 10_000], ids=["walk", "match-set"])
def test_pages_equal_the_naive_list(store, params, small_set, monkeypatch):
    db, ws, rows = store
    monkeypatch.setattr(leadlist, "SMALL_SET", small_set)
    got = _all_pages(db, ws, params)
    want = _naive(rows, LeadFilter.from_params(params))
    assert got == want
    assert len(set(got)) == len(got)


@pytest.mark.parametrize("params,field", [({"stage": "won"}, "stage"), ({"grade": "E"}, "grade"),
                                          ({"score_min": "abc"}, "score_min"), ({"score_min": "nan"}, "score_min"),
                                          ({"score_min": "9", "score_max": "1"}, "score_min"),
                                          ({"sort": "email"}, "sort"), ({"cursor": "%%%"}, "cursor"),
                                          ({"q": "x" * 201}, "q")])
def test_invalid_filters_name_the_field(params, field):
    with pytest.raises(FilterError) as exc:
        LeadFilter.from_params(params)
    assert exc.value.field == field


def test_cursor_round_trip_and_tampering():
    c = encode_cursor(12.5, "abc")
    assert decode_cursor(c) == (12.5, "abc")
    with pytest.raises(FilterError):
        decode_cursor(encode_cursor({"x": 1}, "abc"))
