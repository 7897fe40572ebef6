"""``leadflow keys create / list / revoke``: API keys (the key is printed once; only its hash is stored)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="API keys: lf_ingest_ (write-only, for websites) and lf_secret_ (scoped, server-side).",
                  no_args_is_help=True)
console = Console()
DbOpt = Annotated[str | None, typer.Option("--database-url", envvar="LEADFLOW_DATABASE_URL",
                                           help="SQLAlchemy URL of the store.")]
WsOpt = Annotated[str | None, typer.Option("--workspace", "-w", envvar="LEADFLOW_WORKSPACE",
                                           help="Workspace slug (created on first use).")]


def _lf(database_url: str | None, workspace: str | None):  # noqa: ANN202
    from leadflow.facade import Leadflow

    return Leadflow(database_url, workspace)


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="What the key is for, e.g. 'website' or 'crm sync'.")],
    kind: Annotated[str, typer.Option(help="ingest (write-only events) or secret (scoped).")] = "secret",
    scopes: Annotated[str, typer.Option(help="Comma-separated actions (e.g. leads:read,events:write) or *. "
                                        "Ignored for ingest keys.")] = "",
    database_url: DbOpt = None, workspace: WsOpt = None,
) -> None:
    """Create a key and print it ONCE (store it now: it cannot be shown again)."""
    from leadflow.services import apikeys

    lf = _lf(database_url, workspace)
    try:
        with lf.db.session() as s:
            info, plaintext = apikeys.create_key(s, lf.workspace_id, kind=kind, name=name,
                                                 scopes=None if kind == "ingest" else scopes, created_by="cli")
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    console.print(f"created {info.kind} key {info.id} ({info.prefix}...) in workspace {lf.workspace_slug!r} "
                  f"with scopes {', '.join(sorted(info.scopes))}")
    console.print("the key (shown once):", style="bold")
    typer.echo(plaintext)


@app.command("list")
def list_cmd(database_url: DbOpt = None, workspace: WsOpt = None) -> None:
    """The workspace's keys (prefixes only)."""
    from leadflow.services import apikeys

    lf = _lf(database_url, workspace)
    with lf.db.session() as s:
        keys = apikeys.list_keys(s, lf.workspace_id)
    t = Table("id", "kind", "name", "prefix", "scopes", "created", "last used", "revoked")
    for k in keys:
        t.add_row(k.id, k.kind, k.name, k.prefix + "...", ",".join(sorted(k.scopes)), f"{k.created_at:%Y-%m-%d}",
                  f"{k.last_used_at:%Y-%m-%d %H:%M}" if k.last_used_at else "-",
                  f"{k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "-")
    console.print(t)


@app.command("revoke")
def revoke(key_id: Annotated[str, typer.Argument(help="The key's id (from `leadflow keys list`).")],
           database_url: DbOpt = None, workspace: WsOpt = None) -> None:
    """Revoke a key (it stops working within seconds on running servers)."""
    from leadflow.services import apikeys

    lf = _lf(database_url, workspace)
    try:
        with lf.db.session() as s:
            info = apikeys.revoke_key(s, lf.workspace_id, key_id)
    except LookupError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    console.print(f"revoked {info.id} ({info.prefix}...)")
