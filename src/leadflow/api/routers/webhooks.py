"""Webhook subscriptions, the delivery log and replay (``webhooks:manage``; admins only by default).

A delivery is one event for one subscription (with its retry state); its attempts are the delivery log.
The signing secret is returned in full when a subscription is created or its secret rotated, masked otherwise.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from leadflow.api.common import decode_cursor, encode_cursor
from leadflow.api.deps import Allowed, SessionDep
from leadflow.api.problems import Problem, field_error
from leadflow.core.permissions import Action
from leadflow.services import webhooks as svc
from leadflow.services.signals import KINDS
from leadflow.store.webhook_tables import WebhookDelivery, WebhookOutbox, WebhookSubscription

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
Manage = Allowed[Action.WEBHOOKS_MANAGE]

EVENTS_HELP = f"Event kinds: {', '.join(KINDS)}; or [\"*\"] for all."


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: Annotated[str, Field(max_length=2000, description="The receiver: https://... (POSTed JSON, signed).")]
    events: Annotated[list[str], Field(min_length=1, max_length=20, description=EVENTS_HELP)]
    description: Annotated[str | None, Field(max_length=500)] = None
    secret: Annotated[str | None, Field(min_length=16, max_length=200,
                                        description="Signing secret; default: a generated whsec_... one.")] = None
    active: bool = True


class SubscriptionPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: Annotated[str | None, Field(max_length=2000)] = None
    events: Annotated[list[str] | None, Field(min_length=1, max_length=20, description=EVENTS_HELP)] = None
    description: Annotated[str | None, Field(max_length=500)] = None
    active: bool | None = None
    rotate_secret: bool = Field(False, description="Issue a new secret (returned in this response only).")


class SubscriptionOut(BaseModel):
    id: str
    url: str
    events: list[str]
    description: str | None = None
    active: bool
    secret: str = Field(description="Masked, except in the answer to a create or a secret rotation.")
    created_at: datetime
    updated_at: datetime


class AttemptOut(BaseModel):
    attempt: int
    started_at: datetime
    success: bool
    status_code: int | None = None
    error: str | None = None
    duration_ms: float
    response_snippet: str | None = None


class DeliveryOut(BaseModel):
    id: str
    subscription_id: str
    event_id: str = Field(description="Same on every retry and replay: receivers deduplicate on it.")
    kind: str
    lead_id: str | None = None
    status: Literal["pending", "succeeded", "failed"]
    attempts: int
    next_attempt_at: datetime | None = Field(None, description="When pending: the next attempt's time.")
    last_attempt_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None
    created_at: datetime


class DeliveryDetail(DeliveryOut):
    payload: dict[str, Any]
    attempt_log: list[AttemptOut]


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page; null on the last page.")


def _sub(sub: WebhookSubscription, *, reveal: bool = False) -> dict[str, Any]:
    return {"id": sub.id, "url": sub.url, "events": list(sub.events or []), "description": sub.description,
            "active": sub.active, "secret": sub.secret if reveal else svc.mask_secret(sub.secret),
            "created_at": sub.created_at, "updated_at": sub.updated_at}


def _delivery(row: WebhookOutbox) -> dict[str, Any]:
    return {"id": row.id, "subscription_id": row.subscription_id, "event_id": row.event_id, "kind": row.kind,
            "lead_id": row.lead_id, "status": row.status, "attempts": row.attempts,
            "next_attempt_at": row.next_attempt_at if row.status == "pending" else None,
            "last_attempt_at": row.last_attempt_at, "last_status_code": row.last_status_code,
            "last_error": row.last_error, "delivered_at": row.delivered_at, "created_at": row.created_at}


def _attempt(a: WebhookDelivery) -> dict[str, Any]:
    return {"attempt": a.attempt, "started_at": a.started_at, "success": a.success, "status_code": a.status_code,
            "error": a.error, "duration_ms": a.duration_ms, "response_snippet": a.response_snippet}


def _invalid(exc: svc.WebhookError) -> Problem:
    return Problem(422, str(exc), errors=[field_error(f"body.{exc.field}", exc.reason)])


def _allow_private(request: Request) -> bool:
    return bool(getattr(request.app.state.settings, "webhook_allow_private_urls", False))


@router.get("/subscriptions", response_model=list[SubscriptionOut], summary="The workspace's subscriptions")
def list_subscriptions(session: SessionDep, who: Manage) -> list[dict[str, Any]]:
    return [_sub(s) for s in svc.list_subscriptions(session, who.workspace_id)]


@router.post("/subscriptions", response_model=SubscriptionOut, status_code=201,
             summary="Subscribe a URL to event kinds (the signing secret is in the answer)")
def create_subscription(body: SubscriptionIn, request: Request, session: SessionDep, who: Manage) -> dict[str, Any]:
    try:
        sub = svc.create_subscription(session, who.workspace_id, body.url, body.events, description=body.description,
                                      secret=body.secret, active=body.active, allow_private=_allow_private(request))
    except svc.WebhookError as exc:
        raise _invalid(exc) from None
    return _sub(sub, reveal=True)


@router.get("/subscriptions/{subscription_id}", response_model=SubscriptionOut, summary="One subscription")
def get_subscription(subscription_id: str, session: SessionDep, who: Manage) -> dict[str, Any]:
    return _sub(svc.get_subscription(session, who.workspace_id, subscription_id))


@router.patch("/subscriptions/{subscription_id}", response_model=SubscriptionOut,
              summary="Change URL, events, description or state; rotate the secret")
def update_subscription(subscription_id: str, body: SubscriptionPatch, request: Request, session: SessionDep,
                        who: Manage) -> dict[str, Any]:
    try:
        sub = svc.update_subscription(session, who.workspace_id, subscription_id, url=body.url, events=body.events,
                                      active=body.active, description=body.description,
                                      rotate_secret=body.rotate_secret, allow_private=_allow_private(request))
    except svc.WebhookError as exc:
        raise _invalid(exc) from None
    return _sub(sub, reveal=body.rotate_secret)


@router.delete("/subscriptions/{subscription_id}", status_code=204,
               summary="Delete a subscription with its deliveries and their log")
def delete_subscription(subscription_id: str, session: SessionDep, who: Manage) -> Response:
    svc.delete_subscription(session, who.workspace_id, subscription_id)
    return Response(status_code=204)


@router.get("/deliveries", response_model=DeliveryPage, summary="Deliveries, newest first")
def list_deliveries(session: SessionDep, who: Manage,
                    status: Literal["pending", "succeeded", "failed"] | None = None,
                    subscription_id: Annotated[str | None, Query(max_length=32)] = None,
                    limit: Annotated[int, Query(ge=1, le=500)] = 50,
                    cursor: Annotated[str | None, Query(max_length=500)] = None) -> DeliveryPage:
    after = None
    if cursor:
        at, last_id = decode_cursor(cursor, ["datetime", "str"])
        after = (at, last_id)
    rows = svc.list_outbox(session, who.workspace_id, status=status, subscription_id=subscription_id,
                           limit=limit + 1, after=after)
    nxt = None
    if len(rows) > limit:
        rows = rows[:limit]
        nxt = encode_cursor([svc.iso(rows[-1].created_at), rows[-1].id])
    return DeliveryPage(items=[DeliveryOut(**_delivery(r)) for r in rows], next_cursor=nxt)


@router.get("/deliveries/{delivery_id}", response_model=DeliveryDetail,
            summary="One delivery: payload and every attempt (status code, error, duration, answer)")
def get_delivery(delivery_id: str, session: SessionDep, who: Manage) -> dict[str, Any]:
    row = svc.get_outbox(session, who.workspace_id, delivery_id)
    return {**_delivery(row), "payload": row.payload,
            "attempt_log": [_attempt(a) for a in svc.attempts_of(session, who.workspace_id, delivery_id)]}


@router.post("/deliveries/{delivery_id}/replay", response_model=DeliveryOut, status_code=202,
             summary="Send a failed (or delivered) delivery again: same event id, fresh retry budget")
def replay_delivery(delivery_id: str, session: SessionDep, who: Manage) -> dict[str, Any]:
    try:
        row = svc.replay(session, who.workspace_id, delivery_id)
    except svc.WebhookError as exc:
        raise Problem(409, str(exc), errors=[field_error("status", exc.reason)]) from None
    return _delivery(row)
