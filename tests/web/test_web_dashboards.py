"""Dashboards screen, server side: the selection (date range, funnel breakdown, cohort view) parsed from the
query string, refused with a clear inline message and a 400, and really applied to the panels' numbers.

The data set, stored through the facade (``lf`` fixture; SQLite and PostgreSQL), 2025, UTC:
  a1 ads   created Jan 10, imported at MQL                     furthest: mql
  a2 ads   created Jan 20, imported at SQL                     furthest: sql
  a3 seo   created Feb 5,  imported at MQL                     furthest: mql
  a4 seo   created Feb 15                                      furthest: subscriber
  a5 ads   created Mar 1,  won on Mar 20                        furthest: customer
Cumulative funnel (every lead counts in the stages before its furthest one): all time 5 subscribers, 4 leads,
4 MQLs, 2 SALs, 2 SQLs, 1 opportunity, 1 customer; February (a3, a4): 2, 1, 1, 0, 0, 0, 0.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient

from leadflow.settings import Settings
from leadflow.web.screens.dashboards import parse_selection

PW = "correct-horse-battery"
STAGES = ("subscriber", "lead", "mql", "sal", "sql", "opportunity", "customer")


def _t(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


@pytest.fixture
def client(lf, db_url):
    from leadflow.api.app import create_app
    from leadflow.services import users

    lf.upsert_leads([
        {"email": "a1@x.io", "created_at": _t("2025-01-10"), "source": "ads", "owner": "ann", "stage": "mql"},
        {"email": "a2@x.io", "created_at": _t("2025-01-20"), "source": "ads", "stage": "sql"},
        {"email": "a3@x.io", "created_at": _t("2025-02-05"), "source": "seo", "stage": "mql"},
        {"email": "a4@x.io", "created_at": _t("2025-02-15"), "source": "seo"},
        {"email": "a5@x.io", "created_at": _t("2025-03-01"), "source": "ads"},
    ])
    lf.record_outcomes([{"email": "a5@x.io", "result": "won", "closed_at": _t("2025-03-20"), "amount": 100.0}])
    app = create_app(Settings(database_url=db_url, workspace="acme", secret_key="k" * 40, background=False))
    st = app.state.web
    with st.session() as s:
        users.create_user(s, st.workspace_id, "mia@example.com", PW, "marketing")
    c = TestClient(app)
    tok = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)
    r = c.post("/login", data={"email": "mia@example.com", "password": PW, "csrf_token": tok}, follow_redirects=False)
    assert r.status_code == 303
    yield c
    app.state.db.dispose()


def kpis(page: str) -> dict[str, int]:
    return {label: int(v.replace(",", "")) for v, label in
            re.findall(r'<div class="kpi"><div class="v">([^<]*)</div><div class="l">([^<]*)</div>', page)}


def table_rows(page: str, caption_start: str) -> list[list[str]]:
    """The body rows of the table whose caption starts with ``caption_start``, as cell texts."""
    m = re.search(r'<h3 class="table-title" id="([^"]+)">' + re.escape(caption_start) + r'.*?</h3>\s*'
                  r'<div class="table-wrap"><table aria-labelledby="\1">(.*?)</table>', page, re.S)
    assert m, f"no table {caption_start!r} in the panel"
    body = m.group(2).split("<tbody>")[1]
    return [[html.unescape(c) for c in re.findall(r"<td>(.*?)</td>", tr)] for tr in re.findall(r"<tr>(.*?)</tr>", body)]


# ------------------------------------------------------------------------------------------ parsing (pure)
def test_selection_presets_custom_and_defaults():
    today = date(2026, 3, 31)
    sel = parse_selection({}, today)
    assert sel.ok and (sel.range, sel.since, sel.until, sel.by, sel.cohort) == ("all", None, None, None, None)
    assert sel.page_url() == "/dashboards" and sel.panel_url("funnel") == "/dashboards/funnel"
    s30 = parse_selection({"range": "30d", "from": "2020-01-01", "by": "source"}, today)  # a preset wins
    assert (s30.since, s30.until) == (date(2026, 3, 2), today)  # 30 days including today
    assert s30.page_url() == "/dashboards?range=30d&by=source"  # stays relative when shared
    assert s30.panel_url("funnel") == "/dashboards/funnel?from=2026-03-02&to=2026-03-31&by=source"
    assert s30.panel_url("velocity") == "/dashboards/velocity?from=2026-03-02&to=2026-03-31"  # breakdown: funnel only
    assert (parse_selection({"range": "90d"}, today).since, parse_selection({"range": "year"}, today).since) == (
        date(2026, 1, 1), date(2026, 1, 1))  # 90 days back from Mar 31 is Jan 1, as is the year's start
    custom = parse_selection({"range": "custom", "from": "2025-02-01", "to": "2025-02-28", "cohort": "month"}, today)
    assert custom.ok and custom.range == "custom" and (custom.since, custom.until) == (date(2025, 2, 1), date(2025, 2, 28))
    assert custom.page_url() == "/dashboards?from=2025-02-01&to=2025-02-28&cohort=month"
    only_from = parse_selection({"from": "2025-02-01", "to": ""}, today)  # no range: the dates decide
    assert only_from.range == "custom" and only_from.until is None and "from 2025-02-01" in only_from.describe()
    assert parse_selection({"range": "all", "from": "2025-02-01"}, today).since is None
    # the cache key holds every parameter the panel depends on
    assert s30.cache_key("funnel") != parse_selection({"range": "30d"}, today).cache_key("funnel")
    assert s30.cache_key("velocity") == parse_selection({"range": "30d"}, today).cache_key("velocity")
    assert s30.cache_key("funnel") != parse_selection({"range": "30d", "by": "source"}, date(2026, 4, 1)).cache_key(
        "funnel")


def test_selection_errors_name_the_field():
    today = date(2026, 3, 31)
    cases = {
        ("from", "2025-13-01"): "not a date", ("from", "31/01/2025"): "not a date", ("to", "20250101"): "not a date",
        ("from", "1900-01-01"): "out of range", ("range", "7d"): "unknown choice", ("by", "email"): "unknown choice",
        ("cohort", "week"): "unknown choice",
    }
    for (key, value), message in cases.items():
        sel = parse_selection({key: value}, today)
        field = "from" if key == "from" else key
        assert not sel.ok and message in sel.errors[field], (key, value, sel.errors)
    backwards = parse_selection({"from": "2025-03-01", "to": "2025-02-01"}, today)
    assert "is before From" in backwards.errors["to"]
    bad = parse_selection({"from": "soon"}, today)
    assert bad.field_text("from") == "soon"  # shown back for fixing


# ------------------------------------------------------------------------------------------ over HTTP
def test_page_keeps_the_selection_and_points_the_panels_at_it(client):
    page = client.get("/dashboards", params={"from": "2025-02-01", "to": "2025-02-28", "by": "source",
                                             "cohort": "month"})
    assert page.status_code == 200
    text = page.text
    assert 'value="2025-02-01"' in text and 'value="2025-02-28"' in text
    assert re.search(r'<option value="source" selected>', text) and re.search(r'<option value="month" selected>', text)
    assert re.search(r'<option value="custom" selected>', text)
    assert 'hx-get="/dashboards/funnel?from=2025-02-01&amp;to=2025-02-28&amp;by=source&amp;cohort=month"' in text
    assert 'hx-get="/dashboards/channels?from=2025-02-01&amp;to=2025-02-28"' in text
    for label in ("Period", "From", "To", "Funnel breakdown", "Funnel view"):
        assert re.search(r'<label for="dash-[a-z]+">' + label, text), label
    assert "Showing: Custom dates (2025-02-01 to 2025-02-28, UTC); funnel by source; funnel by monthly cohort" in text
    # an htmx request gets the canonical URL to push (no empty fields)
    hx = client.get("/dashboards", params={"range": "90d", "from": "", "to": "", "by": "", "cohort": ""},
                    headers={"HX-Request": "true"})
    assert hx.status_code == 200 and hx.headers["HX-Push-Url"] == "/dashboards?range=90d"
    restore = client.get("/dashboards?range=90d", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "HX-Push-Url" not in restore.headers and "<html" in restore.text  # back button: the whole page


def test_bad_selection_is_a_400_with_the_message_inline_and_no_panels(client):
    r = client.get("/dashboards", params={"from": "2025-13-01", "to": "2025-02-01"})
    assert r.status_code == 400
    assert 'aria-invalid="true" aria-describedby="dash-from-hint dash-from-error"' in r.text
    assert re.search(r'id="dash-from-error" role="alert">From: “2025-13-01” is not a date; use YYYY-MM-DD', r.text)
    assert 'hx-get="/dashboards/' not in r.text  # nothing computed on a selection that was refused
    r = client.get("/dashboards", params={"from": "2025-03-01", "to": "2025-02-01"}, headers={"HX-Request": "true"})
    assert r.status_code == 400 and "To (2025-02-01) is before From (2025-03-01)" in r.text
    assert r.headers["HX-Push-Url"] == "false"  # a refused selection is not pushed into the history
    panel = client.get("/dashboards/funnel", params={"to": "tomorrow"})
    assert panel.status_code == 400 and "To: “tomorrow” is not a date" in panel.text
    # what was typed comes back as text, never as markup
    xss = '<script>alert(1)</script>"'
    r = client.get("/dashboards", params={"by": xss, "from": xss})
    assert r.status_code == 400 and "<script>alert(1)" not in r.text and "&lt;script&gt;alert(1)" in r.text


def test_the_range_changes_the_funnel_numbers(client):
    everything = client.get("/dashboards/funnel")
    assert everything.status_code == 200, everything.text
    assert [kpis(everything.text)[s] for s in STAGES] == [5, 4, 4, 2, 2, 1, 1]
    assert "All leads." in everything.text
    feb = client.get("/dashboards/funnel", params={"from": "2025-02-01", "to": "2025-02-28"})
    assert [kpis(feb.text)[s] for s in STAGES] == [2, 1, 1, 0, 0, 0, 0]  # a3 and a4 only
    assert "Leads created 2025-02-01 to 2025-02-28 (UTC)." in feb.text
    steps = {(r[0], r[1]): r for r in table_rows(feb.text, "Conversion to the next stage")}
    assert steps[("subscriber", "lead")][4] == "50.0%" and steps[("mql", "sal")][4] == "0.0%"
    last_day = client.get("/dashboards/funnel", params={"from": "2025-03-01", "to": "2025-03-01"})
    assert kpis(last_day.text)["customer"] == 1  # a5, created on the range's only day, won after it
    none = client.get("/dashboards/funnel", params={"from": "2026-01-01"})
    assert "No leads were created in this range." in none.text


def test_breakdown_and_monthly_cohorts(client):
    by_source = client.get("/dashboards/funnel", params={"by": "source"}).text
    counts = {r[0]: r for r in table_rows(by_source, "Leads that reached each stage, by source")}
    # source, leads, subscriber .. customer
    assert counts["ads"][1:] == ["3", "3", "3", "3", "2", "2", "1", "1"]
    assert counts["seo"][1:] == ["2", "2", "1", "1", "0", "0", "0", "0"]
    assert list(counts) == ["ads", "seo"]  # biggest group first
    conv = {r[0]: r for r in table_rows(by_source, "Conversion to the next stage, by source")}
    # source, sub->lead, lead->mql, mql->sal, sal->sql, sql->opp, opp->customer, all->customer
    assert conv["ads"][1:] == ["100.0%", "100.0%", "66.7%", "100.0%", "50.0%", "100.0%", "33.3%"]
    assert conv["seo"][3] == "0.0%" and conv["seo"][5] == "—"  # no SAL: no SAL -> SQL rate
    cohorts = client.get("/dashboards/funnel", params={"cohort": "month"}).text
    rows = {r[0]: r for r in table_rows(cohorts, "Leads that reached each stage, by monthly cohort")}
    assert {m: (r[1], r[4]) for m, r in rows.items()} == {  # cohort: leads, MQLs
        "2025-01": ("2", "2"), "2025-02": ("2", "1"), "2025-03": ("1", "1")}
    assert '"type": "line"' in cohorts  # conversion per cohort over time
    both = client.get("/dashboards/funnel", params={"by": "source", "cohort": "month", "from": "2025-02-01"}).text
    cells = [(r[0], r[1], r[2]) for r in table_rows(both, "Leads that reached each stage, by source and by monthly")]
    assert cells == [("seo", "2025-02", "2"), ("ads", "2025-03", "1")]  # from Feb: seo is the bigger group
    by_owner = client.get("/dashboards/funnel", params={"by": "owner"}).text
    owners = {r[0]: r[1] for r in table_rows(by_owner, "Leads that reached each stage, by owner")}
    assert owners == {"(none)": "4", "ann": "1"}


def test_other_panels_take_the_range_and_the_cache_keeps_selections_apart(client):
    whole = client.get("/dashboards/velocity").text
    jan = client.get("/dashboards/velocity", params={"to": "2025-01-31"}).text
    assert "Leads created up to 2025-01-31 (UTC)." in jan

    def entered(page: str) -> dict[str, str]:
        rows = re.findall(r"<tr><td>([a-z]+)</td><td>(\d+)</td>", page)
        return dict(rows)

    assert entered(whole)["subscriber"] == "5" and entered(jan)["subscriber"] == "2"
    for name in ("channels", "converts", "score-health", "sales"):
        r = client.get(f"/dashboards/{name}", params={"from": "2025-02-01", "to": "2025-02-28"})
        assert r.status_code == 200 and 'class="error"' not in r.text, (name, r.text[:500])
    assert "Spend periods overlapping 2025-02-01 to 2025-02-28" in client.get(
        "/dashboards/channels", params={"from": "2025-02-01", "to": "2025-02-28"}).text
    # within the cache minute, each selection still gets its own numbers
    again = client.get("/dashboards/funnel", params={"from": "2025-02-01", "to": "2025-02-28"})
    assert kpis(again.text)["subscriber"] == 2
    assert kpis(client.get("/dashboards/funnel").text)["subscriber"] == 5
