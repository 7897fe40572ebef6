"""The Team and Integrations screens: every form over HTTP on SQLite and PostgreSQL (service refusals shown
inline with nothing stored, CSRF and role denials, secrets shown once, lead-supplied text escaped), and in
Chromium at laptop and phone size with screenshots in var/screenshots/."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from web_helpers import SCREENSHOTS, XSS, PageWatch, add_user, login, seed_demo, shot

from leadflow.settings import Settings

PW = "correct-horse-battery"
XSS_URL = "https://hooks.example.com/<script>alert(1)</script>\"'><img/src=x/onerror=alert(2)>"


# ------------------------------------------------------------------------------------------ HTTP helpers
@pytest.fixture
def app(db_url, tmp_path):
    from leadflow.api.app import create_app
    from leadflow.services import users

    settings = Settings(database_url=db_url, workspace="acme", secret_key="k" * 40, background=False)
    a = create_app(settings)
    st = a.state.web
    with st.session() as s:
        for email, role in (("ana@example.com", "admin"), ("mia@example.com", "marketing"),
                            ("sam@example.com", "sales")):
            users.create_user(s, st.workspace_id, email, PW, role)
    yield a
    a.state.db.dispose()


def client_for(app, email: str) -> tuple[TestClient, str]:
    c = TestClient(app)
    page = c.get("/login")
    tok = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = c.post("/login", data={"email": email, "password": PW, "csrf_token": tok}, follow_redirects=False)
    assert r.status_code == 303
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', c.get("/leads").text).group(1)
    return c, csrf


def alerts(html: str) -> list[str]:
    return re.findall(r'role="alert"[^>]*>([^<]*)<', html)


def reps(app) -> dict[str, dict]:
    from leadflow.services.handoff import team

    st = app.state.web
    with st.session() as s:
        return {r["key"]: r for r in team.list_reps(s, st.workspace_id)}


REP = {"key": "alice", "name": "Alice Example", "email": "alice@example.com", "role": "sdr", "weight": "2",
       "capacity": "3", "timezone": "Europe/Berlin", "work_days": "mon-fri", "work_start": "09:00",
       "work_end": "17:30", "country": "DE", "territories": "emea", "named_accounts": "", "team_lead": "tess"}


# ------------------------------------------------------------------------------------------ Team (HTTP)
def test_team_forms_store_through_the_services_and_show_refusals_inline(app):
    c, csrf = client_for(app, "ana@example.com")
    empty = c.get("/team")
    assert empty.status_code == 200 and "No reps yet." in empty.text and "Add a rep" in empty.text
    # territory: bad number refused with the field named, then stored
    r = c.post("/team/territories", data={"csrf_token": csrf, "key": "emea", "countries": "Germany, France",
                                          "priority": "soon"})
    assert r.status_code == 422 and any("priority" in a for a in alerts(r.text))
    assert 'value="Germany, France"' in r.text  # the form keeps what was typed
    r = c.post("/team/territories", data={"csrf_token": csrf, "key": "emea", "name": "EMEA",
                                          "countries": "Germany, France", "priority": "50"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/team?done=territory")
    # rep: each refusal names its field, marks it invalid and stores nothing
    for change, field in (({"weight": "500"}, "weight"), ({"timezone": "Mars/Base"}, "timezone"),
                          ({"territories": "apac"}, "territories"), ({"work_end": "08:00"}, "work_end"),
                          ({"key": "has space"}, "key")):
        r = c.post("/team/reps", data={"csrf_token": csrf, **REP, **change})
        assert r.status_code == 422, change
        assert any(field.split("_")[0] in a or "work_hours" in a for a in alerts(r.text)), (change, alerts(r.text))
        assert re.search(rf'id="f-{field}"[^>]*aria-invalid="true"', r.text), field
        assert reps(app) == {}
    r = c.post("/team/reps", data={"csrf_token": csrf, **REP}, follow_redirects=False)
    assert r.status_code == 303
    alice = reps(app)["alice"]
    assert (alice["weight"], alice["capacity"], alice["timezone"], alice["territories"], alice["work_end"]) == (
        2, 3, "Europe/Berlin", ["emea"], "17:30")
    # edit: the form is pre-filled; a refusal keeps the typed values; a good change is stored
    page = c.get("/team/reps/alice")
    assert page.status_code == 200 and 'value="Europe/Berlin"' in page.text and 'value="mon-fri"' in page.text
    r = c.post("/team/reps/alice", data={"csrf_token": csrf, **{**REP, "capacity": "-1"}})
    assert r.status_code == 422 and any("capacity" in a for a in alerts(r.text)) and 'value="-1"' in r.text
    assert reps(app)["alice"]["capacity"] == 3
    r = c.post("/team/reps/alice", data={"csrf_token": csrf, **{**REP, "capacity": "40", "team_lead": ""}},
               follow_redirects=False)
    assert r.status_code == 303
    assert (reps(app)["alice"]["capacity"], reps(app)["alice"]["team_lead"]) == (40, None)
    assert c.get("/team/reps/nobody").status_code == 404
    # out of office: refused when backwards, then set, shown, ended
    r = c.post("/team/reps/alice/away", data={"csrf_token": csrf, "starts_at": "2026-03-10T00:00",
                                              "ends_at": "2026-03-01T00:00"})
    assert r.status_code == 422 and any("ends_at" in a for a in alerts(r.text))
    r = c.post("/team/reps/alice/away", data={"csrf_token": csrf, "starts_at": "2020-01-01T00:00",
                                              "ends_at": "2099-01-01T00:00", "reason": "parental leave"},
               follow_redirects=False)
    assert r.status_code == 303
    assert reps(app)["alice"]["away_now"]["reason"] == "parental leave"
    assert "parental leave" in c.get("/team").text
    assert c.post("/team/reps/alice/back", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    assert reps(app)["alice"]["away_now"] is None
    # deactivate / reactivate
    c.post("/team/reps/alice/active", data={"csrf_token": csrf, "active": "0"})
    assert reps(app)["alice"]["active"] is False
    c.post("/team/reps/alice/active", data={"csrf_token": csrf, "active": "1"})
    assert reps(app)["alice"]["active"] is True
    page = c.get("/team").text
    assert "Alice Example" in page and "0 / 40" in page and "Handoff settings" in page


def _unassigned_lead(app, db_url) -> str:
    """A rep with no room, then an MQL: the handoff puts it in the unassigned queue."""
    from leadflow.facade import Leadflow
    from leadflow.services.handoff import team
    from leadflow.store import handoff_tables as ht

    st = app.state.web
    with st.session() as s:
        team.add_rep(s, st.workspace_id, {"key": "bob", "name": "Bob", "role": "sdr", "capacity": 0})
    lf = Leadflow(db_url, "acme")
    lf.upsert_leads([{"email": "ann@bigco.io", "first_name": "Ann", "last_name": XSS}])
    lf.change_stage("ann@bigco.io", "mql", reason="test", actor_id="test")
    lf.close()
    with st.session() as s:
        a = s.scalar(select(ht.Assignment).where(ht.Assignment.workspace_id == st.workspace_id,
                                                 ht.Assignment.open_lead_id.is_not(None)))
        assert a is not None and a.rep_key is None
        return a.lead_id


def test_unassigned_queue_manual_assign_shows_capacity_and_away_refusals(app, db_url):
    from leadflow.services.handoff import team

    lead_id = _unassigned_lead(app, db_url)
    c, csrf = client_for(app, "ana@example.com")
    page = c.get("/team").text
    assert f'id="u-{lead_id}"' in page and "<script>alert(1)</script>" not in page
    r = c.post(f"/team/assign/{lead_id}", data={"csrf_token": csrf, "rep": "bob"})
    assert r.status_code == 422 and any("capacity" in a for a in alerts(r.text)), alerts(r.text)
    r = c.post(f"/team/assign/{lead_id}", data={"csrf_token": csrf, "rep": ""})  # by the rules: still nobody
    assert r.status_code == 422 and any("nobody is available" in a for a in alerts(r.text))
    st = app.state.web
    with st.session() as s:
        team.update_rep(s, st.workspace_id, "bob", {"capacity": 5})
    c.post("/team/reps/bob/away", data={"csrf_token": csrf, "starts_at": "2020-01-01T00:00",
                                        "ends_at": "2099-01-01T00:00", "reason": "vacation"})
    r = c.post(f"/team/assign/{lead_id}", data={"csrf_token": csrf, "rep": "bob"})
    assert r.status_code == 422 and any("out of office" in a for a in alerts(r.text)), alerts(r.text)
    c.post("/team/reps/bob/back", data={"csrf_token": csrf})
    r = c.post(f"/team/assign/{lead_id}", data={"csrf_token": csrf, "rep": "bob"}, follow_redirects=False)
    assert r.status_code == 303 and "done=assigned" in r.headers["location"]
    assert reps(app)["bob"]["open"] == 1
    assert f'id="u-{lead_id}"' not in c.get("/team").text


# ------------------------------------------------------------------------------------------ Integrations (HTTP)
def test_api_keys_created_once_listed_by_prefix_and_revoked(app):
    from leadflow.services import apikeys

    c, csrf = client_for(app, "ana@example.com")
    page = c.get("/integrations")
    assert page.status_code == 200 and "No API keys yet." in page.text and "No webhooks." in page.text
    r = c.post("/integrations/keys", data={"csrf_token": csrf, "kind": "secret", "name": "CRM sync"})
    assert r.status_code == 422 and any("scope" in a for a in alerts(r.text))
    r = c.post("/integrations/keys", data={"csrf_token": csrf, "kind": "secret", "name": XSS,
                                           "scopes": ["leads:read", "webhooks:manage"]})
    assert r.status_code == 200 and "shown only once" in r.text
    assert r.headers["cache-control"] == "no-store"
    plaintext = re.search(r'id="secret-value"[^>]*>(lf_secret_[\w-]+)<', r.text).group(1)
    assert "<script>alert(1)</script>" not in r.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
    st = app.state.web
    with st.session() as s:
        auth = apikeys.authenticate(s, plaintext)
        assert auth is not None and auth.key.scopes == {"leads:read", "webhooks:manage"}
    listing = c.get("/integrations").text
    assert plaintext not in listing and plaintext[:14] in listing  # prefix only
    assert "<script>alert(1)</script>" not in listing
    # an ingest key's answer carries the install code and the demo link, escaped
    r = c.post("/integrations/keys", data={"csrf_token": csrf, "kind": "ingest", "name": "website"})
    ingest = re.search(r'id="secret-value"[^>]*>(lf_ingest_[\w-]+)<', r.text).group(1)
    assert f'data-key=&#34;{ingest}&#34;' in r.text or f"data-key=&quot;{ingest}&quot;" in r.text
    assert f'href="/t/demo?key={ingest}"' in r.text
    assert "<script src=" not in r.text.split("<main", 1)[1]  # shown as text, never as a tag
    listing = c.get("/integrations").text
    assert 'id="snippet-code"' in listing and "&lt;script src=" in listing
    # revoke
    key_id = re.search(r'action="/integrations/keys/(\w+)/revoke"', listing).group(1)
    r = c.post(f"/integrations/keys/{key_id}/revoke", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    with st.session() as s:
        assert apikeys.authenticate(s, plaintext) is None
    assert c.post("/integrations/keys/nope/revoke", data={"csrf_token": csrf}).status_code == 404


def test_webhooks_add_toggle_rotate_delete_and_replay(app, db_url):
    from leadflow.facade import Leadflow
    from leadflow.services import webhooks as wh
    from leadflow.store.webhook_tables import WebhookOutbox

    c, csrf = client_for(app, "ana@example.com")
    st = app.state.web

    def subs():
        with st.session() as s:
            return [(h.url, list(h.events), h.active, h.secret) for h in wh.list_subscriptions(s, st.workspace_id)]

    for data, field in (({"url": "http://127.0.0.1:9/x", "events": ["lead.mql"]}, "url"),
                        ({"url": "ftp://hooks.example.com/x", "events": ["lead.mql"]}, "url"),
                        ({"url": "https://hooks.example.com/x"}, "events")):
        r = c.post("/integrations/webhooks", data={"csrf_token": csrf, **data})
        assert r.status_code == 422 and alerts(r.text)[0].startswith(field), alerts(r.text)
        assert subs() == []
    r = c.post("/integrations/webhooks", data={"csrf_token": csrf, "url": XSS_URL,
                                               "events": ["lead.created", "lead.mql"], "description": XSS})
    assert r.status_code == 200 and "shown only once" in r.text
    secret = re.search(r'id="secret-value"[^>]*>(whsec_[\w-]+)<', r.text).group(1)
    assert "<script>alert(1)</script>" not in r.text
    [(url, events, active, stored)] = subs()
    assert url == XSS_URL and events == ["lead.created", "lead.mql"] and active and stored == secret
    page = c.get("/integrations").text
    assert secret not in page and "<script>alert(1)</script>" not in page and "<img" not in page
    hook_id = re.search(r'action="/integrations/webhooks/(\w+)/rotate"', page).group(1)
    c.post(f"/integrations/webhooks/{hook_id}/active", data={"csrf_token": csrf, "active": "0"})
    assert subs()[0][2] is False
    c.post(f"/integrations/webhooks/{hook_id}/active", data={"csrf_token": csrf, "active": "1"})
    assert subs()[0][2] is True
    r = c.post(f"/integrations/webhooks/{hook_id}/rotate", data={"csrf_token": csrf})
    new_secret = re.search(r'id="secret-value"[^>]*>(whsec_[\w-]+)<', r.text).group(1)
    assert new_secret != secret and subs()[0][3] == new_secret and "Signing secret rotated" in r.text
    # a delivery: pending cannot be replayed; failed can
    lf = Leadflow(db_url, "acme")
    lf.upsert_leads([{"email": "ann@bigco.io"}])
    lf.close()
    with st.session() as s:
        [row] = wh.list_outbox(s, st.workspace_id)
        out_id = row.id
    page = c.get("/integrations").text
    assert f'id="delivery-{out_id}"' in page and "lead.created" in page
    r = c.post(f"/integrations/deliveries/{out_id}/replay", data={"csrf_token": csrf})
    assert r.status_code == 409 and any("pending" in a for a in alerts(r.text))
    with st.session() as s:
        s.get(WebhookOutbox, out_id).status = "failed"
    failed = c.get("/integrations?status=failed").text
    assert f'action="/integrations/deliveries/{out_id}/replay"' in failed
    r = c.post(f"/integrations/deliveries/{out_id}/replay", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    with st.session() as s:
        assert s.get(WebhookOutbox, out_id).status == "pending"
    r = c.post(f"/integrations/webhooks/{hook_id}/delete", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and subs() == []
    with st.session() as s:
        assert wh.list_outbox(s, st.workspace_id) == []


# ------------------------------------------------------------------------------------------ CSRF and roles
WRITES = ["/team/reps", "/team/reps/alice", "/team/reps/alice/away", "/team/reps/alice/back",
          "/team/reps/alice/active", "/team/territories", "/team/assign/x", "/integrations/keys",
          "/integrations/keys/x/revoke", "/integrations/webhooks", "/integrations/webhooks/x/active",
          "/integrations/webhooks/x/rotate", "/integrations/webhooks/x/delete",
          "/integrations/deliveries/x/replay"]


def test_every_write_needs_the_csrf_token_and_the_role(app):
    from leadflow.services.handoff import team

    st = app.state.web
    with st.session() as s:
        team.add_rep(s, st.workspace_id, {"key": "alice", "name": "Alice"})
    admin, admin_csrf = client_for(app, "ana@example.com")
    for path in WRITES:
        assert admin.post(path, data={"name": "x"}).status_code == 403, path
        assert admin.post(path, data={"csrf_token": "forged"}).status_code == 403, path
    for email in ("mia@example.com", "sam@example.com"):
        c, csrf = client_for(app, email)
        for path in WRITES:
            r = c.post(path, data={"csrf_token": csrf, "key": "zed", "name": "Zed", "active": "0"})
            assert r.status_code == 403 and "may not" in r.text, (email, path)
        assert c.get("/integrations").status_code == 403
        assert c.get("/team/reps/alice").status_code == 403
        page = c.get("/team")  # a manager's view, read-only
        assert page.status_code == 200 and "Alice" in page.text
        assert "Add a rep" not in page.text and "/team/reps/alice/away" not in page.text
        assert 'href="/team"' in page.text and 'href="/integrations"' not in page.text
    assert reps(app)["alice"]["active"] is True and "zed" not in reps(app)
    nav = admin.get("/team").text
    assert 'href="/team" aria-current="page"' in nav and 'href="/integrations"' in nav
    # signed out: sent to the login page
    assert TestClient(app).get("/team", follow_redirects=False).status_code == 303
    assert TestClient(app).get("/integrations", follow_redirects=False).status_code == 303


# ------------------------------------------------------------------------------------------ browser
def _seed_team(state) -> None:
    """The demo funnel with the demo sales team working its MQLs (as ``leadflow demo`` builds it)."""
    from leadflow.services.handoff.demo import seed_demo_team, simulate_activity
    from leadflow.services.handoff.routing import route_pending

    seed_demo(state)
    with state.session() as s:
        seed_demo_team(s, state.workspace_id)
        route_pending(s, state.workspace_id)
        simulate_activity(s, state.workspace_id, seed=7)


def _xss_rep(state) -> None:
    from datetime import timedelta

    from leadflow.core.timeutil import utcnow
    from leadflow.services.handoff import team

    with state.session() as s:
        team.add_rep(s, state.workspace_id, {"key": "xss", "name": XSS, "role": "sdr", "capacity": 2,
                                             "team_lead": XSS, "named_accounts": ["evil.io"]})
        team.set_away(s, state.workspace_id, "xss", utcnow() - timedelta(days=1), utcnow() + timedelta(days=3), XSS)


def test_team_screen_on_laptop_and_phone(live_server, web_state, desktop, phone):
    add_user(web_state, "ana@example.com", "admin", "Ana Admin")
    add_user(web_state, "sam@example.com", "sales", "Sam Sales")
    _seed_team(web_state)
    _xss_rep(web_state)
    for page, tag in ((desktop, "desktop"), (phone, "phone")):
        watch = PageWatch(page)
        login(page, live_server.url, "ana@example.com")
        resp = page.goto(f"{live_server.url}/team")
        assert resp.status == 200 and page.get_by_role("heading", name="Team", exact=True).is_visible()
        assert resp.headers["content-security-policy"].startswith("default-src 'self'; script-src 'self'")
        reps_text = page.locator("#reps").inner_text()
        assert XSS in reps_text and "Maya Lopez" in reps_text  # the XSS name is text
        assert page.locator("main script, main img").count() == 0
        assert page.locator("#reps tbody tr").count() >= 9
        shot(page, f"team-{tag}")
        page.locator("#rep-add").screenshot(path=str(SCREENSHOTS / f"team-forms-{tag}.png"))
        page.locator("#territories").screenshot(path=str(SCREENSHOTS / f"team-territories-{tag}.png"))
        watch.assert_clean()
        assert not watch.dialogs
    # the add-rep form: a refusal from the service is shown next to the field, the input kept
    d = desktop
    form = d.locator("#rep-form")
    form.get_by_label("Key (stored as the lead owner)").fill("nina")
    form.get_by_label("Name", exact=True).fill("Nina New")
    form.get_by_label("Weight (1-100)").fill("0")
    form.get_by_role("button", name="Add rep").click()
    err = d.locator("#rep-add .error")
    assert err.is_visible() and "weight" in err.inner_text()
    assert d.locator("#f-weight").get_attribute("aria-invalid") == "true"
    assert d.locator("#f-name").input_value() == "Nina New"
    shot(d, "team-rep-error-desktop")
    d.locator("#f-weight").fill("1")
    d.locator("#rep-form").get_by_role("button", name="Add rep").click()
    assert "Rep added." in d.locator(".flash").inner_text() and "Nina New" in d.locator("#reps").inner_text()
    # out of office from the row's disclosure (keyboard-reachable native controls)
    row = d.locator("#rep-nina")
    row.locator("summary").click()
    row.get_by_label("Reason").fill("conference")
    row.get_by_role("button", name="Save out of office").click()
    assert "conference" in d.locator("#rep-nina").inner_text()
    d.locator("#rep-nina").get_by_role("button", name=re.compile("End out of office")).click()
    assert "available" in d.locator("#rep-nina").inner_text()
    # edit page
    d.goto(f"{live_server.url}/team/reps/nina")
    d.get_by_label("Capacity (max open leads)").fill("12")
    d.get_by_role("button", name="Save rep").click()
    assert "0 / 12" in d.locator("#rep-nina").inner_text()
    # a sales manager sees the team read-only
    ctx = d.context.browser.new_context(viewport={"width": 1366, "height": 860})
    sp = ctx.new_page()
    login(sp, live_server.url, "sam@example.com")
    sp.goto(f"{live_server.url}/team")
    assert sp.locator("#rep-form").count() == 0 and sp.get_by_role("link", name="Integrations").count() == 0
    shot(sp, "team-sales-desktop")
    ctx.close()


def test_integrations_screen_on_laptop_and_phone(live_server, web_state, desktop, phone):
    from leadflow.facade import Leadflow
    from leadflow.services import webhooks as wh
    from leadflow.store.webhook_tables import WebhookOutbox

    add_user(web_state, "ana@example.com", "admin", "Ana Admin")
    d = desktop
    watch = PageWatch(d)
    login(d, live_server.url, "ana@example.com")
    d.goto(f"{live_server.url}/integrations")
    assert "No API keys yet." in d.locator("#keys").inner_text()
    shot(d, "integrations-empty-desktop")
    # an ingest key: shown once with the install code as text and the demo link
    form = d.locator("#key-form")
    form.get_by_label("Name").fill(XSS)
    form.locator("input[name=kind][value=ingest]").check()
    form.get_by_role("button", name="Create key").click()
    key = d.locator("#secret-value").inner_text().strip()
    assert key.startswith("lf_ingest_")
    assert XSS in d.locator("h1").inner_text()
    code = d.locator("#snippet-code").inner_text()
    assert f'data-key="{key}"' in code and code.startswith("<script src=")
    assert d.get_by_role("link", name="Try it on the demo page").get_attribute("href") == f"/t/demo?key={key}"
    shot(d, "integrations-key-once-desktop")
    d.get_by_role("link", name="Done, back to integrations").click()
    assert key not in d.content() and XSS in d.locator("#keys").inner_text()
    # a secret key with scopes
    form = d.locator("#key-form")
    form.get_by_label("Name").fill("CRM sync")
    d.locator("#key-form summary").click()
    form.locator("input[name=scopes][value='leads:read']").check()
    form.get_by_role("button", name="Create key").click()
    assert d.locator("#secret-value").inner_text().startswith("lf_secret_")
    d.goto(f"{live_server.url}/integrations")
    # a webhook whose URL path is an XSS string
    hf = d.locator("#hook-form")
    hf.get_by_label("URL").fill(XSS_URL)
    hf.locator("input[name=events][value='lead.created']").check()
    hf.get_by_role("button", name="Add webhook").click()
    assert d.locator("#secret-value").inner_text().startswith("whsec_")
    assert XSS_URL in d.locator("main").inner_text()
    d.get_by_role("link", name="Done, back to integrations").click()
    # a delivery, failed, replayed
    lf = Leadflow(live_server.settings.database_url, "acme")
    lf.upsert_leads([{"email": "ann@bigco.io", "first_name": XSS}])
    lf.close()
    with web_state.session() as s:
        [row] = wh.list_outbox(s, web_state.workspace_id)
        out = s.get(WebhookOutbox, row.id)
        out.status, out.attempts, out.last_error = "failed", 10, "connect error: name does not resolve"
        out_id = row.id
    d.goto(f"{live_server.url}/integrations?status=failed")
    drow = d.locator(f"#delivery-{out_id}")
    assert "failed" in drow.inner_text() and "10" in drow.inner_text()
    assert XSS_URL in d.locator("#webhooks").inner_text() and d.locator("main script, main img").count() == 0
    shot(d, "integrations-desktop")
    drow.get_by_role("button", name=re.compile("Replay")).click()
    assert "queued again" in d.locator(".flash").inner_text()
    with web_state.session() as s:
        assert s.get(WebhookOutbox, out_id).status in ("pending", "succeeded", "failed")
        assert s.get(WebhookOutbox, out_id).cycle_attempts <= 1  # a fresh retry budget
    # rotate (with its confirmation) shows the new secret once
    d.goto(f"{live_server.url}/integrations")
    d.locator("#webhooks").get_by_role("button", name=re.compile("Rotate secret")).click()
    assert d.get_by_role("heading", name="Signing secret rotated").is_visible()
    assert not watch.dialogs
    watch.assert_clean()
    # the phone
    pw = PageWatch(phone)
    login(phone, live_server.url, "ana@example.com")
    phone.goto(f"{live_server.url}/integrations")
    assert phone.get_by_role("heading", name="Integrations").is_visible()
    shot(phone, "integrations-phone")
    for part in ("webhooks", "hook-new", "deliveries", "snippet"):
        phone.locator(f"#{part}").screenshot(path=str(SCREENSHOTS / f"integrations-{part}-phone.png"))
    width = phone.evaluate("() => document.documentElement.scrollWidth")
    wide = phone.evaluate("() => [...document.querySelectorAll('body *')].filter(e => !e.closest('.table-wrap')"
                          " && e.getBoundingClientRect().right > 392).slice(0, 6)"
                          ".map(e => e.tagName + '.' + e.className + '#' + e.id)")
    assert width <= 390 + 1, (width, wide)  # nothing pushes the page sideways (tables scroll in their box)
    pw.assert_clean()
