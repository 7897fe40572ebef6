"""Webhooks: subscriptions, a transactional outbox and a delivery worker.

* :func:`on_signals` is a domain-signal subscriber (``signals.SUBSCRIBERS``): for every signal a workspace's
  active subscriptions ask for, it writes one outbox row *in the same transaction* as the change (a
  rolled-back ingest leaves no row). With no subscription it costs one small indexed query.
* :func:`deliver_due` / :class:`Worker` claim due rows (``FOR UPDATE SKIP LOCKED`` plus a short lease on
  PostgreSQL, so two workers never send the same row at once; on SQLite run one worker), POST the payload
  signed Stripe-style (``X-Leadflow-Signature: t=<unix>,v1=<hex hmac-sha256(secret, "<t>.<body>")>``) with
  ``X-Leadflow-Event-Id``, log every attempt, and retry failures with exponential backoff and full jitter
  until ``max_attempts`` or ``max_age``, after which the row is marked failed. :func:`replay` re-queues it.

Delivery is at-least-once: a receiver may see an event twice (a timeout after it stored it, a worker that
died after sending) and must deduplicate on the event id, which is the same on every retry and replay.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import os
import random
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import httpx
from prometheus_client import Counter
from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from leadflow.core.timeutil import as_utc, utcnow
from leadflow.services.loops import Loop
from leadflow.services.signals import KINDS, Signal
from leadflow.store.db import Database
from leadflow.store.tables import Lead, ScoreState, Workspace, new_id
from leadflow.store.webhook_tables import (
    FAILED,
    PENDING,
    SUCCEEDED,
    WebhookDelivery,
    WebhookOutbox,
    WebhookSubscription,
)

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Leadflow-Signature"
EVENT_ID_HEADER = "X-Leadflow-Event-Id"
EVENT_KIND_HEADER = "X-Leadflow-Event"
ATTEMPT_HEADER = "X-Leadflow-Delivery-Attempt"
USER_AGENT = "leadflow-webhooks/1"
#: a receiver should refuse signatures older than this (replay protection); see docs/webhooks.md
DEFAULT_TOLERANCE = 300
MAX_URL = 2000
SNIPPET = 500  # characters of the receiver's answer kept per attempt

ATTEMPTS = Counter("leadflow_webhook_delivery_attempts_total",
                   "Webhook delivery attempts by result (success, retry = failed and will be retried, "
                   "failed = failed for good).", ["result"])
FAILURES = Counter("leadflow_webhook_delivery_failures_total",
                   "Webhook delivery attempts that did not get a 2xx answer (retried or not).")


class WebhookError(ValueError):
    """Invalid webhook input; ``field`` names what is wrong."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


# ------------------------------------------------------------------------------------------ policy
@dataclass(frozen=True)
class RetryPolicy:
    """How deliveries are retried and sent. Defaults: 10 attempts within 3 days, 10 s doubling to 1 h."""

    max_attempts: int = 10
    max_age: timedelta = timedelta(hours=72)
    base_delay: float = 10.0
    max_delay: float = 3600.0
    timeout: float = 10.0          # seconds per HTTP attempt
    lease: float = 120.0           # seconds a claimed row is reserved for one worker (> timeout)
    allow_private: bool = False    # allow receivers on loopback / private / link-local addresses

    @classmethod
    def from_settings(cls, settings: Any) -> RetryPolicy:
        """Read the ``webhook_*`` settings when present (defaults otherwise)."""
        kw: dict[str, Any] = {}
        for name, attr in (("max_attempts", "webhook_max_attempts"), ("timeout", "webhook_timeout_seconds"),
                           ("allow_private", "webhook_allow_private_urls")):
            if hasattr(settings, attr):
                kw[name] = getattr(settings, attr)
        if hasattr(settings, "webhook_max_age_hours"):
            kw["max_age"] = timedelta(hours=settings.webhook_max_age_hours)
        return cls(**kw)


def backoff_ceiling(attempt: int, base: float, cap: float) -> float:
    """The upper bound of the wait after the ``attempt``-th failure: ``min(cap, base * 2**(attempt-1))``."""
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    return min(cap, base * 2.0 ** min(attempt - 1, 64))


def backoff_delay(attempt: int, base: float, cap: float, rand: Callable[[], float] = random.random) -> float:
    """Exponential backoff with full jitter: uniform in ``[0, backoff_ceiling(attempt))``.

    Full jitter spreads the retries of many deliveries that failed together (a receiver outage) instead
    of sending them back in waves; ``rand`` returns a float in [0, 1).
    """
    return backoff_ceiling(attempt, base, cap) * rand()


# ------------------------------------------------------------------------------------------ signing
def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header value: ``t=<timestamp>,v1=<hex hmac-sha256(secret, "<t>.<body>")>``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(secret: str, body: bytes, header: str, *, tolerance: int = DEFAULT_TOLERANCE,
                     now: float | None = None) -> None:
    """Check a signature header as a receiver should; raises :class:`WebhookError` saying why it fails."""
    parts: dict[str, list[str]] = {}
    for item in (header or "").split(","):
        k, _, v = item.strip().partition("=")
        if k and v:
            parts.setdefault(k, []).append(v)
    try:
        t = int(parts["t"][0])
    except (KeyError, ValueError):
        raise WebhookError("signature", "no valid t=<unix time> in the header") from None
    if not parts.get("v1"):
        raise WebhookError("signature", "no v1=<hmac> in the header")
    now = time.time() if now is None else now
    if tolerance and abs(now - t) > tolerance:
        raise WebhookError("signature", f"timestamp is {int(abs(now - t))} s away from now (tolerance {tolerance} s)")
    expected = sign(secret, body, t).rpartition("v1=")[2]
    if not any(hmac.compare_digest(expected, v) for v in parts["v1"]):
        raise WebhookError("signature", "does not match the body and secret")


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


# ------------------------------------------------------------------------------------ subscriptions
_BLOCKED_NAMES = ("localhost", "localhost.localdomain")
_BLOCKED_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain")


def _ip_is_private(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
            or ip.is_unspecified)


def validate_url(url: str, *, allow_private: bool = False) -> str:
    """An absolute http(s) URL without credentials; loopback/private hosts only when ``allow_private``.

    Host names are not resolved here (the worker checks the resolved address before each attempt).
    """
    if not isinstance(url, str) or not url.strip():
        raise WebhookError("url", "is required")
    url = url.strip()
    if len(url) > MAX_URL:
        raise WebhookError("url", f"is longer than {MAX_URL} characters")
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise WebhookError("url", "contains whitespace or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise WebhookError("url", f"is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise WebhookError("url", "must start with https:// (or http://)")
    host = (parts.hostname or "").lower()
    if not host:
        raise WebhookError("url", "has no host")
    if parts.username or parts.password:
        raise WebhookError("url", "must not carry a user name or password (the signature authenticates)")
    if port == 0:
        raise WebhookError("url", "port 0 is not valid")
    if parts.fragment:
        raise WebhookError("url", "must not have a #fragment")
    if not allow_private:
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            ip = None
        if (ip is not None and _ip_is_private(ip)) or host in _BLOCKED_NAMES or host.endswith(_BLOCKED_SUFFIXES):
            raise WebhookError("url", "points to a loopback, private or local address; allowed only when the "
                                      "webhook_allow_private_urls setting is on")
    return url


def validate_events(events: Iterable[str] | str) -> list[str]:
    """Signal kinds (``lead.mql,stage.changed``) or ``*`` for all; unknown kinds are refused by name."""
    items = events.split(",") if isinstance(events, str) else list(events)
    out: list[str] = []
    for raw in items:
        k = str(raw).strip()
        if not k:
            continue
        if k != "*" and k not in KINDS:
            raise WebhookError("events", f"unknown event kind {k!r}; known: {', '.join(KINDS)} (or *)")
        if k not in out:
            out.append(k)
    if not out:
        raise WebhookError("events", "name at least one event kind (or *)")
    return ["*"] if "*" in out else out


def create_subscription(session: Session, workspace_id: str, url: str, events: Iterable[str] | str, *,
                        description: str | None = None, secret: str | None = None, active: bool = True,
                        allow_private: bool = False) -> WebhookSubscription:
    if secret is not None and len(secret) < 16:
        raise WebhookError("secret", "must be at least 16 characters (or leave it out to get a generated one)")
    if description is not None and len(description) > 500:
        raise WebhookError("description", "is longer than 500 characters")
    now = utcnow()
    sub = WebhookSubscription(id=new_id(), workspace_id=workspace_id, url=validate_url(url, allow_private=allow_private),
                              secret=secret or new_secret(), events=validate_events(events), description=description,
                              active=active, created_at=now, updated_at=now)
    session.add(sub)
    session.flush()
    return sub


def get_subscription(session: Session, workspace_id: str, subscription_id: str) -> WebhookSubscription:
    sub = session.scalar(select(WebhookSubscription).where(WebhookSubscription.workspace_id == workspace_id,
                                                           WebhookSubscription.id == subscription_id))
    if sub is None:
        raise LookupError(f"no webhook subscription {subscription_id}")
    return sub


def list_subscriptions(session: Session, workspace_id: str) -> list[WebhookSubscription]:
    return list(session.scalars(select(WebhookSubscription).where(WebhookSubscription.workspace_id == workspace_id)
                                .order_by(WebhookSubscription.created_at, WebhookSubscription.id)))


def update_subscription(session: Session, workspace_id: str, subscription_id: str, *, url: str | None = None,
                        events: Iterable[str] | str | None = None, active: bool | None = None,
                        description: str | None = None, rotate_secret: bool = False,
                        allow_private: bool = False) -> WebhookSubscription:
    sub = get_subscription(session, workspace_id, subscription_id)
    if url is not None:
        sub.url = validate_url(url, allow_private=allow_private)
    if events is not None:
        sub.events = validate_events(events)
    if active is not None:
        sub.active = bool(active)
    if description is not None:
        if len(description) > 500:
            raise WebhookError("description", "is longer than 500 characters")
        sub.description = description
    if rotate_secret:
        sub.secret = new_secret()
    sub.updated_at = utcnow()
    session.flush()
    return sub


def delete_subscription(session: Session, workspace_id: str, subscription_id: str) -> None:
    """Delete a subscription with its outbox rows and delivery log."""
    sub = get_subscription(session, workspace_id, subscription_id)
    ids = select(WebhookOutbox.id).where(WebhookOutbox.subscription_id == sub.id).scalar_subquery()
    session.execute(delete(WebhookDelivery).where(WebhookDelivery.outbox_id.in_(ids)))
    session.execute(delete(WebhookOutbox).where(WebhookOutbox.subscription_id == sub.id))
    session.delete(sub)
    session.flush()


def mask_secret(secret: str) -> str:
    return secret[:10] + "…" if len(secret) > 10 else "…"


# ------------------------------------------------------------------------------------------- outbox
def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return _jsonable(value.value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def iso(value: datetime) -> str:
    return as_utc(value).isoformat().replace("+00:00", "Z")


def _wants(events: Sequence[str], kind: str) -> bool:
    return "*" in events or kind in events


@cache
def _active_subscriptions_stmt() -> Any:
    """Built once (bound parameter ``ws``): it runs in every ingest transaction that creates a lead."""
    sub = WebhookSubscription.__table__.c  # table columns: a Core select skips the ORM's bookkeeping
    return select(sub.id, sub.events).where(sub.workspace_id == bindparam("ws"), sub.active.is_(True))


def on_signals(session: Session, workspace_id: str, signals: Sequence[Signal]) -> None:
    """Signals subscriber: one outbox row per (signal, matching active subscription), in this transaction."""
    if not signals:
        return None
    subs = session.execute(_active_subscriptions_stmt(), {"ws": workspace_id}).all()
    if not subs:
        return None
    wanted = [(sig, [sid for sid, events in subs if _wants(events or [], sig.kind)]) for sig in signals]
    wanted = [(sig, sids) for sig, sids in wanted if sids]
    if not wanted:
        return None
    ws = session.get(Workspace, workspace_id)
    leads = lead_summaries(session, workspace_id, sorted({sig.lead_id for sig, _ in wanted if sig.lead_id}))
    now = utcnow()
    rows = []
    for sig, sids in wanted:
        event_id = "evt_" + new_id()
        payload = {"id": event_id, "kind": sig.kind, "occurred_at": iso(sig.at), "created_at": iso(now),
                   "workspace": {"id": workspace_id, "slug": ws.slug if ws else None},
                   "lead": leads.get(sig.lead_id) if sig.lead_id else None, "data": _jsonable(sig.data)}
        for sid in sids:
            rows.append({"id": new_id(), "workspace_id": workspace_id, "subscription_id": sid, "event_id": event_id,
                         "kind": sig.kind, "lead_id": sig.lead_id, "payload": payload, "status": PENDING,
                         "attempts": 0, "cycle_attempts": 0, "cycle_started_at": now, "next_attempt_at": now,
                         "created_at": now})
    session.execute(WebhookOutbox.__table__.insert(), rows)
    return None


def lead_summaries(session: Session, workspace_id: str, lead_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """id, email, stage, status, owner and scores (per active model) of these leads, as sent in payloads."""
    out: dict[str, dict[str, Any]] = {}
    for i in range(0, len(lead_ids), 500):
        part = lead_ids[i:i + 500]
        for lead in session.scalars(select(Lead).where(Lead.workspace_id == workspace_id, Lead.id.in_(part))):
            out[lead.id] = {"id": lead.id, "email": lead.email, "stage": lead.stage, "lead_status": lead.lead_status,
                            "owner": lead.owner, "account_id": lead.account_id, "scores": {}}
        for st in session.scalars(select(ScoreState).where(ScoreState.workspace_id == workspace_id,
                                                          ScoreState.lead_id.in_(part))):
            if st.lead_id in out:
                out[st.lead_id]["scores"][st.model_key] = {
                    "fit": round(st.fit, 4), "grade": st.grade, "engagement": round(st.engagement, 4),
                    "scored_at": iso(st.scored_at) if st.scored_at else None}
    return out


def body_of(payload: Mapping[str, Any]) -> bytes:
    """The exact bytes POSTed (and signed): compact JSON with sorted keys, UTF-8."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def list_outbox(session: Session, workspace_id: str, *, status: str | None = None,
                subscription_id: str | None = None, limit: int = 50,
                after: tuple[datetime, str] | None = None) -> list[WebhookOutbox]:
    """Deliveries (outbox rows), newest first; ``after`` = (created_at, id) of the last row of the previous page."""
    if status is not None and status not in (PENDING, SUCCEEDED, FAILED):
        raise WebhookError("status", f"must be one of {PENDING}, {SUCCEEDED}, {FAILED}")
    q = select(WebhookOutbox).where(WebhookOutbox.workspace_id == workspace_id)
    if status:
        q = q.where(WebhookOutbox.status == status)
    if subscription_id:
        q = q.where(WebhookOutbox.subscription_id == subscription_id)
    if after is not None:
        at, last_id = after
        q = q.where((WebhookOutbox.created_at < at) | ((WebhookOutbox.created_at == at) & (WebhookOutbox.id < last_id)))
    q = q.order_by(WebhookOutbox.created_at.desc(), WebhookOutbox.id.desc()).limit(max(1, min(limit, 500)))
    return list(session.scalars(q))


def get_outbox(session: Session, workspace_id: str, outbox_id: str) -> WebhookOutbox:
    row = session.scalar(select(WebhookOutbox).where(WebhookOutbox.workspace_id == workspace_id,
                                                     WebhookOutbox.id == outbox_id))
    if row is None:
        raise LookupError(f"no webhook delivery {outbox_id}")
    return row


def attempts_of(session: Session, workspace_id: str, outbox_id: str) -> list[WebhookDelivery]:
    """The delivery log of one outbox row: one row per attempt, in order."""
    return list(session.scalars(select(WebhookDelivery).where(
        WebhookDelivery.workspace_id == workspace_id, WebhookDelivery.outbox_id == outbox_id)
        .order_by(WebhookDelivery.attempt, WebhookDelivery.started_at)))


def replay(session: Session, workspace_id: str, outbox_id: str, now: datetime | None = None) -> WebhookOutbox:
    """Re-queue a failed (or already delivered) delivery now, with a fresh retry budget and the same event id."""
    row = get_outbox(session, workspace_id, outbox_id)
    if row.status == PENDING:
        raise WebhookError("status", "this delivery is still pending; it will be retried on its own")
    now = now or utcnow()
    row.status, row.cycle_attempts, row.cycle_started_at, row.next_attempt_at = PENDING, 0, now, now
    row.locked_by = row.locked_until = None
    session.flush()
    return row


def counts(session: Session, workspace_id: str) -> dict[str, int]:
    rows = session.execute(select(WebhookOutbox.status, func.count()).where(
        WebhookOutbox.workspace_id == workspace_id).group_by(WebhookOutbox.status)).all()
    return {PENDING: 0, SUCCEEDED: 0, FAILED: 0, **{s: n for s, n in rows}}


# ----------------------------------------------------------------------------------------- delivery
@dataclass
class Claimed:
    id: str
    workspace_id: str
    subscription_id: str
    event_id: str
    kind: str
    payload: dict[str, Any]
    attempts: int
    cycle_attempts: int
    cycle_started_at: datetime
    url: str
    secret: str


@dataclass
class Attempt:
    success: bool
    status_code: int | None
    error: str | None
    snippet: str | None
    duration_ms: float


@dataclass
class DeliveryRun:
    claimed: int = 0
    succeeded: int = 0
    retrying: int = 0
    failed: int = 0
    outbox_ids: list[str] = field(default_factory=list)


def claim_due(database: Database, now: datetime, limit: int, worker_id: str, policy: RetryPolicy) -> list[Claimed]:
    """Reserve up to ``limit`` due rows for this worker, in one short transaction.

    The lease covers sending them all one after the other (``lease`` + ``timeout`` per row); a worker that
    dies leaves its rows to be claimed again when the lease runs out.
    """
    with database.session() as s:
        q = (select(WebhookOutbox, WebhookSubscription.url, WebhookSubscription.secret)
             .join(WebhookSubscription, WebhookSubscription.id == WebhookOutbox.subscription_id)
             .where(WebhookOutbox.status == PENDING, WebhookOutbox.next_attempt_at <= now,
                    (WebhookOutbox.locked_until.is_(None)) | (WebhookOutbox.locked_until < now),
                    WebhookSubscription.active.is_(True))
             .order_by(WebhookOutbox.next_attempt_at, WebhookOutbox.id).limit(limit))
        if s.get_bind().dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True, of=WebhookOutbox)
        out = []
        for row, url, secret in s.execute(q).all():
            out.append(Claimed(row.id, row.workspace_id, row.subscription_id, row.event_id, row.kind,
                               dict(row.payload), row.attempts, row.cycle_attempts, as_utc(row.cycle_started_at),
                               url, secret))
        if not out:
            return out
        # the lease is taken only where it is still free: on PostgreSQL the rows are locked anyway; on SQLite
        # (no row locks, the SELECT runs before the write transaction) this keeps a second worker from taking
        # the same rows
        got = set(s.scalars(
            update(WebhookOutbox)
            .where(WebhookOutbox.id.in_([c.id for c in out]), WebhookOutbox.status == PENDING,
                   (WebhookOutbox.locked_until.is_(None)) | (WebhookOutbox.locked_until < now))
            .values(locked_by=worker_id,
                    locked_until=now + timedelta(seconds=policy.lease + policy.timeout * len(out)))
            .returning(WebhookOutbox.id), execution_options={"synchronize_session": False}))
        return [c for c in out if c.id in got]


def _destination_error(url: str) -> str | None:
    """Why this URL must not be called when private destinations are not allowed (resolved addresses)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        infos = socket.getaddrinfo(host, parts.port or (443 if parts.scheme == "https" else 80),
                                   type=socket.SOCK_STREAM)
    except OSError as exc:
        return f"cannot resolve {host}: {exc}"
    for info in infos:
        ip = ipaddress.ip_address(info[4][0].split("%")[0])
        if _ip_is_private(ip):
            return f"{host} resolves to {ip}, a loopback/private/link-local address (not allowed)"
    return None


def send(client: httpx.Client, item: Claimed, policy: RetryPolicy) -> Attempt:
    """POST one signed delivery and say how it went (never raises for network errors)."""
    body = body_of(item.payload)
    start = time.perf_counter()
    if not policy.allow_private:
        problem = _destination_error(item.url)
        if problem:
            return Attempt(False, None, problem, None, (time.perf_counter() - start) * 1000)
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, EVENT_ID_HEADER: item.event_id,
               EVENT_KIND_HEADER: item.kind, ATTEMPT_HEADER: str(item.attempts + 1),
               SIGNATURE_HEADER: sign(item.secret, body, int(time.time()))}
    try:
        resp = client.post(item.url, content=body, headers=headers, timeout=policy.timeout)
    except httpx.HTTPError as exc:
        return Attempt(False, None, f"{type(exc).__name__}: {exc}"[:1000], None, (time.perf_counter() - start) * 1000)
    ms = (time.perf_counter() - start) * 1000
    try:
        snippet = resp.text[:SNIPPET]
    except Exception:  # noqa: BLE001 - undecodable body
        snippet = None
    ok = 200 <= resp.status_code < 300
    return Attempt(ok, resp.status_code, None if ok else f"HTTP {resp.status_code}", snippet, ms)


def record(database: Database, item: Claimed, result: Attempt, now: datetime, policy: RetryPolicy,
           worker_id: str, rand: Callable[[], float] = random.random) -> str:
    """Log the attempt and move the row on: succeeded, pending again (with its next time) or failed."""
    attempt_no = item.attempts + 1
    cycle = item.cycle_attempts + 1
    if result.success:
        status, values = SUCCEEDED, {"delivered_at": now}
    elif cycle >= policy.max_attempts or now - item.cycle_started_at >= policy.max_age:
        status, values = FAILED, {}
    else:
        delay = backoff_delay(cycle, policy.base_delay, policy.max_delay, rand)
        status, values = PENDING, {"next_attempt_at": now + timedelta(seconds=delay)}
    with database.session() as s:
        s.execute(WebhookDelivery.__table__.insert(), [{
            "id": new_id(), "workspace_id": item.workspace_id, "outbox_id": item.id,
            "subscription_id": item.subscription_id, "event_id": item.event_id, "attempt": attempt_no,
            "started_at": now, "duration_ms": round(result.duration_ms, 3), "success": result.success,
            "status_code": result.status_code, "error": result.error, "response_snippet": result.snippet,
            "worker": worker_id}])
        s.execute(update(WebhookOutbox).where(WebhookOutbox.id == item.id, WebhookOutbox.locked_by == worker_id)
                  .values(status=status, attempts=attempt_no, cycle_attempts=cycle, last_attempt_at=now,
                          last_status_code=result.status_code, last_error=result.error, locked_by=None,
                          locked_until=None, **values))
    if not result.success:
        FAILURES.inc()
    ATTEMPTS.labels(result={SUCCEEDED: "success", PENDING: "retry", FAILED: "failed"}[status]).inc()
    return status


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}:{secrets.token_hex(3)}"


def deliver_due(database: Database, now: datetime | None = None, limit: int = 50, *,
                policy: RetryPolicy | None = None, worker_id: str | None = None,
                client: httpx.Client | None = None, rand: Callable[[], float] = random.random) -> DeliveryRun:
    """Claim up to ``limit`` due deliveries of every workspace, send them and record each attempt.

    ``now`` (default: the clock) decides what is due and stamps the attempts, so tests can step through a
    retry schedule without sleeping; the signature's ``t`` is always the real clock.
    """
    policy = policy or RetryPolicy()
    worker_id = worker_id or default_worker_id()
    fixed = now is not None
    now = as_utc(now) if now is not None else utcnow()
    run = DeliveryRun()
    items = claim_due(database, now, limit, worker_id, policy)
    run.claimed = len(items)
    if not items:
        return run
    own = client is None
    client = client or httpx.Client(follow_redirects=False, headers={"User-Agent": USER_AGENT})
    try:
        for item in items:
            result = send(client, item, policy)
            status = record(database, item, result, now if fixed else utcnow(), policy, worker_id, rand)
            run.outbox_ids.append(item.id)
            if status == SUCCEEDED:
                run.succeeded += 1
            elif status == FAILED:
                run.failed += 1
                log.warning("webhook delivery %s (%s) failed for good after %d attempts: %s", item.id, item.kind,
                            item.attempts + 1, result.error)
            else:
                run.retrying += 1
    finally:
        if own:
            client.close()
    return run


class Worker(Loop):
    """Delivers due webhooks in a loop (a daemon thread via :meth:`start`, or :meth:`run` in the foreground):
    a full batch is followed at once by the next, otherwise it waits ``interval``.

    Several workers may run against PostgreSQL; on SQLite run one.
    """

    thread_name = "leadflow-webhooks"

    def __init__(self, database: Database, policy: RetryPolicy | None = None, *, interval: float = 1.0,
                 batch: int = 50, worker_id: str | None = None) -> None:
        super().__init__()
        self.database = database
        self.policy = policy or RetryPolicy()
        self.interval = interval
        self.batch = batch
        self.worker_id = worker_id or default_worker_id()
        self.total = DeliveryRun()

    def run_once(self, now: datetime | None = None) -> DeliveryRun:
        run = deliver_due(self.database, now, self.batch, policy=self.policy, worker_id=self.worker_id)
        self.total.claimed += run.claimed
        self.total.succeeded += run.succeeded
        self.total.retrying += run.retrying
        self.total.failed += run.failed
        return run

    def tick(self) -> bool:
        return self.run_once().claimed >= self.batch
