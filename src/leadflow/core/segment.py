"""Segment-spec messages (track, identify, page, screen) translated into leadflow's raw events. Pure.

A Segment or RudderStack webhook destination can post to leadflow unchanged: ``type``, ``event``, ``userId``,
``anonymousId``, ``messageId``, ``timestamp``, ``sentAt``, ``properties``, ``traits``, ``context``.

* **Who.** ``userId`` when it is an email; else ``traits.email`` / ``context.traits.email``; else the user is
  known only by an id: ``anonymousId``, or ``uid:<userId>``. An identify carrying an email *and* an anonymous id
  (or a non-email userId) links them: the anonymous history is merged into the lead.
* **When.** Clock skew is corrected as Segment does: ``timestamp = receivedAt - (sentAt - timestamp)`` when the
  client sent both; no ``timestamp`` means ``receivedAt``. More than 23 h in the future is then clamped and
  flagged by :func:`leadflow.core.events.validate_event`.
* **What.** ``track``: the event name snake_cased (``"Whitepaper Downloaded"`` -> ``whitepaper_downloaded``),
  Segment's spec names mapped to the taxonomy (:data:`SEGMENT_EVENTS`); ``page``/``screen`` -> ``page_view``
  (url/title/referrer/path from properties or ``context.page``); ``identify`` -> an ``identify`` event plus
  the lead's attributes from its traits. ``context.campaign`` becomes ``utm_*`` properties.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from leadflow.core.events import EMAIL_RE, EventRejected
from leadflow.core.timeutil import as_utc, parse_ts

MAX_EVENT_BYTES = 32 * 1024
MAX_BATCH_EVENTS = 500
MAX_BATCH_BYTES = 512 * 1024
SUPPORTED_TYPES = ("track", "identify", "page", "screen")
IDENTIFY_TYPE = "identify"

#: Segment spec event names (B2B SaaS, email, e-commerce, video...) -> leadflow's taxonomy.
SEGMENT_EVENTS: dict[str, str] = {
    "page viewed": "page_view", "screen viewed": "page_view",
    "email opened": "email_open", "email link clicked": "email_click", "email clicked": "email_click",
    "unsubscribed": "email_unsubscribe", "email unsubscribed": "email_unsubscribe",
    "email bounced": "email_bounce", "email marked as spam": "email_unsubscribe",
    "form submitted": "form_submit", "demo requested": "demo_requested", "demo attended": "demo_attended",
    "signed up": "trial_started", "trial started": "trial_started", "account created": "trial_started",
    "webinar registered": "webinar_registered", "webinar attended": "webinar_attended",
    "content downloaded": "content_download", "asset downloaded": "content_download",
    "whitepaper downloaded": "content_download", "ebook downloaded": "content_download",
    "newsletter subscribed": "newsletter_signup", "newsletter signed up": "newsletter_signup",
    "contact requested": "contact_request", "contact form submitted": "contact_request",
    "quote requested": "quote_requested", "proposal requested": "proposal_requested",
    "ad clicked": "ad_click", "product added": "cart_add", "product added to wishlist": "wishlist_add",
    "meeting booked": "meeting_booked", "meeting scheduled": "meeting_booked",
}

#: identify traits -> lead attributes (first listed wins), with their maximum length
TRAIT_FIELDS: dict[str, tuple[tuple[str, ...], int]] = {
    "first_name": (("firstName", "first_name"), 200),
    "last_name": (("lastName", "last_name"), 200),
    "title": (("title", "jobTitle", "job_title"), 200),
    "seniority": (("seniority",), 50),
    "department": (("department",), 100),
    "phone": (("phone",), 50),
    "country": (("country",), 100),
    "owner": (("owner",), 200),
}
_HANDLED_TRAITS = {"email", "name", "company", "website", "address", "createdAt", "created_at"} | {
    t for names, _ in TRAIT_FIELDS.values() for t in names}
_SNAKE = re.compile(r"[^a-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


@dataclass(frozen=True)
class Translated:
    """One Segment message as leadflow input: events to validate and store, and a lead record to upsert."""

    events: tuple[dict[str, Any], ...]
    lead: dict[str, Any] | None = None
    kind: str = "track"
    flags: tuple[str, ...] = field(default=())


def snake_case(name: str) -> str:
    """``"Demo Requested"`` / ``"demoRequested"`` -> ``demo_requested`` (idempotent; at most 64 characters)."""
    text = _CAMEL.sub("_", name.strip()).lower()
    text = _SNAKE.sub("_", text).strip("_")
    if text and not text[0].isalpha():
        text = "e_" + text
    return text[:64].rstrip("_")


def event_type(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise EventRejected("event", "a track call needs an event name")
    if len(name) > 200:
        raise EventRejected("event", "is longer than 200 characters")
    key = " ".join(name.strip().lower().replace("_", " ").split())
    mapped = SEGMENT_EVENTS.get(key)
    if mapped:
        return mapped
    out = snake_case(name)
    if not out:
        raise EventRejected("event", f"{name!r} has no letters or digits to name an event type")
    return out


def corrected_timestamp(timestamp: object, sent_at: object, received_at: datetime) -> datetime:
    """Segment's clock-skew correction: ``receivedAt - (sentAt - timestamp)``; no timestamp -> receivedAt."""
    received_at = as_utc(received_at)
    if timestamp in (None, ""):
        return received_at
    try:
        ts = parse_ts(timestamp)
    except ValueError as exc:
        raise EventRejected("timestamp", str(exc)) from None
    if sent_at in (None, ""):
        return ts
    try:
        sent = parse_ts(sent_at)
    except ValueError as exc:
        raise EventRejected("sentAt", str(exc)) from None
    try:
        return received_at - (sent - ts)
    except OverflowError:
        raise EventRejected("sentAt", "is too far from timestamp to correct the clock skew") from None


def _mapping(msg: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = msg.get(key)
    if value is None:
        return {}
    if type(value) is dict:  # the usual case (parsed JSON): skip the ABC check
        return value
    if not isinstance(value, Mapping):
        raise EventRejected(key, "must be an object")
    return value


def _is_email(value: object) -> bool:
    return isinstance(value, str) and bool(EMAIL_RE.match(value.strip()))


def _text(value: object, where: str, max_len: int) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise EventRejected(where, "must be text")
    text = str(value).strip()
    if len(text) > max_len:
        raise EventRejected(where, f"is longer than {max_len} characters")
    return text or None


def message_size(msg: Mapping[str, Any]) -> int:
    return len(json.dumps(msg, separators=(",", ":"), default=str, ensure_ascii=False).encode("utf-8"))


def translate(msg: Mapping[str, Any], received_at: datetime, default_type: str | None = None) -> Translated:
    """One Segment message -> :class:`Translated`, or :class:`EventRejected` naming the field at fault."""
    if type(msg) is not dict and not isinstance(msg, Mapping):
        raise EventRejected("(event)", "must be a JSON object")
    mtype = msg.get("type", default_type)
    if mtype in (None, "") and default_type is None:
        raise EventRejected("type", f"is missing (one of {', '.join(SUPPORTED_TYPES)})")
    if mtype not in SUPPORTED_TYPES:
        raise EventRejected("type", f"{mtype!r} is not supported (accepted: {', '.join(SUPPORTED_TYPES)})")
    context = _mapping(msg, "context")
    traits = _mapping(msg, "traits")
    ctx_traits = _mapping(context, "traits") if "traits" in context else {}
    props = _mapping(msg, "properties")
    user_id = msg.get("userId")
    if user_id is not None and not isinstance(user_id, str | int) or isinstance(user_id, bool):
        raise EventRejected("userId", "must be a string")
    user_id = str(user_id).strip() if user_id not in (None, "") else None
    anon = msg.get("anonymousId")
    if anon is not None and not isinstance(anon, str | int) or isinstance(anon, bool):
        raise EventRejected("anonymousId", "must be a string")
    anon = str(anon).strip() if anon not in (None, "") else None
    email = None
    for candidate in (user_id, traits.get("email"), ctx_traits.get("email")):
        if _is_email(candidate):
            email = str(candidate).strip().lower()
            break
    uid = f"uid:{user_id}" if user_id and not _is_email(user_id) else None
    if uid is not None and len(uid) > 200:
        raise EventRejected("userId", "is longer than 196 characters")
    if email is None and anon is None and uid is None:
        raise EventRejected("userId", "a message needs a userId, an anonymousId or an email trait")
    occurred = corrected_timestamp(msg.get("timestamp"), msg.get("sentAt"), received_at)
    message_id = msg.get("messageId")
    if message_id is not None and not isinstance(message_id, str):
        raise EventRejected("messageId", "must be a string")
    base: dict[str, Any] = {"occurred_at": occurred, "message_id": message_id or None}
    utm = _campaign(context)
    if mtype == "identify":
        lead = _lead_from_traits(email, traits) if email else None
        events: list[dict[str, Any]] = []
        # the identify itself: links the anonymous id (or the non-email user id) to the email
        ids = [i for i in (anon, uid) if i] or [None]
        for n, aid in enumerate(ids):
            mid = message_id if n == 0 or not message_id else "uid#" + hashlib.sha256(
                message_id.encode()).hexdigest()[:40]
            events.append({**base, "type": IDENTIFY_TYPE, "email": email, "anonymous_id": aid, "message_id": mid,
                           "properties": {**utm, **({"user_id": user_id} if uid else {})}})
        return Translated(tuple(events), lead, "identify")
    who = {"email": email, "anonymous_id": None if email else (anon or uid)}
    if mtype in ("page", "screen"):
        page = _mapping(context, "page")
        p = dict(props)
        for key in ("url", "title", "referrer", "path", "search"):
            if p.get(key) in (None, "") and page.get(key) not in (None, ""):
                p[key] = page[key]
        if msg.get("name") and "name" not in p:
            p["name"] = msg["name"]
        if msg.get("category") and "category" not in p:
            p["category"] = msg["category"]
        for k, v in utm.items():
            p.setdefault(k, v)
        return Translated(({**base, **who, "type": "page_view", "properties": p},), None, mtype)
    etype = event_type(msg.get("event"))
    p = dict(props)
    for k, v in utm.items():
        p.setdefault(k, v)
    if etype != snake_case(str(msg.get("event"))) and "event_name" not in p:
        p["event_name"] = msg.get("event")
    return Translated(({**base, **who, "type": etype, "properties": p},), None, "track")


def _campaign(context: Mapping[str, Any]) -> dict[str, Any]:
    camp = context.get("campaign")
    if camp is None or not isinstance(camp, Mapping):
        return {}
    out = {}
    for key in ("source", "medium", "name", "term", "content"):
        value = camp.get(key)
        if isinstance(value, str) and value:
            out["utm_campaign" if key == "name" else f"utm_{key}"] = value[:200]
    return out


def _lead_from_traits(email: str, traits: Mapping[str, Any]) -> dict[str, Any] | None:
    lead: dict[str, Any] = {"email": email}
    for target, (names, max_len) in TRAIT_FIELDS.items():
        for name in names:
            if traits.get(name) not in (None, ""):
                lead[target] = _text(traits[name], f"traits.{name}", max_len)
                break
    if "first_name" not in lead and isinstance(traits.get("name"), str) and traits["name"].strip():
        first, _, last = traits["name"].strip().partition(" ")
        lead["first_name"] = _text(first, "traits.name", 200)
        if last.strip():
            lead["last_name"] = _text(last, "traits.name", 200)
    address = traits.get("address")
    if "country" not in lead and isinstance(address, Mapping) and address.get("country"):
        lead["country"] = _text(address["country"], "traits.address.country", 100)
    company = traits.get("company")
    if isinstance(company, Mapping):
        if company.get("name"):
            lead["company_name"] = _text(company["name"], "traits.company.name", 255)
        domain = company.get("domain") or company.get("website")
        if domain:
            lead["company_domain"] = _domain(domain, "traits.company.domain")
    elif company not in (None, ""):
        lead["company_name"] = _text(company, "traits.company", 255)
    if "company_domain" not in lead and traits.get("website"):
        lead["company_domain"] = _domain(traits["website"], "traits.website")
    extra = {k: v for k, v in traits.items() if k not in _HANDLED_TRAITS and isinstance(v, str | int | float | bool)}
    if extra:
        lead["properties"] = extra
    lead = {k: v for k, v in lead.items() if v is not None}
    return lead if len(lead) > 1 else None


def _domain(value: object, where: str) -> str:
    text = _text(value, where, 255) or ""
    text = re.sub(r"^[a-z]+://", "", text.lower()).split("/")[0].split(":")[0].removeprefix("www.")
    if "." not in text or " " in text:
        raise EventRejected(where, f"{value!r} is not a domain")
    return text
