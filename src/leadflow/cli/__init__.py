"""The ``leadflow`` command line: a thin face over the services (see ``leadflow --help``)."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from leadflow.settings import Settings, get_settings

app = typer.Typer(help="leadflow: lead qualification engine (event log, explainable scoring, lifecycle stages).",
                  no_args_is_help=True, pretty_exceptions_enable=False)
model_app = typer.Typer(help="Scoring models: validate, upload, activate, list.", no_args_is_help=True)
lead_app = typer.Typer(help="One lead: show, explain, change stage, record an outcome.", no_args_is_help=True)
db_app = typer.Typer(help="Database: migrations.", no_args_is_help=True)
app.add_typer(model_app, name="model")
app.add_typer(lead_app, name="lead")
app.add_typer(db_app, name="db")
console = Console()
err = Console(stderr=True)

DbOpt = Annotated[str | None, typer.Option("--database-url", envvar="LEADFLOW_DATABASE_URL",
                                              help="SQLAlchemy URL (default: the LEADFLOW_DATABASE_URL setting).")]
WsOpt = Annotated[str | None, typer.Option("--workspace", "-w", envvar="LEADFLOW_WORKSPACE",
                                              help="Workspace slug (default: the LEADFLOW_WORKSPACE setting).")]


def _lf(database_url: str | None, workspace: str | None):  # noqa: ANN202
    from leadflow.facade import Leadflow

    return Leadflow(database_url, workspace)


def _progress() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=err, transient=False, disable=not err.is_terminal and False)


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


@app.command("settings")
def settings_cmd() -> None:
    """Print every setting with its current value, environment variable and help."""
    s = get_settings()
    table = Table("setting", "env var", "value", "help", show_lines=True)
    for name, f in Settings.model_fields.items():
        table.add_row(name, f"LEADFLOW_{name.upper()}", str(getattr(s, name)), f.description or "")
    console.print(table)


@db_app.command("upgrade")
def db_upgrade(database_url: DbOpt = None) -> None:
    """Create or migrate the schema to the latest version (done automatically on first use)."""
    from leadflow.store.db import Database
    from leadflow.store.migrate import current, upgrade

    db = Database(database_url or get_settings().database_url)
    upgrade(db)
    console.print(f"schema at revision {current(db)}")


# ------------------------------------------------------------------------------------------ import


@app.command("import")
def import_cmd(
    kind: Annotated[str, typer.Argument(help="What the file holds: accounts, leads, events or outcomes.")],
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A .csv or .jsonl file.")],
    map_: Annotated[list[str] | None, typer.Option("--map", help="Column mapping SOURCE=FIELD (repeatable); "
                                                      "HubSpot and Salesforce export names are recognised.")] = None,
    skip_invalid: Annotated[bool, typer.Option(help="Store the valid rows even if some are invalid.")] = False,
    fmt: Annotated[str | None, typer.Option("--format", help="csv or jsonl (default: from the extension).")] = None,
    errors_out: Annotated[Path | None, typer.Option("--errors", help="Write the per-row error report to this CSV.")] = None,
    database_url: DbOpt = None, workspace: WsOpt = None,
) -> None:
    """Import a CSV or JSONL file. An invalid file stores nothing unless --skip-invalid."""
    from leadflow.services.exporting import write_csv
    from leadflow.services.imports import ImportRejected, import_file

    mapping = {}
    for m in map_ or []:
        if "=" not in m:
            _fail(f"--map {m!r}: expected SOURCE=FIELD")
        src, dst = m.split("=", 1)
        mapping[src] = dst
    lf = _lf(database_url, workspace)
    total = sum(1 for _ in path.open("rb")) - (1 if path.suffix.lower() == ".csv" else 0)
    try:
        with _progress() as prog:
            task = prog.add_task(f"importing {kind} from {path.name}", total=max(total, 0))
            summary = import_file(lf.db, lf.workspace_id, path, kind, mapping=mapping or None, fmt=fmt,
                                  skip_invalid=skip_invalid, chunk_size=lf.settings.batch_size,
                                  allow_custom_types=lf.settings.allow_custom_event_types,
                                  future_policy=lf.settings.future_timestamps,
                                  progress=lambda n: prog.advance(task, n))
    except ImportRejected as exc:
        _report_errors(exc.errors, errors_out, write_csv)
        _fail(str(exc))
    except (ValueError, LookupError) as exc:
        _fail(f"{path}: {exc} (nothing was stored)")
    if summary.errors:
        _report_errors(summary.errors, errors_out, write_csv)
    for w in summary.warnings[:20]:
        err.print(f"[yellow]warning:[/yellow] {w}")
    console.print(f"{summary.kind}: {summary.rows} rows read, {summary.stored} stored, {summary.duplicates} duplicates, "
                  f"{summary.rejected} rejected, {summary.transitions} stage changes")


def _report_errors(errors, errors_out, write_csv) -> None:  # noqa: ANN001
    table = Table("row", "column", "value", "reason", title=f"{len(errors)} problems")
    for e in errors[:30]:
        table.add_row(str(e.row), e.column or "", (e.value or "")[:40], e.reason)
    err.print(table)
    if len(errors) > 30:
        err.print(f"... and {len(errors) - 30} more (use --errors FILE for the full report)")
    if errors_out:
        write_csv(({"row": e.row, "column": e.column, "value": e.value, "reason": e.reason} for e in errors),
                  errors_out, ["row", "column", "value", "reason"])
        err.print(f"error report written to {errors_out}")


@app.command("track")
def track_cmd(
    event: Annotated[str, typer.Argument(help='One event as JSON, e.g. \'{"type":"page_view","email":"a@b.co",'
                                         '"timestamp":"2026-01-01T00:00:00Z","properties":{"url":"/pricing"}}\'; '
                                         '"-" reads JSON lines from stdin.')],
    database_url: DbOpt = None, workspace: WsOpt = None,
) -> None:
    """Send events (JSON) into the log and score them; prints a result per event."""
    lines = sys.stdin.read().splitlines() if event == "-" else [event]
    try:
        raws = [json.loads(line) for line in lines if line.strip()]
    except json.JSONDecodeError as exc:
        _fail(f"not valid JSON: {exc}")
    rep = _lf(database_url, workspace).ingest(raws)
    for r in rep.results:
        console.print(f"{r.index}: {r.status}" + (f" ({r.field}: {r.reason})" if r.reason else ""))
    if rep.count("rejected"):
        raise typer.Exit(1)


# ------------------------------------------------------------------------------------------ export


@app.command("export")
def export_cmd(
    path: Annotated[Path, typer.Argument(help="Output file: .csv or .parquet.")],
    database_url: DbOpt = None, workspace: WsOpt = None,
) -> None:
    """Export leads with their stage, status, fit grade and engagement (CSV is formula-injection safe)."""
    from leadflow.services.exporting import write_csv, write_parquet
    from leadflow.services.queries import export_rows

    lf = _lf(database_url, workspace)
    model = lf.model()
    columns, rows = export_rows(lf.db, lf.workspace_id, model)
    if path.suffix.lower() == ".parquet":
        write_parquet(rows, path)
    elif path.suffix.lower() == ".csv":
        write_csv(rows, path, columns)
    else:
        _fail("the output file must end in .csv or .parquet")
    console.print(f"exported leads to {path}")


# ------------------------------------------------------------------------------------------- leads


@app.command("funnel")
def funnel_cmd(database_url: DbOpt = None, workspace: WsOpt = None) -> None:
    """Lead counts per lifecycle stage."""
    counts = _lf(database_url, workspace).funnel()
    _print_funnel(counts)


def _print_funnel(counts: dict[str, int]) -> None:
    table = Table("stage", "leads", title="funnel")
    for stage, n in counts.items():
        table.add_row(stage, f"{n:,}")
    console.print(table)


@app.command("top")
def top_cmd(n: Annotated[int, typer.Option("-n", help="How many leads.")] = 10,
            database_url: DbOpt = None, workspace: WsOpt = None) -> None:
    """The most engaged leads right now (decayed to the current time)."""
    _print_top(_lf(database_url, workspace).top_leads(n))


def _print_top(rows) -> None:  # noqa: ANN001
    table = Table("email", "stage", "grade", "fit", "engagement", title="top leads")
    for r in rows:
        table.add_row(r["email"], r["stage"], r["grade"], f"{r['fit']:g}", f"{r['engagement']:.1f}")
    console.print(table)


@lead_app.command("show")
def lead_show(email: str, database_url: DbOpt = None, workspace: WsOpt = None) -> None:
    """A lead's attributes, stage and stored scores (JSON)."""
    try:
        console.print_json(json.dumps(_lf(database_url, workspace).lead(email), default=str))
    except LookupError as exc:
        _fail(str(exc))


@lead_app.command("explain")
def lead_explain(email: str,
                 at: Annotated[datetime | None, typer.Option(help="Explain the score as of this time (UTC).")] = None,
                 database_url: DbOpt = None, workspace: WsOpt = None) -> None:
    """Every point of the score: rule, events, points earned, decayed value now; and the stage history."""
    try:
        for line in _lf(database_url, workspace).explain_text(email, at):
            console.print(line, highlight=False, markup=False)
    except LookupError as exc:
        _fail(str(exc))


@lead_app.command("stage")
def lead_stage(email: str, stage: str,
               reason: Annotated[str, typer.Option(help="Why (recorded in the stage history).")],
               actor: Annotated[str | None, typer.Option(help="Who is making the change.")] = None,
               database_url: DbOpt = None, workspace: WsOpt = None) -> None:
    """Move a lead to another stage by hand, with a reason."""
    from leadflow.core.lifecycle import IllegalTransition, Stage

    if stage not in {s.value for s in Stage}:
        _fail(f"unknown stage {stage!r}; stages: {', '.join(s.value for s in Stage)}")
    try:
        tr = _lf(database_url, workspace).change_stage(email, stage, reason=reason, actor_id=actor)
    except (IllegalTransition, LookupError, ValueError) as exc:
        _fail(str(exc))
    console.print(f"{email}: {tr.from_stage} -> {tr.to_stage} ({tr.reason})")


@lead_app.command("outcome")
def lead_outcome(email: str, result: Annotated[str, typer.Argument(help="won or lost")],
                 amount: float | None = None, reason: str | None = None,
                 database_url: DbOpt = None, workspace: WsOpt = None) -> None:
    """Record a won / lost outcome (won -> customer, lost -> nurture)."""
    try:
        _lf(database_url, workspace).record_outcomes([{"email": email, "result": result, "amount": amount,
                                                       "reason": reason}])
    except (LookupError, ValueError) as exc:
        _fail(str(exc))
    console.print(f"{email}: outcome {result} recorded")


# ------------------------------------------------------------------------------------------ models


@model_app.command("validate")
def model_validate(path: Path) -> None:
    """Check a model file; errors name the file, line, field and what is wrong."""
    from leadflow.core.scoring.spec import ModelFileError, load_model_file

    try:
        m = load_model_file(str(path))
    except ModelFileError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(str(exc))
    console.print(f"{path}: valid model {m.ref} ({len(m.fit.rules)} fit rules, {len(m.engagement.rules)} engagement rules)")


@model_app.command("upload")
def model_upload(path: Path, activate: Annotated[bool, typer.Option(help="Activate it and requalify every lead.")] = False,
                 database_url: DbOpt = None, workspace: WsOpt = None) -> None:
    """Store a new model version (validated); --activate switches to it and rescores."""
    from leadflow.core.scoring.spec import ModelFileError

    try:
        text = path.read_text(encoding="utf-8")
        with _progress() as bar:
            task = bar.add_task("rescoring every lead", total=None, visible=activate)
            key, version = _lf(database_url, workspace).install_model(
                text, source=str(path), activate=activate,
                progress=lambda done, total: bar.update(task, completed=done, total=total))
    except (ModelFileError, ValueError, OSError) as exc:
        _fail(str(exc))
    console.print(f"model {key} v{version} stored{' and activated' if activate else ''}")


@app.command("rescore")
def rescore_cmd(model: Annotated[str | None, typer.Option(help="Only this model key (default: every active model).")] = None,
                stages: Annotated[bool, typer.Option(help="Also replay stages under the lifecycle model.")] = True,
                database_url: DbOpt = None, workspace: WsOpt = None) -> None:
    """Recompute every lead's fit, grade and engagement on the batch engine (DuckDB) and write them back;
    with --stages (default) also replay each lead's stage under the lifecycle model."""
    lf = _lf(database_url, workspace)
    with _progress() as bar:
        task = bar.add_task("rescoring", total=None)
        try:
            rep = lf.rescore(model_key=model, stages=stages,
                             progress=lambda done, total: bar.update(task, completed=done, total=total))
        except LookupError as exc:
            _fail(str(exc))
    console.print(f"{rep.leads} leads, models {', '.join(rep.models)}: {rep.scores_written} scores written, "
                  f"{rep.requalified} leads requalified, {rep.transitions} stage changes")


@model_app.command("list")
def model_list(database_url: DbOpt = None, workspace: WsOpt = None) -> None:
    """Every model version in the workspace, the active ones marked."""
    from leadflow.services.workspaces import list_models

    lf = _lf(database_url, workspace)
    table = Table("key", "version", "active", "checksum", "created")
    with lf.db.session() as s:
        for r in list_models(s, lf.workspace_id):
            table.add_row(r.key, str(r.version), "yes" if r.active else "", r.checksum, f"{r.created_at:%Y-%m-%d %H:%M}")
    console.print(table)


@model_app.command("show")
def model_show(key: Annotated[str, typer.Argument()] = "default", database_url: DbOpt = None,
               workspace: WsOpt = None) -> None:
    """Print the active YAML of a model."""
    from leadflow.services.workspaces import list_models

    lf = _lf(database_url, workspace)
    with lf.db.session() as s:
        rows = [r for r in list_models(s, lf.workspace_id) if r.key == key and r.active]
    if not rows:
        _fail(f"no active model {key!r}")
    console.print(rows[0].yaml, markup=False, highlight=False)


# -------------------------------------------------------------------------------------------- demo


@app.command("demo")
def demo_cmd(
    leads: Annotated[int, typer.Option(help="How many leads to generate.")] = 2000,
    accounts: Annotated[int, typer.Option(help="How many accounts.")] = 300,
    days: Annotated[int, typer.Option(help="Days of activity, ending today.")] = 180,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data).")] = 42,
    explain: Annotated[int, typer.Option(help="How many top leads to explain.")] = 3,
    predict: Annotated[bool, typer.Option(help="Also train and apply the predictive model on the demo outcomes.")] = True,
    database_url: DbOpt = None, workspace: WsOpt = None,
) -> None:
    """Generate a realistic B2B funnel, load it, and print the funnel and the top leads explained."""
    from datetime import UTC, timedelta

    from leadflow.demo.generator import DemoConfig
    from leadflow.services.demo import DEMO_PASSWORD, build_demo

    lf = _lf(database_url, workspace or "demo")
    if sum(lf.funnel().values()):
        console.print(f"workspace {lf.workspace_slug!r} already holds leads; showing it as it is")
    else:
        start = (datetime.now(UTC) - timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
        cfg = DemoConfig(seed=seed, accounts=accounts, leads=leads, start=start, days=days)
        with _progress() as prog:
            tasks = {k: prog.add_task(f"demo {k}", total=None)
                     for k in ("accounts", "leads", "events", "outcomes", "handoff")}
            counts = build_demo(lf.db, lf.workspace_id, cfg, batch_size=lf.settings.batch_size,
                                progress=lambda kind, n: prog.advance(tasks[kind], n))
        console.print(", ".join(f"{counts[k]:,} {k}" for k in ("accounts", "leads", "events", "outcomes")))
        console.print(f"sales team: {counts['team']}; {counts['routed']} MQLs routed; SDR activity: "
                      f"{counts['activity']}; {counts['spend_rows']} channel-spend rows")
        console.print(f"web app users (password [bold]{DEMO_PASSWORD}[/bold]): {', '.join(counts['users'])}")
        console.print(f"ingest key for the snippet demo page (shown once): {counts['ingest_key']}\n"
                      f"  try it at http://127.0.0.1:8000/t/demo?key={counts['ingest_key']} once the app runs")
        if predict:
            from leadflow.predictive.service import score_all, train_store

            with _progress() as prog:
                task = prog.add_task("predictive model: training on the demo outcomes", total=None)
                out = train_store(lf.db, lf.workspace_id, lf.workspace_slug, models_dir=lf.settings.models_dir,
                                  say=lambda m: prog.update(task, description=f"predictive model: {m}"))
                prog.update(task, description="predictive model: scoring every lead")
                score_all(lf.db, lf.workspace_id)
            m = out.report
            rules_auc = m["rules"]["roc_auc"] if "rules" in m else float("nan")
            console.print(f"predictive model {out.artifact.ref}: holdout ROC AUC {m['model']['roc_auc']:.3f} "
                          f"(rule-based score on the same holdout: {rules_auc:.3f})")
    _print_funnel(lf.funnel())
    top = lf.top_leads(10)
    _print_top(top)
    for r in top[:explain]:
        for line in lf.explain_text(r["email"]):
            console.print(line, highlight=False, markup=False)
        console.print()


def main() -> None:  # pragma: no cover
    app()


# ----------------------------------------------------------------------------------------- sub-apps
# Each area's commands live in their own module (leadflow/cli/<area>.py) and are mounted here, one line each.
from leadflow.cli.users import app as users_app  # noqa: E402, I001

app.add_typer(users_app, name="users")
from leadflow.cli.webhooks import app as webhooks_app; app.add_typer(webhooks_app, name="webhooks")  # noqa: E402, E702, I001
from leadflow.cli.predict import app as predict_app; app.add_typer(predict_app, name="predict")  # noqa: E402, E702, I001
from leadflow.cli.analytics import app as analytics_app; app.add_typer(analytics_app, name="analytics")  # noqa: E402, E702, I001
from leadflow.cli.keys import app as keys_app; app.add_typer(keys_app, name="keys")  # noqa: E402, E702, I001
from leadflow.cli.serve import serve as _serve; app.command("serve")(_serve)  # noqa: E402, E702, I001
from leadflow.cli.serve import scorer as _scorer; app.command("scorer")(_scorer)  # noqa: E402, E702, I001
from leadflow.cli.handoff import app as handoff_app; app.add_typer(handoff_app, name="handoff")  # noqa: E402, E702, I001
from leadflow.cli.backtest import app as backtest_app; app.add_typer(backtest_app, name="backtest")  # noqa: E402, E702, I001
