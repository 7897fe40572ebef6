"""Lead-list benchmark: the web app's list query on 1,000,000 leads (typical filters and sorts, keyset paging).

Target: p95 <= 150 ms per page query. Each case is also compared with a baseline run in the same process on the
same data: a bare SELECT of the same rows (the page's leads and their score rows) by primary key - what the
page would cost if the database already knew which rows to show.

    .venv/bin/python benchmarks/leadlist.py [--leads 1000000] [--runs 30] [--database-url URL]

The store is built once (synthetic leads and score states, bulk-inserted) and kept in var/bench/ for reruns.
Prints a table and writes benchmarks/results/leadlist.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from leadflow.core.timeutil import utcnow
from leadflow.services.workspaces import get_or_create_workspace
from leadflow.store.db import Database
from leadflow.store.migrate import upgrade
from leadflow.store.tables import Lead, ScoreState, new_id
from leadflow.web.leadlist import LeadFilter, list_leads

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "leadlist.json"
TARGET_P95_MS = 150.0

STAGES = [("subscriber", 30), ("lead", 38), ("mql", 14), ("sal", 5), ("sql", 3), ("opportunity", 2),
          ("customer", 1), ("nurture", 5), ("disqualified", 2)]
STATUSES = [("new", 60), ("attempting_to_contact", 10), ("connected", 8), ("in_progress", 8), ("open_deal", 3),
            ("unqualified", 8), ("bad_timing", 3)]
SOURCES = ["organic_search", "paid_search", "social", "email", "referral", "events", "direct_traffic", "webinar",
           "partner", "content"]
LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
        "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
        "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker",
        "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams",
        "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Müller", "Schmidt",
        "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann", "Dubois", "Lefebvre"]
FIRST = ["Ana", "Ben", "Chloé", "David", "Emma", "Felix", "Grace", "Hugo", "Ines", "Jonas", "Kai", "Lea", "Mia",
         "Noah", "Olivia", "Paul", "Quinn", "Rosa", "Sam", "Tara", "Uma", "Victor", "Wen", "Yuki", "Zoe"]
OWNERS = [f"rep_{i:02d}" for i in range(40)]


def _pick(rng: random.Random, weighted: list[tuple[str, int]]) -> str:
    return rng.choices([w[0] for w in weighted], weights=[w[1] for w in weighted])[0]


LEAD_COLS = ("id", "workspace_id", "email", "first_name", "last_name", "title", "seniority", "department", "country",
             "source", "consent", "unsubscribed", "properties", "owner", "stage", "lead_status", "created_at",
             "updated_at")
STATE_COLS = ("lead_id", "model_key", "workspace_id", "model_version", "fit", "grade", "engagement", "scored_at",
              "last_event_at", "state", "updated_at")


def build(db: Database, workspace_id: str, n: int, seed: int = 11, batch: int = 50_000) -> None:
    """Synthetic leads and score states, bulk-inserted through the DB-API (the ORM would take many minutes)."""
    rng = random.Random(seed)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    span = (utcnow() - start).total_seconds()
    sqlite = db.engine.dialect.name == "sqlite"
    mark = "?" if sqlite else "%s"

    def ts(d: datetime) -> Any:  # SQLite: SQLAlchemy's DATETIME text format; PostgreSQL: the datetime itself
        return d.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else d

    def sql(table: str, cols: tuple[str, ...]) -> str:
        marks = [mark if sqlite or c not in ("properties", "state") else "%s::jsonb" for c in cols]
        return f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(marks)})"  # noqa: S608 - constants

    lead_sql, state_sql = sql("leads", LEAD_COLS), sql("score_states", STATE_COLS)
    raw = db.engine.raw_connection()
    t0 = time.perf_counter()
    try:
        cur = raw.cursor()
        if sqlite:
            cur.execute("PRAGMA synchronous=OFF")
        for lo in range(0, n, batch):
            leads, states = [], []
            for i in range(lo, min(lo + batch, n)):
                lid = new_id()
                last, first = rng.choice(LAST), rng.choice(FIRST)
                created = start + timedelta(seconds=rng.random() * span)
                fit = rng.choice([-10, -5, 0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 60, 70])
                grade = "A" if fit >= 40 else "B" if fit >= 25 else "C" if fit >= 10 else "D"
                eng = round(min(100.0, rng.expovariate(1 / 18.0)), 4)
                last_ev = ts(created + timedelta(days=rng.random() * 30))
                leads.append((lid, workspace_id, f"{first.lower()}.{last.lower()}.{i}@co{i % 5000}.example", first,
                              last, "Manager", "manager", "marketing", "US", rng.choice(SOURCES), True, False, "{}",
                              rng.choice(OWNERS) if rng.random() < 0.6 else None, _pick(rng, STAGES),
                              _pick(rng, STATUSES), ts(created), ts(created)))
                states.append((lid, "default", workspace_id, 1, float(fit), grade, eng, last_ev, last_ev, "{}", last_ev))
            cur.executemany(lead_sql, leads)
            cur.executemany(state_sql, states)
            raw.commit()
            done = lo + len(leads)
            print(f"\r  built {done:,} / {n:,} leads ({done / (time.perf_counter() - t0):,.0f}/s)", end="",
                  file=sys.stderr, flush=True)
        if sqlite:
            cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()
    finally:
        raw.close()
    print(file=sys.stderr)


CASES: list[tuple[str, dict[str, Any]]] = [
    ("score, no filter", {}),
    ("score, stage=mql", {"stage": "mql"}),
    ("score, stage=customer (1%)", {"stage": "customer"}),
    ("score, grade=A", {"grade": "A"}),
    ("score, owner=rep_07", {"owner": "rep_07"}),
    ("score, source=webinar, 40..80", {"source": "webinar", "score_min": 40, "score_max": 80}),
    ("score, status=connected", {"status": "connected"}),
    ("score, mql + grade B + paid_search", {"stage": "mql", "grade": "B", "source": "paid_search"}),
    ("score, search 'schn'", {"q": "schn"}),
    ("score, search email 'emma.mil'", {"q": "emma.mil"}),
    ("fit, no filter", {"sort": "fit"}),
    ("fit, stage=sql", {"sort": "fit", "stage": "sql"}),
    ("newest, no filter", {"sort": "newest"}),
    ("newest, owner=rep_21", {"sort": "newest", "owner": "rep_21"}),
]
DEEP_PAGES = 20


def _baseline(s: Any, ids: list[str]) -> None:
    if not ids:
        return
    s.execute(select(Lead).where(Lead.id.in_(ids))).all()
    s.execute(select(ScoreState).where(ScoreState.lead_id.in_(ids), ScoreState.model_key == "default")).all()


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    k = (len(xs) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def measure(db: Database, ws: str, runs: int) -> list[dict[str, Any]]:
    out = []
    with db.sessions() as s:
        for name, params in CASES:
            f = LeadFilter.from_params({k: str(v) for k, v in params.items()})
            # keyset pages: page 1 and the cursor of every page up to DEEP_PAGES, so runs cover deep pages too
            cursors = [""]
            for _ in range(DEEP_PAGES - 1):
                f.cursor = cursors[-1]
                page = list_leads(s, ws, "default", f)
                if not page.next_cursor:
                    break
                cursors.append(page.next_cursor)
            times, base, rows = [], [], 0
            for r in range(runs + 2):
                f.cursor = cursors[r % len(cursors)]
                t = time.perf_counter()
                page = list_leads(s, ws, "default", f)
                dt = (time.perf_counter() - t) * 1000
                ids = [row["id"] for row in page.rows]
                t = time.perf_counter()
                _baseline(s, ids)
                db_ = (time.perf_counter() - t) * 1000
                if r >= 2:  # two warm-up runs
                    times.append(dt)
                    base.append(db_)
                    rows += len(ids)
            p95, b95 = _pct(times, 0.95), _pct(base, 0.95)
            out.append({"case": name, "params": params, "pages": len(cursors), "rows_per_page": rows / runs,
                        "p50_ms": statistics.median(times), "p95_ms": p95, "max_ms": max(times),
                        "baseline_p50_ms": statistics.median(base), "baseline_p95_ms": b95,
                        "ratio_p95": p95 / b95 if b95 else None, "meets_target": p95 <= TARGET_P95_MS})
            print(f"  {name:<38} p50 {out[-1]['p50_ms']:7.1f} ms  p95 {p95:7.1f} ms  baseline p95 {b95:6.1f} ms",
                  file=sys.stderr)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--leads", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--database-url", default=None, help="default: a SQLite file in var/bench/")
    args = ap.parse_args()
    url = args.database_url or f"sqlite:///{ROOT / 'var' / 'bench' / f'leadlist-{args.leads}.db'}"
    db = Database(url)
    upgrade(db)
    with db.session() as s:
        ws = get_or_create_workspace(s, "bench").id
        have = s.scalar(text("SELECT count(*) FROM leads WHERE workspace_id = :w").bindparams(w=ws))
    if have < args.leads:
        if have:
            raise SystemExit(f"{url} holds {have} leads, fewer than {args.leads}: delete it and rerun")
        print(f"building {args.leads:,} leads in {url} ...", file=sys.stderr)
        t = time.perf_counter()
        build(db, ws, args.leads)
        print(f"  built in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    print(f"measuring {len(CASES)} cases x {args.runs} runs (pages 1..{DEEP_PAGES} by keyset cursor) ...",
          file=sys.stderr)
    results = measure(db, ws, args.runs)
    worst = max(r["p95_ms"] for r in results)
    summary = {"benchmark": "leadlist", "leads": args.leads, "runs": args.runs, "deep_pages": DEEP_PAGES,
               "dialect": db.engine.dialect.name, "target_p95_ms": TARGET_P95_MS, "worst_p95_ms": worst,
               "meets_target": worst <= TARGET_P95_MS, "python": platform.python_version(),
               "machine": platform.machine(), "cpus": os.cpu_count(), "load_average": os.getloadavg(),
               "measured_at": utcnow().isoformat(), "cases": results}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    print()
    print(f"{'case':<38} {'p50 ms':>8} {'p95 ms':>8} {'base p95':>9} {'ratio':>7}  target")
    for r in results:
        ratio = f"{r['ratio_p95']:.1f}x" if r["ratio_p95"] else "-"
        print(f"{r['case']:<38} {r['p50_ms']:8.1f} {r['p95_ms']:8.1f} {r['baseline_p95_ms']:9.1f} {ratio:>7}  "
              f"{'met' if r['meets_target'] else 'NOT met'}")
    print(f"\nworst p95 {worst:.1f} ms (target {TARGET_P95_MS:.0f} ms): {'met' if worst <= TARGET_P95_MS else 'NOT met'}"
          f"; written to {RESULTS.relative_to(ROOT)}")
    db.dispose()


if __name__ == "__main__":
    main()
