"""``leadflow handoff``: the sales team, routing, the SDR / AE work, SLA checks and reports."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Marketing-to-sales handoff: team, routing, SLA clocks, SDR work, BANT, reports.",
                  no_args_is_help=True)
reps_app = typer.Typer(help="Sales reps: add, list, change, out of office.", no_args_is_help=True)
sla_app = typer.Typer(help="SLA clocks: find breaches, escalate, reassign.", no_args_is_help=True)
territory_app = typer.Typer(help="Territories (routing rules).", no_args_is_help=True)
app.add_typer(reps_app, name="reps")
app.add_typer(sla_app, name="sla")
app.add_typer(territory_app, name="territory")
console = Console()
err = Console(stderr=True)
T = TypeVar("T")

DbOpt = Annotated[str | None, typer.Option("--database-url", envvar="LEADFLOW_DATABASE_URL",
                                              help="SQLAlchemy URL (default: the LEADFLOW_DATABASE_URL setting).")]
WsOpt = Annotated[str | None, typer.Option("--workspace", "-w", envvar="LEADFLOW_WORKSPACE",
                                              help="Workspace slug (default: the LEADFLOW_WORKSPACE setting).")]
RepOpt = Annotated[str | None, typer.Option("--rep", help="Acting rep (default: the lead's assigned rep).")]
AtOpt = Annotated[datetime | None, typer.Option("--at", help="When it happened (ISO time, default now).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _fail(message: str) -> None:
    err.print(f"[red]error:[/red] {message}", highlight=False, markup=True)
    raise typer.Exit(1)


@contextmanager
def _unit(database_url: str | None, workspace: str | None) -> Iterator[tuple[Any, str]]:
    """One transaction on the workspace; handoff refusals become a clear error and exit code 1."""
    from leadflow.core.lifecycle import IllegalTransition
    from leadflow.facade import Leadflow
    from leadflow.services.handoff import HandoffError

    lf = Leadflow(database_url, workspace)
    try:
        with lf.db.session() as s:
            yield s, lf.workspace_id
    except (HandoffError, IllegalTransition, LookupError) as exc:
        _fail(str(exc).strip("'\""))
    finally:
        lf.close()


def _lead(s: Any, ws: str, ref: str) -> str:
    from leadflow.services.handoff.work import find_lead

    return find_lead(s, ws, ref).id


def _split(v: str | None) -> list[str]:
    return [x.strip() for x in (v or "").split(",") if x.strip()]


# ------------------------------------------------------------------------------------------------- reps
@reps_app.command("add")
def reps_add(key: str, name: Annotated[str, typer.Option(help="Display name.")] = "",
             role: Annotated[str, typer.Option(help="sdr | ae")] = "sdr",
             weight: Annotated[int, typer.Option(help="Share in the rotation (1-100).")] = 1,
             capacity: Annotated[int, typer.Option(help="Max open leads.")] = 25,
             timezone: Annotated[str, typer.Option(help="IANA time zone, e.g. Europe/Berlin.")] = "UTC",
             days: Annotated[str, typer.Option(help="Working days, e.g. mon-fri.")] = "mon-fri",
             hours: Annotated[str, typer.Option(help="Working hours, e.g. 09:00-17:00.")] = "09:00-17:00",
             country: Annotated[str | None, typer.Option(help="Country for public holidays (DE, US, ...).")] = None,
             territories: Annotated[str | None, typer.Option(help="Comma-separated territory keys.")] = None,
             accounts: Annotated[str | None, typer.Option(help="Comma-separated named account domains.")] = None,
             team_lead: Annotated[str | None, typer.Option(help="Who SLA breaches escalate to.")] = None,
             email: Annotated[str | None, typer.Option(help="Email.")] = None,
             database_url: DbOpt = None, workspace: WsOpt = None) -> None:
    """Add a rep: `leadflow handoff reps add alice --role sdr --weight 2 --territories emea --timezone Europe/Berlin`."""
    from leadflow.services.handoff import team

    start, _, end = hours.partition("-")
    with _unit(database_url, workspace) as (s, ws):
        team.add_rep(s, ws, {"key": key, "name": name or key, "role": role, "weight": weight, "capacity": capacity,
                             "timezone": timezone, "work_days": days, "work_start": start, "work_end": end or "17:00",
                             "country": country, "territories": _split(territories),
                             "named_accounts": _split(accounts), "team_lead": team_lead, "email": email})
    console.print(f"added {role.upper()} {key}")


@reps_app.command("set")
def reps_set(key: str, weight: Annotated[int | None, typer.Option()] = None,
             capacity: Annotated[int | None, typer.Option()] = None,
             territories: Annotated[str | None, typer.Option(help="Comma-separated territory keys.")] = None,
             active: Annotated[bool | None, typer.Option("--active/--inactive", help="Leaves / rejoins.")] = None,
             database_url: DbOpt = None, workspace: WsOpt = None) -> None:
    """Change a rep's weight, capacity, territories, or make them (in)active (leaving the team)."""
    from leadflow.services.handoff import team

    changes: dict[str, Any] = {k: v for k, v in (("weight", weight), ("capacity", capacity), ("active", active))
                               if v is not None}
    if territories is not None:
        changes["territories"] = _split(territories)
    with _unit(database_url, workspace) as (s, ws):
        team.update_rep(s, ws, key, changes)
    console.print(f"updated {key}")


@reps_app.command("list")
def reps_list(as_json: JsonOpt = False, database_url: DbOpt = None, workspace: WsOpt = None) -> None:
    """The team with open leads against capacity and who is away."""
    from leadflow.services.handoff import team

    with _unit(database_url, workspace) as (s, ws):
        rows = team.list_reps(s, ws)
    if as_json:
        console.print_json(json.dumps(rows, default=str))
        return
    t = Table("rep", "role", "weight", "open / capacity", "hours", "territories", "away", "active")
    for r in rows:
        away = f"until {r['away_now']['until'][:16]}" if r["away_now"] else ""
        hrs = f"{r['work_start']}-{r['work_end']} {r['timezone']}"
        t.add_row(r["key"], r["role"].upper(), str(r["weight"]), f"{r['open']} / {r['capacity']}", hrs,
                  ", ".join(r["territories"]), away, "yes" if r["active"] else "no")
    console.print(t)


@reps_app.command("away")
def reps_away(key: str, start: Annotated[datetime, typer.Option("--from", help="Start (ISO time).")],
              end: Annotated[datetime, typer.Option("--until", help="End (ISO time).")],
              reason: Annotated[str, typer.Option(help="e.g. vacation")] = "",
              database_url: DbOpt = None, workspace: WsOpt = None) -> None:
    """Mark a rep out of office: routing skips them, the rotation neither waits for nor resets them."""
    from leadflow.services.handoff import team

    with _unit(database_url, workspace) as (s, ws):
        team.set_away(s, ws, key, start, end, reason)
    console.print(f"{key} away from {start:%Y-%m-%d %H:%M} until {end:%Y-%m-%d %H:%M}")


@territory_app.command("add")
def territory_add(key: str, name: Annotated[str, typer.Option()] = "",
                  countries: Annotated[str | None, typer.Option(help="Comma-separated countries.")] = None,
                  segments: Annotated[str | None, typer.Option(help="smb, mid_market, enterprise")] = None,
                  min_employees: Annotated[int | None, typer.Option()] = None,
                  max_employees: Annotated[int | None, typer.Option()] = None,
                  priority: Annotated[int, typer.Option(help="Lower is tried first.")] = 100,
                  database_url: DbOpt = None, workspace: WsOpt = None) -> None:
    """Add or replace a territory: `leadflow handoff territory add emea --countries Germany,France --priority 50`."""
    from leadflow.services.handoff import team

    with _unit(database_url, workspace) as (s, ws):
        team.add_territory(s, ws, {"key": key, "name": name, "countries": _split(countries),
                                   "segments": _split(segments), "min_employees": min_employees,
                                   "max_employees": max_employees, "priority": priority})
    console.print(f"territory {key} saved")


# ------------------------------------------------------------------------------------------- routing
@app.command("route")
def route_cmd(lead: str, rep: Annotated[str | None, typer.Option("--to", help="Assign to this rep by hand.")] = None,
              database_url: DbOpt = None, workspace: WsOpt = None) -> None:
    """Route a lead (by id or email) by the rules, or assign it by hand with --to; prints why."""
    from leadflow.services.handoff import assign, route

    with _unit(database_url, workspace) as (s, ws):
        lid = _lead(s, ws, lead)
        res = assign(s, ws, lid, rep, by="cli") if rep else route(s, ws, lid)
        console.print(("" if res.created else "(already assigned) ") + res.explanation, highlight=False)


@app.command("queue")
def queue_cmd(rep: Annotated[str | None, typer.Argument(help="Rep key (omit: the unassigned queue).")] = None,
              database_url: DbOpt = None, workspace: WsOpt = None) -> None:
    """A rep's open leads ordered by SLA due time (or the unassigned queue)."""
    from sqlalchemy import select

    from leadflow.store import handoff_tables as ht
    from leadflow.store.tables import Lead

    with _unit(database_url, workspace) as (s, ws):
        A = ht.Assignment
        q = select(A, Lead.email, Lead.lead_status).join(Lead, Lead.id == A.lead_id).where(
            A.workspace_id == ws, A.open_lead_id.is_not(None),
            A.rep_key == rep if rep else A.rep_key.is_(None))
        rows = s.execute(q.order_by(A.decision_due, A.first_touch_due, A.assigned_at).limit(200)).all()
    t = Table("lead", "stage", "status", "assigned", "first touch due", "decision due", "touched")
    for a, email, status in rows:
        def f(d: datetime | None) -> str:
            return f"{d:%Y-%m-%d %H:%M}" if d else "-"
        t.add_row(email, a.stage, status, f(a.assigned_at), f(a.first_touch_due), f(a.decision_due),
                  f(a.first_touch_at))
    console.print(t)


# ------------------------------------------------------------------------------------------- the work
@app.command("attempt")
def attempt_cmd(lead: str, kind: Annotated[str, typer.Option(help="call | email | linkedin | sms | meeting")] = "call",
                outcome: Annotated[str, typer.Option(help="no_answer | voicemail | sent | bounced | connected | "
                                                          "replied | meeting_booked")] = "no_answer",
                note: Annotated[str | None, typer.Option()] = None, rep: RepOpt = None, at: AtOpt = None,
                database_url: DbOpt = None, workspace: WsOpt = None) -> None:
    """Log a contact attempt (the first one stops the first-touch clock)."""
    from leadflow.services.handoff import work

    with _unit(database_url, workspace) as (s, ws):
        work.log_attempt(s, ws, _lead(s, ws, lead), kind=kind, outcome=outcome, note=note, rep=rep, at=at)
    console.print(f"logged {kind}: {outcome}")


@app.command("status")
def status_cmd(lead: str, status: str, rep: RepOpt = None, database_url: DbOpt = None,
               workspace: WsOpt = None) -> None:
    """Move the lead status: attempting_to_contact, connected, in_progress."""
    from leadflow.services.handoff import work

    with _unit(database_url, workspace) as (s, ws):
        work.change_status(s, ws, _lead(s, ws, lead), status, rep=rep)
    console.print(f"status: {status}")


@app.command("accept")
def accept_cmd(lead: str, note: Annotated[str | None, typer.Option()] = None, rep: RepOpt = None, at: AtOpt = None,
               database_url: DbOpt = None, workspace: WsOpt = None) -> None:
    """SDR accepts the MQL (SAL)."""
    from leadflow.services.handoff import work

    with _unit(database_url, workspace) as (s, ws):
        work.accept(s, ws, _lead(s, ws, lead), rep=rep, note=note, at=at)
    console.print("accepted: SAL")


@app.command("reject")
def reject_cmd(lead: str, reason: Annotated[str, typer.Option(help="bad_fit, no_interest_now, wrong_person, "
                                                                    "duplicate, competitor, student, no_budget, "
                                                                    "bad_timing, unresponsive, invalid_contact, other")],
               disposition: Annotated[str | None, typer.Option(help="nurture | disqualified (default: by reason)")]
               = None,
               reengage: Annotated[datetime | None, typer.Option(help="Re-engage date (nurture).")] = None,
               note: Annotated[str | None, typer.Option()] = None, rep: RepOpt = None, at: AtOpt = None,
               database_url: DbOpt = None, workspace: WsOpt = None) -> None:
    """Reject with a reason code: back to marketing as nurture (re-engage date) or disqualified."""
    from leadflow.services.handoff import work

    with _unit(database_url, workspace) as (s, ws):
        d = work.reject(s, ws, _lead(s, ws, lead), reason, rep=rep, disposition=disposition, reengage_at=reengage,
                        note=note, at=at)
        console.print(f"rejected ({d.reason_code}) -> {d.disposition}")


@app.command("bant")
def bant_cmd(lead: str,
             criterion: Annotated[str | None, typer.Argument(help="budget | authority | need | timeline")] = None,
             state: Annotated[str | None, typer.Argument(help="met | not_met | unknown")] = None,
             details: Annotated[str | None, typer.Option(help='JSON details, e.g. {"min": 10000, "currency": "EUR"}')]
             = None,
             evaluate: Annotated[bool, typer.Option("--evaluate", help="Apply the SQL rule after recording.")] = False,
             on_fail: Annotated[str, typer.Option(help="nurture | disqualified")] = "nurture",
             rep: RepOpt = None, database_url: DbOpt = None, workspace: WsOpt = None) -> None:
    """Record a BANT criterion and/or evaluate the SQL rule (pass -> SQL routed to an AE)."""
    from leadflow.services.handoff import work

    try:
        data = json.loads(details) if details else {}
    except json.JSONDecodeError as exc:
        _fail(f"--details: not JSON ({exc.msg})")
    if not isinstance(data, dict):
        _fail("--details: must be a JSON object")
    with _unit(database_url, workspace) as (s, ws):
        lid = _lead(s, ws, lead)
        if criterion:
            if not state:
                _fail("give the state: met, not_met or unknown")
            work.record_bant(s, ws, lid, criterion, state, data, by=rep)
            console.print(f"{criterion}: {state}")
        if evaluate:
            verdict, outcome = work.evaluate_bant(s, ws, lid, by=rep, on_fail=on_fail)
            console.print(f"{verdict.explanation} -> {outcome}", highlight=False)
        elif not criterion:
            rec = work.bant_record(s, ws, lid)
            for c, r in rec.criteria.items():
                console.print(f"{c.value:10} {r.state.value:8} {json.dumps(dict(r.details))} "
                              f"{r.recorded_by or ''} {r.recorded_at or ''}", highlight=False)


@app.command("opportunity")
def opportunity_cmd(lead: str, amount: Annotated[float | None, typer.Option()] = None,
                    currency: Annotated[str | None, typer.Option()] = None,
                    close: Annotated[datetime | None, typer.Option("--expected-close")] = None, rep: RepOpt = None,
                    database_url: DbOpt = None, workspace: WsOpt = None) -> None:
    """AE accepts the SQL: open an opportunity."""
    from leadflow.services.handoff import work

    with _unit(database_url, workspace) as (s, ws):
        o = work.ae_accept(s, ws, _lead(s, ws, lead), amount=amount, currency=currency, expected_close=close, rep=rep)
        console.print(f"opportunity {o.id} opened")


@app.command("close")
def close_cmd(lead: str, result: Annotated[str, typer.Argument(help="won | lost")],
              reason: Annotated[str | None, typer.Option()] = None, amount: Annotated[float | None, typer.Option()] = None,
              database_url: DbOpt = None, workspace: WsOpt = None) -> None:
    """Close the opportunity: won -> customer, lost -> nurture (through the outcome write path)."""
    from leadflow.services.handoff import work

    with _unit(database_url, workspace) as (s, ws):
        o = work.close_opportunity(s, ws, _lead(s, ws, lead), result, amount=amount, reason=reason)
        console.print(f"opportunity {o.id}: {o.status}")


# --------------------------------------------------------------------------------------- SLA / reports
@sla_app.command("check")
def sla_check(as_json: JsonOpt = False, database_url: DbOpt = None, workspace: WsOpt = None) -> None:
    """Find breached clocks (sla.breached, escalation, reassignment per policy) and route the unassigned queue."""
    from leadflow.services.handoff import check_sla

    with _unit(database_url, workspace) as (s, ws):
        r = check_sla(s, ws)
    out = {"breaches": r.breaches, "reassigned": r.reassigned, "queue_assigned": r.queue_assigned}
    if as_json:
        console.print_json(json.dumps(out, default=str))
        return
    for b in r.breaches:
        console.print(f"breach: {b['kind']} lead {b['lead_id']} rep {b['rep']} due {b['due']} -> {b['escalated_to']}")
    for x in r.reassigned:
        console.print(f"reassigned lead {x['lead_id']}: {x['from']} -> {x['to']}")
    for x in r.queue_assigned:
        console.print(f"from the queue: lead {x['lead_id']} -> {x['to']}")
    console.print(f"{len(r.breaches)} breaches, {len(r.reassigned)} reassigned, {len(r.queue_assigned)} from the queue")


@app.command("report")
def report_cmd(since: Annotated[datetime | None, typer.Option()] = None,
               until: Annotated[datetime | None, typer.Option()] = None, as_json: JsonOpt = False,
               database_url: DbOpt = None, workspace: WsOpt = None) -> None:
    """Speed-to-lead (P50/P95, bands), SLA compliance, rejection reasons, distribution vs weights, SQL rate."""
    from leadflow.services.handoff import reports

    with _unit(database_url, workspace) as (s, ws):
        rep = reports.full_report(s, ws, since, until)
    if as_json:
        console.print_json(json.dumps(rep, default=str))
        return
    stl = rep["speed_to_lead"]

    def m(v: float | None) -> str:
        return "-" if v is None else f"{v:.1f} min"
    console.print(f"[bold]Speed to lead[/bold]: {stl['count']} touched, {stl['untouched']} not yet; "
                  f"P50 {m(stl['p50_minutes'])}, P95 {m(stl['p95_minutes'])}")
    console.print("  " + ", ".join(f"{k}: {v} ({stl['band_share'][k]:.0%})" for k, v in stl["bands"].items()))
    sla = rep["sla"]
    pct: Callable[[float | None], str] = lambda v: "-" if v is None else f"{v:.0%}"  # noqa: E731
    console.print(f"[bold]SLA[/bold]: first touch {pct(sla['first_touch_compliance'])}, "
                  f"decision {pct(sla['decision_compliance'])} of {sla['assigned']} assignments")
    rj = rep["rejections"]
    t = Table("reason", "count", "share", "nurture", "disqualified", "recycled", title="Rejections by reason")
    for r in rj["by_reason"]:
        t.add_row(r["label"], str(r["count"]), f"{r['share']:.0%}", str(r.get("nurture", 0)),
                  str(r.get("disqualified", 0)), str(r["recycled"]))
    console.print(t)
    t = Table("pool", "rep", "weight", "assigned", "expected", "deviation", title="Routing distribution vs weights")
    for pool, rows in rep["distribution"]["pools"].items():
        for r in rows:
            t.add_row(pool, r["rep"], str(r["weight"]), str(r["assigned"]), f"{r['expected']:.1f}",
                      f"{r['deviation']:+.1f}")
    console.print(t)
    t = Table("rep", "leads", "SQL", "SQL rate", title="SQL rate per SDR")
    for r in rep["sql_rate"]["by_rep"]:
        t.add_row(r["rep"], str(r["leads"]), str(r["sql"]), pct(r["sql_rate"]))
    console.print(t)
    rc = rep["recycled"]
    console.print(f"[bold]Recycled[/bold]: {rc['assignments_recycled']} re-qualified MQLs routed "
                  f"({rc['assignments_first_time']} first-time)")


@app.command("demo")
def demo_cmd(seed: Annotated[int, typer.Option()] = 7, database_url: DbOpt = None, workspace: WsOpt = None) -> None:
    """Seed the demo sales team and simulate SDR/AE activity on the open demo MQLs."""
    from leadflow.services.handoff.demo import seed_demo_team, simulate_activity
    from leadflow.services.handoff.routing import route_pending

    with _unit(database_url, workspace) as (s, ws):
        made = seed_demo_team(s, ws)
        routed = len(route_pending(s, ws, limit=2000))
        counts = simulate_activity(s, ws, seed=seed)
    console.print(f"team: {made}; routed {routed} waiting leads; activity: {counts}")
