"""Benchmark: the set-wise backtest replay (Ibis on DuckDB) against the core's per-lead replay.

The seeded demo generator (``leadflow.demo.generator``) makes a funnel of ``--leads`` leads in memory
(no write path: leads keyed by email, accounts by domain, anonymous page views given to the lead they
belong to). In the same process, on the same rows, for the default model and for a candidate variant:

(a) ``leadflow.predictive.backtest.first_mql``: every lead's first MQL, set-wise on DuckDB (tables
    materialised in DuckDB first; Ibis compilation included, as in every call);
(b) ``leadflow.predictive.backtest.core_first_mql``: ``leadflow.core.qualify.replay`` of each lead's
    events (rows already in Python: reading them is not counted against the core).

Each size is run ``--repeat`` times after one warm-up, interleaved; best and median wall times, the
speed ratio (b)/(a) on medians (above 1: the batch is faster) and the equality of the two answers
(first-MQL time, event and criterion of every lead) are reported. Writes ``benchmarks/results/backtest.json``.

    python benchmarks/backtest.py                          # 2,000 and 10,000 leads
    python benchmarks/backtest.py --leads 500 --repeat 1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
from rich.console import Console
from rich.table import Table

import leadflow.models
from leadflow.batch.source import connect, from_arrow
from leadflow.core.scoring.spec import ScoringModel, load_model_file
from leadflow.demo.generator import DemoConfig, generate
from leadflow.predictive.backtest import core_first_mql, first_mql

warnings.filterwarnings("ignore", message="fetch_arrow_table")
RESULTS = Path(__file__).resolve().parent / "results" / "backtest.json"
LEAD_COLS = ["email", "first_name", "last_name", "title", "seniority", "department", "phone", "country", "source",
             "medium", "campaign", "landing_page", "consent", "unsubscribed"]
ACCOUNT_COLS = ["domain", "name", "industry", "employee_count", "annual_revenue", "country"]


def candidate(model: ScoringModel) -> ScoringModel:
    """Hand-raisers need grade C or better; the grade-B engagement threshold goes from 60 to 70."""
    data = model.model_dump(mode="python")
    data["key"] = "candidate"
    for c in data["lifecycle"]["mql"]["any_of"]:
        if c.get("event_in") and c.get("fit_grade_at_least") is None:
            c["fit_grade_at_least"] = "C"
        if c.get("fit_grade_at_least") == "B" and c.get("engagement_at_least") == 60:
            c["engagement_at_least"] = 70
    return ScoringModel.model_validate(data)


def rows(leads: int, seed: int) -> tuple[list[dict], list[dict], list[dict]]:
    data = generate(DemoConfig(seed=seed, leads=leads, accounts=max(20, leads // 7),
                               start=datetime(2026, 1, 1, tzinfo=UTC), days=180))
    accounts = [{"id": a["domain"], "workspace_id": "w", **{k: a.get(k) for k in ACCOUNT_COLS}} for a in data.accounts]
    known = {a["id"] for a in accounts}
    lead_rows = [{"id": r["email"], "workspace_id": "w", "account_id": r.get("company_domain")
                  if r.get("company_domain") in known else None, **{k: r.get(k) for k in LEAD_COLS}}
                 for r in data.leads]
    events = []
    for e in data.events:
        lead = e.get("email") or e.get("_lead_email")
        events.append({"id": e["message_id"], "workspace_id": "w", "lead_id": lead, "type": e["type"],
                       "t": e["occurred_at"].timestamp(), "properties": e.get("properties") or {}})
    return lead_rows, accounts, events


def arrow(lead_rows: list[dict], accounts: list[dict], events: list[dict]) -> tuple[pa.Table, pa.Table, pa.Table]:
    def cols(items: list[dict], names: list[str]) -> dict[str, list[Any]]:
        return {n: [r.get(n) for r in items] for n in names}

    ld = pa.table(cols(lead_rows, ["id", "workspace_id", "account_id", *LEAD_COLS]))
    ac = pa.table(cols(accounts, ["id", "workspace_id", *ACCOUNT_COLS]))
    ev = cols(events, ["id", "workspace_id", "lead_id", "type", "t"])
    ev["properties"] = [json.dumps(e["properties"]) for e in events]
    return ld, ac, pa.table(ev)


def answers_batch(table: pa.Table) -> dict[str, tuple | None]:
    return {r["lead_id"]: None if r["mql_t"] is None else (r["mql_t"], r["event_id"], r["criterion"])
            for r in table.to_pylist()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--leads", type=int, nargs="+", default=[2000, 10000])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=0, help="DuckDB threads (0: DuckDB's default)")
    args = ap.parse_args()
    console = Console()
    base_model = load_model_file(str(Path(leadflow.models.__file__).parent / "default.yaml"))
    models = {"default": base_model, "candidate": candidate(base_model)}
    report: dict[str, Any] = {"benchmark": "backtest", "when": datetime.now(UTC).isoformat(),
                              "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                                          "load_avg_1m": os.getloadavg()[0]},
                              "repeat": args.repeat, "runs": []}
    table = Table(title="first MQL of every lead: batch (DuckDB) vs core replay (Python)")
    for col in ("leads", "events", "model", "batch best s", "batch median s", "core best s", "core median s",
                "core/batch", "MQLs", "equal", "via core"):
        table.add_column(col, justify="right")
    for n in args.leads:
        lead_rows, accounts, events = rows(n, args.seed)
        ld, ac, ev = arrow(lead_rows, accounts, events)
        con = connect(**({"threads": args.threads} if args.threads else {}))
        store = from_arrow(ld, ac, ev, "w", con=con)
        store.materialize()
        for name, model in models.items():
            tb, tc = [], []
            got = want = None
            for i in range(args.repeat + 1):
                t0 = time.perf_counter()
                got = first_mql(model, store)
                t1 = time.perf_counter()
                want = core_first_mql(model, lead_rows, accounts, events)
                t2 = time.perf_counter()
                if i:  # the first run warms up
                    tb.append(t1 - t0)
                    tc.append(t2 - t1)
            b, c = answers_batch(got), want
            mismatches = sum(1 for k in c if b.get(k) != c[k]) + len(set(b) - set(c))
            via_core = sum(1 for v in got.column("via").to_pylist() if v != "batch")
            mqls = sum(1 for v in c.values() if v is not None)
            ratio = statistics.median(tc) / statistics.median(tb)
            run = {"leads": n, "events": len(events), "model": name, "batch_s": tb, "core_s": tc,
                   "core_over_batch_median": ratio, "mqls": mqls, "mismatches": mismatches, "via_core": via_core}
            report["runs"].append(run)
            table.add_row(f"{n:,}", f"{len(events):,}", name, f"{min(tb):.2f}", f"{statistics.median(tb):.2f}",
                          f"{min(tc):.2f}", f"{statistics.median(tc):.2f}", f"{ratio:.2f}x", f"{mqls:,}",
                          "yes" if mismatches == 0 else f"NO ({mismatches})", str(via_core))
        store.close()
        con.disconnect()
    console.print(table)
    console.print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs "
                  "(shared machine: ratios are noisy)")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2))
    console.print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
