"""``leadflow backtest``: judge scoring models against history before activating them.

``run`` replays a candidate model (and the active one, or another file) over the stored events and prints,
per week, the MQLs each would have produced, their precision, the converters caught (recall) and the lead
time; ``threshold`` suggests the MQL thresholds for a sales capacity or a target precision; ``suggest``
ranks attributes and behaviours by how well they separate won from lost deals and prints YAML points.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Backtests: replay history under a candidate scoring model, tune thresholds, "
                       "suggest points from won vs lost.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)

DbOpt = Annotated[str | None, typer.Option("--database-url", envvar="LEADFLOW_DATABASE_URL",
                                              help="SQLAlchemy URL (default: the LEADFLOW_DATABASE_URL setting).")]
WsOpt = Annotated[str | None, typer.Option("--workspace", "-w", envvar="LEADFLOW_WORKSPACE",
                                              help="Workspace slug (default: the LEADFLOW_WORKSPACE setting).")]
FromOpt = Annotated[str | None, typer.Option("--from", help="Start of the period (ISO date or time, UTC; "
                                                            "default: the first event).")]
ToOpt = Annotated[str | None, typer.Option("--to", help="End of the period, exclusive (default: after the last event).")]
HorizonOpt = Annotated[float | None, typer.Option("--horizon-days", min=0.0,
                                                  help="Count a conversion only within this many days after the "
                                                       "MQL (default: any time after).")]
ConvertOpt = Annotated[str, typer.Option("--convert-on", help="What counts as converted: sql (SQL, opportunity, "
                                                              "customer or any closed deal), opportunity, won.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


def _fail(message: str) -> None:
    err.print(f"[red]error:[/red] {message}", highlight=False, markup=True)
    raise typer.Exit(1)


def _lf(database_url: str | None, workspace: str | None):  # noqa: ANN202
    from leadflow.facade import Leadflow

    return Leadflow(database_url, workspace)


def _when(value: str | None, name: str) -> float | None:
    if value is None:
        return None
    from leadflow.core.timeutil import parse_ts

    try:
        return parse_ts(value).timestamp()
    except ValueError as exc:
        _fail(f"{name}: {exc}")
    return None


def _model(path: str) -> Any:
    from leadflow.core.scoring.spec import ModelFileError, load_model_file

    try:
        return load_model_file(path)
    except FileNotFoundError:
        _fail(f"no such model file: {path}")
    except ModelFileError as exc:
        _fail(str(exc))
    return None


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def _days(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}"


@app.command("run")
def run_cmd(
    candidate: Annotated[str, typer.Argument(help="The candidate model file (YAML).")],
    against: Annotated[str, typer.Option("--against", help="'active' (the workspace's active model), 'none', "
                                                           "or another model file.")] = "active",
    date_from: FromOpt = None, date_to: ToOpt = None, horizon_days: HorizonOpt = None,
    convert_on: ConvertOpt = "sql", as_json: JsonOpt = False,
    database_url: DbOpt = None, workspace: WsOpt = None,
) -> None:
    """Replay history under CANDIDATE and print weekly MQLs, precision, recall and lead time, side by side."""
    from leadflow.predictive.backtest import CONVERSIONS, run_backtest

    if convert_on not in CONVERSIONS:
        _fail(f"--convert-on: expected one of {', '.join(CONVERSIONS)}, got {convert_on!r}")
    cand = _model(candidate)
    base: Any = "active" if against == "active" else None if against == "none" else _model(against)
    start, end = _when(date_from, "--from"), _when(date_to, "--to")
    lf = _lf(database_url, workspace)
    try:
        with err.status("replaying history ..."):
            result = run_backtest(lf.db, lf.workspace_id, cand, base, convert_on=convert_on, start=start, end=end,
                                  horizon_days=horizon_days)
    except (LookupError, ValueError) as exc:
        _fail(str(exc))
    finally:
        lf.close()
    if as_json:
        console.print_json(json.dumps(result.as_dict(), default=str))
        return
    _print_comparison(result)


def _print_comparison(result: Any) -> None:
    a, b = result.candidate, result.baseline
    title = f"backtest of {a.model_ref}" + (f" vs {b.model_ref}" if b else "") + f" (converted = {result.convert_on}"
    title += f", horizon {a.horizon_days:g} days)" if a.horizon_days is not None else ")"
    table = Table(title=title)
    table.add_column("week")
    runs = [("cand", a)] + ([("base", b)] if b else [])
    for tag, _ in runs:
        for col in ("MQLs", "prec", "conv", "recall", "lead d"):
            table.add_column(f"{tag} {col}", justify="right")
    weeks: dict[str, dict[str, Any]] = {}
    for tag, res in runs:
        for w in res.weeks:
            weeks.setdefault(w["week"], {})[tag] = w
    for week in sorted(weeks):
        row = [week]
        for tag, _ in runs:
            w = weeks[week].get(tag)
            if w is None:
                row += ["0", "-", "0", "-", "-"]
            else:
                row += [str(w["mqls"]), _pct(w["precision"]), str(w["converters"]), _pct(w["recall"]),
                        _days(w["median_lead_days"])]
        table.add_row(*row)
    row = ["total"]
    for _, res in runs:
        t = res.totals
        row += [str(t["mqls"]), _pct(t["precision"]), str(t["converters"]), _pct(t["recall"]),
                _days(t["median_lead_days"])]
    table.add_row(*row, style="bold")
    console.print(table)
    for tag, res in runs:
        t = res.totals
        console.print(f"{tag} {res.model_ref}: {t['mqls']} MQLs ({t['mqls_per_week']:.1f}/week), "
                      f"{t['mqls_converted']} converted (precision {_pct(t['precision'])}); "
                      f"{t['caught']} of {t['converters']} converters caught (recall {_pct(t['recall'])}), "
                      f"median lead time {_days(t['median_lead_days'])} days; "
                      f"{t['leads_via_core']} leads settled by the core replay", highlight=False)
    if b is not None:
        d = result.as_dict()["difference"]
        console.print(f"MQL only under the candidate: {d['mql_only_a']}, only under the baseline: {d['mql_only_b']}; "
                      f"converters caught only by the candidate: {d['caught_only_a']}, only by the baseline: "
                      f"{d['caught_only_b']}  ({result.seconds:.1f} s)", highlight=False)


@app.command("threshold")
def threshold_cmd(
    capacity: Annotated[float | None, typer.Option("--capacity", min=0.0,
                                                   help="MQLs per week sales can take (on average).")] = None,
    precision: Annotated[float | None, typer.Option("--precision", min=0.0, max=1.0,
                                                    help="Target share of MQLs that convert (0-1).")] = None,
    model_file: Annotated[str | None, typer.Option("--model", help="Tune this model file (default: the active "
                                                                   "model).")] = None,
    step: Annotated[float, typer.Option("--step", min=0.1, help="Grid step of the threshold shift.")] = 1.0,
    date_from: FromOpt = None, date_to: ToOpt = None, horizon_days: HorizonOpt = None,
    convert_on: ConvertOpt = "sql", as_json: JsonOpt = False,
    database_url: DbOpt = None, workspace: WsOpt = None,
) -> None:
    """Suggest MQL engagement thresholds that meet a sales capacity or a target precision."""
    from leadflow.batch.source import open_store
    from leadflow.predictive.backtest import active_model, conversion_labels
    from leadflow.predictive.thresholds import suggest_threshold, thresholds_of

    if (capacity is None) == (precision is None):
        _fail("give exactly one of --capacity N_PER_WEEK or --precision P")
    lf = _lf(database_url, workspace)
    try:
        with lf.db.session() as s:
            model = _model(model_file) if model_file else active_model(s, lf.workspace_id)
            labels = conversion_labels(s, lf.workspace_id, convert_on)
        xs = [x for x in thresholds_of(model) if x is not None]
        if not xs:
            _fail(f"model {model.ref}: no MQL criterion has an engagement threshold to tune")
        lo = max(model.engagement.floor, 0.0) - min(xs)
        hi = model.engagement.ceiling - min(xs)
        grid = [lo + i * step for i in range(int((hi - lo) / step) + 1)]
        with err.status("sweeping thresholds ..."), open_store(lf.db.url, lf.workspace_id) as store:
            sug = suggest_threshold(model, store, labels, capacity=capacity, precision=precision, grid=grid,
                                    start=_when(date_from, "--from"), end=_when(date_to, "--to"),
                                    horizon_days=horizon_days)
    except (LookupError, ValueError) as exc:
        _fail(str(exc))
    finally:
        lf.close()
    criteria = model.lifecycle.mql.any_of
    if as_json:
        console.print_json(json.dumps({"model": model.ref, "goal": sug.goal, "note": sug.note,
                                       "chosen": sug.chosen.__dict__ if sug.chosen else None,
                                       "rows": [r.__dict__ for r in sug.rows]}, default=str))
        return
    table = Table(title=f"{model.ref}: MQL engagement thresholds (other criteria unchanged)")
    table.add_column("thresholds")
    for col in ("MQLs/week", "peak week", "precision", "recall"):
        table.add_column(col, justify="right")
    shown = sug.rows[:: max(1, len(sug.rows) // 25)]
    if sug.chosen is not None and sug.chosen not in shown:
        shown = sorted([*shown, sug.chosen], key=lambda r: r.delta)
    for r in shown:
        label = ", ".join(f"{x:g}" for x in r.thresholds if x is not None)
        table.add_row(label, f"{r.mqls_per_week:.1f}", str(r.peak_week), _pct(r.precision), _pct(r.recall),
                      style="bold green" if r is sug.chosen else None)
    console.print(table)
    console.print(f"goal: {sug.goal}", highlight=False)
    if sug.chosen is None:
        console.print(sug.note, highlight=False)
        raise typer.Exit(2)
    console.print("suggested lifecycle.mql criteria:", highlight=False)
    for c, x in zip(criteria, sug.chosen.thresholds, strict=True):
        if x is not None:
            console.print(f"  - engagement_at_least: {x:g}   (was {c.engagement_at_least:g})", highlight=False)
    console.print(sug.note, highlight=False)


@app.command("suggest")
def suggest_cmd(
    min_support: Annotated[int, typer.Option("--min-support", min=1, help="Leave out features seen on fewer "
                                                                          "closed leads.")] = 20,
    top: Annotated[int, typer.Option("--top", min=1, help="How many features to list.")] = 25,
    points_per_doubling: Annotated[float, typer.Option("--points-per-doubling", min=0.1,
                                                       help="Points for a feature that doubles the win rate.")] = 10.0,
    yaml_out: Annotated[Path | None, typer.Option("--yaml-out", help="Also write the YAML snippet here.")] = None,
    as_json: JsonOpt = False, database_url: DbOpt = None, workspace: WsOpt = None,
) -> None:
    """Rank attributes and behaviours by how much they separate won from lost; print suggested points as YAML."""
    from leadflow.batch.source import open_store
    from leadflow.predictive.backtest import active_model
    from leadflow.predictive.criteria import outcome_labels, rank_features, suggest_yaml

    lf = _lf(database_url, workspace)
    try:
        with lf.db.session() as s:
            outcomes = outcome_labels(s, lf.workspace_id)
            try:
                model = active_model(s, lf.workspace_id)
            except LookupError:
                model = None
        with err.status("comparing won and lost ..."), open_store(lf.db.url, lf.workspace_id) as store:
            summary, features = rank_features(store, outcomes, model, min_support=min_support,
                                              points_per_doubling=points_per_doubling)
    finally:
        lf.close()
    if as_json:
        console.print_json(json.dumps({"summary": summary, "features": [f.as_dict() for f in features[:top]]}))
        return
    if not features:
        _fail(f"not enough closed outcomes to compare ({summary['leads']} closed, {summary['won']} won)")
    console.print(f"{summary['leads']} closed leads, {summary['won']} won (base rate {_pct(summary['base_rate'])}); "
                  f"features on at least {min_support} leads", highlight=False)
    table = Table(title="what separates won from lost (strongest first)")
    for col in ("kind", "feature", "leads", "won", "lift", "95% interval", "points"):
        table.add_column(col, justify="right" if col in ("leads", "won", "lift", "points") else "left")
    for f in features[:top]:
        name = f"{f.field} = {f.value}" if f.value else f.field
        pts = "-" if f.points is None else str(f.points)
        if f.current_points is not None:
            pts += f" (now {f.current_points:g})"
        table.add_row(f.kind, name, str(f.n), str(f.won), f"{f.lift:.2f}", f"{f.lift_low:.2f}-{f.lift_high:.2f}", pts,
                      style=None if f.significant else "dim")
    console.print(table)
    snippet = suggest_yaml(features, model)
    console.print(snippet, highlight=False, markup=False)
    if yaml_out is not None:
        yaml_out.write_text(snippet, encoding="utf-8")
        err.print(f"wrote {yaml_out}")

