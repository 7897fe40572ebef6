"""``leadflow analytics``: Rich tables, --out CSV / JSON, spend import (all or nothing)."""

from __future__ import annotations

import csv
import json

from analytics_store import StoreBuilder, small_funnel
from typer.testing import CliRunner

from leadflow.cli import app
from leadflow.facade import Leadflow

runner = CliRunner()


def _store(url: str) -> None:
    with Leadflow(url, "acme") as lf:
        ws = lf.workspace_id
    b = StoreBuilder(url, workspace_id=ws)
    small_funnel(b)
    b.close()


def test_funnel_table_and_outputs(sqlite_url, tmp_path):
    _store(sqlite_url)
    base = ["--database-url", sqlite_url, "--workspace", "acme"]
    r = runner.invoke(app, ["analytics", "funnel", "--by", "source", *base])
    assert r.exit_code == 0, r.output
    assert "funnel: counts" in r.output and "seo" in r.output
    out = tmp_path / "f.csv"
    r = runner.invoke(app, ["analytics", "funnel", "--cohort", "month", "--out", str(out), *base])
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(out.open()))
    assert {(row["cohort"], row["leads"]) for row in rows} == {("2026-01", "2"), ("2026-02", "3")}
    js = tmp_path / "v.json"
    r = runner.invoke(app, ["analytics", "velocity", "--out", str(js), *base])
    assert r.exit_code == 0, r.output
    body = json.loads(js.read_text())
    assert {row["stage"]: row for row in body["tables"]["velocity"]}["mql"]["median_days"] == 4.0
    for cmd in (["converts", "--min-support", "1"], ["score-health"], ["sales"], ["channels"]):
        r = runner.invoke(app, ["analytics", *cmd, *base])
        assert r.exit_code == 0, (cmd, r.output)
    r = runner.invoke(app, ["analytics", "funnel", "--by", "nope", *base])
    assert r.exit_code == 1 and "by must be one of" in r.output


def test_spend_import(sqlite_url, tmp_path):
    _store(sqlite_url)
    base = ["--database-url", sqlite_url, "--workspace", "acme"]
    bad = tmp_path / "bad.csv"
    bad.write_text("channel,period,amount\nads,2026-01,10\nseo,2026-02,-3\n")
    r = runner.invoke(app, ["analytics", "spend", "import", str(bad), "--currency", "EUR", *base])
    assert r.exit_code == 1 and "row 2: amount" in r.output and "nothing was stored" in r.output
    good = tmp_path / "spend.csv"
    good.write_text("channel,period,amount\nads,2026-01,600\n=cmd,2026-01,1\n")
    r = runner.invoke(app, ["analytics", "spend", "import", str(good), "--currency", "EUR", *base])
    assert r.exit_code == 0 and "2 new" in r.output, r.output
    out = tmp_path / "ch.csv"
    r = runner.invoke(app, ["analytics", "channels", "--out", str(out), *base])
    assert r.exit_code == 0, r.output
    rows = {row["channel"]: row for row in csv.DictReader(out.open())}
    assert float(rows["ads"]["cost_per_lead"]) == 300.0
    assert "'=cmd" in rows  # formula-safe CSV
