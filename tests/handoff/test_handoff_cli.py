"""The ``leadflow handoff`` commands, end to end on a SQLite store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from typer.testing import CliRunner

from leadflow.cli.handoff import app
from leadflow.facade import Leadflow
from leadflow.services import signals


def test_cli_flow(sqlite_url, monkeypatch):
    from rich.console import Console

    from leadflow.cli import handoff as cli_mod

    monkeypatch.setattr(signals, "SUBSCRIBERS", ("leadflow.services.handoff:on_signals",))
    monkeypatch.setattr(cli_mod, "console", Console(width=200))
    monkeypatch.setattr(cli_mod, "err", Console(width=200, stderr=True))
    r = CliRunner()
    db = ["--database-url", sqlite_url, "-w", "acme"]

    def run(*args):
        res = r.invoke(app, [*args, *db])
        return res

    assert run("territory", "add", "emea", "--countries", "Germany,France").exit_code == 0
    res = run("reps", "add", "alice", "--role", "sdr", "--weight", "2", "--territories", "emea",
              "--timezone", "Europe/Berlin", "--country", "DE")
    assert res.exit_code == 0, res.output
    res = run("reps", "add", "bad", "--timezone", "Nowhere/Land")
    assert res.exit_code == 1 and "timezone" in res.output
    with Leadflow(sqlite_url, "acme") as lf:
        lf.upsert_leads([{"email": "ida@acme.de", "country": "Germany"}])
        lf.ingest([{"type": "contact_request", "email": "ida@acme.de",
                    "timestamp": (datetime.now(UTC) - timedelta(minutes=2)).isoformat()}])
    res = run("queue", "alice")
    assert "ida@acme.de" in res.output
    assert run("attempt", "ida@acme.de", "--outcome", "connected").exit_code == 0
    res = run("status", "ida@acme.de", "new")
    assert res.exit_code == 1 and "cannot move from connected to new" in res.output
    res = run("reject", "ida@acme.de", "--reason", "no budget")
    assert res.exit_code == 0 and "-> nurture" in res.output
    res = run("accept", "ida@acme.de")
    assert res.exit_code == 1 and "no open assignment" in res.output
    res = run("reps", "list")
    assert "alice" in res.output and "0 / 25" in res.output
    assert run("sla", "check").exit_code == 0
    res = run("report")
    assert res.exit_code == 0 and "No budget" in res.output and "Speed to lead" in res.output
