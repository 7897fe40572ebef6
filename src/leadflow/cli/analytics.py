"""``leadflow analytics``: funnel, velocity, channel economics, what converts, score health, sales; spend import.

Each report prints Rich tables; ``--out FILE.csv`` writes the main table as CSV (formula-safe),
``--out FILE.json`` the whole report as JSON.
"""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from leadflow.analytics.report import Report, plain

app = typer.Typer(help="Analytics: funnel, velocity, channel economics, what converts, score health, sales.",
                  no_args_is_help=True)
spend_app = typer.Typer(help="Channel spend (for channel economics).", no_args_is_help=True)
app.add_typer(spend_app, name="spend")
console = Console()
err = Console(stderr=True)

SinceOpt = Annotated[datetime | None, typer.Option("--since", formats=["%Y-%m-%d"],
                                                 help="Only leads created on or after this day (UTC).")]
UntilOpt = Annotated[datetime | None, typer.Option("--until", formats=["%Y-%m-%d"],
                                                 help="Only leads created on or before this day (UTC).")]
DbOpt = Annotated[str | None, typer.Option("--database-url", envvar="LEADFLOW_DATABASE_URL",
                                              help="SQLAlchemy URL (default: the LEADFLOW_DATABASE_URL setting).")]
WsOpt = Annotated[str | None, typer.Option("--workspace", "-w", envvar="LEADFLOW_WORKSPACE",
                                              help="Workspace slug (default: the LEADFLOW_WORKSPACE setting).")]
OutOpt = Annotated[Path | None, typer.Option("--out", "-o", help="Write the report: .csv (main table) or .json.")]
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _lf(database_url: str | None, workspace: str | None):  # noqa: ANN202
    from leadflow.facade import Leadflow

    return Leadflow(database_url, workspace)


def _fail(message: str) -> None:
    err.print(f"[red]error:[/red] {message}", highlight=False, markup=True)
    raise typer.Exit(1)


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.4g}" if abs(v) < 1 else f"{v:,.2f}"
    return str(v)


def _csv_cell(v: Any) -> Any:
    v = plain(v)
    if isinstance(v, str) and v.startswith(_FORMULA):
        return "'" + v
    return v


def _show(rep: Report, out: Path | None, tables: list[str] | None = None) -> None:
    for name in tables or list(rep.tables):
        t = rep.tables[name]
        table = Table(*t.column_names, title=f"{rep.name}: {name}", title_justify="left")
        for row in rep.rows(name):
            table.add_row(*(_fmt(v) for v in row.values()))
        console.print(table)
    for note in rep.notes:
        console.print(f"[dim]{note}[/dim]", highlight=False)
    if out is None:
        return
    if out.suffix.lower() == ".json":
        out.write_text(json.dumps(rep.to_dict(), indent=2, default=str), encoding="utf-8")
    elif out.suffix.lower() == ".csv":
        with out.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(rep.main.column_names)
            for row in rep.rows():
                w.writerow([_csv_cell(v) for v in row.values()])
    else:
        _fail(f"--out {out}: use a .csv or .json file name")
    console.print(f"written to {out}")


def _days(since: datetime | None, until: datetime | None) -> dict[str, Any]:
    """``--since`` / ``--until`` as the reports' created-date range (dates, inclusive)."""
    return {"since": since.date() if since else None, "until": until.date() if until else None}


def _run(database_url: str | None, workspace: str | None, name: str, **params: Any) -> Report:
    from leadflow.analytics.reports import run

    with _lf(database_url, workspace) as lf:
        try:
            return run(lf.db.url, lf.workspace_id, name, **params)
        except (ValueError, LookupError) as exc:
            _fail(str(exc))
    raise AssertionError  # pragma: no cover


@app.command("funnel")
def funnel_cmd(by: Annotated[str | None, typer.Option(help="source|medium|campaign|landing_page|owner|segment")] = None,
               cohort: Annotated[str | None, typer.Option(help="month or week (of lead creation)")] = None,
               stage: Annotated[list[str] | None, typer.Option("--stage", help="Only these stages (repeat).")] = None,
               since: SinceOpt = None, until: UntilOpt = None,
               database_url: DbOpt = None, workspace: WsOpt = None, out: OutOpt = None) -> None:
    """Leads reaching each stage, and conversion between every pair of stages."""
    rep = _run(database_url, workspace, "funnel", by=by, cohort=cohort, stages=stage or None, **_days(since, until))
    _show(rep, out)


@app.command("velocity")
def velocity_cmd(by: Annotated[str | None, typer.Option(help="a breakdown, as for funnel")] = None,
                 cohort: Annotated[str | None, typer.Option(help="month or week")] = None,
                 since: SinceOpt = None, until: UntilOpt = None,
                 database_url: DbOpt = None, workspace: WsOpt = None, out: OutOpt = None) -> None:
    """Median and P90 days in each stage and from creation to each stage."""
    _show(_run(database_url, workspace, "velocity", by=by, cohort=cohort, **_days(since, until)), out)


@app.command("channels")
def channels_cmd(key: Annotated[str, typer.Option(help="match spend to leads by source, source/medium or campaign")]
                 = "source",
                 since: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"])] = None,
                 until: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"])] = None,
                 database_url: DbOpt = None, workspace: WsOpt = None, out: OutOpt = None) -> None:
    """Cost per lead / MQL / SQL / customer per channel, against what a lead is worth."""
    rep = _run(database_url, workspace, "channels", key=key, since=since.date() if since else None,
               until=until.date() if until else None)
    _show(rep, out, ["channels"])


@app.command("converts")
def converts_cmd(target: Annotated[str, typer.Option(help="the stage that counts as converted")] = "customer",
                 population: Annotated[str | None, typer.Option("--from", help="only leads that reached this stage")]
                 = None,
                 kind: Annotated[list[str] | None, typer.Option("--kind", help="page|asset|form|offer|ad|email")]
                 = None,
                 min_support: Annotated[int, typer.Option(help="leave out items touched by fewer leads")] = 20,
                 limit: Annotated[int, typer.Option(help="rows to show")] = 30,
                 since: SinceOpt = None, until: UntilOpt = None,
                 database_url: DbOpt = None, workspace: WsOpt = None, out: OutOpt = None) -> None:
    """What converters touched more than the others (lift with 95 % confidence interval)."""
    rep = _run(database_url, workspace, "converts", target=target, population=population,
               kinds=tuple(kind) if kind else None, min_support=min_support, limit=limit, **_days(since, until))
    _show(rep, out)


@app.command("score-health")
def score_health_cmd(basis: Annotated[str, typer.Option(help="current score, or the score at MQL time (mql)")]
                     = "current",
                     target: Annotated[str, typer.Option(help="the stage that counts as converted")] = "customer",
                     min_support: Annotated[int, typer.Option(help="bands smaller than this are not judged")] = 10,
                     since: SinceOpt = None, until: UntilOpt = None,
                     database_url: DbOpt = None, workspace: WsOpt = None, out: OutOpt = None) -> None:
    """Conversion by grade and score band (is a higher score really better?), MQL volume over time."""
    rep = _run(database_url, workspace, "score-health", basis=basis, target=target, min_support=min_support,
               **_days(since, until))
    _show(rep, out)


@app.command("sales")
def sales_cmd(since: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"])] = None,
              database_url: DbOpt = None, workspace: WsOpt = None, out: OutOpt = None) -> None:
    """Speed to lead, SLA compliance, acceptance and rejection reasons, SQL rate per rep."""
    _show(_run(database_url, workspace, "sales", since=since), out)


@app.command("deals")
def deals_cmd(by: Annotated[str | None, typer.Option(
                  help="source|medium|campaign|landing_page|owner|segment, or properties.<name>")] = None,
              database_url: DbOpt = None, workspace: WsOpt = None, out: OutOpt = None) -> None:
    """Pipeline: opportunities, open / won / lost, win rate, won amount and sales cycle per group."""
    _show(_run(database_url, workspace, "deals", by=by), out)


@spend_app.command("import")
def spend_import(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
                 currency: Annotated[str | None, typer.Option(help="currency of rows without one")] = None,
                 database_url: DbOpt = None, workspace: WsOpt = None) -> None:
    """Import spend from CSV: channel, period_start, period_end (or period YYYY-MM), amount, currency."""
    from leadflow.analytics.spend import SpendRejected, read_spend_csv, store_spend

    try:
        rows = read_spend_csv(file, default_currency=currency)
    except SpendRejected as exc:
        for e in exc.errors[:50]:
            err.print(f"{file}: {e}", highlight=False, markup=False)
        _fail(f"{len(exc.errors)} invalid rows; nothing was stored")
    with _lf(database_url, workspace) as lf, lf.db.session() as s:
        summary = store_spend(s, lf.workspace_id, rows, origin="csv")
    console.print(f"{summary.rows} spend rows: {summary.inserted} new, {summary.updated} replaced "
                  f"({len(summary.channels)} channels)")


@spend_app.command("list")
def spend_list(database_url: DbOpt = None, workspace: WsOpt = None) -> None:
    """The stored spend rows."""
    from leadflow.analytics.spend import list_spend

    with _lf(database_url, workspace) as lf, lf.db.session() as s:
        rows = list_spend(s, lf.workspace_id)
    table = Table("channel", "period_start", "period_end", "amount", "currency", "origin")
    for r in rows:
        table.add_row(r["channel"], r["period_start"], r["period_end"], f"{r['amount']:,.2f}", r["currency"],
                      r["origin"])
    console.print(table)


@app.command("load-olist")
def load_olist(folder: Annotated[Path, typer.Argument(exists=True, file_okay=False)],
               database_url: DbOpt = None, workspace: WsOpt = None) -> None:
    """Load the Olist marketing funnel data set (MQLs + closed deals) into a workspace, to check the funnel."""
    from leadflow.analytics.olist import olist_records

    leads, outcomes = olist_records(folder)
    with _lf(database_url, workspace or "olist") as lf:
        if sum(lf.funnel().values()):
            _fail(f"workspace {lf.workspace_slug!r} already holds leads; load into an empty one")
        with console.status(f"storing {len(leads):,} leads and {len(outcomes):,} won deals"):
            lf.upsert_leads(leads)
            lf.record_outcomes(outcomes)
        console.print(f"{len(leads):,} leads, {len(outcomes):,} won deals in workspace {lf.workspace_slug!r}; "
                      "try: leadflow analytics funnel --by source --stage mql --stage customer -w "
                      f"{lf.workspace_slug}")



@app.command("load-maven")
def load_maven(folder: Annotated[Path, typer.Argument(exists=True, file_okay=False)],
               chunk: Annotated[int, typer.Option(min=1, help="leads / outcomes per transaction")] = 2000,
               database_url: DbOpt = None, workspace: WsOpt = None) -> None:
    """Load the Maven CRM sales opportunities (accounts, one lead per opportunity, won / lost deals) into a
    workspace, to check the pipeline analytics. The outcomes are simulated: pipeline mechanics only."""
    from rich.progress import Progress

    from leadflow.analytics.maven import maven_records

    try:
        rec = maven_records(folder)
    except (OSError, KeyError, ValueError) as exc:
        _fail(f"{folder}: {exc}")
    with _lf(database_url, workspace or "maven") as lf:
        if sum(lf.funnel().values()):
            _fail(f"workspace {lf.workspace_slug!r} already holds leads; load into an empty one")
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"{len(rec.accounts)} accounts", total=len(rec.accounts))
            lf.upsert_accounts(rec.accounts)
            progress.update(task, completed=len(rec.accounts))
            for name, items, write in (("opportunities", rec.leads, lf.upsert_leads),
                                       ("won / lost deals", rec.outcomes, lf.record_outcomes)):
                task = progress.add_task(f"{len(items):,} {name}", total=len(items))
                for i in range(0, len(items), chunk):
                    write(items[i:i + chunk])
                    progress.update(task, completed=min(i + chunk, len(items)))
        won = sum(1 for o in rec.outcomes if o["result"] == "won")
        console.print(f"{len(rec.accounts)} accounts, {len(rec.leads):,} opportunities, {won:,} won and "
                      f"{len(rec.outcomes) - won:,} lost deals in workspace {lf.workspace_slug!r}; try: leadflow "
                      f"analytics velocity --by owner -w {lf.workspace_slug}")
