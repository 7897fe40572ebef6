"""Segment-compatible event ingestion: /v1/track, /v1/identify, /v1/page, /v1/screen and /v1/batch.

Payloads are Segment's as they are, so a Segment or RudderStack webhook destination (or analytics.js with
its API host pointed here) needs no change. Each message gets a result: ``accepted``, ``duplicate`` (its
``messageId`` was seen before in this workspace: dedup is exact and permanent) or ``rejected`` with the field
and reason. In a batch the valid messages are stored and the invalid ones listed; re-sending the same batch
is safe (every message comes back ``duplicate``). Limits: 32 KB per message, 500 messages and 512 KB per
batch (413 above, checked before parsing). Authentication: ``Authorization: Bearer <key>``, Basic with the key
as user name (Segment's webhook style), or ``writeKey`` in the body (for ``navigator.sendBeacon``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from leadflow.api.deps import Principal, credentials, principal_for_key_async
from leadflow.api.metrics import INGEST_EVENTS, RATE_LIMITED
from leadflow.api.problems import Problem, field_error
from leadflow.core import segment
from leadflow.core.events import EventRejected, ValidEvent, validate_event
from leadflow.core.permissions import Action
from leadflow.core.timeutil import utcnow

router = APIRouter(prefix="/v1", tags=["ingest"])


class SegmentMessage(BaseModel):
    """A Segment-spec message. Unknown members are accepted and ignored."""

    model_config = ConfigDict(extra="allow")
    type: Literal["track", "identify", "page", "screen"] | None = Field(
        None, description="Implied by the endpoint for /v1/track, /v1/identify, /v1/page, /v1/screen.")
    event: str | None = Field(None, description="track: the event name, e.g. 'Demo Requested'.", max_length=200)
    userId: str | None = Field(None, description="An email, or your own user id (stored as uid:<id>).")
    anonymousId: str | None = Field(None, description="The visitor's anonymous id (cookie).")
    messageId: str | None = Field(None, max_length=100, description="Dedup key, permanent per workspace.")
    timestamp: str | None = Field(None, description="When it happened (ISO 8601), by the client's clock.")
    sentAt: str | None = Field(None, description="When the client sent it, by its clock (skew correction).")
    properties: dict[str, Any] | None = None
    traits: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    writeKey: str | None = Field(None, description="The key, when no Authorization header can be sent.")


class SegmentBatch(BaseModel):
    model_config = ConfigDict(extra="allow")
    batch: list[SegmentMessage] = Field(..., max_length=segment.MAX_BATCH_EVENTS)
    sentAt: str | None = None
    context: dict[str, Any] | None = None
    writeKey: str | None = None


class EventOutcome(BaseModel):
    index: int
    status: Literal["accepted", "duplicate", "rejected"]
    messageId: str | None = None
    id: str | None = Field(None, description="The stored event's id (accepted only).")
    field: str | None = None
    reason: str | None = None
    flags: list[str] | None = None


class IngestResponse(BaseModel):
    accepted: int
    duplicate: int
    rejected: int
    results: list[EventOutcome]


def _inline(node: Any, defs: Mapping[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


def _body_schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    schema = _inline(schema, schema.get("$defs", {}))
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "no or invalid key"}, 403: {"description": "the key may not write events"},
    413: {"description": "body too large"}, 422: {"description": "the event was rejected (field and reason)"},
    429: {"description": "rate limited (see Retry-After)"}}


async def _read_body(request: Request, limit: int) -> bytes:
    length = request.headers.get("content-length")
    if length is not None:
        try:
            n = int(length)
        except ValueError:
            raise Problem(400, "Content-Length is not a number") from None
        if n > limit:
            raise Problem(413, f"the body is {n} bytes, more than the {limit} allowed",
                          errors=[field_error("body", f"larger than {limit} bytes")], limit=limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Problem(413, f"the body is more than the {limit} bytes allowed",
                          errors=[field_error("body", f"larger than {limit} bytes")], limit=limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _parse(body: bytes) -> dict[str, Any]:
    ctype_err = None
    try:
        data = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError) as exc:
        ctype_err = str(exc)
        data = None
    if ctype_err is not None:
        raise Problem(400, f"the body is not valid JSON: {ctype_err}", errors=[field_error("body", "invalid JSON")])
    if not isinstance(data, dict):
        raise Problem(422, "the body must be a JSON object", errors=[field_error("body", "must be a JSON object")])
    return data


async def _principal(request: Request, data: Mapping[str, Any]) -> Principal:
    key = credentials(request)
    if key is None:
        wk = data.get("writeKey")
        key = wk if isinstance(wk, str) and wk else None
    if key is None:
        raise Problem(401, "authentication required: Authorization: Bearer <key>, Basic <key:>, or writeKey",
                      headers={"WWW-Authenticate": "Bearer"})
    who = await principal_for_key_async(request, key)
    if not who.allows(Action.EVENTS_WRITE):
        raise Problem(403, f"this API key may not {Action.EVENTS_WRITE.value}", action=Action.EVENTS_WRITE.value)
    wait = request.app.state.limiter.take(who.actor_id)
    if wait:
        RATE_LIMITED.inc()
        raise Problem(429, f"rate limit exceeded; retry in {wait:.2f} s",
                      headers={"Retry-After": request.app.state.limiter.retry_after(wait)})
    return who


Outcome = dict[str, Any]  # an EventOutcome as the JSON object sent (None members left out)


def _rejected(i: int, mid: str | None, field: str, reason: str) -> Outcome:
    out: Outcome = {"index": i, "status": "rejected"}
    if mid is not None:
        out["messageId"] = mid
    out["field"] = field
    out["reason"] = reason
    return out


def _prepare(request: Request, messages: list[Any], received_at: datetime, default_type: str | None,
             batch_defaults: Mapping[str, Any] | None = None
             ) -> tuple[list[Outcome | None], list[dict[str, Any]], list[tuple[int, ValidEvent]], list[int]]:
    """Translate and validate (pure). Returns outcomes so far (None = pending), lead records, items and, per
    item, the message index it belongs to."""
    settings = request.app.state.settings
    allow_custom = settings.allow_custom_event_types
    future_policy = settings.future_timestamps
    outcomes: list[Outcome | None] = []
    leads: list[dict[str, Any]] = []
    items: list[tuple[int, ValidEvent]] = []
    owner: list[int] = []
    for i, msg in enumerate(messages):
        is_map = type(msg) is dict or isinstance(msg, Mapping)
        mid = msg.get("messageId") if is_map else None
        mid = mid if type(mid) is str or isinstance(mid, str) else None
        try:
            if not is_map:
                raise EventRejected("(event)", "must be a JSON object")
            if batch_defaults:
                msg = {**batch_defaults, **msg}
            size = segment.message_size(msg)
            if size > segment.MAX_EVENT_BYTES:
                raise EventRejected("(event)", f"is {size} bytes, more than the {segment.MAX_EVENT_BYTES} allowed")
            tr = segment.translate(msg, received_at, default_type=default_type)
            valid = [validate_event(raw, received_at=received_at,
                                    allow_custom_types=allow_custom or raw["type"] == segment.IDENTIFY_TYPE,
                                    future_policy=future_policy) for raw in tr.events]
        except EventRejected as exc:
            outcomes.append(_rejected(i, mid, exc.field, exc.reason))
            continue
        outcomes.append(None)
        if tr.lead:
            leads.append(tr.lead)
        for ev in valid:
            items.append((len(owner), ev))
            owner.append(i)
    return outcomes, leads, items, owner


def _json(content: Mapping[str, Any], status_code: int = 200) -> Response:
    """The response body serialised once (the route's response_model documents it; FastAPI does not
    re-validate a Response)."""
    return Response(json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode(),
                    status_code=status_code, media_type="application/json")


async def _ingest(request: Request, messages: list[Any], default_type: str | None,
                  data: Mapping[str, Any], batch_defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Authenticate, validate, store; the IngestResponse as a plain dict (members in the model's order)."""
    received_at = utcnow()
    who = await _principal(request, data)
    outcomes, leads, items, owner = _prepare(request, messages, received_at, default_type, batch_defaults)
    results = await request.app.state.writer.write(who.workspace_id, leads, items) if items else []
    # the first stored event of each message decides its outcome (an identify may store two)
    first: dict[int, Any] = {}
    for r in sorted(results, key=lambda r: r.index):
        first.setdefault(owner[r.index], r)
    counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
    final: list[Outcome] = []
    for i, out in enumerate(outcomes):
        if out is None:
            r = first.get(i)
            status = r.status if r is not None else "rejected"
            out = {"index": i, "status": status}
            mid = messages[i].get("messageId")
            if isinstance(mid, str):
                out["messageId"] = mid
            if r is not None:
                if r.id is not None:
                    out["id"] = r.id
                flags = items[r.index][1].flags
                if flags:
                    out["flags"] = list(flags)
        counts[out["status"]] += 1
        final.append(out)
    for s, n in counts.items():
        if n:
            INGEST_EVENTS.labels(s).inc(n)
    return {**counts, "results": final}


async def _single(request: Request, mtype: str) -> Response:
    data = _parse(await _read_body(request, segment.MAX_EVENT_BYTES))
    resp = await _ingest(request, [data], mtype, data)
    out = resp["results"][0]
    if out["status"] == "rejected":
        field, reason = out.get("field"), out.get("reason")
        raise Problem(422, f"event rejected: {field}: {reason}", title="Event rejected",
                      errors=[field_error(field or "(event)", reason or "is invalid")])
    return _json(resp)


@router.post("/track", response_model=IngestResponse, response_model_exclude_none=True, responses=RESPONSES, openapi_extra=_body_schema(SegmentMessage),
             summary="Record what a person did (Segment track)")
async def track(request: Request) -> Response:
    return await _single(request, "track")


@router.post("/identify", response_model=IngestResponse, response_model_exclude_none=True, responses=RESPONSES,
             openapi_extra=_body_schema(SegmentMessage),
             summary="Say who a person is: traits -> lead attributes; links the anonymous id (Segment identify)")
async def identify(request: Request) -> Response:
    return await _single(request, "identify")


@router.post("/page", response_model=IngestResponse, response_model_exclude_none=True, responses=RESPONSES, openapi_extra=_body_schema(SegmentMessage),
             summary="Record a page view (Segment page)")
async def page(request: Request) -> Response:
    return await _single(request, "page")


@router.post("/screen", response_model=IngestResponse, response_model_exclude_none=True, responses=RESPONSES,
             openapi_extra=_body_schema(SegmentMessage), summary="Record a screen view (stored as page_view)")
async def screen(request: Request) -> Response:
    return await _single(request, "screen")


@router.post("/batch", response_model=IngestResponse, response_model_exclude_none=True, responses=RESPONSES, openapi_extra=_body_schema(SegmentBatch),
             summary="Up to 500 messages (512 KB) at once; valid ones stored, invalid ones listed")
async def batch(request: Request) -> Response:
    data = _parse(await _read_body(request, segment.MAX_BATCH_BYTES))
    messages = data.get("batch")
    if not isinstance(messages, list):
        raise Problem(422, "batch must be an array of messages", errors=[field_error("batch", "must be an array")])
    if len(messages) > segment.MAX_BATCH_EVENTS:
        raise Problem(413, f"{len(messages)} messages, more than the {segment.MAX_BATCH_EVENTS} allowed per batch",
                      errors=[field_error("batch", f"more than {segment.MAX_BATCH_EVENTS} messages")])
    defaults: dict[str, Any] = {}
    if isinstance(data.get("sentAt"), str):
        defaults["sentAt"] = data["sentAt"]
    if isinstance(data.get("context"), dict):
        defaults["context"] = data["context"]
    return _json(await _ingest(request, messages, None, data, defaults))
