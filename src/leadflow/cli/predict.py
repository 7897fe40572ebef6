"""``leadflow predict``: outcome-trained scoring (train, evaluate, score, explain, drift, list)."""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from leadflow.settings import get_settings

app = typer.Typer(help="Predictive scoring: models trained on outcomes, with evaluation, explanations and drift.",
                  no_args_is_help=True)
console = Console()
err = Console(stderr=True)

DbOpt = Annotated[str | None, typer.Option("--database-url", envvar="LEADFLOW_DATABASE_URL",
                                              help="SQLAlchemy URL (default: the LEADFLOW_DATABASE_URL setting).")]
WsOpt = Annotated[str | None, typer.Option("--workspace", "-w", envvar="LEADFLOW_WORKSPACE",
                                              help="Workspace slug (default: the LEADFLOW_WORKSPACE setting).")]
NameOpt = Annotated[str | None, typer.Option("--name", help="Model name (default: conversion; table for --data).")]
ModelsOpt = Annotated[Path | None, typer.Option("--models-dir", help="Artifact directory (default: the "
                                                "LEADFLOW_MODELS_DIR setting).")]


def _lf(database_url: str | None, workspace: str | None):  # noqa: ANN202
    from leadflow.facade import Leadflow

    return Leadflow(database_url, workspace)


def _fail(message: str, code: int = 1) -> None:
    err.print("[red]error:[/red] " + message.replace("[", r"\["), highlight=False)
    raise typer.Exit(code)


def _say(msg: str) -> None:
    err.print(("[yellow]" if msg.startswith("warning") else "[dim]") + msg.replace("[", r"\[")
              + ("[/yellow]" if msg.startswith("warning") else "[/dim]"), highlight=False)


def _f(v: Any, pct: bool = False) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:.1%}" if pct else f"{v:.3f}"


def print_report(report: dict[str, Any]) -> None:
    model, rules = report["model"], report.get("rules")
    t = Table("metric", "model", *([rules["name"]] if rules else []), title=(
        f"holdout: {report['rows']} rows, {report['converters']} converters (base rate {_f(report['base_rate'], True)})"))
    for label, key, pct in (("ROC AUC", "roc_auc", False), ("PR AUC", "pr_auc", False),
                            ("converters in top 20%", "top20_share", True), ("ECE", "ece", False),
                            ("Brier", "brier", False)):
        t.add_row(label, _f(model.get(key), pct), *([_f(rules.get(key), pct)] if rules else []))
    console.print(t)
    d = Table("decile", "rows", "converters", "rate", "lift", "cumulative gain", title="model by decile")
    for r in model["deciles"]:
        d.add_row(str(r["decile"]), str(r["rows"]), str(r["converters"]), _f(r["rate"], True), _f(r["lift"]),
                  _f(r["cumulative_gain"], True))
    console.print(d)
    if "at_mql_threshold" in report:
        m = Table("who decides", "flagged", "precision", "recall", title="at the active MQL threshold")
        for k, v in report["at_mql_threshold"].items():
            m.add_row(k.replace("_", " "), str(v["flagged"]), _f(v["precision"], True), _f(v["recall"], True))
        console.print(m)


def _write_html(path: Path | None, html: str) -> None:
    if path:
        path.write_text(html, encoding="utf-8")
        console.print(f"report written to {path}")


@app.command("train")
def train_cmd(
    data: Annotated[Path | None, typer.Option("--data", help="Train on this CSV lead table instead of the store.")] = None,
    target: Annotated[str | None, typer.Option("--target", help="--data: the 0/1 column saying who converted. "
                                               "Store: sql (reached SQL or an opportunity) or customer (won).")] = None,
    id_col: Annotated[str | None, typer.Option("--id", help="--data: the id column (inferred otherwise).")] = None,
    time_col: Annotated[str | None, typer.Option("--time", help="--data: the date column (temporal split).")] = None,
    exclude: Annotated[list[str] | None, typer.Option("--exclude", help="--data: a column to leave out (repeat).")] = None,
    horizon: Annotated[int, typer.Option("--horizon", help="Store: converted within this many days.")] = 30,
    algorithm: Annotated[str, typer.Option("--algorithm", help="auto, logistic or lightgbm.")] = "auto",
    name: NameOpt = None, html: Annotated[Path | None, typer.Option("--html", help="Write the report here.")] = None,
    models_dir: ModelsOpt = None, database_url: DbOpt = None, workspace: WsOpt = None,
) -> None:
    """Train a model (temporal split, calibration), save a new artifact version, print the holdout report."""
    from leadflow.predictive import service
    from leadflow.predictive.errors import PredictiveError, TooFewOutcomes

    if algorithm not in ("auto", "logistic", "lightgbm"):
        _fail(f"--algorithm must be auto, logistic or lightgbm, not {algorithm!r}")
    mdir = models_dir or Path(get_settings().models_dir)
    try:
        if data is not None:
            if not target:
                _fail("--data needs --target COLUMN (the 0/1 column saying who converted)")
            out = service.train_table(data, target, models_dir=mdir, workspace_slug=workspace or get_settings().workspace,
                                      name=name or "table", id_col=id_col, time_col=time_col,
                                      exclude=exclude or [], algorithm=algorithm, say=_say)  # type: ignore[arg-type]
        else:
            if id_col or time_col or exclude:
                _fail("--id, --time and --exclude apply to --data only")
            with _lf(database_url, workspace) as lf:
                out = service.train_store(lf.db, lf.workspace_id, lf.workspace_slug, models_dir=mdir,
                                          name=name or "conversion", target=target or "sql",  # type: ignore[arg-type]
                                          horizon_days=horizon, algorithm=algorithm, say=_say)  # type: ignore[arg-type]
    except TooFewOutcomes as exc:
        _fail(f"{exc}", 2)
    except PredictiveError as exc:
        _fail(str(exc))
    meta = out.artifact.meta
    console.print(f"[bold]{out.artifact.ref}[/bold] ({meta['algorithm']}, calibration {meta.get('calibration')}) "
                  f"saved to {out.artifact.path}")
    console.print(f"split: {json.dumps(meta['split'])}", highlight=False)
    console.print(f"candidates (validation ROC AUC): {json.dumps(meta['candidates'])}", highlight=False)
    print_report(out.report)
    _write_html(html, out.html())


@app.command("evaluate")
def evaluate_cmd(
    model_dir: Annotated[Path | None, typer.Option("--model", help="An artifact directory (default: the "
                                                   "active store model).")] = None,
    data: Annotated[Path | None, typer.Option("--data", help="Evaluate a table model on this CSV.")] = None,
    html: Annotated[Path | None, typer.Option("--html", help="Write the HTML report here.")] = None,
    name: NameOpt = None, database_url: DbOpt = None, workspace: WsOpt = None,
) -> None:
    """Print (and write as HTML) a model's holdout evaluation, or evaluate a table model on a new file."""
    from leadflow.predictive import service
    from leadflow.predictive.artifacts import read_meta
    from leadflow.predictive.errors import PredictiveError
    from leadflow.predictive.evaluate import render_html

    try:
        if model_dir is None:
            with _lf(database_url, workspace) as lf:
                row, _model, meta = service.active_model(lf.db, lf.workspace_id, name or "conversion")
                model_dir = Path(row.path)
        meta = read_meta(model_dir)
        report = service.evaluate_table(model_dir, data) if data else meta["report"]
    except PredictiveError as exc:
        _fail(str(exc))
    console.print(f"{meta['name']}@v{meta['version']} ({meta['algorithm']})")
    print_report(report)
    _write_html(html, render_html(report, service._summary(meta)))


@app.command("score")
def score_cmd(
    at: Annotated[datetime | None, typer.Option("--at", help="Score as of this time (default: now).")] = None,
    top: Annotated[int, typer.Option("--top", help="Show the top N leads.")] = 10,
    export: Annotated[Path | None, typer.Option("--export", help="Write every prediction to this CSV.")] = None,
    name: NameOpt = None, database_url: DbOpt = None, workspace: WsOpt = None,
) -> None:
    """Score every lead with the active model and store the predictions (with their factors)."""
    from leadflow.predictive import service
    from leadflow.predictive.errors import PredictiveError

    with _lf(database_url, workspace) as lf:
        try:
            n = service.score_all(lf.db, lf.workspace_id, name=name or "conversion", at=at, say=_say)
        except PredictiveError as exc:
            _fail(f"{exc}")
        console.print(f"{n} leads scored")
        rows = service.top_predictions(lf.db, lf.workspace_id, name=name or "conversion", n=max(top, 0))
        t = Table("email", "probability", "why")
        for r in rows:
            t.add_row(r["email"], f"{r['probability']:.1%}", "; ".join(f["text"] for f in r["factors"][:3]))
        console.print(t)
        if export:
            _export(lf, service, name or "conversion", export)


def _export(lf, service, name: str, path: Path) -> None:  # noqa: ANN001
    import csv

    rows = service.top_predictions(lf.db, lf.workspace_id, name=name, n=10**9)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["email", "probability", "factors", "scored_at"])
        for r in rows:
            w.writerow([_safe(r["email"]), f"{r['probability']:.6f}",
                        _safe("; ".join(f["text"] for f in r["factors"])), r["scored_at"].isoformat()])
    console.print(f"{len(rows)} predictions written to {path}")


def _safe(text: str) -> str:
    """Formula-safe CSV cell (a leading = + - @ would run in a spreadsheet)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@app.command("explain")
def explain_cmd(email: str, name: NameOpt = None, database_url: DbOpt = None, workspace: WsOpt = None) -> None:
    """One lead's probability and the factors behind it, in words (recomputed when events arrived since)."""
    from sqlalchemy import select

    from leadflow.predictive import service
    from leadflow.predictive.errors import PredictiveError
    from leadflow.store.tables import Lead

    with _lf(database_url, workspace) as lf:
        with lf.db.session() as s:
            lid = s.scalar(select(Lead.id).where(Lead.workspace_id == lf.workspace_id, Lead.email == email.strip().lower()))
        if lid is None:
            _fail(f"no lead with email {email}")
        try:
            pred = service.predict_lead(lf.db, lf.workspace_id, lid, name=name or "conversion")
        except PredictiveError as exc:
            _fail(str(exc))
    if pred is None:
        _fail(f"{email} cannot be scored yet (created after the scoring time)")
    console.print(f"{email}: [bold]{pred['probability']:.1%}[/bold] chance to convert (model v{pred['model_version']})")
    for f in pred["factors"]:
        console.print(f"  {f['text']}", highlight=False, markup=False)


@app.command("drift")
def drift_cmd(
    days: Annotated[int, typer.Option("--days", help="Recent window for the calibration check.")] = 60,
    at: Annotated[datetime | None, typer.Option("--at", help="As of this time (default: now).")] = None,
    name: NameOpt = None, database_url: DbOpt = None, workspace: WsOpt = None,
) -> None:
    """Do recent outcomes and leads still match the model? Suggests retraining when they do not."""
    from leadflow.predictive import service
    from leadflow.predictive.errors import PredictiveError

    with _lf(database_url, workspace) as lf:
        try:
            rep = service.drift(lf.db, lf.workspace_id, name=name or "conversion", recent_days=days, at=at)
        except PredictiveError as exc:
            _fail(str(exc))
    cal = rep["calibration"]
    if cal:
        console.print(f"recent snapshots: {cal['rows']} ({cal['converters']} converted): ECE {_f(cal['ece'])} "
                      f"(training {_f(cal['training_ece'])}), ROC AUC {_f(cal['roc_auc'])} (training "
                      f"{_f(cal['training_roc_auc'])}), predicted {_f(cal['predicted_rate'], True)} vs observed "
                      f"{_f(cal['observed_rate'], True)}")
    else:
        console.print("no recent snapshot with a known outcome: calibration not checked")
    t = Table("feature", "PSI", title="feature drift (now vs training)")
    for f in rep["features"][:10]:
        t.add_row(f["feature"], f"{f['psi']:.3f}")
    console.print(t)
    console.print(("[yellow]" if rep["retrain"] else "[green]") + rep["suggestion"].replace("[", r"\["))


@app.command("list")
def list_cmd(database_url: DbOpt = None, workspace: WsOpt = None) -> None:
    """The registered models of the workspace."""
    from leadflow.predictive import service

    with _lf(database_url, workspace) as lf:
        rows = service.list_models(lf.db, lf.workspace_id)
    t = Table("model", "active", "algorithm", "target", "ROC AUC", "ECE", "created", "path")
    for r in rows:
        t.add_row(f"{r.name}@v{r.version}", "yes" if r.active else "", r.algorithm,
                  f"{r.target} in {r.horizon_days} d" if r.horizon_days else r.target,
                  _f(r.metrics.get("roc_auc")), _f(r.metrics.get("ece")), r.created_at.isoformat(timespec="minutes"),
                  r.path)
    console.print(t)
