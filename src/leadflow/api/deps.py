"""Request dependencies: the database session (one transaction), who is calling, and what they may do.

Routers use them as annotated parameters::

    @router.get("/leads/{lead_id}")
    def get_lead(lead_id: str, session: SessionDep, who: Allowed[Action.LEADS_READ]): ...

Credentials, in this order: ``Authorization: Bearer <key>``; Segment-style ``Authorization: Basic`` with the key
as the user name; a logged-in web user (``leadflow.web.auth.principal_from_request``, when the web app is
installed). The ingest endpoints also accept a ``writeKey`` member in the JSON body (``sendBeacon`` cannot set
headers); they call :func:`principal_for_key` themselves. No credentials: 401. Not allowed: 403. Every query a
router makes filters on ``principal.workspace_id``, so another workspace's rows are simply not found (404).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import importlib
import importlib.util
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from leadflow.api.problems import Problem
from leadflow.core.permissions import Action, Role, role_allows, scopes_allow
from leadflow.core.timeutil import utcnow
from leadflow.services import apikeys

if TYPE_CHECKING:
    from leadflow.store.db import Database

log = logging.getLogger("leadflow.api")

KEY_CACHE_SECONDS = 5.0  # a revoked key stops working at once in this process, within this delay in others


@dataclass(frozen=True)
class Principal:
    """Who is calling: a web user (with a role) or an API key (with scopes), always within one workspace."""

    workspace_id: str
    workspace_slug: str
    actor_id: str
    kind: Literal["user", "key"]
    role: Role | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)

    def allows(self, action: Action | str) -> bool:
        if self.kind == "user":
            return self.role is not None and role_allows(self.role, action)
        return scopes_allow(self.scopes, action)


# ------------------------------------------------------------------------------------------ sessions
def get_db(request: Request) -> Database:
    return request.app.state.db


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the route returns, rolled back if it raises."""
    with request.app.state.db.session() as s:
        yield s


SessionDep = Annotated[Session, Depends(get_session)]


# ------------------------------------------------------------------------------------------ API keys
class KeyCache:
    """Authenticated keys by hash for a few seconds, and last_used_at throttling.

    For the async ingest path (:func:`principal_for_key_async`) it also holds the store lookups in flight, by
    key hash: requests that miss at the same moment share one lookup, and a key in the second half of its
    cache life is re-checked once in the background while requests go on with the cached answer.
    """

    def __init__(self, ttl: float = KEY_CACHE_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.now = clock
        self._items: dict[str, tuple[float, apikeys.Authenticated]] = {}
        self._touched: dict[str, float] = {}
        self._lock = threading.Lock()
        self.generation = 0  # bumped by forget(): a lookup that started before a revocation caches nothing
        self._pending: dict[tuple[int, str], asyncio.Future] = {}  # (event loop, digest) -> lookup in flight

    def entry(self, digest: str) -> tuple[float, apikeys.Authenticated] | None:
        """``(expires, auth)`` while the key is cached and not expired."""
        hit = self._items.get(digest)
        if hit is None or hit[0] < self.now():
            return None
        return hit

    def get(self, digest: str) -> apikeys.Authenticated | None:
        hit = self.entry(digest)
        return hit[1] if hit is not None else None

    def put(self, digest: str, auth: apikeys.Authenticated, generation: int | None = None) -> None:
        """Cache ``auth``; with ``generation`` (read before the lookup), only if no key was forgotten since."""
        with self._lock:
            if generation is not None and generation != self.generation:
                return
            if len(self._items) > 10_000:
                self._items.clear()
            self._items[digest] = (self.now() + self.ttl, auth)

    def drop(self, digest: str) -> None:
        with self._lock:
            self._items.pop(digest, None)

    def forget(self, key_id: str) -> None:
        with self._lock:
            self.generation += 1
            for digest in [d for d, (_, a) in self._items.items() if a.key.id == key_id]:
                del self._items[digest]

    def lookup(self, digest: str, fn: Callable[[], apikeys.Authenticated | None]) -> asyncio.Future:
        """The lookup of ``digest`` in flight on this event loop, or ``fn`` started in the thread pool."""
        loop = asyncio.get_running_loop()
        slot = (id(loop), digest)
        fut = self._pending.get(slot)
        if fut is None:
            fut = asyncio.ensure_future(run_in_threadpool(fn))
            self._pending[slot] = fut
            fut.add_done_callback(lambda f: (self._pending.pop(slot, None), _log_lookup_error(f)))
        return fut

    def needs_touch(self, key_id: str) -> bool:
        now = time.monotonic()
        with self._lock:
            if now - self._touched.get(key_id, -1e9) < apikeys.LAST_USED_RESOLUTION.total_seconds():
                return False
            self._touched[key_id] = now
            return True


def _principal(auth: apikeys.Authenticated) -> Principal:
    return Principal(auth.key.workspace_id, auth.workspace_slug, f"key:{auth.key.id}", "key", None,
                     auth.key.scopes)


def _log_lookup_error(fut: asyncio.Future) -> None:
    if not fut.cancelled() and fut.exception() is not None:
        log.warning("API key lookup failed: %s", fut.exception())


def _invalid_key() -> Problem:
    return Problem(401, "the API key is invalid or revoked", headers={"WWW-Authenticate": "Bearer"})


def _store_lookup(request: Request, plaintext: str, digest: str, session: Session | None = None
                  ) -> apikeys.Authenticated | None:
    """Authenticate against the store (in ``session``, or one of its own) and cache the answer: a valid key is
    cached (unless a key was forgotten meanwhile), an invalid or revoked one dropped from the cache."""
    cache: KeyCache = request.app.state.key_cache
    generation = cache.generation
    if session is not None:
        auth = apikeys.authenticate(session, plaintext)
    else:
        with request.app.state.db.session() as s:
            auth = apikeys.authenticate(s, plaintext)
    if auth is None:
        cache.drop(digest)
    else:
        cache.put(digest, auth, generation)
    return auth


def _touch(request: Request, auth: apikeys.Authenticated) -> None:
    """Record the key's use, at most once per ``LAST_USED_RESOLUTION`` per process."""
    if request.app.state.key_cache.needs_touch(auth.key.id):
        with request.app.state.db.session() as s:
            apikeys.touch(s, auth.key.id, utcnow())


def _recheck(request: Request, plaintext: str, digest: str) -> apikeys.Authenticated | None:
    """The async path's store lookup (in a worker thread): :func:`_store_lookup`, then the use recorded."""
    auth = _store_lookup(request, plaintext, digest)
    if auth is not None:
        _touch(request, auth)
    return auth


async def principal_for_key_async(request: Request, plaintext: str) -> Principal:
    """Authenticate a key on the event loop (the ingest endpoints); 401 problem when invalid or revoked.

    A cached key answers at once. In the second half of its cache life, one re-check against the store starts
    in the background and requests go on with the cached answer, so under steady traffic no request waits for
    the store (a revocation still takes effect at once in this process, and within the cache life in others).
    On a miss, every request that misses before the lookup ends shares that one lookup: when the entry
    expired at 1,000 req/s, each request in that moment used to query the store from the thread pool."""
    cache: KeyCache = request.app.state.key_cache
    digest = apikeys.hash_key(plaintext)
    hit = cache.entry(digest)
    if hit is not None:
        if hit[0] - cache.now() < cache.ttl / 2:
            cache.lookup(digest, lambda: _recheck(request, plaintext, digest))
        return _principal(hit[1])
    auth = await asyncio.shield(cache.lookup(digest, lambda: _recheck(request, plaintext, digest)))
    if auth is None:
        raise _invalid_key()
    return _principal(auth)


def principal_for_key(request: Request, plaintext: str, session: Session | None = None) -> Principal:
    """Authenticate a key (cache, then the store); 401 problem when invalid or revoked."""
    digest = apikeys.hash_key(plaintext)
    auth = request.app.state.key_cache.get(digest) or _store_lookup(request, plaintext, digest, session)
    if auth is None:
        raise _invalid_key()
    _touch(request, auth)
    return _principal(auth)


def credentials(request: Request) -> str | None:
    """The key in the Authorization header (Bearer, or Basic with the key as user name), if any."""
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return value
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise Problem(401, "malformed Basic credentials", headers={"WWW-Authenticate": "Bearer"}) from None
        user = decoded.partition(":")[0]
        return user or None
    raise Problem(401, f"unsupported authorization scheme {scheme!r}; use Bearer <key>",
                  headers={"WWW-Authenticate": "Bearer"})


_WEB_AUTH: list[Callable[..., Any] | None] = []


def _web_principal_fn() -> Callable[..., Any] | None:
    if not _WEB_AUTH:
        fn = None
        if importlib.util.find_spec("leadflow.web") and importlib.util.find_spec("leadflow.web.auth"):
            fn = getattr(importlib.import_module("leadflow.web.auth"), "principal_from_request", None)
        _WEB_AUTH.append(fn)
    return _WEB_AUTH[0]


def current_principal(request: Request, session: SessionDep) -> Principal:
    key = credentials(request)
    if key is not None:
        return principal_for_key(request, key, session)
    fn = _web_principal_fn()
    if fn is not None:
        who = fn(request, session)
        if who is not None:
            return who
    raise Problem(401, "authentication required: send Authorization: Bearer <API key>",
                  headers={"WWW-Authenticate": "Bearer"})


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def require(action: Action) -> Callable[[Principal], Principal]:
    """A dependency returning the caller if they may do ``action``; 401 without credentials, else 403."""

    def dependency(principal: PrincipalDep) -> Principal:
        if not principal.allows(action):
            who = f"role {principal.role.value}" if principal.role else "this API key"
            raise Problem(403, f"{who} may not {action.value}", action=action.value)
        return principal

    dependency.__name__ = f"require_{action.name.lower()}"
    return dependency


_ALLOWED: dict[Action, Any] = {}


class _AllowedAlias:
    """``Allowed[Action.LEADS_READ]`` == ``Annotated[Principal, Depends(require(Action.LEADS_READ))]``."""

    def __getitem__(self, action: Action) -> Any:
        if action not in _ALLOWED:
            _ALLOWED[action] = Annotated[Principal, Depends(require(action))]
        return _ALLOWED[action]


Allowed = _AllowedAlias()

EventsWrite = Allowed[Action.EVENTS_WRITE]
LeadsRead = Allowed[Action.LEADS_READ]
LeadsWrite = Allowed[Action.LEADS_WRITE]
LeadsStage = Allowed[Action.LEADS_STAGE]
LeadsExport = Allowed[Action.LEADS_EXPORT]
AccountsRead = Allowed[Action.ACCOUNTS_READ]
AccountsWrite = Allowed[Action.ACCOUNTS_WRITE]
ImportsWrite = Allowed[Action.IMPORTS_WRITE]
OutcomesWrite = Allowed[Action.OUTCOMES_WRITE]
ModelsRead = Allowed[Action.MODELS_READ]
ModelsWrite = Allowed[Action.MODELS_WRITE]
ModelsActivate = Allowed[Action.MODELS_ACTIVATE]
KeysManage = Allowed[Action.KEYS_MANAGE]
