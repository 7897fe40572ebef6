"""The batch engine (leadflow.batch) agrees with the pure-Python core to 1e-9.

A small store with varied data (mixed-case and typed properties, missing values, duplicate timestamps,
events exactly on window boundaries and after the scoring instant, anonymous events, a second workspace) is
rescored set-wise on DuckDB and compared, lead by lead, with ``score_fit`` and ``explain_engagement`` run on
the same rows read back through SQLAlchemy. Hypothesis then checks every operator on random JSON values and
the engagement maths (window, cap, decay, clamp) on random rules and events.
"""

from __future__ import annotations

import json
import math
import random
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

import leadflow.models
from leadflow.batch import expressions as bx
from leadflow.batch.rescore import RESULT_SCHEMA, rescore, rescore_store
from leadflow.batch.source import (
    _classify,
    _libpq,
    connect,
    extension_path,
    from_arrow,
    load_extension,
    open_store,
)
from leadflow.core.scoring.engine import ScoredEvent, explain_engagement, score_fit
from leadflow.core.scoring.rules import matches
from leadflow.core.scoring.spec import (
    ACCOUNT_FIELDS,
    LEAD_FIELDS,
    Condition,
    EngagementRule,
    ScoringModel,
    load_model_file,
    parse_model,
)
from leadflow.core.timeutil import DAY, as_utc
from leadflow.store.tables import Account, Base, Event, Lead, Workspace

# Ibis 12 calls DuckDB 1.5's deprecated fetch_arrow_table() inside to_pyarrow()
pytestmark = pytest.mark.filterwarnings("ignore:fetch_arrow_table:DeprecationWarning")

TOL = 1e-9
AT = datetime(2024, 6, 1, 12, 0, 0, 250_000, tzinfo=UTC)
WS, OTHER_WS = "ws_main", "ws_other"
LEAD_COLS = sorted(LEAD_FIELDS - {"email_domain", "free_mail"})


def default_model() -> ScoringModel:
    return load_model_file(str(Path(leadflow.models.__file__).parent / "default.yaml"))


# A model using every operator, on typed columns, derived fields, lead / account properties (a dotted key
# included) and event properties; fractional and negative points; a floor below zero.
ALL_OPS_YAML = r"""
key: all-ops
version: 3
fit:
  grades: {A: 40, B: 20, C: 5}
  rules:
    - {id: eq_str, field: lead.seniority, op: equals, value: vp, points: 7}
    - {id: eq_cs, field: lead.department, op: equals, value: Marketing, case_sensitive: true, points: 3.5}
    - {id: eq_bool_col, field: lead.consent, op: equals, value: true, points: 2}
    - {id: eq_false_col, field: lead.unsubscribed, op: equals, value: false, points: 1.25}
    - {id: eq_num_col, field: account.employee_count, op: equals, value: 5000, points: 4}
    - {id: eq_num_prop, field: lead.properties.score, op: equals, value: 3, points: 6}
    - {id: eq_strtrue_prop, field: lead.properties.score, op: equals, value: "true", points: 1}
    - {id: ne_country, field: lead.country, op: not_equals, value: FR, points: 2}
    - {id: in_seniority, field: lead.seniority, op: in, value: [c-level, VP, director], points: 9}
    - {id: in_num_prop, field: account.properties.score, op: in, value: [7, "7.5"], points: 3}
    - {id: not_in_industry, field: account.industry, op: not_in, value: [retail, education], points: 2}
    - {id: contains_title, field: lead.title, op: contains, value: intern, points: -4}
    - {id: contains_list, field: account.properties.tags, op: contains, value: enterprise, points: 5}
    - {id: contains_cs, field: lead.email, op: contains, value: "@Gmail", case_sensitive: true, points: -1}
    - {id: regex_title, field: lead.title, op: regex, value: "\\b(student|intern|trainee)\\b", points: -25}
    - {id: regex_cs, field: lead.email, op: regex, value: "^[a-z0-9]+@", case_sensitive: true, points: 1.5}
    - {id: range_min, field: account.employee_count, op: range, min: 50, points: 15}
    - {id: range_max, field: account.annual_revenue, op: range, max: 5000000, points: -3}
    - {id: range_both, field: lead.properties.score, op: range, min: 2, max: 4, points: 2.25}
    - {id: exists_phone, field: lead.phone, op: exists, points: 1}
    - {id: no_plan, field: lead.properties.plan, op: not_exists, points: -2}
    - {id: domain_in, field: lead.email_domain, op: in, value: [acme.io, corp.example], points: 8}
    - {id: not_free, field: lead.free_mail, op: equals, value: false, points: 3}
    - {id: free, field: lead.free_mail, op: equals, value: true, points: -15}
    - {id: dotted_key, field: lead.properties.dotted.key, op: equals, value: "yes", points: 0.5}
    - {id: tier_gold, field: account.properties.tier, op: equals, value: gold, points: 4}
    - {id: account_domain, field: account.domain, op: regex, value: "\\.io$", points: 1}
engagement:
  floor: -20
  ceiling: 80
  rules:
    - {id: pricing, event: page_view, where: [{property: url, op: regex, value: "^/pricing"}], points: 10,
       half_life_days: 14, window_days: 30, cap: 3}
    - {id: pricing_cs, event: page_view, where: [{property: url, op: regex, value: "/PRICING", case_sensitive: true}],
       points: 2, cap: 2}
    - {id: long_visit, event: page_view, where: [{property: seconds_on_page, op: range, min: 120}], points: 3,
       half_life_days: 7, window_days: 30, cap: 5}
    - {id: mid_visit, event: page_view, where: [{property: seconds_on_page, op: range, min: 100, max: 200}], points: 1}
    - {id: not_blog, event: page_view, where: [{property: url, op: not_equals, value: /blog}], points: 0.5,
       window_days: 60, cap: 4}
    - {id: pricing_and_long, event: page_view, where: [{property: url, op: contains, value: pricing},
       {property: seconds_on_page, op: range, min: 60}], points: 4, half_life_days: 3}
    - {id: brochure, event: content_download, where: [{property: asset_type, op: equals, value: brochure}], points: 15,
       half_life_days: 30, cap: 2}
    - {id: brochure_cs, event: content_download,
       where: [{property: asset_type, op: equals, value: Brochure, case_sensitive: true}], points: 4}
    - {id: ebook, event: content_download, where: [{property: asset_type, op: in, value: [ebook, whitepaper]}],
       points: 10, half_life_days: 30, window_days: 90, cap: 3}
    - {id: other_asset, event: content_download,
       where: [{property: asset_type, op: not_in, value: [ebook, whitepaper, brochure]}], points: 1}
    - {id: tagged_demo, event: form_submit, where: [{property: tags, op: contains, value: demo}], points: 6,
       half_life_days: 10}
    - {id: form_named, event: form_submit, where: [{property: form, op: exists}], points: 8, window_days: 90, cap: 3}
    - {id: form_unnamed, event: form_submit, where: [{property: form, op: not_exists}], points: -2}
    - {id: big_quote, event: quote_requested, where: [{property: amount, op: equals, value: 100}], points: 20}
    - {id: gift_cart, event: cart_add, where: [{property: gift, op: equals, value: true}], points: 5, cap: 1}
    - {id: demo, event: demo_requested, points: 35, half_life_days: 30}
    - {id: unsub, event: email_unsubscribe, points: -40}
    - {id: opens, event: email_open, points: 1, window_days: 60}
    - {id: newsletter, event: newsletter_signup, points: 5, cap: 1}
lifecycle:
  mql:
    any_of:
      - {fit_grade_at_least: B, engagement_at_least: 60}
"""


def all_ops_model() -> ScoringModel:
    return parse_model(ALL_OPS_YAML, "all-ops")


# ----------------------------------------------------------------------------------------- data set

MISSING = object()  # a property left out of the JSON object


def _props(rng: random.Random, spec: dict[str, list[Any]]) -> dict[str, Any]:
    out = {}
    for key, choices in spec.items():
        value = rng.choice(choices)
        if value is not MISSING:
            out[key] = value
    return out


EVENT_PROPS: dict[str, dict[str, list[Any]]] = {
    "page_view": {
        "url": ["/pricing", "/PRICING/enterprise", "/Pricing", "/blog", "/docs/pricing", "", None, 5, MISSING],
        "seconds_on_page": [30, 60, 99, 100, 119, 120, 120.0, 199.5, 200, 600, "150", "abc", "", True, None,
                            1e16, MISSING],
    },
    "content_download": {
        "asset_type": ["brochure", "Brochure", "BROCHURE", " brochure", "ebook", "Whitepaper", "report", "", None,
                       5, False, True, MISSING],
    },
    "form_submit": {"form": ["contact", "", None, MISSING], "tags": [["demo", "x"], ["Demo"], [], "demo day", MISSING]},
    "quote_requested": {"amount": [100, 100.0, "100", "100.0", 99.5, True, None, MISSING]},
    "cart_add": {"gift": [True, False, "yes", "no", 1, 0, "", MISSING]},
}
EVENT_TYPES = ["page_view"] * 6 + ["content_download"] * 3 + [
    "form_submit", "form_submit", "quote_requested", "cart_add", "demo_requested", "email_unsubscribe", "email_open",
    "email_open", "newsletter_signup", "webinar_attended", "email_click", "email_bounce", "custom_thing",
]
# offsets before AT, in seconds: exact window boundaries (30, 60, 90 days), AT itself, just inside / outside,
# and a few in the future (after AT: never counted)
OFFSETS = [0.0, 1.0, 3600.0, DAY, 7 * DAY, 14 * DAY, 29 * DAY, 30 * DAY, 30 * DAY - 0.000001, 30 * DAY + 0.5,
           45 * DAY, 60 * DAY, 90 * DAY, 89.5 * DAY, 200 * DAY, 400 * DAY, -1.0, -2 * DAY]


def build_dataset(seed: int = 7) -> dict[str, list[dict[str, Any]]]:
    rng = random.Random(seed)

    def new_id() -> str:
        return uuid.UUID(int=rng.getrandbits(128)).hex  # random, so id order is not time order

    data: dict[str, list[dict[str, Any]]] = {"workspaces": [], "accounts": [], "leads": [], "events": []}
    for ws in (WS, OTHER_WS):
        data["workspaces"].append({"id": ws, "slug": ws, "name": ws})
        accounts = []
        for i in range(10):
            accounts.append({
                "id": new_id(), "workspace_id": ws, "domain": rng.choice(["acme.io", "corp.example", "shop.fr"]) + str(i),
                "name": rng.choice([f"Account {i}", None]),
                "industry": rng.choice(["Software", "SaaS ", "saas", "Retail", "education", None, "", "Financial Services"]),
                "employee_count": rng.choice([None, 10, 49, 50, 4999, 5000, 120000]),
                "annual_revenue": rng.choice([None, 4999999.99, 5e6, 2.5e7, 0.0]),
                "country": rng.choice(["FR", "DE", None]),
                "properties": _props(rng, {"tier": ["Gold", "gold", "silver", "", MISSING],
                                           "tags": [["b2b", "Enterprise"], ["smb"], [], "enterprise-ish", MISSING],
                                           "score": [7, 7.0, "7.5", "7", True, None, MISSING]}),
            })
        data["accounts"] += accounts
        for i in range(30):
            domain = rng.choice(["acme.io", "Gmail.com", "yahoo.fr", "hubspot.com", "corp.example", "ACME.IO"])
            email = rng.choice([f"p{i}@{domain}", f"P{i}.x@{domain}", f"p{i}@{domain}"])
            if i % 13 == 5:
                email = f"no-at-sign-{i}"
            if i % 17 == 3:
                email = f"a{i}@b@{domain}"
            lead_id = new_id()
            data["leads"].append({
                "id": lead_id, "workspace_id": ws, "email": email,
                "first_name": rng.choice(["Ann", None]), "last_name": None,
                "title": rng.choice(["Student", "Marketing Intern", "internship lead", "CTO", None, "Trainee engineer",
                                     "STUDENT ambassador", ""]),
                "seniority": rng.choice(["VP", "vp", "Director", "c-level", "Manager", "head", None, ""]),
                "department": rng.choice(["Marketing", "marketing", "sales", "IT", None, "finance"]),
                "phone": rng.choice(["+33 1 23", "", None]),
                "country": rng.choice(["FR", "fr", "DE", None, ""]),
                "source": rng.choice(["ads", None]), "medium": None, "campaign": None, "landing_page": None,
                "consent": rng.choice([True, False]), "unsubscribed": rng.choice([True, False]),
                "owner": rng.choice(["bob", None]), "lead_status": rng.choice(["new", "working"]),
                "account_id": rng.choice([a["id"] for a in accounts] + [None, None]),
                "properties": _props(rng, {"plan": ["pro", "Pro", "", None, MISSING],
                                           "score": [3, 3.0, "3", " 3 ", "3.5", "high", True, False, None, [], MISSING],
                                           "dotted.key": ["yes", "YES", "no", MISSING]}),
            })
            times: list[float] = []
            for _ in range(rng.randint(0, 22)):
                if times and rng.random() < 0.25:
                    offset = rng.choice(times)  # same instant as an earlier event: ties broken by id
                else:
                    offset = rng.choice(OFFSETS) + rng.choice([0.0, 0.0, rng.randint(1, 999_999) / 1e6])
                times.append(offset)
                etype = rng.choice(EVENT_TYPES)
                data["events"].append({
                    "id": new_id(), "workspace_id": ws, "lead_id": lead_id, "type": etype,
                    "occurred_at": AT - timedelta(seconds=offset),
                    "properties": _props(rng, EVENT_PROPS.get(etype, {"x": [1, MISSING]})),
                })
        for _ in range(15):  # anonymous events (no lead yet): ignored
            data["events"].append({
                "id": new_id(), "workspace_id": ws, "lead_id": None, "anonymous_id": f"anon-{rng.randint(1, 5)}",
                "type": rng.choice(["demo_requested", "page_view"]), "occurred_at": AT - timedelta(days=1),
                "properties": {"url": "/pricing"},
            })
    return data


def write_store(engine, data: dict[str, list[dict[str, Any]]]) -> None:
    Base.metadata.create_all(engine)
    now = AT
    with Session(engine) as s:
        for w in data["workspaces"]:
            s.add(Workspace(created_at=now, **w))
        s.flush()
        for a in data["accounts"]:
            s.add(Account(created_at=now, updated_at=now, **a))
        s.flush()
        for lead in data["leads"]:
            s.add(Lead(created_at=now, updated_at=now, **lead))
        s.flush()
        for e in data["events"]:
            s.add(Event(received_at=e["occurred_at"], **e))
        s.commit()


def reference(engine, model: ScoringModel, workspace_id: str, at: datetime) -> dict[str, dict[str, Any]]:
    """The pure-Python core on the rows as SQLAlchemy reads them back."""
    t = at.timestamp()
    with Session(engine) as s:
        accounts = {
            a.id: {**{f: getattr(a, f) for f in ACCOUNT_FIELDS}, "properties": a.properties}
            for a in s.scalars(select(Account).where(Account.workspace_id == workspace_id))
        }
        leads = list(s.scalars(select(Lead).where(Lead.workspace_id == workspace_id)))
        events: dict[str, list[ScoredEvent]] = defaultdict(list)
        for e in s.scalars(select(Event).where(Event.workspace_id == workspace_id, Event.lead_id.is_not(None))):
            events[e.lead_id].append(ScoredEvent(as_utc(e.occurred_at).timestamp(), e.id, e.type, e.properties or {}))
        out = {}
        for lead in leads:
            fields = {**{f: getattr(lead, f) for f in LEAD_COLS}, "properties": lead.properties}
            fit = score_fit(model, fields, accounts.get(lead.account_id))
            exp = explain_engagement(model, events[lead.id], t)
            out[lead.id] = {"fit": fit.points, "grade": fit.grade, "engagement": exp.score, "raw": exp.raw,
                            "rules": {r.rule_id: r.total for r in exp.rules}}
    return out


def assert_same(result: pa.Table, ref: dict[str, dict[str, Any]]) -> None:
    rows = result.to_pylist()
    assert [r["lead_id"] for r in rows] == sorted(ref), "the batch result must list every lead once, sorted"
    for r in rows:
        want = ref[r["lead_id"]]
        assert abs(r["fit"] - want["fit"]) <= TOL, (r, want)
        assert r["grade"] == want["grade"], (r, want)
        assert abs(r["engagement"] - want["engagement"]) <= TOL, (r, want)


@pytest.fixture(scope="module")
def dataset() -> dict[str, list[dict[str, Any]]]:
    return build_dataset()


@pytest.fixture(scope="module")
def sqlite_store(tmp_path_factory, dataset) -> tuple[str, Any]:
    path = tmp_path_factory.mktemp("batch") / "leadflow.db"
    engine = create_engine(f"sqlite:///{path}")
    write_store(engine, dataset)
    yield f"sqlite:///{path}", engine
    engine.dispose()


# ------------------------------------------------------------------------------------ store tests


@pytest.mark.parametrize("model_factory", [default_model, all_ops_model], ids=["default", "all-ops"])
def test_sqlite_rescore_matches_core(sqlite_store, model_factory):
    url, engine = sqlite_store
    model = model_factory()
    ref = reference(engine, model, WS, AT)
    assert any(r["engagement"] != 0 for r in ref.values()) and any(r["fit"] != 0 for r in ref.values())
    result = rescore(url, WS, model, AT)
    assert result.schema == RESULT_SCHEMA
    assert_same(result, ref)


@pytest.mark.parametrize("model_factory", [default_model, all_ops_model], ids=["default", "all-ops"])
def test_per_rule_and_raw_engagement_match_explanations(sqlite_store, model_factory):
    url, engine = sqlite_store
    model = model_factory()
    ref = reference(engine, model, WS, AT)
    with open_store(url, WS) as store:
        per_rule = store.con.to_pyarrow(bx.per_rule_expr(model, store.events, AT)).to_pylist()
        eng = store.con.to_pyarrow(bx.engagement_expr(model, store.events, AT, leads=store.leads)).to_pylist()
        fit = store.con.to_pyarrow(bx.fit_expr(model, store.leads, store.accounts)).to_pylist()
    got: dict[str, dict[str, float]] = defaultdict(dict)
    for row in per_rule:
        assert row["events"] >= 1
        got[row["lead_id"]][row["rule_id"]] = row["points"]
    for lead_id, want in ref.items():
        for rule_id, total in want["rules"].items():
            assert abs(got[lead_id].get(rule_id, 0.0) - total) <= TOL, (lead_id, rule_id)
    assert {r["lead_id"] for r in eng} == set(ref)
    for row in eng:
        want = ref[row["lead_id"]]
        assert abs(row["raw"] - want["raw"]) <= TOL and abs(row["engagement"] - want["engagement"]) <= TOL
    assert {r["lead_id"] for r in fit} == set(ref)
    for row in fit:
        want = ref[row["lead_id"]]
        assert abs(row["fit"] - want["fit"]) <= TOL and row["grade"] == want["grade"], (row, want)


def test_workspace_filter_and_anonymous_events(sqlite_store, dataset):
    url, engine = sqlite_store
    model = default_model()
    main, other = rescore(url, WS, model, AT), rescore(url, OTHER_WS, model, AT)
    main_ids = {lead["id"] for lead in dataset["leads"] if lead["workspace_id"] == WS}
    assert set(main.column("lead_id").to_pylist()) == main_ids
    assert not main_ids & set(other.column("lead_id").to_pylist())
    assert_same(other, reference(engine, model, OTHER_WS, AT))
    with open_store(url, WS) as store:
        counts = store.con.to_pyarrow(store.events.aggregate(n=store.events.count(),
                                                             anon=store.events.lead_id.isnull().sum()))
    identified = sum(1 for e in dataset["events"] if e["workspace_id"] == WS and e["lead_id"] is not None)
    assert counts.to_pylist() == [{"n": identified, "anon": 0}]


def test_other_instants_and_progress(sqlite_store):
    url, engine = sqlite_store
    model = all_ops_model()
    steps = []
    for at in (AT + timedelta(days=45), datetime(2024, 5, 2, 12, 0, 0, 250_000)):  # naive: UTC
        result = rescore(url, WS, model, at, progress=lambda step, done, total: steps.append((step, done, total)))
        assert_same(result, reference(engine, model, WS, as_utc(at)))
    assert steps[:4] == [("open", 0, 3), ("load", 1, 3), ("score", 2, 3), ("done", 3, 3)]


def test_parquet_and_duckdb_sources_agree(sqlite_store, tmp_path):
    url, _ = sqlite_store
    model = all_ops_model()
    expected = rescore(url, WS, model, AT)
    con = connect()
    load_extension(con, "sqlite")
    con.raw_sql(f"ATTACH '{_classify(url)[1]}' AS src (TYPE sqlite, READ_ONLY)")
    pq = tmp_path / "parquet"
    (pq / "events").mkdir(parents=True)
    for name in ("leads", "accounts"):
        con.raw_sql(f"COPY src.{name} TO '{pq / (name + '.parquet')}' (FORMAT parquet)")
    con.raw_sql(f"COPY src.events TO '{pq / 'events' / 'part-0.parquet'}' (FORMAT parquet)")
    con.raw_sql(f"ATTACH '{tmp_path / 'copy.duckdb'}' AS dst")
    for name in ("leads", "accounts", "events"):
        con.create_table(name, con.table(name, database=("src", "main")), database=("dst", "main"))
    con.disconnect()
    for source in (pq, f"duckdb:///{tmp_path / 'copy.duckdb'}"):
        got = rescore(source, WS, model, AT)
        assert got.column("lead_id").equals(expected.column("lead_id"))
        assert got.column("grade").equals(expected.column("grade"))
        for name in ("fit", "engagement"):
            diffs = [abs(a - b) for a, b in zip(got.column(name).to_pylist(), expected.column(name).to_pylist(), strict=True)]
            assert max(diffs) <= TOL


@pytest.mark.postgres
def test_postgres_rescore_matches_core(pg_url, dataset):
    engine = create_engine(pg_url)
    try:
        write_store(engine, dataset)
        for model in (default_model(), all_ops_model()):
            assert_same(rescore(pg_url, WS, model, AT), reference(engine, model, WS, AT))
    finally:
        engine.dispose()


# ------------------------------------------------------------------------------------ small pieces


def test_extensions_ship_with_the_packages():
    for name in ("sqlite", "postgres"):
        path = extension_path(name)
        assert path.is_file() and path.suffix == ".duckdb_extension"
    con = connect()
    load_extension(con, "sqlite")
    load_extension(con, "sqlite")  # idempotent
    loaded = con.raw_sql("SELECT loaded FROM duckdb_extensions() WHERE extension_name = 'sqlite_scanner'").fetchone()
    assert loaded == (True,)
    con.disconnect()


def test_source_urls():
    assert _classify("sqlite:////tmp/x.db") == ("sqlite", "/tmp/x.db", None)
    assert _classify("sqlite+pysqlite:///rel.db")[:2] == ("sqlite", "rel.db")
    assert _classify("/tmp/y.sqlite3")[:2] == ("sqlite", "/tmp/y.sqlite3")
    assert _classify("duckdb:////tmp/z.duckdb")[:2] == ("duckdb", "/tmp/z.duckdb")
    conninfo, schema = _libpq("postgresql+psycopg://u:p%40ss@127.0.0.1:5432/test?options=-csearch_path%3Dt_abc")
    assert conninfo.startswith("postgresql://u:p%40ss@127.0.0.1:5432/test") and schema == "t_abc"
    assert _libpq("postgresql://postgres@localhost/db")[1] is None
    with pytest.raises(ValueError):
        _classify("sqlite://")
    with pytest.raises(ValueError):
        _classify("mysql://x/y")


def test_json_keys_with_path_characters():
    con = connect()
    doc = {"a.b": 1, "a": {"b": 2}, "x-y": 3, "sp ace": 4, "$": 5, "1": 6, "[0]": 7, "é": 8}
    t = ibis.memtable(pa.table({"p": [json.dumps(doc)]})).mutate(p=ibis._.p.cast("json"))
    got = con.to_pyarrow(t.select(**{f"k{i}": bx.json_get(t.p, k).cast("string") for i, k in enumerate(doc)}))
    assert [json.loads(got.column(f"k{i}")[0].as_py()) for i in range(len(doc))] == list(doc.values())
    with pytest.raises(ValueError):
        bx.json_get(t.p, 'q"t')
    con.disconnect()


def test_models_without_rules_and_empty_workspace():
    model = parse_model("""
fit: {grades: {A: 1, B: 0, C: -1}}
engagement: {floor: 5, ceiling: 10}
lifecycle: {mql: {any_of: [{engagement_at_least: 1}]}}
""")
    leads = {"id": ["l1", "l2"], "workspace_id": ["w", "w"], "email": ["a@b.c", "d@gmail.com"]}
    accounts = {"id": ["a1"], "workspace_id": ["w"]}
    events = {"id": ["e1"], "workspace_id": ["w"], "lead_id": ["l1"], "type": ["page_view"], "t": [1.0]}
    with from_arrow(leads, accounts, events, "w") as store:
        out = rescore_store(store, model, 10.0).to_pylist()
    assert out == [{"lead_id": "l1", "fit": 0.0, "grade": "B", "engagement": 5.0},
                   {"lead_id": "l2", "fit": 0.0, "grade": "B", "engagement": 5.0}]
    with from_arrow(leads, accounts, events, "nobody") as store:
        empty = rescore_store(store, default_model(), AT)
    assert empty.num_rows == 0 and empty.schema == RESULT_SCHEMA


# ------------------------------------------------------------------------------------ Hypothesis

TEXTS = ["", " ", "a", "A", "abc", "ABC", "b", "true", "True", " yes ", "no", "t", "0", "1", "1.0", "1.5", "3",
         "120", " 120 ", "nan", "inf", "-2", "/pricing", "/PRICING/x", "brochure", "Brochure", "x y", 'say "hi"',
         "back\\slash", "tab\tx", "null", "[1]", "{}"]
NUMBERS = [0, 1, -1, 3, 120, 10**20, 0.0, -0.0, 1.0, 1.5, 3.0, 119.99, 120.0, 1e16, 1e-5, 2.5e-7]
scalars = st.one_of(st.none(), st.booleans(), st.sampled_from(NUMBERS), st.sampled_from(TEXTS))
lists = st.lists(st.one_of(st.sampled_from(TEXTS[:12]), st.sampled_from([1, 1.5, True, None])), max_size=3)
containers = st.one_of(lists, st.dictionaries(st.sampled_from(["a", "b"]), st.sampled_from([1, "x"]), max_size=2))
constants = st.one_of(st.booleans(), st.sampled_from(NUMBERS), st.sampled_from(TEXTS))
PATTERNS = ["a", "^a", "c$", "\\d", "^$", "pricing", "^/p", "x|y", "B", "(?:tr|ye)", "^\\s", "\\.", "1\\.0$", "^-"]


@st.composite
def conditions(draw, containers_ok: bool = False) -> Condition:
    ops = ["exists", "not_exists", "range", "contains"] if containers_ok else [
        "equals", "not_equals", "in", "not_in", "contains", "regex", "range", "exists", "not_exists"]
    op = draw(st.sampled_from(ops))
    cs = draw(st.booleans())
    if op in ("exists", "not_exists"):
        return Condition(op=op)
    if op == "range":
        lo = draw(st.sampled_from([None, -1, 0, 1.5, 3, 120]))
        hi = draw(st.sampled_from([None, 1.5, 3, 120, 1e17])) if lo is not None else draw(st.sampled_from([1.5, 120]))
        return Condition(op=op, min=lo, max=hi)
    if op in ("in", "not_in"):
        return Condition(op=op, value=draw(st.lists(constants, max_size=3)), case_sensitive=cs)
    if op == "regex":
        return Condition(op=op, value=draw(st.sampled_from(PATTERNS)), case_sensitive=cs)
    if op == "contains":
        return Condition(op=op, value=draw(st.one_of(st.sampled_from(TEXTS[1:14]), st.sampled_from([1, 1.5]))),
                         case_sensitive=cs)
    return Condition(op=op, value=draw(constants), case_sensitive=cs)


_CON: list[Any] = []


def shared_con():
    if not _CON:
        _CON.append(connect(threads=1))
    return _CON[0]


def _check_operators(conds: list[Condition], values: list[Any]) -> None:
    """Each condition on each value (plus an absent key and a NULL document), in one query."""
    docs = [json.dumps({"v": v}) for v in values] + ["{}", None]
    t = ibis.memtable(pa.table({"i": list(range(len(docs))), "p": pa.array(docs, pa.string())}))
    t = t.mutate(p=t.p.cast("json"))
    v = bx.json_get(t.p, "v")
    expr = t.select(t.i, **{f"c{k}": bx.condition_expr(c, v) for k, c in enumerate(conds)}).order_by("i")
    got = shared_con().to_pyarrow(expr)
    for k, cond in enumerate(conds):
        hits = got.column(f"c{k}").to_pylist()
        want = [matches(cond, value) for value in values] + [matches(cond, None), matches(cond, None)]
        labels = [*values, "<absent>", "<NULL>"]
        assert hits == want, (cond, [(x, g, w) for x, g, w in zip(labels, hits, want, strict=True) if g != w])


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conds=st.lists(conditions(), min_size=1, max_size=6), values=st.lists(scalars, min_size=1, max_size=12))
def test_every_operator_matches_python_on_json_scalars(conds, values):
    _check_operators(conds, values)


@st.composite
def container_cases(draw):
    conds = draw(st.lists(conditions(containers_ok=True), min_size=1, max_size=4))
    # str() of a list or dict is a Python repr where the batch engine has JSON text: the one documented
    # approximation, so ``contains`` (a substring test on non-lists) is only drawn with lists
    values = lists if any(c.op == "contains" for c in conds) else containers
    return conds, draw(st.lists(values, min_size=1, max_size=6))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=container_cases())
def test_operators_on_json_arrays_and_objects(case):
    _check_operators(*case)


def test_operators_on_typed_columns():
    """The fit path: typed columns (string, integer, float, boolean) with NULLs, every operator."""
    con = shared_con()
    data = {"s": ["", " ", "VP", "vp ", "1.5", "true", None, "intern x", "a.io"],
            "i": [0, 1, 5000, -3, None, 49, 50, 120, 7],
            "f": [0.0, 5e6, 4999999.99, None, 1.5, float("nan"), -0.0, 1e16, 120.0],
            "b": [True, False, None, True, False, None, True, False, True]}
    t = ibis.memtable(pa.table(data))
    conds = [Condition(op="equals", value="vp"), Condition(op="equals", value=True), Condition(op="equals", value=5000),
             Condition(op="equals", value="1.5"), Condition(op="equals", value=1.5), Condition(op="not_equals", value=0),
             Condition(op="in", value=["vp", 0, 1.5, True]), Condition(op="not_in", value=["VP"], case_sensitive=True),
             Condition(op="contains", value="1"), Condition(op="regex", value="^(v|t)"), Condition(op="range", min=0),
             Condition(op="range", min=1, max=5000), Condition(op="range", max=1.5), Condition(op="exists"),
             Condition(op="not_exists"), Condition(op="equals", value=False)]
    cols = {f"{name}_{k}": bx.condition_expr(c, t[name]) for name in data for k, c in enumerate(conds)}
    got = con.to_pyarrow(t.select(**cols))
    for name, values in data.items():
        for k, cond in enumerate(conds):
            assert got.column(f"{name}_{k}").to_pylist() == [matches(cond, v) for v in values], (name, cond)


@st.composite
def engagement_cases(draw):
    types = ["view", "click"]
    rules = []
    for i in range(draw(st.integers(1, 4))):
        where = () if draw(st.booleans()) else (draw(conditions()).model_dump() | {"property": "p"},)
        rules.append(EngagementRule(
            id=f"r{i}", event=draw(st.sampled_from(types)), where=where,
            points=draw(st.sampled_from([1.0, 2.5, 10.0, -3.0, 35.0])),
            half_life_days=draw(st.sampled_from([None, 0.5, 7.0, 30.0])),
            window_days=draw(st.sampled_from([None, 1.0, 7.0, 30.0])),
            cap=draw(st.sampled_from([None, 1, 2, 3])),
        ))
    floor, ceiling = draw(st.sampled_from([(0.0, 100.0), (-10.0, 20.0), (5.0, 5.0), (-1e9, 1e9)]))
    model = ScoringModel.model_validate({
        "fit": {"grades": {"A": 3, "B": 2, "C": 1}},
        "engagement": {"floor": floor, "ceiling": ceiling, "rules": [r.model_dump() for r in rules]},
        "lifecycle": {"mql": {"any_of": [{"engagement_at_least": 1}]}},
    })
    now = 1_700_000_000.0
    offsets = [0.0, 0.25, DAY, 7 * DAY, 7 * DAY - 1e-6, 30 * DAY, 29.5 * DAY, 31 * DAY, -60.0]
    events = draw(st.lists(st.tuples(
        st.sampled_from(["l1", "l2", "l3", None]), st.sampled_from(types + ["other"]), st.sampled_from(offsets),
        st.one_of(st.just(MISSING), scalars),
    ), max_size=30))
    ids = draw(st.lists(st.text("0123456789abcdef", min_size=4, max_size=4), min_size=len(events),
                        max_size=len(events), unique=True))
    rows = [{"id": i, "lead_id": lead, "type": etype, "t": now - off,
             "properties": json.dumps({} if p is MISSING else {"p": p})}
            for i, (lead, etype, off, p) in zip(ids, events, strict=True)]
    return model, rows, now


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=engagement_cases())
def test_engagement_matches_python_recompute(case):
    model, rows, now = case
    con = shared_con()
    leads = ibis.memtable(pa.table({"id": ["l1", "l2", "l3"]}))
    events = ibis.memtable(pa.Table.from_pylist(rows, schema=pa.schema([
        ("id", pa.string()), ("lead_id", pa.string()), ("type", pa.string()), ("t", pa.float64()),
        ("properties", pa.string())])))
    events = events.mutate(properties=events.properties.cast("json"))
    eng = {r["lead_id"]: r for r in con.to_pyarrow(bx.engagement_expr(model, events, now, leads=leads)).to_pylist()}
    per_rule = {(r["lead_id"], r["rule_id"]): r["points"]
                for r in con.to_pyarrow(bx.per_rule_expr(model, events, now)).to_pylist()}
    for lead in ("l1", "l2", "l3"):
        evs = [ScoredEvent(r["t"], r["id"], r["type"], json.loads(r["properties"])) for r in rows if r["lead_id"] == lead]
        exp = explain_engagement(model, evs, now)
        assert math.isclose(eng[lead]["raw"], exp.raw, abs_tol=TOL), (lead, eng[lead], exp)
        assert math.isclose(eng[lead]["engagement"], exp.score, abs_tol=TOL)
        for rule in exp.rules:
            assert math.isclose(per_rule.get((lead, rule.rule_id), 0.0), rule.total, abs_tol=TOL), (lead, rule)
