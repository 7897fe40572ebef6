"""The tracking snippet end to end in Debian's Chromium: demo page -> /t.js -> /v1/* -> the store."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import select

from leadflow.services import apikeys, workspaces
from leadflow.store.tables import Event, Identity, Lead

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.fixture
def site(live_server):
    db = live_server.app.state.db
    with db.session() as s:
        ws = workspaces.get_or_create_workspace(s, "acme")
        _, key = apikeys.create_key(s, ws.id, kind="ingest", name="website")
    live_server.key = key
    live_server.db = db
    return live_server


def _events(db, **where):
    with db.session() as s:
        q = select(Event)
        for k, v in where.items():
            q = q.where(getattr(Event, k) == v)
        return list(s.scalars(q.order_by(Event.occurred_at, Event.id)))


def _wait(fn, timeout=15.0):
    """Poll the store until fn() is truthy (the snippet sends asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def _v1_requests(page):
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if "/v1/" in r.url else None)
    return sent


def _ready(page):
    page.wait_for_function("window.leadflow && window.leadflow.version")


def test_page_view_cookie_then_form_identifies_and_merges(browser, site):
    ctx = browser.new_context()
    page = ctx.new_page()
    url = f"{site.url}/t/demo?key={site.key}&utm_source=newsletter&utm_medium=email&utm_campaign=spring"
    page.goto(url)
    _ready(page)
    views = _wait(lambda: _events(site.db, type="page_view"))
    assert len(views) == 1
    pv = views[0]
    props = pv.properties
    assert props["url"] == url and props["title"] == "leadflow snippet demo" and props["path"] == "/t/demo"
    assert (props["utm_source"], props["utm_medium"], props["utm_campaign"]) == ("newsletter", "email", "spring")
    assert pv.lead_id is None
    cookies = {c["name"]: c for c in ctx.cookies()}
    assert cookies["lf_aid"]["value"] == pv.anonymous_id and cookies["lf_aid"]["sameSite"] == "Lax"
    assert cookies["lf_aid"]["expires"] > time.time() + 300 * 86400

    SHOTS.mkdir(parents=True, exist_ok=True)
    page.fill("input[name=email]", "Visitor@Example.org")
    page.fill("input[name=first_name]", "Vera")
    page.fill("input[name=company]", "Example Org")
    page.screenshot(path=str(SHOTS / "snippet_demo.png"), full_page=True)
    page.click("button[type=submit]")
    page.wait_for_selector("#thanks", state="visible")

    def merged():
        with site.db.session() as s:
            lead = s.scalar(select(Lead).where(Lead.email == "visitor@example.org"))
            if lead is None:
                return None
            ev = s.get(Event, pv.id)
            return (lead, ev.lead_id) if ev.lead_id == lead.id else None

    got = _wait(merged)
    assert got, "the anonymous page view was not merged into the identified lead"
    lead, _ = got
    assert lead.first_name == "Vera"
    with site.db.session() as s:
        ident = s.scalar(select(Identity).where(Identity.anonymous_id == pv.anonymous_id))
        assert ident is not None and ident.lead_id == lead.id
    forms = _wait(lambda: _events(site.db, type="form_submit"))
    assert forms and forms[0].lead_id == lead.id and forms[0].properties["form"] == "demo-signup"

    # time on page goes out with sendBeacon when the page is hidden (only after a second or more on the page:
    # on a quiet machine the steps above can take less than that)
    page.wait_for_timeout(1500)
    page.goto("about:blank")
    spent = _wait(lambda: _events(site.db, type="time_on_page"), timeout=10)
    assert spent and spent[0].lead_id == lead.id and spent[0].properties["seconds_on_page"] >= 1
    ctx.close()


def test_consent_required_sends_nothing_until_given(browser, site):
    ctx = browser.new_context()
    page = ctx.new_page()
    sent = _v1_requests(page)
    page.goto(f"{site.url}/t/demo?key={site.key}&consent=required")
    _ready(page)
    page.evaluate("leadflow('track', 'Pricing Viewed'); leadflow('identify', 'nope@example.org')")
    page.wait_for_load_state("networkidle")
    assert sent == []
    assert [c["name"] for c in ctx.cookies()] == []
    assert page.evaluate("leadflow('anonymousId')") is None
    assert _events(site.db) == []

    page.click("#consent-yes")  # now it may: the page view of this page goes out and the cookie is set
    views = _wait(lambda: _events(site.db, type="page_view"))
    assert len(views) == 1
    assert {c["name"] for c in ctx.cookies()} == {"lf_aid", "lf_consent"}
    ctx.close()


def test_do_not_track_sends_nothing(browser, site):
    ctx = browser.new_context()
    ctx.add_init_script("Object.defineProperty(Navigator.prototype, 'doNotTrack', {get: () => '1'})")
    page = ctx.new_page()
    sent = _v1_requests(page)
    page.goto(f"{site.url}/t/demo?key={site.key}")
    _ready(page)
    assert page.evaluate("navigator.doNotTrack") == "1"
    page.evaluate("leadflow('consent', true); leadflow('track', 'Pricing Viewed')")
    page.fill("input[name=email]", "dnt@example.org")
    page.click("button[type=submit]")
    page.wait_for_selector("#thanks", state="visible")
    page.wait_for_load_state("networkidle")
    assert sent == []
    assert "lf_aid" not in {c["name"] for c in ctx.cookies()}
    assert _events(site.db) == []
    ctx.close()
