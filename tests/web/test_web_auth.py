"""Sessions, CSRF, roles and security headers of the web app (HTTP level, on the whole app)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from leadflow.settings import Settings

PW = "correct-horse-battery"


@pytest.fixture
def app(tmp_path):
    from leadflow.api.app import create_app
    from leadflow.services import users

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'web.db'}", workspace="acme", secret_key="k" * 40)
    a = create_app(settings)
    st = a.state.web
    with st.session() as s:
        for email, role in (("ana@example.com", "admin"), ("mia@example.com", "marketing"),
                            ("sam@example.com", "sales")):
            users.create_user(s, st.workspace_id, email, PW, role)
    return a


def login(client: TestClient, email: str, password: str = PW, token: str | None = None):
    page = client.get("/login")
    tok = token if token is not None else re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": tok},
                       follow_redirects=False)


def csrf(client: TestClient) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', client.get("/leads").text).group(1)


def test_login_sets_a_signed_httponly_lax_cookie(app):
    c = TestClient(app)
    r = login(c, "ana@example.com")
    assert r.status_code == 303 and r.headers["location"] == "/leads"
    cookie = r.headers["set-cookie"]
    assert "lf_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert c.get("/leads").status_code == 200


def test_login_needs_its_csrf_token_and_the_right_password(app):
    c = TestClient(app)
    assert login(c, "ana@example.com", token="forged").status_code == 400
    assert login(c, "ana@example.com", password="wrong password").status_code == 401
    r = c.get("/leads", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=%2Fleads")


def test_tampered_or_stale_cookie_is_refused(app):
    c = TestClient(app)
    login(c, "ana@example.com")
    value = c.cookies.get("lf_session")
    c.cookies.set("lf_session", value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    assert c.get("/leads", follow_redirects=False).status_code == 303
    # a password change signs out the old session
    c2 = TestClient(app)
    login(c2, "mia@example.com")
    st = app.state.web
    from leadflow.services import users

    with st.session() as s:
        users.set_password(s, st.workspace_id, "mia@example.com", "a-brand-new-password")
    assert c2.get("/leads", follow_redirects=False).status_code == 303


def test_state_changes_need_the_csrf_token(app):
    c = TestClient(app)
    login(c, "ana@example.com")
    body = {"yaml": "key: x\n"}
    assert c.post("/models/upload", data=body).status_code == 403
    assert c.post("/models/upload", data={**body, "csrf_token": "nope"}).status_code == 403
    token = csrf(c)
    assert c.post("/models/upload", data={**body, "csrf_token": token}).status_code == 422  # reached validation
    assert c.post("/models/upload", data=body, headers={"X-CSRF-Token": token}).status_code == 422  # HTMX header


@pytest.mark.parametrize("email,path,method,status", [
    ("sam@example.com", "/imports", "get", 403), ("sam@example.com", "/users", "get", 403),
    ("sam@example.com", "/models/upload", "post", 403), ("mia@example.com", "/queue", "get", 403),
    ("mia@example.com", "/users", "get", 403), ("mia@example.com", "/models", "get", 200),
    ("sam@example.com", "/queue", "get", 200), ("ana@example.com", "/users", "get", 200)])
def test_roles_follow_the_permission_matrix(app, email, path, method, status):
    c = TestClient(app)
    login(c, email)
    token = csrf(c)
    r = c.get(path) if method == "get" else c.post(path, data={"csrf_token": token, "yaml": "x: 1"})
    assert r.status_code == status


def test_security_headers_and_no_open_redirect(app):
    c = TestClient(app)
    r = c.get("/login?next=//evil.example/x")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert "'unsafe-inline'" not in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
    assert "evil.example" not in r.text
    tok = re.search(r'name="csrf_token" value="([^"]+)"', r.text).group(1)
    r = c.post("/login", data={"email": "ana@example.com", "password": PW, "csrf_token": tok,
                               "next": "https://evil.example/"}, follow_redirects=False)
    assert r.headers["location"] == "/leads"
    # no inline script in any page: every script has a src on this site
    html = c.get("/leads").text
    assert re.findall(r"<script(?![^>]*\bsrc=\"/static/)", html) == []


def test_web_session_is_a_principal_for_the_api(app):
    from leadflow.web.auth import principal_from_request

    c = TestClient(app)
    login(c, "mia@example.com")
    st = app.state.web

    class Req:
        def __init__(self, method: str, headers: dict) -> None:
            self.method, self.headers, self.cookies, self.app = method, headers, dict(c.cookies), app

    with st.session() as s:
        p = principal_from_request(Req("GET", {}), s)
        assert p is not None and p.kind == "user" and p.role.value == "marketing" and p.workspace_id == st.workspace_id
        assert principal_from_request(Req("POST", {}), s) is None  # cookie auth without the CSRF header
        assert principal_from_request(Req("POST", {"x-csrf-token": csrf(c)}), s) is not None
