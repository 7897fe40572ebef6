"""``leadflow webhooks``: subscriptions, the delivery log, replay and the delivery worker."""

from __future__ import annotations

import json
import signal
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Webhooks: subscribe URLs to lead events, see deliveries, replay, run the worker.",
                  no_args_is_help=True)
console = Console()
err = Console(stderr=True)

DbOpt = Annotated[str | None, typer.Option("--database-url", envvar="LEADFLOW_DATABASE_URL",
                                              help="SQLAlchemy URL (default: the LEADFLOW_DATABASE_URL setting).")]
WsOpt = Annotated[str | None, typer.Option("--workspace", "-w", envvar="LEADFLOW_WORKSPACE",
                                              help="Workspace slug (default: the LEADFLOW_WORKSPACE setting).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _lf(database_url: str | None, workspace: str | None):  # noqa: ANN202
    from leadflow.facade import Leadflow

    return Leadflow(database_url, workspace)


def _fail(message: str) -> None:
    err.print(f"[red]error:[/red] {message}", highlight=False, markup=True)
    raise typer.Exit(1)


def _ts(value) -> str:  # noqa: ANN001
    from leadflow.services.webhooks import iso

    return iso(value) if value is not None else ""


@app.command("add")
def add(url: str,
        events: Annotated[str, typer.Option("--events", "-e", help="Comma-separated kinds: lead.created, "
                                             "lead.mql, lead.sql, stage.changed, lead.assigned, sla.breached, "
                                             "outcome.recorded, or * for all.")],
        description: Annotated[str | None, typer.Option("--description", help="A note for people.")] = None,
        secret: Annotated[str | None, typer.Option("--secret", help="Signing secret (default: generated).")] = None,
        database_url: DbOpt = None, workspace: WsOpt = None) -> None:
    """Subscribe URL to events; prints the signing secret (keep it on the receiver)."""
    from leadflow.services import webhooks as svc

    lf = _lf(database_url, workspace)
    try:
        with lf.db.session() as s:
            sub = svc.create_subscription(s, lf.workspace_id, url, events, description=description, secret=secret,
                                          allow_private=lf.settings.webhook_allow_private_urls)
    except svc.WebhookError as exc:
        _fail(str(exc))
    console.print(f"subscription {sub.id} -> {sub.url} for {', '.join(sub.events)}", highlight=False)
    console.print(f"signing secret: {sub.secret}", highlight=False)


@app.command("list")
def list_cmd(as_json: JsonOpt = False, database_url: DbOpt = None, workspace: WsOpt = None) -> None:
    """The workspace's subscriptions (secrets masked)."""
    from leadflow.services import webhooks as svc

    lf = _lf(database_url, workspace)
    with lf.db.session() as s:
        subs = svc.list_subscriptions(s, lf.workspace_id)
        rows = [{"id": x.id, "url": x.url, "events": x.events, "active": x.active, "secret": svc.mask_secret(x.secret),
                 "description": x.description, "created_at": _ts(x.created_at)} for x in subs]
    if as_json:
        console.print_json(json.dumps(rows))
        return
    table = Table("id", "url", "events", "active", "secret", "description")
    for r in rows:
        table.add_row(r["id"], r["url"], ",".join(r["events"]), "yes" if r["active"] else "no", r["secret"],
                      r["description"] or "")
    console.print(table)


@app.command("set")
def set_cmd(subscription_id: str,
            url: Annotated[str | None, typer.Option("--url")] = None,
            events: Annotated[str | None, typer.Option("--events", "-e")] = None,
            active: Annotated[bool | None, typer.Option("--active/--inactive")] = None,
            rotate_secret: Annotated[bool, typer.Option("--rotate-secret", help="Issue a new secret.")] = False,
            database_url: DbOpt = None, workspace: WsOpt = None) -> None:
    """Change a subscription's URL, events or state, or rotate its secret."""
    from leadflow.services import webhooks as svc

    lf = _lf(database_url, workspace)
    try:
        with lf.db.session() as s:
            sub = svc.update_subscription(s, lf.workspace_id, subscription_id, url=url, events=events, active=active,
                                          rotate_secret=rotate_secret,
                                          allow_private=lf.settings.webhook_allow_private_urls)
    except (svc.WebhookError, LookupError) as exc:
        _fail(str(exc).strip("'\""))
    console.print(f"subscription {sub.id} -> {sub.url} for {', '.join(sub.events)}"
                  f" ({'active' if sub.active else 'inactive'})", highlight=False)
    if rotate_secret:
        console.print(f"new signing secret: {sub.secret}", highlight=False)


@app.command("remove")
def remove(subscription_id: str, database_url: DbOpt = None, workspace: WsOpt = None) -> None:
    """Delete a subscription with its pending deliveries and delivery log."""
    from leadflow.services import webhooks as svc

    lf = _lf(database_url, workspace)
    try:
        with lf.db.session() as s:
            svc.delete_subscription(s, lf.workspace_id, subscription_id)
    except LookupError as exc:
        _fail(str(exc).strip("'\""))
    console.print(f"subscription {subscription_id} deleted", highlight=False)


@app.command("deliveries")
def deliveries(delivery_id: Annotated[str | None, typer.Argument(help="Show one delivery with every attempt.")] = None,
               status: Annotated[str | None, typer.Option("--status", help="pending | succeeded | failed")] = None,
               subscription: Annotated[str | None, typer.Option("--subscription")] = None,
               limit: Annotated[int, typer.Option("-n", "--limit")] = 50,
               as_json: JsonOpt = False, database_url: DbOpt = None, workspace: WsOpt = None) -> None:
    """Recent deliveries (one per event and subscription), or one delivery's attempts."""
    from leadflow.services import webhooks as svc

    lf = _lf(database_url, workspace)
    try:
        with lf.db.session() as s:
            if delivery_id:
                row = svc.get_outbox(s, lf.workspace_id, delivery_id)
                attempts = [{"attempt": a.attempt, "at": _ts(a.started_at), "success": a.success,
                             "status_code": a.status_code, "error": a.error, "duration_ms": a.duration_ms,
                             "response": a.response_snippet} for a in svc.attempts_of(s, lf.workspace_id, delivery_id)]
                out = {"id": row.id, "event_id": row.event_id, "kind": row.kind, "status": row.status,
                       "attempts": attempts, "next_attempt_at": _ts(row.next_attempt_at), "payload": row.payload}
                console.print_json(json.dumps(out))
                return
            rows = [{"id": r.id, "event_id": r.event_id, "kind": r.kind, "subscription": r.subscription_id,
                     "status": r.status, "attempts": r.attempts, "last_status_code": r.last_status_code,
                     "last_error": r.last_error, "created_at": _ts(r.created_at),
                     "next_attempt_at": _ts(r.next_attempt_at) if r.status == "pending" else ""}
                    for r in svc.list_outbox(s, lf.workspace_id, status=status, subscription_id=subscription,
                                             limit=limit)]
    except (svc.WebhookError, LookupError) as exc:
        _fail(str(exc).strip("'\""))
    if as_json:
        console.print_json(json.dumps(rows))
        return
    table = Table("id", "kind", "status", "attempts", "last", "created", "next attempt")
    for r in rows:
        last = str(r["last_status_code"] or r["last_error"] or "")
        table.add_row(r["id"], r["kind"], r["status"], str(r["attempts"]), last[:40], r["created_at"],
                      r["next_attempt_at"])
    console.print(table)


@app.command("replay")
def replay(delivery_id: str, database_url: DbOpt = None, workspace: WsOpt = None) -> None:
    """Re-queue a failed (or delivered) delivery: same event id, fresh retry budget, sent at once."""
    from leadflow.services import webhooks as svc

    lf = _lf(database_url, workspace)
    try:
        with lf.db.session() as s:
            row = svc.replay(s, lf.workspace_id, delivery_id)
    except (svc.WebhookError, LookupError) as exc:
        _fail(str(exc).strip("'\""))
    console.print(f"delivery {row.id} ({row.event_id}) queued again; the worker sends it next", highlight=False)


@app.command("worker")
def worker(once: Annotated[bool, typer.Option("--once", help="Deliver what is due now, then exit.")] = False,
           interval: Annotated[float, typer.Option("--interval", help="Seconds between polls when idle.")] = 1.0,
           batch: Annotated[int, typer.Option("--batch", help="Deliveries claimed per round.")] = 50,
           database_url: DbOpt = None) -> None:
    """Deliver due webhooks of every workspace (run one on SQLite; several may run on PostgreSQL)."""
    from leadflow.services import webhooks as svc
    from leadflow.settings import get_settings
    from leadflow.store.db import Database
    from leadflow.store.migrate import upgrade

    settings = get_settings()
    db = Database(database_url or settings.database_url)
    upgrade(db)
    w = svc.Worker(db, svc.RetryPolicy.from_settings(settings), interval=interval, batch=batch)
    if once:
        total = svc.DeliveryRun()
        while True:
            run = w.run_once()
            total.claimed += run.claimed
            total.succeeded += run.succeeded
            total.retrying += run.retrying
            total.failed += run.failed
            if run.claimed < batch:
                break
        console.print(f"{total.claimed} attempted: {total.succeeded} delivered, {total.retrying} to retry, "
                      f"{total.failed} failed", highlight=False)
        db.dispose()
        return
    err.print(f"webhook worker {w.worker_id} running (Ctrl-C to stop)", highlight=False)
    signal.signal(signal.SIGTERM, lambda *_: w.stop(timeout=0))
    try:
        w.run()
    except KeyboardInterrupt:
        pass
    finally:
        db.dispose()
    err.print(f"stopped: {w.total.succeeded} delivered, {w.total.retrying} to retry, {w.total.failed} failed",
              highlight=False)
