"""``leadflow users``: web-app users (the first admin is created here)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Web-app users: add, list, change password or role, deactivate.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)

DbOpt = Annotated[str | None, typer.Option("--database-url", envvar="LEADFLOW_DATABASE_URL",
                                              help="SQLAlchemy URL (default: the LEADFLOW_DATABASE_URL setting).")]
WsOpt = Annotated[str | None, typer.Option("--workspace", "-w", envvar="LEADFLOW_WORKSPACE",
                                              help="Workspace slug (default: the LEADFLOW_WORKSPACE setting).")]
StdinOpt = Annotated[bool, typer.Option("--password-stdin", help="Read the password from standard input "
                                                                 "(first line) instead of prompting.")]


def _lf(database_url: str | None, workspace: str | None):  # noqa: ANN202
    from leadflow.facade import Leadflow

    return Leadflow(database_url, workspace)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt("password", hide_input=True, confirmation_prompt=True)


def _fail(message: str) -> None:
    err.print(f"[red]error:[/red] {message}", highlight=False, markup=True)
    raise typer.Exit(1)


@app.command("add")
def add(email: str, role: Annotated[str, typer.Option("--role", help="admin | marketing | sales")],
        name: Annotated[str, typer.Option("--name", help="Display name.")] = "",
        password_stdin: StdinOpt = False, database_url: DbOpt = None, workspace: WsOpt = None) -> None:
    """Create a user (e.g. the first admin: `leadflow users add ana@example.com --role admin`)."""
    from leadflow.services import users as svc

    lf = _lf(database_url, workspace)
    try:
        with lf.db.session() as s:
            u = svc.create_user(s, lf.workspace_id, email, _password(password_stdin), role, name=name)
    except svc.UserError as exc:
        _fail(str(exc))
    console.print(f"user {u.email} ({u.role.value}) created in workspace {lf.workspace_slug!r}", highlight=False)


@app.command("list")
def list_cmd(database_url: DbOpt = None, workspace: WsOpt = None) -> None:
    """List the workspace's users."""
    from leadflow.services import users as svc

    lf = _lf(database_url, workspace)
    with lf.db.session() as s:
        rows = svc.list_users(s, lf.workspace_id)
    table = Table("email", "name", "role", "active", "last login")
    for u in rows:
        table.add_row(u.email, u.name, u.role.value, "yes" if u.active else "no",
                      f"{u.last_login_at:%Y-%m-%d %H:%M}" if u.last_login_at else "-")
    console.print(table)


@app.command("passwd")
def passwd(email: str, password_stdin: StdinOpt = False, database_url: DbOpt = None, workspace: WsOpt = None) -> None:
    """Set a user's password (signs out their existing sessions)."""
    from leadflow.services import users as svc

    lf = _lf(database_url, workspace)
    try:
        with lf.db.session() as s:
            svc.set_password(s, lf.workspace_id, email, _password(password_stdin))
    except svc.UserError as exc:
        _fail(str(exc))
    console.print(f"password of {email} changed", highlight=False)


@app.command("role")
def role_cmd(email: str, role: str, database_url: DbOpt = None, workspace: WsOpt = None) -> None:
    """Change a user's role (admin | marketing | sales)."""
    from leadflow.services import users as svc

    lf = _lf(database_url, workspace)
    try:
        with lf.db.session() as s:
            u = svc.set_role(s, lf.workspace_id, email, role)
    except svc.UserError as exc:
        _fail(str(exc))
    console.print(f"{u.email} is now {u.role.value}", highlight=False)


@app.command("deactivate")
def deactivate(email: str, database_url: DbOpt = None, workspace: WsOpt = None) -> None:
    """Stop a user from signing in (their sessions end at the next request)."""
    from leadflow.services import users as svc

    lf = _lf(database_url, workspace)
    try:
        with lf.db.session() as s:
            svc.set_active(s, lf.workspace_id, email, False)
    except svc.UserError as exc:
        _fail(str(exc))
    console.print(f"{email} deactivated", highlight=False)
