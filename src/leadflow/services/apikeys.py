"""API keys: created once (the plaintext is shown only then), stored hashed, revocable.

Two kinds, told apart by their prefix:

* ``lf_ingest_<random>`` - write-only (scope ``events:write`` and nothing else). Safe to embed in a web page:
  it can add events, never read anything.
* ``lf_secret_<random>`` - scoped (any subset of the permission matrix's actions, ``*`` for all). Server-side only.

The random part is 32 bytes from :mod:`secrets`. The store keeps the SHA-256 of the whole key (a fast hash is
right for high-entropy random keys: there is no dictionary to guess from, so a slow password hash would add
latency for nothing) and the first characters for display. A key is looked up by its hash (a unique index),
and the stored hash is then compared with :func:`hmac.compare_digest` (constant time).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from leadflow.core.permissions import INGEST_SCOPES, Action, parse_scopes
from leadflow.core.timeutil import utcnow
from leadflow.store.auth_tables import ApiKey
from leadflow.store.tables import Workspace

KINDS = {"ingest": "lf_ingest_", "secret": "lf_secret_"}
PREFIX_SHOWN = 4  # random characters kept for display after the kind prefix
LAST_USED_RESOLUTION = timedelta(minutes=1)  # last_used_at is written at most this often per key


@dataclass(frozen=True)
class KeyInfo:
    id: str
    workspace_id: str
    kind: str
    name: str
    prefix: str
    scopes: frozenset[str]
    created_at: datetime
    created_by: str | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class Authenticated:
    key: KeyInfo
    workspace_slug: str


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def kind_of(plaintext: str) -> str | None:
    for kind, prefix in KINDS.items():
        if plaintext.startswith(prefix):
            return kind
    return None


def _info(row: ApiKey) -> KeyInfo:
    return KeyInfo(row.id, row.workspace_id, row.kind, row.name, row.prefix,
                   frozenset(s for s in row.scopes.split(",") if s), row.created_at, row.created_by,
                   row.last_used_at, row.revoked_at)


def create_key(session: Session, workspace_id: str, *, kind: str, name: str,
               scopes: list[str] | str | None = None, created_by: str | None = None) -> tuple[KeyInfo, str]:
    """Create a key; returns its info and the plaintext (shown once, never stored)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise ValueError("name must be 1 to 200 characters")
    if kind == "ingest":
        actions = INGEST_SCOPES if scopes in (None, "", []) else parse_scopes(scopes)  # type: ignore[arg-type]
        if actions != INGEST_SCOPES:
            raise ValueError(f"an ingest key can only hold {Action.EVENTS_WRITE.value}")
    else:
        actions = parse_scopes(scopes or [])  # type: ignore[arg-type]
        if not actions:
            raise ValueError("a secret key needs at least one scope (e.g. leads:read, or * for all)")
    plaintext = KINDS[kind] + secrets.token_urlsafe(32)
    row = ApiKey(workspace_id=workspace_id, kind=kind, name=name,
                 prefix=plaintext[:len(KINDS[kind]) + PREFIX_SHOWN], key_hash=hash_key(plaintext),
                 scopes=",".join(sorted(a.value for a in actions)), created_at=utcnow(), created_by=created_by)
    session.add(row)
    session.flush()
    return _info(row), plaintext


def list_keys(session: Session, workspace_id: str, *, include_revoked: bool = True) -> list[KeyInfo]:
    q = select(ApiKey).where(ApiKey.workspace_id == workspace_id)
    if not include_revoked:
        q = q.where(ApiKey.revoked_at.is_(None))
    return [_info(r) for r in session.scalars(q.order_by(ApiKey.created_at, ApiKey.id))]


def get_key(session: Session, workspace_id: str, key_id: str) -> KeyInfo:
    row = session.scalar(select(ApiKey).where(ApiKey.workspace_id == workspace_id, ApiKey.id == key_id))
    if row is None:
        raise LookupError(f"no API key {key_id}")
    return _info(row)


def revoke_key(session: Session, workspace_id: str, key_id: str) -> KeyInfo:
    """Revoke (idempotent). The key stops working at once in this process, within seconds elsewhere."""
    row = session.scalar(select(ApiKey).where(ApiKey.workspace_id == workspace_id, ApiKey.id == key_id))
    if row is None:
        raise LookupError(f"no API key {key_id}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()
    return _info(row)


def authenticate(session: Session, plaintext: str) -> Authenticated | None:
    """The key's info and workspace if ``plaintext`` is a valid, unrevoked key; else None."""
    if not plaintext or kind_of(plaintext) is None or len(plaintext) > 200:
        return None
    digest = hash_key(plaintext)
    row = session.execute(select(ApiKey, Workspace.slug).join(Workspace, Workspace.id == ApiKey.workspace_id)
                          .where(ApiKey.key_hash == digest)).first()
    if row is None:
        return None
    key, slug = row
    if not hmac.compare_digest(key.key_hash, digest) or key.revoked_at is not None:
        return None
    return Authenticated(_info(key), slug)


def touch(session: Session, key_id: str, now: datetime | None = None) -> None:
    """Record use (callers throttle to :data:`LAST_USED_RESOLUTION`)."""
    session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now or utcnow()))
