"""What every screen shares: the app's web state, rendering, the role dependency, CSRF, messages."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session

from leadflow.core.permissions import Action
from leadflow.core.timeutil import as_utc, utcnow
from leadflow.settings import Settings
from leadflow.store.db import Database
from leadflow.web.auth import CSRF_FIELD, SAFE_METHODS, Signer, WebUser, csrf_valid, load_user

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


@dataclass
class WebState:
    settings: Settings
    db: Database
    workspace_id: str
    workspace_slug: str
    signer: Signer
    env: Environment
    secure_cookies: bool = False
    runner: Any = None  # leadflow.services.jobs.JobRunner, when the API app provides one
    extra: dict[str, Any] = field(default_factory=dict)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.db.session() as s:
            yield s


def web(request: Request) -> WebState:
    return request.app.state.web


def make_env() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["dt"] = fmt_dt
    env.filters["ago"] = fmt_ago
    env.filters["num"] = fmt_num
    env.filters["pct"] = fmt_pct
    env.globals["qs"] = lambda d: urlencode({k: v for k, v in d.items() if v not in (None, "")})
    return env


def fmt_dt(value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return "—"
    if isinstance(value, int | float):
        from leadflow.core.timeutil import from_epoch

        value = from_epoch(value)
    if isinstance(value, datetime):
        return as_utc(value).strftime(fmt)
    return str(value)


def fmt_ago(value: Any) -> str:
    if value is None:
        return "never"
    delta = (utcnow() - as_utc(value)).total_seconds()
    future = delta < 0
    delta = abs(delta)
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if delta >= size:
            n = int(delta // size)
            return f"in {n} {unit}" if future else f"{n} {unit} ago"
    return "just now"


def fmt_num(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    try:
        return f"{float(value):,.{digits}f}"
    except (TypeError, ValueError):
        return str(value)


def fmt_pct(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    return f"{float(value) * 100:.{digits}f}%"


# ------------------------------------------------------------------------------------------ navigation
NAV: list[tuple[str, str, Action]] = [
    ("/queue", "My queue", Action.HANDOFF_WORK),
    ("/leads", "Leads", Action.LEADS_READ),
    ("/dashboards", "Dashboards", Action.ANALYTICS_READ),
    ("/models", "Scoring models", Action.MODELS_READ),
    ("/imports", "Imports & exports", Action.IMPORTS_WRITE),
    ("/users", "Users", Action.USERS_MANAGE),
]


def available(module: str) -> bool:
    """Whether another helper's module has landed (screens show 'not available yet' otherwise)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


# ------------------------------------------------------------------------------------------ rendering
MESSAGES = {
    "stage": "Stage changed.",
    "status": "Status changed.",
    "bant": "BANT saved.",
    "uploaded": "Model version uploaded. Backtest it or activate it below.",
    "activated": "Model activated; the rescore is running.",
    "user": "User saved.",
    "accepted": "Lead accepted.",
    "rejected": "Lead rejected.",
    "attempt": "Attempt logged.",
}


def render(request: Request, user: WebUser | None, template: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    st = web(request)
    nav = [(href, label) for href, label, action in NAV if user is not None and user.can(action)]
    msg = MESSAGES.get(request.query_params.get("msg", ""), "")
    html = st.env.get_template(template).render(
        user=user, nav=nav, path=request.url.path, msg=msg, csrf=user.csrf if user else "",
        csrf_field=CSRF_FIELD, workspace=st.workspace_slug, is_htmx=request.headers.get("hx-request") == "true",
        **ctx)
    return HTMLResponse(html, status_code=status)


# ------------------------------------------------------------------------------------------ auth
class LoginRequired(Exception):
    pass


class Forbidden(Exception):
    def __init__(self, user: WebUser | None, reason: str) -> None:
        super().__init__(reason)
        self.user = user
        self.reason = reason


def current_user(request: Request) -> WebUser | None:
    cached = getattr(request.state, "web_user", False)
    if cached is not False:
        return cached
    st = web(request)
    with st.session() as s:
        user = load_user(request, s, st.signer, st.workspace_id)
    request.state.web_user = user
    return user


def need(action: Action) -> Callable[..., Any]:
    """THE role check of the web app: signed in, allowed by the permission matrix, and (for any
    state-changing request) carrying the session's CSRF token."""

    async def dependency(request: Request) -> WebUser:
        user = current_user(request)
        if user is None:
            raise LoginRequired()
        if not user.can(action):
            raise Forbidden(user, f"your role ({user.role.value}) may not {action.value}")
        if request.method not in SAFE_METHODS:
            token = None
            ctype = request.headers.get("content-type", "")
            if "form" in ctype:
                form = await request.form()
                v = form.get(CSRF_FIELD)
                token = v if isinstance(v, str) else None
            if not csrf_valid(request, user, token):
                raise Forbidden(user, "the form expired or did not come from this site (CSRF check failed); "
                                      "reload the page and try again")
        return user

    dependency.__name__ = f"need_{action.name.lower()}"
    return dependency


async def form_data(request: Request) -> dict[str, Any]:
    form = await request.form()
    return {k: v for k, v in form.items()}


def clean(value: Any, field: str, maxlen: int = 2000, required: bool = False) -> str:
    """A form field as stripped text, length-checked; raises ValueError naming the field."""
    v = value.strip() if isinstance(value, str) else ""
    if required and not v:
        raise ValueError(f"{field}: required")
    if len(v) > maxlen:
        raise ValueError(f"{field}: at most {maxlen} characters")
    return v
