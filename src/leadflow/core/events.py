"""The event taxonomy and per-event validation.

An event is an immutable fact: something a person (or an anonymous visitor) did at ``occurred_at``.
Validation here is pure and per event, so a batch can accept the valid events and list the rejected ones.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from leadflow.core.timeutil import MAX_FUTURE, as_utc, parse_ts


class EventType(StrEnum):
    PAGE_VIEW = "page_view"
    EMAIL_OPEN = "email_open"
    EMAIL_CLICK = "email_click"
    EMAIL_UNSUBSCRIBE = "email_unsubscribe"
    EMAIL_BOUNCE = "email_bounce"
    FORM_SUBMIT = "form_submit"
    CONTENT_DOWNLOAD = "content_download"
    NEWSLETTER_SIGNUP = "newsletter_signup"
    WEBINAR_REGISTERED = "webinar_registered"
    WEBINAR_ATTENDED = "webinar_attended"
    TRIAL_STARTED = "trial_started"
    DEMO_REQUESTED = "demo_requested"
    DEMO_ATTENDED = "demo_attended"
    CONTACT_REQUEST = "contact_request"
    QUOTE_REQUESTED = "quote_requested"
    PROPOSAL_REQUESTED = "proposal_requested"
    AD_CLICK = "ad_click"
    CART_ADD = "cart_add"
    WISHLIST_ADD = "wishlist_add"
    MEETING_BOOKED = "meeting_booked"
    SOCIAL_ENGAGEMENT = "social_engagement"


KNOWN_TYPES = frozenset(t.value for t in EventType)

#: What each known type carries, for documentation and light type checks: property -> accepted Python types.
PROPERTY_SCHEMAS: dict[str, dict[str, tuple[type, ...]]] = {
    "page_view": {"url": (str,), "title": (str,), "referrer": (str,), "seconds_on_page": (int, float)},
    "email_open": {"email_id": (str,), "campaign": (str,)},
    "email_click": {"email_id": (str,), "url": (str,), "campaign": (str,)},
    "email_unsubscribe": {"email_id": (str,), "reason": (str,)},
    "email_bounce": {"email_id": (str,), "kind": (str,)},
    "form_submit": {"form": (str,), "url": (str,)},
    "content_download": {"asset": (str,), "asset_type": (str,), "url": (str,)},
    "newsletter_signup": {"list": (str,)},
    "webinar_registered": {"webinar": (str,)},
    "webinar_attended": {"webinar": (str,), "minutes": (int, float)},
    "trial_started": {"plan": (str,)},
    "demo_requested": {"product": (str,)},
    "demo_attended": {"product": (str,), "minutes": (int, float)},
    "contact_request": {"topic": (str,)},
    "quote_requested": {"product": (str,), "amount": (int, float)},
    "proposal_requested": {"product": (str,), "amount": (int, float)},
    "ad_click": {"network": (str,), "campaign": (str,), "ad": (str,)},
    "cart_add": {"product": (str,), "amount": (int, float)},
    "wishlist_add": {"product": (str,)},
    "meeting_booked": {"with": (str,)},
    "social_engagement": {"network": (str,), "action": (str,)},
}

CUSTOM_TYPE_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_PROPERTIES_BYTES = 32 * 1024
MAX_MESSAGE_ID = 100


class EventRejected(ValueError):
    """An event failed validation. ``field`` names what is wrong."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ValidEvent:
    """An event that passed validation, ready to be stored."""

    type: str
    occurred_at: datetime
    received_at: datetime
    message_id: str | None
    email: str | None
    anonymous_id: str | None
    properties: Mapping[str, Any]
    flags: tuple[str, ...] = field(default=())


EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalize_email(value: object) -> str:
    if not isinstance(value, str) or not EMAIL_RE.match(value.strip()):
        raise EventRejected("email", f"{value!r} is not an email address")
    return value.strip().lower()


def _flat_size_bound(props: Mapping[str, Any]) -> float:
    """An upper bound of the serialised size of flat properties (no nesting): every character escapes to at most
    12 bytes (an escaped surrogate pair), numbers print in at most 24, plus quotes, colon and comma. Nested values:
    infinity (they are serialised)."""
    total = 2
    for k, v in props.items():
        if not isinstance(k, str):
            return float("inf")
        tv = type(v)  # the common exact types first; subclasses take the general tests below
        if tv is str:
            total += 12 * (len(k) + len(v)) + 6
        elif tv is float or tv is bool or v is None:
            total += 12 * len(k) + 30
        elif isinstance(v, str):
            total += 12 * (len(k) + len(v)) + 6
        elif isinstance(v, int) and not isinstance(v, bool) and not -10**20 < v < 10**20:
            total += 12 * len(k) + len(str(v)) + 6  # big integers print in full
        elif v is None or isinstance(v, bool | int | float):
            total += 12 * len(k) + 30
        else:
            return float("inf")
    return total


#: Per known type: (property, accepted types, their names for the message), in schema order.
_SCHEMA_CHECKS: dict[str, tuple[tuple[str, tuple[type, ...], str], ...]] = {
    etype: tuple((key, types, " or ".join(t.__name__ for t in types)) for key, types in schema.items())
    for etype, schema in PROPERTY_SCHEMAS.items()
}


def validate_event(
    raw: Mapping[str, Any],
    *,
    received_at: datetime,
    allow_custom_types: bool = True,
    future_policy: str = "clamp",
) -> ValidEvent:
    """Validate one raw event mapping and return a :class:`ValidEvent`, or raise :class:`EventRejected`.

    Accepted keys: ``type``, ``occurred_at`` (or ``timestamp``), ``message_id``, ``email``, ``anonymous_id``,
    ``properties``. Timestamps more than 23 h ahead of ``received_at`` are clamped to ``received_at`` and
    flagged ``future_clamped`` (``future_policy='clamp'``, the default) or rejected (``'reject'``).
    """
    # The checks run in this order, and the first that fails names the field; the shortcuts below (values
    # already in normal form: an aware-UTC datetime, a known type in lower case, a plain dict) skip work only
    # where the long way gives the same value (tests/core/test_events_fastpath.py compares with the reference).
    if received_at.tzinfo is not UTC:
        received_at = as_utc(received_at)
    etype = raw.get("type")
    if type(etype) is not str or etype not in KNOWN_TYPES:
        if not isinstance(etype, str) or not etype:
            raise EventRejected("type", "is missing")
        etype = etype.strip().lower()
        if etype not in KNOWN_TYPES:
            if not allow_custom_types:
                raise EventRejected("type", f"unknown event type {etype!r} (custom types are disabled)")
            if not CUSTOM_TYPE_RE.match(etype):
                raise EventRejected("type", f"{etype!r} must be lower_snake_case, at most 64 characters")
    ts_raw = raw.get("occurred_at", raw.get("timestamp"))
    if type(ts_raw) is datetime and ts_raw.tzinfo is UTC:
        occurred_at = ts_raw
    else:
        try:
            occurred_at = parse_ts(ts_raw)
        except ValueError as exc:
            raise EventRejected("occurred_at", str(exc)) from None
    flags: tuple[str, ...] = ()
    if occurred_at - received_at > MAX_FUTURE:
        if future_policy == "reject":
            raise EventRejected("occurred_at", f"{occurred_at.isoformat()} is more than 23 h in the future")
        occurred_at = received_at
        flags = ("future_clamped",)
    message_id = raw.get("message_id")
    if message_id is not None:
        if not isinstance(message_id, str) or not message_id:
            raise EventRejected("message_id", "must be a non-empty string")
        if len(message_id) > MAX_MESSAGE_ID:
            raise EventRejected("message_id", f"is longer than {MAX_MESSAGE_ID} characters")
    email = raw.get("email")
    anonymous_id = raw.get("anonymous_id")
    if email in (None, "") and anonymous_id in (None, ""):
        raise EventRejected("email", "an event needs an email or an anonymous_id")
    email = normalize_email(email) if email not in (None, "") else None
    if anonymous_id is not None and anonymous_id != "":
        if not isinstance(anonymous_id, str) or len(anonymous_id) > 200:
            raise EventRejected("anonymous_id", "must be a string of at most 200 characters")
    else:
        anonymous_id = None
    props = raw.get("properties") or {}
    if type(props) is not dict and not isinstance(props, Mapping):
        raise EventRejected("properties", "must be an object")
    if _flat_size_bound(props) > MAX_PROPERTIES_BYTES:  # only serialise when the cheap bound is not enough
        try:
            size = len(json.dumps(props, separators=(",", ":"), default=str))
        except (TypeError, ValueError) as exc:
            raise EventRejected("properties", f"cannot be serialised: {exc}") from None
        if size > MAX_PROPERTIES_BYTES:
            raise EventRejected("properties", f"is {size} bytes, more than the {MAX_PROPERTIES_BYTES} allowed")
    if props or type(props) is not dict:
        for key, types, names in _SCHEMA_CHECKS.get(etype, ()):
            value = props.get(key)
            if value is not None and (not isinstance(value, types) or isinstance(value, bool)):
                raise EventRejected(f"properties.{key}", f"must be {names}, got {type(value).__name__}")
        secs = props.get("seconds_on_page")
        if isinstance(secs, int | float) and secs < 0:
            raise EventRejected("properties.seconds_on_page", "must not be negative")
    return ValidEvent(etype, occurred_at, received_at, message_id, email, anonymous_id, dict(props), flags)
