"""Predictive scoring on real lead data and on the demo funnel, with the product's own functions.

    .venv/bin/python benchmarks/predictive/real_data.py [--demo-leads 2000] [--skip-demo] [--held-out-only]

``--held-out-only`` prints only the figures that decide (the candidates' held-out ROC AUC - validation or
out-of-fold rows of the training part - and the chosen calibration's cross-validated ECE on them), not the
test figures, and writes ``benchmarks/results/predictive-held-out.json``: for trying a modelling change
without seeing the test rows.

* X Education (``../shared/data/x_education_leads/Leads.csv``): ``leadflow predict train --data`` path
  (:func:`leadflow.predictive.service.train_table`), pre-contact fields only: the sales-filled columns
  Tags, Lead Quality, Lead Profile, Last Activity, Last Notable Activity are excluded (they leak the
  outcome, see the data README), and Lead Number (an id). No dates: stratified random split, 20 % test;
  the other 80 % are cross-fitted (5 folds) to choose, fit and calibrate the model.
  Run twice: *strict* also excludes the four Asymmetrique index/score columns (not in the README's list of
  pre-contact fields: origin, source, demographics, consent flags, web behaviour); *with Asymmetrique*
  keeps them.
* Olist (``../shared/data/olist_marketing_funnel/``): one row per MQL (origin, landing page, first contact
  date) with ``converted`` = appears in the closed deals. Deal-side fields are never joined in (they exist
  only for won leads). Temporal split on ``first_contact_date``: the earliest 60 % train, the next 20 %
  validate / calibrate, the last 20 % test. The joined file is written to a temporary directory only.
  The product adds its optional point-in-time features (from earlier rows only) and keeps them only if
  they raise the validation ROC AUC.
* Demo: the seeded generator loaded through the write path into a temporary SQLite store, then
  :func:`~leadflow.predictive.service.train_store` (weekly point-in-time snapshots, 30-day horizon, SQL).

Prints a table and writes ``benchmarks/results/predictive.json``. The real data sets are not shipped
with leadflow: without ``../shared/data`` those rows are skipped with a message.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("LEADFLOW_SHARED_DATA", ROOT.parent / "shared" / "data"))
RESULTS = ROOT / "benchmarks" / "results" / "predictive.json"
RESULTS_HELD_OUT = ROOT / "benchmarks" / "results" / "predictive-held-out.json"
XED_LEAKY = ["Tags", "Lead Quality", "Lead Profile", "Last Activity", "Last Notable Activity"]
XED_ASYM = ["Asymmetrique Activity Index", "Asymmetrique Profile Index", "Asymmetrique Activity Score",
            "Asymmetrique Profile Score"]
BARS = {"x_education": 0.88, "olist": 0.72}


def held_out(candidates: dict[str, Any], algorithm: str) -> dict[str, Any]:
    """The figures that decide: each candidate's held-out ROC AUC, the chosen one's, and the chosen
    calibration's cross-validated ECE on the held-out rows."""
    aucs = {k: v["valid_auc"] for k, v in candidates.items() if isinstance(v, dict) and "valid_auc" in v}
    cal = candidates.get("calibration") or {}
    ece = (cal.get("cross_validated") or {}).get(cal.get("chosen"), {}).get("ece")
    return {"roc_auc": aucs.get(algorithm), "candidates": aucs, "calibration": cal.get("chosen"), "cv_ece": ece}


def _row(name: str, out: Any, seconds: float, bar: float | None, **extra: Any) -> dict[str, Any]:
    m = out.artifact.meta
    r = out.report["model"]
    return {"held_out": held_out(m["candidates"], m["algorithm"]),"data": name, "algorithm": m["algorithm"], "calibration": m.get("calibration"), "split": m["split"],
            "test_rows": out.report["rows"], "test_converters": out.report["converters"],
            "roc_auc": r["roc_auc"], "pr_auc": r["pr_auc"], "ece": r["ece"], "top20_share": r["top20_share"],
            "bar_roc_auc": bar, "met": None if bar is None else bool(r["roc_auc"] >= bar),
            "ece_goal_met": bool(r["ece"] <= 0.03), "candidates": m["candidates"], "seconds": round(seconds, 1),
            "warnings": out.warnings, **extra}


def x_education(models: Path) -> list[dict[str, Any]]:
    from leadflow.predictive.service import train_table

    path = DATA / "x_education_leads" / "Leads.csv"
    rows = []
    for label, exclude in (("x_education (strict)", XED_LEAKY + ["Lead Number"] + XED_ASYM),
                           ("x_education (with Asymmetrique)", XED_LEAKY + ["Lead Number"])):
        t = time.perf_counter()
        out = train_table(path, "Converted", models_dir=models, workspace_slug="bench", name="xed",
                          id_col="Prospect ID", exclude=exclude)
        rows.append(_row(label, out, time.perf_counter() - t, BARS["x_education"], excluded=exclude))
    return rows


def olist(models: Path, tmp: Path) -> list[dict[str, Any]]:
    from leadflow.predictive.service import train_table

    src = DATA / "olist_marketing_funnel"
    with (src / "olist_closed_deals_dataset.csv").open(newline="") as fh:
        won = {r["mql_id"] for r in csv.DictReader(fh)}
    joined = tmp / "olist_mql.csv"
    with (src / "olist_marketing_qualified_leads_dataset.csv").open(newline="") as fh, \
            joined.open("w", newline="") as out:
        w = csv.writer(out)
        w.writerow(["mql_id", "first_contact_date", "landing_page_id", "origin", "converted"])
        for r in csv.DictReader(fh):
            w.writerow([r["mql_id"], r["first_contact_date"], r["landing_page_id"], r["origin"],
                        int(r["mql_id"] in won)])
    t = time.perf_counter()
    out = train_table(joined, "converted", models_dir=models, workspace_slug="bench", name="olist",
                      id_col="mql_id", time_col="first_contact_date")
    return [_row("olist (temporal)", out, time.perf_counter() - t, BARS["olist"],
                 excluded=["every closed-deal field (known only for won leads)"])]


def demo(models: Path, tmp: Path, leads: int) -> list[dict[str, Any]]:
    from leadflow.demo.generator import DemoConfig
    from leadflow.facade import Leadflow
    from leadflow.predictive.service import train_store
    from leadflow.services.demo import load_demo

    lf = Leadflow(f"sqlite:///{tmp / 'demo.db'}", "bench")
    try:
        t = time.perf_counter()
        load_demo(lf.db, lf.workspace_id, DemoConfig(seed=42, leads=leads, accounts=max(30, leads // 7)))
        loaded = time.perf_counter() - t
        t = time.perf_counter()
        out = train_store(lf.db, lf.workspace_id, lf.workspace_slug, models_dir=models)
        rules = out.report.get("rules", {})
        mql = out.report.get("at_mql_threshold", {})
        return [_row(f"demo ({leads} leads, SQL in 30 d)", out, time.perf_counter() - t, None,
                     load_seconds=round(loaded, 1), rules_roc_auc=rules.get("roc_auc"),
                     rules_top20_share=rules.get("top20_share"), at_mql_threshold=mql)]
    finally:
        lf.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--demo-leads", type=int, default=2000)
    ap.add_argument("--skip-demo", action="store_true")
    ap.add_argument("--held-out-only", action="store_true",
                    help="print only the held-out figures (which decide), never the test figures")
    args = ap.parse_args()
    rows: list[dict[str, Any]] = []
    skipped: list[str] = []
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        models = tmp / "models"
        if DATA.is_dir():
            rows += x_education(models)
            rows += olist(models, tmp)
        else:
            msg = f"SKIPPED real-data rows: {DATA} not found (the shared data sets are not shipped with leadflow)"
            print(msg, file=sys.stderr)
            skipped.append(msg)
        if not args.skip_demo:
            rows += demo(models, tmp, args.demo_leads)
    if args.held_out_only:
        return _print_held_out(rows, skipped)
    head = f"{'data':38} {'algorithm':9} {'calibration':11} {'split':18} {'ROC AUC':>8} {'bar':>5} {'met':>4} " \
           f"{'PR AUC':>7} {'ECE':>6} {'top 20%':>8}"
    print(head)
    print("-" * len(head))
    for r in rows:
        bar = "-" if r["bar_roc_auc"] is None else f"{r['bar_roc_auc']:.2f}"
        met = "-" if r["met"] is None else ("yes" if r["met"] else "no")
        print(f"{r['data']:38} {r['algorithm']:9} {r['calibration'] or '-':11} {r['split']['kind']:18} "
              f"{r['roc_auc']:8.3f} {bar:>5} {met:>4} "
              f"{r['pr_auc']:7.3f} {r['ece']:6.3f} {r['top20_share']:8.1%}")
        if "rules_roc_auc" in r:
            print(f"{'  rules on the same holdout':38} {'':9} {'':11} {'':18} {r['rules_roc_auc']:8.3f} {'':>5} {'':>4} "
                  f"{'':7} {'':6} {r['rules_top20_share']:8.1%}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"rows": rows, "skipped": skipped}, indent=2, default=str) + "\n")
    print(f"written {RESULTS.relative_to(ROOT)}")
    return 0


def _print_held_out(rows: list[dict[str, Any]], skipped: list[str]) -> int:
    head = f"{'data':38} {'chosen':9} {'held-out ROC AUC':>16} {'cv ECE':>7}  candidates"
    print(head)
    print("-" * len(head))
    for r in rows:
        h = r["held_out"]
        cands = ", ".join(f"{k} {v:.4f}" for k, v in h["candidates"].items())
        ece = "-" if h["cv_ece"] is None else f"{h['cv_ece']:.4f}"
        print(f"{r['data']:38} {r['algorithm']:9} {h['roc_auc']:16.4f} {ece:>7}  {cands}")
    keep = ("data", "algorithm", "calibration", "held_out", "split", "seconds", "warnings")
    RESULTS_HELD_OUT.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_HELD_OUT.write_text(json.dumps({"rows": [{k: r[k] for k in keep} for r in rows], "skipped": skipped},
                                           indent=2, default=str) + "\n")
    print(f"written {RESULTS_HELD_OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
