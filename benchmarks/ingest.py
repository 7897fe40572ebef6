"""Benchmark: leadflow's bulk event import (validate + store + score + stage) against a bare Core insert.

Generates a seeded, realistic event stream with :mod:`leadflow.demo.generator` (default 2,000 leads, about
53k events, in the generator's order: lead by lead, time-ordered within a lead), then, per store (SQLite
file, PostgreSQL schema), in the same process on the same rows:

1. **baseline**: the event rows exactly as the Ingestor writes them (uuid7 hex id, workspace_id, lead_id,
   anonymous_id, message_id, type, occurred_at, received_at, properties, flags), built beforehand, inserted
   with plain ``insert(Event)`` executemany, ``--batch`` rows per transaction, into a fresh store made by the
   Alembic migration (``Leadflow(url, ws)``: same tables, same indexes), accounts and leads pre-created so
   the foreign keys hold;
1b. **driver-level baseline**: the same rows inserted below SQLAlchemy's parameter processing, serialisation
   included in the timing (properties ``json.dumps``-ed, datetimes formatted as the SQLite DATETIME type stores
   them): on SQLite one DBAPI ``executemany`` per batch, on PostgreSQL ``COPY events FROM STDIN`` per batch (the
   fastest plain way in). leadflow's own insert runs at this level too, so its ratio to this baseline is
   reported next to the issue's ratio (to the plain ``insert(Event)``);
2. **leadflow**: ``Ingestor.ingest_events(batch)`` on the raw event dicts (keys starting with ``_`` stripped),
   one ``db.session()`` transaction per batch of ``--batch``, into another fresh store, accounts and leads
   pre-created with ``upsert_accounts`` / ``upsert_leads`` (timed apart, not in the events/s);
3. **round trips**: every ``before_cursor_execute`` on the engine during (2) counts as one round trip (an
   executemany that SQLAlchemy pages with insertmanyvalues fires once per page); commits are counted apart.

Targets: leadflow events/s >= 50% of the baseline rows/s, and <= 0.05 round trips per event.
Writes ``benchmarks/results/ingest.json``; ``--profile`` also profiles (cProfile) the leadflow path on
SQLite and writes the top 25 functions by cumulative time next to it.

    python benchmarks/ingest.py                          # both stores, 2,000 leads
    python benchmarks/ingest.py --stores sqlite --leads 500 --profile
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import platform
import pstats
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rich.console import Console
from rich.table import Table
from sqlalchemy import event, func, insert, select

from leadflow.core.events import validate_event
from leadflow.demo.generator import DemoConfig, iter_accounts, iter_events, iter_leads
from leadflow.facade import Leadflow
from leadflow.services.ingest import Ingestor
from leadflow.store.tables import Event, ScoreState, StageChange, Workspace, new_id

RESULTS = Path(__file__).resolve().parent / "results" / "ingest.json"
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
RATIO_TARGET = 0.50
ROUND_TRIP_TARGET = 0.05
WORKSPACE = "bench"


# ------------------------------------------------------------------------------------------- data


@dataclass
class Data:
    accounts: list[dict]
    leads: list[dict]
    events: list[dict]  # raw dicts, "_" keys stripped, generator order


def generate(n_leads: int, seed: int) -> Data:
    config = DemoConfig(seed=seed, leads=n_leads)  # the generator's default 300 accounts
    events = [{k: v for k, v in e.items() if not k.startswith("_")} for e in iter_events(config)]
    return Data(list(iter_accounts(config)), list(iter_leads(config)), events)


def batches(seq: Sequence[Any], n: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


def baseline_rows(events: Sequence[Mapping[str, Any]], lead_ids: Mapping[str, str], workspace_id: str,
                  received_at: datetime, batch: int) -> list[list[dict[str, Any]]]:
    """The rows the Ingestor would write for these events, batch by batch (built before timing).

    Same resolution of ``lead_id`` as ``Ingestor.ingest_valid``: by email, else by an anonymous id identified
    in an earlier batch or in this one (events of anonymous ids identified only later keep ``lead_id`` NULL,
    which the Ingestor fills afterwards with an UPDATE that the baseline does not do).
    """
    out: list[list[dict[str, Any]]] = []
    identities: dict[str, str] = {}
    seen: set[str] = set()
    for part in batches(events, batch):
        valid = [validate_event(raw, received_at=received_at) for raw in part]
        for ev in valid:
            if ev.email and ev.anonymous_id and ev.anonymous_id not in identities:
                identities[ev.anonymous_id] = lead_ids[ev.email]
        rows = []
        for ev in valid:
            if ev.message_id is not None:
                if ev.message_id in seen:
                    continue
                seen.add(ev.message_id)
            rows.append({"id": new_id(), "workspace_id": workspace_id,
                         "lead_id": lead_ids[ev.email] if ev.email else identities.get(ev.anonymous_id),
                         "anonymous_id": ev.anonymous_id, "message_id": ev.message_id, "type": ev.type,
                         "occurred_at": ev.occurred_at, "received_at": ev.received_at,
                         "properties": dict(ev.properties), "flags": ",".join(ev.flags) or None})
        out.append(rows)
    return out


# ----------------------------------------------------------------------------------------- stores


@contextlib.contextmanager
def sqlite_store(workdir: Path, name: str) -> Iterator[str]:
    path = workdir / f"{name}-{uuid.uuid4().hex[:8]}.db"
    try:
        yield f"sqlite:///{path}"
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


@contextlib.contextmanager
def pg_store(base: str, admin: sa.Engine) -> Iterator[str]:
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with admin.begin() as c:
        c.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as c:
            c.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))


def pg_base_url(url: str) -> str:
    """The URL with the psycopg 3 driver (as ``leadflow.store.db.make_engine`` does for ``postgresql://``)."""
    parsed = sa.make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def pg_admin(base: str) -> tuple[sa.Engine | None, str]:
    """An engine on the server, or None and why it is not usable."""
    try:
        engine = sa.create_engine(base, connect_args={"connect_timeout": 5})
        with engine.connect() as c:
            version = c.execute(sa.text("SHOW server_version")).scalar_one()
        return engine, str(version)
    except Exception as exc:  # noqa: BLE001 - any failure means: skip PostgreSQL
        return None, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


# ------------------------------------------------------------------------------------ round trips


@dataclass
class RoundTrips:
    """Counts ``before_cursor_execute`` calls (one per driver round trip) and commits on an engine."""

    engine: sa.Engine
    statements: int = 0
    commits: int = 0
    kinds: Counter = field(default_factory=Counter)
    seconds: Counter = field(default_factory=Counter)  # time inside the driver's execute, per kind
    active: bool = False
    _started: float = 0.0

    def __post_init__(self) -> None:
        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)
        event.listen(self.engine, "commit", self._on_commit)

    def _before(self, conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if self.active:
            self.statements += 1
            self.kinds[_kind(statement)] += 1
            self._started = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if self.active:
            self.seconds[_kind(statement)] += time.perf_counter() - self._started

    def _on_commit(self, conn) -> None:  # noqa: ANN001
        if self.active:
            self.commits += 1

    def by_kind(self) -> dict[str, dict[str, float]]:
        return {k: {"count": n, "driver_seconds": round(self.seconds[k], 4)} for k, n in self.kinds.most_common()}

    def remove(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)
        event.remove(self.engine, "commit", self._on_commit)


_KINDS: dict[str, str] = {}


def _kind(statement: str) -> str:
    """``INSERT events``, ``SELECT leads`` ...: the verb and the first table named (memoised per statement text:
    a multi-row statement is a long string, and splitting it on every execution is measurement overhead)."""
    kind = _KINDS.get(statement)
    if kind is None:
        kind = _KINDS[statement] = _kind_of(statement)
    return kind


def _kind_of(statement: str) -> str:
    words = statement.replace("\n", " ").replace('"', "").split()
    verb = words[0].upper() if words else "?"
    table = "?"
    for key in ("INTO", "FROM", "UPDATE"):
        upper = [w.upper() for w in words]
        if key in upper:
            i = upper.index(key)
            if i + 1 < len(words):
                table = words[i + 1].split(".")[-1].strip("(")
                break
    return f"{verb} {table}"


# ----------------------------------------------------------------------------------------- phases


def prepare(url: str, data: Data) -> tuple[Leadflow, dict[str, str], float]:
    """A fresh store (Alembic migration, workspace with the default model), accounts and leads created."""
    lf = Leadflow(url, WORKSPACE)
    start = time.perf_counter()
    lf.upsert_accounts(data.accounts)
    lead_ids = lf.upsert_leads(data.leads)
    return lf, lead_ids, time.perf_counter() - start


def run_baseline(url: str, data: Data, batch: int, received_at: datetime) -> dict[str, Any]:
    lf, lead_ids, setup_s = prepare(url, data)
    try:
        rows = baseline_rows(data.events, lead_ids, lf.workspace_id, received_at, batch)
        n = sum(len(r) for r in rows)
        engine = lf.db.engine
        trips = RoundTrips(engine)
        trips.active = True
        start = time.perf_counter()
        for part in rows:
            with engine.begin() as conn:
                conn.execute(insert(Event), part)
        seconds = time.perf_counter() - start
        trips.active = False
        trips.remove()
        with engine.connect() as conn:
            stored = conn.execute(select(func.count()).select_from(Event)).scalar_one()
            unresolved = conn.execute(select(func.count()).select_from(Event).where(Event.lead_id.is_(None))).scalar_one()
        assert stored == n, f"baseline stored {stored} of {n} rows"
        return {"rows": n, "seconds": seconds, "rows_per_s": n / seconds, "setup_seconds": setup_s,
                "stored": {"events": stored, "events_without_lead": unresolved},
                "round_trips": trips.statements, "commits": trips.commits,
                "round_trips_per_row": trips.statements / n, "statements": trips.by_kind()}
    finally:
        lf.close()


DRIVER_INSERT = ("INSERT INTO events (id, workspace_id, lead_id, anonymous_id, message_id, type, occurred_at, "
                 "received_at, properties, flags) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
DRIVER_COPY = ("COPY events (id, workspace_id, lead_id, anonymous_id, message_id, type, occurred_at, received_at, "
               "properties, flags) FROM STDIN")


def _sqlite_ts(value: datetime) -> str:
    """As SQLAlchemy's SQLite DATETIME type stores a (UTC) datetime."""
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


def run_driver_baseline(url: str, data: Data, batch: int, received_at: datetime) -> dict[str, Any]:
    """The same rows through the DBAPI driver directly (serialisation timed): executemany / COPY."""
    lf, lead_ids, setup_s = prepare(url, data)
    try:
        rows = baseline_rows(data.events, lead_ids, lf.workspace_id, received_at, batch)
        n = sum(len(r) for r in rows)
        engine = lf.db.engine
        sqlite = engine.dialect.name == "sqlite"
        dumps = json.dumps
        start = time.perf_counter()
        for part in rows:
            with engine.begin() as conn:
                if sqlite:
                    conn.exec_driver_sql(DRIVER_INSERT,
                                         [(r["id"], r["workspace_id"], r["lead_id"], r["anonymous_id"], r["message_id"],
                                           r["type"], _sqlite_ts(r["occurred_at"]), _sqlite_ts(r["received_at"]),
                                           dumps(r["properties"]), r["flags"]) for r in part])
                else:
                    raw = conn.connection.driver_connection
                    with raw.cursor() as cur, cur.copy(DRIVER_COPY) as copy:
                        for r in part:
                            copy.write_row((r["id"], r["workspace_id"], r["lead_id"], r["anonymous_id"],
                                            r["message_id"], r["type"], r["occurred_at"], r["received_at"],
                                            dumps(r["properties"]), r["flags"]))
        seconds = time.perf_counter() - start
        with engine.connect() as conn:
            stored = conn.execute(select(func.count()).select_from(Event)).scalar_one()
        assert stored == n, f"driver baseline stored {stored} of {n} rows"
        return {"rows": n, "seconds": seconds, "rows_per_s": n / seconds, "setup_seconds": setup_s,
                "method": "sqlite3 executemany" if sqlite else "psycopg COPY FROM STDIN"}
    finally:
        lf.close()


def run_leadflow(url: str, data: Data, batch: int, received_at: datetime,
                 profiler: cProfile.Profile | None = None) -> dict[str, Any]:
    lf, _, setup_s = prepare(url, data)
    try:
        db = lf.db
        trips = RoundTrips(db.engine)
        counts: Counter = Counter()
        transitions = replayed = created = 0
        per_batch: list[float] = []
        trips.active = True
        if profiler is not None:
            profiler.enable()
        start = time.perf_counter()
        for part in batches(data.events, batch):
            t0 = time.perf_counter()
            with db.session() as s:
                ingestor = Ingestor(s, s.get(Workspace, lf.workspace_id),
                                    allow_custom_types=lf.settings.allow_custom_event_types,
                                    future_policy=lf.settings.future_timestamps)
                report = ingestor.ingest_events(part, received_at)
            per_batch.append(time.perf_counter() - t0)
            counts.update(r.status for r in report.results)
            transitions += report.transitions
            replayed += report.replayed_leads
            created += report.leads_created
        seconds = time.perf_counter() - start
        if profiler is not None:
            profiler.disable()
        trips.active = False
        trips.remove()
        n = len(data.events)
        with db.session() as s:
            stored = s.scalar(select(func.count()).select_from(Event))
            states = s.scalar(select(func.count()).select_from(ScoreState))
            history = s.scalar(select(func.count()).select_from(StageChange))
            unresolved = s.scalar(select(func.count()).select_from(Event).where(Event.lead_id.is_(None)))
        assert counts["accepted"] == n == stored, f"accepted {counts['accepted']}, stored {stored} of {n} events"
        return {"events": n, "seconds": seconds, "events_per_s": n / seconds, "setup_seconds": setup_s,
                "batch_seconds": per_batch, "results": dict(counts), "transitions": transitions,
                "replayed_leads": replayed, "leads_created": created, "round_trips": trips.statements,
                "commits": trips.commits, "round_trips_per_event": trips.statements / n,
                "round_trips_per_batch": trips.statements / len(per_batch),
                "statements": trips.by_kind(),
                "stored": {"events": stored, "events_without_lead": unresolved, "score_states": states,
                           "stage_history": history}}
    finally:
        lf.close()


def bench_store(store: str, url_ctx, data: Data, args: argparse.Namespace,  # noqa: ANN001
                received_at: datetime, console: Console) -> dict[str, Any]:
    """``--repeat`` rounds of (baseline, leadflow), each on fresh stores; the best round of each counts."""
    bases, drivers, leads = [], [], []
    for i in range(args.repeat):
        tag = f" (round {i + 1}/{args.repeat})" if args.repeat > 1 else ""
        with url_ctx() as url:
            base = run_baseline(url, data, args.batch, received_at)
        console.print(f"  {store} baseline{tag}: {base['rows']:,} rows in {base['seconds']:.2f} s "
                      f"({base['rows_per_s']:,.0f} rows/s)")
        with url_ctx() as url:
            drv = run_driver_baseline(url, data, args.batch, received_at)
        console.print(f"  {store} driver-level baseline{tag} ({drv['method']}): {drv['rows']:,} rows in "
                      f"{drv['seconds']:.2f} s ({drv['rows_per_s']:,.0f} rows/s)")
        drivers.append(drv)
        with url_ctx() as url:
            lead = run_leadflow(url, data, args.batch, received_at)
        console.print(f"  {store} leadflow{tag}: {lead['events']:,} events in {lead['seconds']:.2f} s "
                      f"({lead['events_per_s']:,.0f} events/s), {lead['round_trips']} round trips; "
                      f"accounts + leads set-up {lead['setup_seconds']:.2f} s (not counted)")
        bases.append(base)
        leads.append(lead)
    base = max(bases, key=lambda r: r["rows_per_s"])
    drv = max(drivers, key=lambda r: r["rows_per_s"])
    lead = max(leads, key=lambda r: r["events_per_s"])
    ratio = lead["events_per_s"] / base["rows_per_s"]
    rtpe = lead["round_trips_per_event"]
    return {"store": store, "baseline": base, "driver_baseline": drv, "leadflow": lead,
            "rounds": {"baseline_rows_per_s": [r["rows_per_s"] for r in bases],
                       "driver_baseline_rows_per_s": [r["rows_per_s"] for r in drivers],
                       "leadflow_events_per_s": [r["events_per_s"] for r in leads],
                       "ratio_median": statistics.median(lr["events_per_s"] / br["rows_per_s"]
                                                         for br, lr in zip(bases, leads, strict=True)),
                       "driver_ratio_median": statistics.median(lr["events_per_s"] / dr["rows_per_s"]
                                                                for dr, lr in zip(drivers, leads, strict=True))},
            "ratio": {"value": ratio, "target": RATIO_TARGET, "met": ratio >= RATIO_TARGET},
            "driver_ratio": {"value": lead["events_per_s"] / drv["rows_per_s"],
                             "note": "leadflow events/s over the driver-level insert's rows/s (no target)"},
            "round_trips_per_event": {"value": rtpe, "target": ROUND_TRIP_TARGET, "met": rtpe <= ROUND_TRIP_TARGET}}


def profile_sqlite(data: Data, args: argparse.Namespace, received_at: datetime, workdir: Path,
                   out: Path, console: Console) -> str:
    profiler = cProfile.Profile()
    with sqlite_store(workdir, "profile") as url:
        res = run_leadflow(url, data, args.batch, received_at, profiler)
    buf = io.StringIO()
    stats = pstats.Stats(profiler, stream=buf)
    buf.write(f"leadflow path on SQLite under cProfile: {res['events']:,} events in {res['seconds']:.2f} s "
              f"(profiler overhead included)\n")
    stats.sort_stats("cumulative").print_stats(25)
    buf.write("\n--- top 25 by own time ---\n")
    stats.sort_stats("tottime").print_stats(25)
    text = buf.getvalue()
    out.write_text(text)
    console.print(f"profile written to {out}")
    return text


# ------------------------------------------------------------------------------------------- main


def environment(pg_version: str | None) -> dict[str, Any]:
    import psycopg

    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        affinity = None
    return {"python": sys.version.split()[0], "platform": platform.platform(), "machine": platform.machine(),
            "nproc": affinity or os.cpu_count(), "cpu_count": os.cpu_count(), "sqlalchemy": sa.__version__,
            "psycopg": psycopg.__version__, "sqlite": sqlite3.sqlite_version, "postgres_server": pg_version}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=2000, help="leads to generate (about 26 events each)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--stores", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument("--batch", type=int, default=5000, help="events per batch / transaction")
    parser.add_argument("--repeat", type=int, default=1,
                        help="rounds of (baseline, leadflow) per store on fresh stores; the best of each counts")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--workdir", type=Path, default=None, help="where the SQLite files go (default: a temp dir)")
    parser.add_argument("--profile", action="store_true",
                        help="also profile the leadflow path on SQLite (top 25 cumulative, written next to --out)")
    args = parser.parse_args(argv)
    console = Console()
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    unknown = set(stores) - {"sqlite", "postgres"}
    if unknown:
        parser.error(f"unknown store(s): {', '.join(sorted(unknown))}")

    started = datetime.now(UTC)
    start = time.perf_counter()
    data = generate(args.leads, args.seed)
    gen_s = time.perf_counter() - start
    received_at = started  # one arrival time for both paths, so both write the same values
    console.print(f"data: {len(data.accounts):,} accounts, {len(data.leads):,} leads, {len(data.events):,} events "
                  f"(seed {args.seed}) generated in {gen_s:.1f} s; batch {args.batch:,}")

    pg_url = pg_base_url(os.environ.get("LEADFLOW_TEST_POSTGRES_URL") or PG_DEFAULT)
    admin, pg_version = (None, None)
    skipped: dict[str, str] = {}
    if "postgres" in stores:
        admin, info = pg_admin(pg_url)
        if admin is None:
            msg = f"PostgreSQL at {pg_url} is not reachable ({info}): skipped"
            console.print(f"[yellow]{msg}[/yellow]")
            skipped["postgres"] = msg
            stores.remove("postgres")
        else:
            pg_version = info

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="leadflow-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, Any]] = []
    try:
        for store in stores:
            console.print(f"[bold]{store}[/bold]")
            if store == "sqlite":
                ctx = lambda: sqlite_store(workdir, "bench")  # noqa: E731
            else:
                ctx = lambda: pg_store(pg_url, admin)  # noqa: E731
            results.append(bench_store(store, ctx, data, args, received_at, console))
        profile_text = None
        if args.profile:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            profile_text = profile_sqlite(data, args, received_at, workdir,
                                          args.out.with_name(args.out.stem + "_profile.txt"), console)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
        if admin is not None:
            admin.dispose()

    table = Table(title=f"ingest: {len(data.events):,} events / {len(data.leads):,} leads, batch {args.batch:,}")
    for col in ("store", "events", "baseline rows/s", "driver-level rows/s", "leadflow events/s", "ratio (>=50%)",
                "ratio to driver-level", "round trips/event (<=0.05)", "targets"):
        table.add_column(col, justify="left" if col in ("store", "targets") else "right")
    for r in results:
        met = r["ratio"]["met"] and r["round_trips_per_event"]["met"]
        detail = [] if met else [name for name, key in (("ratio", "ratio"), ("round trips", "round_trips_per_event"))
                                 if not r[key]["met"]]
        table.add_row(r["store"], f"{r['leadflow']['events']:,}", f"{r['baseline']['rows_per_s']:,.0f}",
                      f"{r['driver_baseline']['rows_per_s']:,.0f}",
                      f"{r['leadflow']['events_per_s']:,.0f}", f"{r['ratio']['value']:.0%}",
                      f"{r['driver_ratio']['value']:.0%}",
                      f"{r['round_trips_per_event']['value']:.4f}",
                      "[green]met[/green]" if met else f"[red]not met[/red] ({', '.join(detail)})")
    console.print(table)
    for r in results:
        lead = r["leadflow"]
        console.print(f"{r['store']}: leadflow {lead['round_trips']} statements + {lead['commits']} commits "
                      f"({lead['round_trips_per_batch']:.1f} per batch), time in the driver: "
                      + ", ".join(f"{k} x{v['count']} {v['driver_seconds']:.2f} s" for k, v in lead["statements"].items()))

    report = {
        "benchmark": "ingest",
        "leads": len(data.leads),
        "accounts": len(data.accounts),
        "events": len(data.events),
        "seed": args.seed,
        "batch": args.batch,
        "repeat": args.repeat,
        "order": "generator (lead by lead, time-ordered within a lead)",
        "generate_seconds": gen_s,
        "targets": {"ratio": RATIO_TARGET, "round_trips_per_event": ROUND_TRIP_TARGET},
        "results": results,
        "skipped": skipped,
        "profile": profile_text,
        "environment": environment(pg_version),
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    console.print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
