"""The import command end to end: valid files, an invalid file storing nothing, --skip-invalid."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from leadflow.cli import app

runner = CliRunner()


def _run(args, url):
    return runner.invoke(app, [*args, "--database-url", url, "--workspace", "imp"])


def test_import_leads_events_export(tmp_path, sqlite_url):
    leads = tmp_path / "hubspot.csv"
    leads.write_text("Email,First Name,Job Title,Company Domain Name,Number of Employees\n"
                     "ana@acme.io,Ana,VP Marketing,acme.io,300\n"
                     "bo@beta.io,=HYPERLINK(\"x\"),Analyst,beta.io,20\n", encoding="utf-8")
    r = _run(["import", "leads", str(leads)], sqlite_url)
    assert r.exit_code == 0, r.output
    assert "2 stored" in r.output
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(json.dumps(e) for e in [
        {"type": "demo_requested", "email": "ana@acme.io", "timestamp": "2026-03-01T10:00:00Z", "message_id": "e1"},
        {"type": "page_view", "email": "bo@beta.io", "timestamp": "2026-03-01T10:00:00Z", "message_id": "e2",
         "properties": {"url": "/pricing"}},
    ]) + "\n", encoding="utf-8")
    r = _run(["import", "events", str(events)], sqlite_url)
    assert r.exit_code == 0, r.output
    assert "2 stored" in r.output
    r = _run(["funnel"], sqlite_url)
    assert "mql" in r.output
    out = tmp_path / "leads.csv"
    r = _run(["export", str(out)], sqlite_url)
    assert r.exit_code == 0, r.output
    text = out.read_text(encoding="utf-8")
    assert "'=HYPERLINK" in text  # formula injection neutralised
    assert "ana@acme.io" in text


def test_invalid_file_stores_nothing_unless_skip_invalid(tmp_path, sqlite_url):
    events = tmp_path / "events.csv"
    events.write_text("type,email,timestamp,message_id\n"
                      "page_view,a@acme.io,2026-03-01T10:00:00Z,m1\n"
                      "page_view,a@acme.io,yesterday,m2\n"
                      "form_submit,b@acme.io,2026-03-02T10:00:00Z,m3\n", encoding="utf-8")
    r = _run(["import", "events", str(events)], sqlite_url)
    assert r.exit_code == 1
    assert "nothing was stored" in r.output
    from leadflow.facade import Leadflow

    lf = Leadflow(sqlite_url, "imp")
    assert sum(lf.funnel().values()) == 0
    r = _run(["import", "events", str(events), "--skip-invalid"], sqlite_url)
    assert r.exit_code == 0, r.output
    assert "2 stored" in r.output and "1 rejected" in r.output
    assert sum(lf.funnel().values()) == 2
    lf.close()


def test_model_validate_reports_line(tmp_path):
    bad = tmp_path / "m.yaml"
    bad.write_text("key: x\nfit:\n  grades: {A: 1, B: 2, C: 0}\nengagement: {}\nlifecycle:\n  mql:\n    any_of: []\n",
                   encoding="utf-8")
    r = runner.invoke(app, ["model", "validate", str(bad)])
    assert r.exit_code == 1
    assert f"{bad}:3" in r.output
