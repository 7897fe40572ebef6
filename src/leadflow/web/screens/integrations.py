"""Integrations (admins): API keys, webhook subscriptions and their deliveries, the website tracking snippet.

Key actions need ``keys:manage``, webhook actions ``webhooks:manage`` (both through
:func:`leadflow.web.common.need`, which also checks the CSRF token). A new key's plaintext and a new or
rotated signing secret are shown once, on the answer page of the POST (never in a URL, never stored in
plaintext: keys are kept hashed), with ``Cache-Control: no-store``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from leadflow.core.permissions import Action
from leadflow.services import apikeys
from leadflow.services import webhooks as wh
from leadflow.web.auth import WebUser
from leadflow.web.common import Forbidden, form_data, need, render, web

router = APIRouter(include_in_schema=False)

DONE = {
    "revoked": "Key revoked: it stops working at once.",
    "enabled": "Subscription enabled.",
    "disabled": "Subscription disabled: no new deliveries are queued for it.",
    "deleted": "Subscription deleted with its deliveries.",
    "replayed": "Delivery queued again (same event id); the worker sends it within seconds.",
}
DELIVERY_LIMIT = 30
SCOPE_CHOICES = sorted(a.value for a in Action)


def _allow_private(request: Request) -> bool:
    return bool(getattr(web(request).settings, "webhook_allow_private_urls", False))


def _base_url(request: Request) -> str:
    public = (web(request).settings.public_url or "").strip().rstrip("/")
    return public or str(request.base_url).rstrip("/")


def snippet_code(base: str, key: str) -> str:
    """The install code for a website (shown as text; the template escapes it)."""
    return f'<script src="{base}/t.js" data-key="{key}" data-capture-forms async></script>'


def _page(request: Request, user: WebUser, *, status: int = 200, error: str = "", error_at: str = "",
          key_form: dict[str, Any] | None = None, hook_form: dict[str, Any] | None = None) -> Response:
    if not user.can(Action.WEBHOOKS_MANAGE):
        raise Forbidden(user, f"your role ({user.role.value}) may not {Action.WEBHOOKS_MANAGE.value}")
    st = web(request)
    status_filter = request.query_params.get("status", "")
    if status_filter not in ("", wh.PENDING, wh.SUCCEEDED, wh.FAILED):
        status_filter = ""
    with st.session() as s:
        keys = apikeys.list_keys(s, st.workspace_id)
        subs = wh.list_subscriptions(s, st.workspace_id)
        deliveries = wh.list_outbox(s, st.workspace_id, status=status_filter or None, limit=DELIVERY_LIMIT)
        totals = wh.counts(s, st.workspace_id)
        hooks = [{"id": h.id, "url": h.url, "events": list(h.events or []), "description": h.description,
                  "active": h.active, "secret": wh.mask_secret(h.secret), "created_at": h.created_at} for h in subs]
        rows = [{"id": d.id, "kind": d.kind, "lead_id": d.lead_id, "status": d.status, "attempts": d.attempts,
                 "subscription_id": d.subscription_id, "created_at": d.created_at, "event_id": d.event_id,
                 "last_attempt_at": d.last_attempt_at, "last_status_code": d.last_status_code,
                 "last_error": d.last_error, "next_attempt_at": d.next_attempt_at if d.status == wh.PENDING else None,
                 "delivered_at": d.delivered_at} for d in deliveries]
    urls = {h["id"]: h["url"] for h in hooks}
    ingest = [k for k in keys if k.kind == "ingest" and k.active]
    chosen_id = request.query_params.get("snippet_key", "")
    chosen = next((k for k in ingest if k.id == chosen_id), ingest[0] if ingest else None)
    base = _base_url(request)
    return render(request, user, "integrations.html", status=status, keys=keys, hooks=hooks, deliveries=rows,
                  totals=totals, urls=urls, status_filter=status_filter, error=error, error_at=error_at,
                  key_form=key_form or {"kind": "secret", "scopes": []}, hook_form=hook_form or {"events": []},
                  scope_choices=SCOPE_CHOICES, event_kinds=list(wh.KINDS), ingest_keys=ingest, chosen=chosen,
                  snippet=snippet_code(base, (chosen.prefix + "…") if chosen else "YOUR_INGEST_KEY"), base=base,
                  done=DONE.get(request.query_params.get("done", ""), ""),
                  allow_private=_allow_private(request))


@router.get("/integrations")
def integrations_page(request: Request, user: WebUser = Depends(need(Action.KEYS_MANAGE))) -> Response:  # noqa: B008
    return _page(request, user)


# ------------------------------------------------------------------------------------------ API keys
@router.post("/integrations/keys")
async def create_key(request: Request, user: WebUser = Depends(need(Action.KEYS_MANAGE))) -> Response:  # noqa: B008
    st = web(request)
    form = await request.form()
    kind = str(form.get("kind") or "")
    name = str(form.get("name") or "")[:400]
    scopes = [str(v) for v in form.getlist("scopes")][:len(SCOPE_CHOICES) + 1]
    if kind == "ingest":
        scopes = []
    try:
        with st.session() as s:
            info, plaintext = apikeys.create_key(s, st.workspace_id, kind=kind, name=name, scopes=scopes,
                                                 created_by=user.email)
    except ValueError as exc:
        return _page(request, user, status=422, error=str(exc), error_at="key",
                     key_form={"kind": kind, "name": name, "scopes": scopes})
    base = _base_url(request)
    return render(request, user, "integrations_secret.html", what="key", key=info, plaintext=plaintext,
                  snippet=snippet_code(base, plaintext) if info.kind == "ingest" else "", base=base)


@router.post("/integrations/keys/{key_id}/revoke")
async def revoke_key(key_id: str, request: Request, user: WebUser = Depends(need(Action.KEYS_MANAGE))) -> Response:  # noqa: B008
    st = web(request)
    try:
        with st.session() as s:
            apikeys.revoke_key(s, st.workspace_id, key_id[:32])
    except LookupError as exc:
        return _page(request, user, status=404, error=str(exc).strip("'\""), error_at="keys")
    cache = getattr(request.app.state, "key_cache", None)
    if cache is not None:
        cache.forget(key_id[:32])
    return RedirectResponse("/integrations?done=revoked#keys", status_code=303)


# ------------------------------------------------------------------------------------------ webhooks
@router.post("/integrations/webhooks")
async def create_hook(request: Request, user: WebUser = Depends(need(Action.WEBHOOKS_MANAGE))) -> Response:  # noqa: B008
    st = web(request)
    form = await request.form()
    url = str(form.get("url") or "")[:4000]
    events = [str(v) for v in form.getlist("events")][:len(wh.KINDS) + 1]
    description = str(form.get("description") or "").strip()[:1000] or None
    try:
        with st.session() as s:
            sub = wh.create_subscription(s, st.workspace_id, url, events, description=description,
                                         allow_private=_allow_private(request))
            sub_view = {"id": sub.id, "url": sub.url, "events": list(sub.events), "secret": sub.secret}
    except wh.WebhookError as exc:
        return _page(request, user, status=422, error=f"{exc.field}: {exc.reason}", error_at="hook",
                     hook_form={"url": url, "events": events, "description": description or ""})
    return render(request, user, "integrations_secret.html", what="webhook", sub=sub_view, rotated=False)


async def _hook_action(request: Request, user: WebUser, hook_id: str, action: str) -> Response:
    st = web(request)
    form = await form_data(request)
    sub_view: dict[str, Any] = {}
    try:
        with st.session() as s:
            if action == "active":
                on = form.get("active") == "1"
                wh.update_subscription(s, st.workspace_id, hook_id[:32], active=on,
                                       allow_private=_allow_private(request))
                done = "enabled" if on else "disabled"
            elif action == "rotate":
                sub = wh.update_subscription(s, st.workspace_id, hook_id[:32], rotate_secret=True,
                                             allow_private=_allow_private(request))
                sub_view = {"id": sub.id, "url": sub.url, "events": list(sub.events), "secret": sub.secret}
                done = ""
            else:
                wh.delete_subscription(s, st.workspace_id, hook_id[:32])
                done = "deleted"
    except wh.WebhookError as exc:
        return _page(request, user, status=422, error=f"{exc.field}: {exc.reason}", error_at="hooks")
    except LookupError as exc:
        return _page(request, user, status=404, error=str(exc).strip("'\""), error_at="hooks")
    if sub_view:
        return render(request, user, "integrations_secret.html", what="webhook", sub=sub_view, rotated=True)
    return RedirectResponse(f"/integrations?done={done}#webhooks", status_code=303)


@router.post("/integrations/webhooks/{hook_id}/active")
async def hook_active(hook_id: str, request: Request,
                      user: WebUser = Depends(need(Action.WEBHOOKS_MANAGE))) -> Response:  # noqa: B008
    return await _hook_action(request, user, hook_id, "active")


@router.post("/integrations/webhooks/{hook_id}/rotate")
async def hook_rotate(hook_id: str, request: Request,
                      user: WebUser = Depends(need(Action.WEBHOOKS_MANAGE))) -> Response:  # noqa: B008
    return await _hook_action(request, user, hook_id, "rotate")


@router.post("/integrations/webhooks/{hook_id}/delete")
async def hook_delete(hook_id: str, request: Request,
                      user: WebUser = Depends(need(Action.WEBHOOKS_MANAGE))) -> Response:  # noqa: B008
    return await _hook_action(request, user, hook_id, "delete")


@router.post("/integrations/deliveries/{delivery_id}/replay")
async def replay(delivery_id: str, request: Request,
                 user: WebUser = Depends(need(Action.WEBHOOKS_MANAGE))) -> Response:  # noqa: B008
    st = web(request)
    try:
        with st.session() as s:
            wh.replay(s, st.workspace_id, delivery_id[:32])
    except wh.WebhookError as exc:
        return _page(request, user, status=409, error=f"{exc.field}: {exc.reason}", error_at="deliveries")
    except LookupError as exc:
        return _page(request, user, status=404, error=str(exc).strip("'\""), error_at="deliveries")
    return RedirectResponse("/integrations?done=replayed#deliveries", status_code=303)
