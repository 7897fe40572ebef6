"""Mount the web app on the FastAPI application: ``mount(app, settings)``.

Adds the screens (login, leads, lead detail, SDR queue, dashboards, scoring models, imports/exports, users),
static files at ``/static``, and security headers (a strict Content-Security-Policy without inline scripts or
styles, no framing, no sniffing) on every HTML response.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders

from leadflow.core.permissions import Action, Role
from leadflow.services import users as users_svc
from leadflow.settings import Settings
from leadflow.web.auth import (
    CSRF_FIELD,
    LOGIN_CSRF_COOKIE,
    LOGIN_CSRF_MAX_AGE,
    SESSION_COOKIE,
    SESSION_MAX_AGE,
    Signer,
    WebUser,
    new_session,
    secret_key,
)
from leadflow.web.common import (
    STATIC,
    Forbidden,
    LoginRequired,
    WebState,
    current_user,
    form_data,
    make_env,
    need,
    render,
    web,
)

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}

router = APIRouter(include_in_schema=False)


def home_for(user: WebUser) -> str:
    if user.role == Role.SALES:
        return "/queue"
    return "/leads"


@router.get("/", response_class=HTMLResponse)
def index(request: Request) -> Response:
    user = current_user(request)
    return RedirectResponse("/login" if user is None else home_for(user), status_code=303)


def _login_page(request: Request, error: str = "", email: str = "", status: int = 200) -> Response:
    st = web(request)
    token, cookie = st.signer.new_login_token()
    resp = render(request, None, "login.html", status=status, login_token=token, error=error, email=email,
                  next=_safe_next(request.query_params.get("next", "")))
    resp.set_cookie(LOGIN_CSRF_COOKIE, cookie, max_age=LOGIN_CSRF_MAX_AGE, httponly=True, samesite="lax",
                    secure=st.secure_cookies, path="/login")
    return resp


def _safe_next(value: str) -> str:
    """Only same-site paths: '/leads?x=1', never '//evil' or 'https://evil'."""
    if value.startswith("/") and not value.startswith("//") and "\\" not in value and "\n" not in value:
        return value[:500]
    return ""


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    user = current_user(request)
    if user is not None:
        return RedirectResponse(home_for(user), status_code=303)
    return _login_page(request)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    st = web(request)
    form = await form_data(request)
    email = str(form.get("email") or "").strip()[:320]
    password = str(form.get("password") or "")
    if not st.signer.check_login_token(request.cookies.get(LOGIN_CSRF_COOKIE), str(form.get(CSRF_FIELD) or "")):
        return _login_page(request, "The sign-in form expired; please try again.", email, status=400)
    with st.session() as s:
        info = users_svc.authenticate(s, st.workspace_id, email, password)
    if info is None:
        return _login_page(request, "Wrong email or password, or the account is deactivated.", email, status=401)
    nxt = _safe_next(str(form.get("next") or ""))
    target = nxt or ("/queue" if info.role == Role.SALES else "/leads")
    resp = RedirectResponse(target, status_code=303)
    resp.set_cookie(SESSION_COOKIE, st.signer.dump_session(new_session(info)), max_age=SESSION_MAX_AGE,
                    httponly=True, samesite="lax", secure=st.secure_cookies, path="/")
    resp.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return resp


@router.post("/logout")
def logout(request: Request, user: WebUser = Depends(need(Action.LEADS_READ))) -> Response:  # noqa: B008
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


@router.get("/favicon.ico")
def favicon() -> Response:
    return RedirectResponse("/static/favicon.svg", status_code=301)


def _login_required(request: Request, exc: Exception) -> Response:
    if request.headers.get("hx-request") == "true":
        return Response(status_code=401, headers={"HX-Redirect": "/login"})
    nxt = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    from urllib.parse import quote

    return RedirectResponse(f"/login?next={quote(nxt, safe='')}", status_code=303)


def _forbidden(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Forbidden)
    return render(request, exc.user, "error.html", status=403, title="Not allowed", detail=exc.reason)




def mount(app: FastAPI, settings: Settings) -> None:
    """Add the web app (screens, static files, security headers) to ``app``."""
    from leadflow.services.workspaces import get_or_create_workspace
    from leadflow.store.db import Database
    from leadflow.store.migrate import upgrade
    from leadflow.store.user_tables import User  # noqa: F401 - registers the users table and list indexes
    from leadflow.web.screens import SCREENS

    db = getattr(app.state, "db", None)
    if db is None:  # mounted on a bare FastAPI app (tests): own the store
        db = Database(settings.database_url, echo=settings.echo_sql)
        upgrade(db)
        app.state.db = db
    with db.session() as s:
        ws = get_or_create_workspace(s, settings.workspace)
        ws_id, ws_slug = ws.id, ws.slug
    signer = Signer(secret_key(settings))
    state = WebState(settings=settings, db=db, workspace_id=ws_id, workspace_slug=ws_slug, signer=signer,
                     env=make_env(), secure_cookies=settings.public_url.startswith("https"),
                     runner=getattr(app.state, "jobs", None))
    app.state.web = state
    app.state.web_signer = signer
    app.state.web_workspace_id = ws_id
    app.include_router(router)
    for r in SCREENS:
        app.include_router(r)
    from leadflow.web.screens import integrations, team  # the admin / sales-manager screens

    app.include_router(team.router)
    app.include_router(integrations.router)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(Forbidden, _forbidden)

    app.add_middleware(SecurityHeaders)


class SecurityHeaders:
    """CSP and friends on the web app's HTML pages, ``nosniff`` on its static files (pure ASGI: API and ingest
    requests pass straight through, without the cost of a ``BaseHTTPMiddleware`` per request)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path or path.startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        static = path.startswith("/static/")

        async def send_wrapper(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if headers.get("content-type", "").startswith("text/html"):
                    for k, v in SECURITY_HEADERS.items():
                        if k not in headers:
                            headers[k] = v
                    if "cache-control" not in headers and (
                            path == "/login" or SESSION_COOKIE in Request(scope).cookies):
                        headers["Cache-Control"] = "no-store"
                elif static and "x-content-type-options" not in headers:
                    headers["X-Content-Type-Options"] = "nosniff"
            await send(message)

        await self.app(scope, receive, send_wrapper)
