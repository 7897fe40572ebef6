"""Users of the web app: create, authenticate, change role or password, deactivate.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106 low-memory profile); hashes are
upgraded on login when the parameters change. Emails are stored lower-case and are unique per workspace.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from leadflow.core.permissions import Role
from leadflow.core.timeutil import utcnow
from leadflow.store.user_tables import User

MIN_PASSWORD = 10
MAX_PASSWORD = 1024
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_hasher = PasswordHasher()
# verified against when the email is unknown, so a wrong email costs as long as a wrong password
_DUMMY_HASH = _hasher.hash("leadflow-dummy-password")


class UserError(ValueError):
    """Invalid input, naming the field and the reason."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class UserInfo:
    id: str
    workspace_id: str
    email: str
    name: str
    role: Role
    active: bool
    rep_id: str | None
    created_at: datetime
    last_login_at: datetime | None
    session_stamp: str  # changes when the password changes: signs out every existing session

    @classmethod
    def of(cls, u: User) -> UserInfo:
        return cls(u.id, u.workspace_id, u.email, u.name, Role(u.role), u.active, u.rep_id, u.created_at,
                   u.last_login_at, password_stamp(u.password_hash))


def password_stamp(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def normalize_email(email: str) -> str:
    e = (email or "").strip().lower()
    if not _EMAIL.match(e) or len(e) > 320:
        raise UserError("email", f"{email!r} is not an email address")
    return e


def check_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise UserError("password", f"must be at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise UserError("password", f"must be at most {MAX_PASSWORD} characters")
    return password


def parse_role(role: str) -> Role:
    try:
        return Role(str(role).strip().lower())
    except ValueError:
        raise UserError("role", f"{role!r} is not one of {', '.join(r.value for r in Role)}") from None


def create_user(session: Session, workspace_id: str, email: str, password: str, role: Role | str, *,
                name: str = "", rep_id: str | None = None) -> UserInfo:
    e = normalize_email(email)
    r = parse_role(role)
    check_password(password)
    if len(name) > 200:
        raise UserError("name", "must be at most 200 characters")
    if get_by_email(session, workspace_id, e) is not None:
        raise UserError("email", f"a user {e} already exists in this workspace")
    u = User(workspace_id=workspace_id, email=e, name=name.strip(), role=r.value, password_hash=_hasher.hash(password),
             active=True, rep_id=rep_id, created_at=utcnow())
    session.add(u)
    session.flush()
    return UserInfo.of(u)


def get_by_email(session: Session, workspace_id: str, email: str) -> User | None:
    return session.scalar(select(User).where(User.workspace_id == workspace_id,
                                             User.email == (email or "").strip().lower()))


def get_user(session: Session, workspace_id: str, user_id: str) -> UserInfo | None:
    u = session.scalar(select(User).where(User.workspace_id == workspace_id, User.id == user_id))
    return UserInfo.of(u) if u is not None else None


def list_users(session: Session, workspace_id: str) -> list[UserInfo]:
    rows = session.scalars(select(User).where(User.workspace_id == workspace_id).order_by(User.email)).all()
    return [UserInfo.of(u) for u in rows]


def authenticate(session: Session, workspace_id: str, email: str, password: str) -> UserInfo | None:
    """The user, if the email and password match an active user; records the login time."""
    u = get_by_email(session, workspace_id, email)
    if u is None or not u.active or not password or len(password) > MAX_PASSWORD:
        try:
            _hasher.verify(_DUMMY_HASH, password or "x")
        except VerificationError:
            pass
        return None
    try:
        _hasher.verify(u.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(u.password_hash):
        u.password_hash = _hasher.hash(password)
    u.last_login_at = utcnow()
    session.flush()
    return UserInfo.of(u)


def _require(session: Session, workspace_id: str, email: str) -> User:
    u = get_by_email(session, workspace_id, email)
    if u is None:
        raise UserError("email", f"no user {email!r} in this workspace")
    return u


def set_password(session: Session, workspace_id: str, email: str, password: str) -> UserInfo:
    u = _require(session, workspace_id, email)
    u.password_hash = _hasher.hash(check_password(password))
    session.flush()
    return UserInfo.of(u)


def set_role(session: Session, workspace_id: str, email: str, role: Role | str) -> UserInfo:
    u = _require(session, workspace_id, email)
    u.role = parse_role(role).value
    session.flush()
    return UserInfo.of(u)


def set_active(session: Session, workspace_id: str, email: str, active: bool) -> UserInfo:
    u = _require(session, workspace_id, email)
    u.active = active
    session.flush()
    return UserInfo.of(u)
