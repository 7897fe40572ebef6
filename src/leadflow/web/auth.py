"""Web sessions: a signed login cookie, CSRF tokens, and the one role check every screen goes through.

* The session cookie (``lf_session``) holds ``{uid, csrf, stamp}`` signed with itsdangerous (HMAC-SHA1 over a
  key derived from ``settings.secret_key``), HttpOnly, SameSite=Lax, ``Secure`` when served over HTTPS. It
  expires after :data:`SESSION_MAX_AGE`; ``stamp`` is derived from the password hash, so changing a password
  signs out every session of that user, and a deactivated user is refused at the next request.
* CSRF: every state-changing request must carry the session's token, as the ``csrf_token`` form field or the
  ``X-CSRF-Token`` header (HTMX requests send it from the page's ``<meta name="csrf-token">``). The login form
  itself uses a short-lived signed pre-session token (double submit: cookie + field).
* Roles: :func:`need` is the one dependency; it asks ``leadflow.core.permissions.role_allows``.
"""

from __future__ import annotations

import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from leadflow.core.permissions import Action, Role, role_allows
from leadflow.services import users as users_svc
from leadflow.settings import Settings

SESSION_COOKIE = "lf_session"
LOGIN_CSRF_COOKIE = "lf_login_csrf"
SESSION_MAX_AGE = 12 * 3600
LOGIN_CSRF_MAX_AGE = 3600
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def secret_key(settings: Settings, var_dir: str | os.PathLike[str] = "var") -> str:
    """``settings.secret_key``, or a random key generated once and kept in ``var/secret_key`` (mode 0600)."""
    if settings.secret_key:
        return settings.secret_key
    path = Path(var_dir) / "secret_key"
    if path.exists():
        key = path.read_text(encoding="utf-8").strip()
        if key:
            return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as fh:
        fh.write(key)
    return key


@dataclass(frozen=True)
class WebSession:
    user_id: str
    csrf: str
    stamp: str


@dataclass(frozen=True)
class WebUser:
    """The signed-in user of this request."""

    id: str
    workspace_id: str
    email: str
    name: str
    role: Role
    rep_id: str | None
    csrf: str

    def can(self, action: Action | str) -> bool:
        return role_allows(self.role, action)

    @property
    def display(self) -> str:
        return self.name or self.email


class Signer:
    def __init__(self, key: str) -> None:
        self.session = URLSafeTimedSerializer(key, salt="leadflow.web.session")
        self.login = URLSafeTimedSerializer(key, salt="leadflow.web.login-csrf")

    def dump_session(self, s: WebSession) -> str:
        return self.session.dumps({"uid": s.user_id, "csrf": s.csrf, "stamp": s.stamp})

    def load_session(self, value: str | None) -> WebSession | None:
        if not value:
            return None
        try:
            data: Any = self.session.loads(value, max_age=SESSION_MAX_AGE)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in ("uid", "csrf", "stamp")):
            return None
        return WebSession(data["uid"], data["csrf"], data["stamp"])

    def new_login_token(self) -> tuple[str, str]:
        """(token for the form field, signed value for the cookie)."""
        token = secrets.token_urlsafe(24)
        return token, self.login.dumps(token)

    def check_login_token(self, cookie: str | None, field: str | None) -> bool:
        if not cookie or not field:
            return False
        try:
            token = self.login.loads(cookie, max_age=LOGIN_CSRF_MAX_AGE)
        except BadSignature:
            return False
        return isinstance(token, str) and hmac.compare_digest(token, field)


def new_session(user: users_svc.UserInfo) -> WebSession:
    return WebSession(user.id, secrets.token_urlsafe(24), user.session_stamp)


def load_user(request: Request, session: Session, signer: Signer, workspace_id: str | None = None) -> WebUser | None:
    """The active user named by the request's session cookie, or None."""
    ws = signer.load_session(request.cookies.get(SESSION_COOKIE))
    if ws is None:
        return None
    from leadflow.store.user_tables import User

    u = session.get(User, ws.user_id)
    if u is None or not u.active or (workspace_id is not None and u.workspace_id != workspace_id):
        return None
    if not hmac.compare_digest(users_svc.password_stamp(u.password_hash), ws.stamp):
        return None
    return WebUser(u.id, u.workspace_id, u.email, u.name, Role(u.role), u.rep_id, ws.csrf)


def csrf_valid(request: Request, user: WebUser, form_token: str | None = None) -> bool:
    token = request.headers.get(CSRF_HEADER) or form_token
    return bool(token) and hmac.compare_digest(str(token), user.csrf)


def principal_from_request(request: Request, session: Session):  # noqa: ANN201 - Principal | None
    """For the API's auth dependency: the Principal of a signed-in web user, or None.

    A cookie-authenticated state-changing request must carry the CSRF header (``X-CSRF-Token``); without a
    valid one this returns None (the API then answers 401/403 as for no credentials).
    """
    from leadflow.api.deps import Principal

    signer: Signer | None = getattr(request.app.state, "web_signer", None)
    if signer is None:
        return None
    workspace_id = getattr(request.app.state, "web_workspace_id", None)
    user = load_user(request, session, signer, workspace_id)
    if user is None:
        return None
    if request.method not in SAFE_METHODS and not csrf_valid(request, user):
        return None
    slug = getattr(getattr(request.app.state, "web", None), "workspace_slug", "")
    return Principal(user.workspace_id, slug, user.id, "user", user.role)
