"""`leadflow webhooks` commands end to end on a SQLite store with a local receiver."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from leadflow.cli.webhooks import app

pytestmark = pytest.mark.usefixtures("hooks_on")


def test_cli_add_list_worker_deliveries_replay(sqlite_url, receiver, monkeypatch):
    from leadflow.facade import Leadflow
    from leadflow.settings import get_settings

    monkeypatch.setenv("LEADFLOW_WEBHOOK_ALLOW_PRIVATE_URLS", "true")
    monkeypatch.setenv("LEADFLOW_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("LEADFLOW_WORKSPACE", "acme")
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        bad = runner.invoke(app, ["add", "ftp://x", "--events", "lead.created"])
        assert bad.exit_code == 1 and "url: must start with https://" in bad.output
        bad = runner.invoke(app, ["add", receiver.url, "--events", "lead.won"])
        assert bad.exit_code == 1 and "unknown event kind" in bad.output
        out = runner.invoke(app, ["add", receiver.url, "--events", "lead.created"])
        assert out.exit_code == 0, out.output
        assert "signing secret: whsec_" in out.output
        listed = json.loads(runner.invoke(app, ["list", "--json"]).output)
        assert [s["url"] for s in listed] == [receiver.url] and listed[0]["secret"].endswith("…")

        with Leadflow(sqlite_url, "acme") as lf:
            lf.upsert_leads([{"email": "cli@acme.io"}])
        receiver.always_status = 500
        receiver.start()
        run = runner.invoke(app, ["worker", "--once"])
        assert run.exit_code == 0 and "1 attempted: 0 delivered, 1 to retry" in run.output
        rows = json.loads(runner.invoke(app, ["deliveries", "--json"]).output)
        assert [(r["kind"], r["status"], r["attempts"], r["last_status_code"]) for r in rows] == [
            ("lead.created", "pending", 1, 500)]
        detail = json.loads(runner.invoke(app, ["deliveries", rows[0]["id"]]).output)
        assert detail["attempts"][0]["status_code"] == 500 and detail["payload"]["lead"]["email"] == "cli@acme.io"
        pending = runner.invoke(app, ["replay", rows[0]["id"]])
        assert pending.exit_code == 1 and "still pending" in pending.output
        missing = runner.invoke(app, ["replay", "nope"])
        assert missing.exit_code == 1 and "no webhook delivery nope" in missing.output
    finally:
        get_settings.cache_clear()
