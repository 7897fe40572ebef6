"""Lead list and lead detail (scores with their breakdown and decay, history chart, timeline, actions)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from leadflow.core.lifecycle import TRANSITIONS, Actor, IllegalTransition, LeadStatus, Stage
from leadflow.core.permissions import Action
from leadflow.core.timeutil import as_utc, epoch, from_epoch, utcnow
from leadflow.services import scoring as scoring_svc
from leadflow.services.ingest import Ingestor
from leadflow.services.workspaces import active_models
from leadflow.store.tables import Account, Event, Lead, Workspace
from leadflow.web import panels
from leadflow.web.auth import WebUser
from leadflow.web.common import clean, form_data, need, render, web
from leadflow.web.leadlist import FilterError, LeadFilter, distinct_values, list_leads

router = APIRouter(include_in_schema=False)
HISTORY_POINTS = 40
TIMELINE_LIMIT = 200


def lifecycle_model(s: Any, workspace_id: str):  # noqa: ANN201
    ws = s.get(Workspace, workspace_id)
    models = active_models(s, workspace_id)
    for m in models:
        if m.key == ws.lifecycle_model:
            return m
    return models[0] if models else None


@router.get("/leads")
def lead_list(request: Request, user: WebUser = Depends(need(Action.LEADS_READ))) -> Response:  # noqa: B008
    st = web(request)
    error = ""
    try:
        f = LeadFilter.from_params(request.query_params)
    except FilterError as exc:
        error = f"{exc.field}: {exc.reason}"
        f = LeadFilter()
    now = epoch(utcnow())
    with st.session() as s:
        model = lifecycle_model(s, st.workspace_id)
        page = list_leads(s, st.workspace_id, model.key if model else "default", f)
        for r in page.rows:
            if r["engagement"] is not None and model is not None:
                r["now"] = scoring_svc.engagement_from_state(model, r["state"], now, r["engagement"])
                r["band"] = model.band(r["now"])
            else:
                r["now"], r["band"] = None, ""
        sources = distinct_values(s, st.workspace_id, Lead.source, 40)
        owners = distinct_values(s, st.workspace_id, Lead.owner, 100)
    ctx = dict(f=f, page=page, error=error, stages=[x.value for x in Stage], statuses=[x.value for x in LeadStatus],
               grades=["A", "B", "C", "D"], sources=sources, owners=owners,
               next_params=f.params(cursor=page.next_cursor) if page.next_cursor else None,
               first_params=f.params(cursor=""))
    if request.headers.get("hx-request") == "true" and request.headers.get("hx-target") == "lead-results":
        return render(request, user, "leads_results.html", **ctx)
    return render(request, user, "leads.html", **ctx)


def _lead_or_404(s: Any, workspace_id: str, lead_id: str) -> Lead | None:
    if len(lead_id) > 32:
        return None
    return s.scalar(select(Lead).where(Lead.workspace_id == workspace_id, Lead.id == lead_id))


def _not_found(request: Request, user: WebUser) -> Response:
    return render(request, user, "error.html", status=404, title="No such lead",
                  detail="This lead does not exist in this workspace.")


def _history_times(start: Any, end: Any, n: int = HISTORY_POINTS) -> list[Any]:
    start, end = as_utc(start), as_utc(end)
    if end <= start:
        start = end - timedelta(days=1)
    step = (end - start) / (n - 1)
    return [start + step * i for i in range(n)]


def lead_context(s: Any, workspace_id: str, lead: Lead, user: WebUser) -> dict[str, Any]:
    model = lifecycle_model(s, workspace_id)
    now = utcnow()
    x = scoring_svc.explain_lead(s, workspace_id, lead, model, now) if model else None
    acc = s.get(Account, lead.account_id) if lead.account_id else None
    events = s.execute(select(Event.id, Event.type, Event.occurred_at, Event.properties, Event.flags)
                       .where(Event.workspace_id == workspace_id, Event.lead_id == lead.id)
                       .order_by(Event.occurred_at.desc(), Event.id.desc()).limit(TIMELINE_LIMIT)).all()
    timeline: list[dict[str, Any]] = [
        {"kind": "event", "at": as_utc(e.occurred_at), "type": e.type, "detail": _event_detail(e.properties),
         "flags": e.flags} for e in events]
    if x is not None:
        timeline += [{**h, "kind": "stage", "at": as_utc(h["at"])} for h in x.history]
    timeline.sort(key=lambda t: t["at"], reverse=True)
    chart = None
    if model is not None:
        first = min([as_utc(lead.created_at)] + [as_utc(e.occurred_at) for e in events[-1:]])
        times = _history_times(max(first, now - timedelta(days=365)), now)
        hist = scoring_svc.score_history(s, workspace_id, lead.id, model, times)
        chart = {"type": "line",
                 "data": {"labels": [t.strftime("%Y-%m-%d") for t, _ in hist],
                          "datasets": [{"label": "Engagement", "data": [round(v, 2) for _, v in hist], "fill": True,
                                        "tension": 0.25, "pointRadius": 0}]},
                 "options": {"scales": {"y": {"beginAtZero": True, "suggestedMax": model.engagement.ceiling}},
                             "plugins": {"legend": {"display": False}}}}
    next_stages = sorted(t.value for t in TRANSITIONS.get(Stage(lead.stage), frozenset()))
    return dict(lead=lead, account=acc, x=x, model=model, timeline=timeline, chart=chart,
                timeline_limit=TIMELINE_LIMIT, next_stages=next_stages,
                statuses=[v.value for v in LeadStatus], events=x.events if x else {},
                predictive=panels.predictive_panel(s, workspace_id, lead, user),
                bant=panels.bant_panel(s, workspace_id, lead, user),
                props=sorted((lead.properties or {}).items())[:50])


def _event_detail(props: dict[str, Any] | None) -> str:
    if not props:
        return ""
    for k in ("url", "asset", "form", "webinar", "product", "campaign", "plan", "topic", "network"):
        if props.get(k):
            return f"{k}: {props[k]}"
    k, v = next(iter(props.items()))
    return f"{k}: {v}"


@router.get("/leads/{lead_id}")
def lead_detail(lead_id: str, request: Request, user: WebUser = Depends(need(Action.LEADS_READ))) -> Response:  # noqa: B008
    st = web(request)
    with st.session() as s:
        lead = _lead_or_404(s, st.workspace_id, lead_id)
        if lead is None:
            return _not_found(request, user)
        ctx = lead_context(s, st.workspace_id, lead, user)
    return render(request, user, "lead.html", from_epoch=from_epoch, error=request.query_params.get("error", "")[:300],
                  **ctx)


@router.post("/leads/{lead_id}/stage")
async def change_stage(lead_id: str, request: Request,
                       user: WebUser = Depends(need(Action.LEADS_STAGE))) -> Response:  # noqa: B008
    st = web(request)
    form = await form_data(request)
    try:
        to = Stage(clean(form.get("stage"), "stage", 20, required=True))
        reason = clean(form.get("reason"), "reason", 1000, required=True)
    except ValueError as exc:
        return _detail_error(request, user, lead_id, str(exc) if "stage" in str(exc) or "reason" in str(exc)
                             else "stage: not a stage")
    try:
        with st.session() as s:
            lead = _lead_or_404(s, st.workspace_id, lead_id)
            if lead is None:
                return _not_found(request, user)
            Ingestor(s, s.get(Workspace, st.workspace_id)).change_stage(
                lead.id, to, reason=reason, actor_id=user.email, actor=Actor.USER)
    except (IllegalTransition, ValueError) as exc:
        return _detail_error(request, user, lead_id, f"stage: {exc}")
    return RedirectResponse(f"/leads/{lead_id}?msg=stage", status_code=303)


@router.post("/leads/{lead_id}/status")
async def change_status(lead_id: str, request: Request,
                        user: WebUser = Depends(need(Action.LEADS_STAGE))) -> Response:  # noqa: B008
    st = web(request)
    form = await form_data(request)
    try:
        status = clean(form.get("status"), "status", 30, required=True)
        if status not in {v.value for v in LeadStatus}:
            raise ValueError(f"status: {status!r} is not a lead status")
        reason = clean(form.get("reason"), "reason", 1000, required=True)
    except ValueError as exc:
        return _detail_error(request, user, lead_id, str(exc))
    with st.session() as s:
        lead = _lead_or_404(s, st.workspace_id, lead_id)
        if lead is None:
            return _not_found(request, user)
        if status != lead.lead_status:
            Ingestor(s, s.get(Workspace, st.workspace_id)).upsert_leads([{
                "email": lead.email, "lead_status": status,
                "properties": {"lead_status_reason": reason, "lead_status_changed_by": user.email,
                               "lead_status_changed_at": utcnow().isoformat()}}])
    return RedirectResponse(f"/leads/{lead_id}?msg=status", status_code=303)


def _detail_error(request: Request, user: WebUser, lead_id: str, message: str) -> Response:
    st = web(request)
    with st.session() as s:
        lead = _lead_or_404(s, st.workspace_id, lead_id)
        if lead is None:
            return _not_found(request, user)
        ctx = lead_context(s, st.workspace_id, lead, user)
    return render(request, user, "lead.html", status=422, from_epoch=from_epoch, error=message, **ctx)


BANT_FIELDS = {
    "budget": ("amount", "currency", "confirmed"),
    "authority": ("role", "kind"),
    "need": ("pain_category", "description"),
    "timeline": ("target_date", "quarter"),
}


@router.post("/leads/{lead_id}/bant")
async def save_bant(lead_id: str, request: Request,
                    user: WebUser = Depends(need(Action.HANDOFF_WORK))) -> Response:  # noqa: B008
    """Record the BANT criteria whose state or details changed (each a new version; history kept)."""
    from leadflow.services.handoff import work
    from leadflow.services.handoff.common import HandoffError

    st = web(request)
    form = await form_data(request)
    try:
        with st.session() as s:
            lead = _lead_or_404(s, st.workspace_id, lead_id)
            if lead is None:
                return _not_found(request, user)
            current = work.bant_record(s, st.workspace_id, lead.id)
            for crit, names in BANT_FIELDS.items():
                state = clean(form.get(f"{crit}_state"), f"bant.{crit}.state", 20) or "unknown"
                details: dict[str, Any] = {}
                for n in names:
                    if n == "confirmed":
                        details[n] = form.get(f"{crit}_{n}") == "on"
                    else:
                        v = clean(form.get(f"{crit}_{n}"), f"bant.{crit}.{n}", 2000)
                        details[n] = v or None
                if crit == "authority":
                    details["other_deciders"] = []
                rec = next(r for c, r in current.criteria.items() if c.value == crit)
                old = {k: v for k, v in dict(rec.details or {}).items() if k != "note"}
                new_clean = {k: v for k, v in details.items()}
                if rec.state.value == state and _same_details(old, new_clean):
                    continue
                work.record_bant(s, st.workspace_id, lead.id, crit, state, details, by=user.email)
    except HandoffError as exc:
        return _detail_error(request, user, lead_id, f"{exc.field}: {exc.reason}")
    except ValueError as exc:
        return _detail_error(request, user, lead_id, str(exc))
    return RedirectResponse(f"/leads/{lead_id}?msg=bant", status_code=303)


def _same_details(old: dict[str, Any], new: dict[str, Any]) -> bool:
    def norm(v: Any) -> Any:
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return "" if v in (None, [], False) else str(v)

    keys = set(old) | set(new)
    return all(norm(old.get(k)) == norm(new.get(k)) for k in keys)


@router.post("/leads/{lead_id}/bant/evaluate")
async def evaluate_bant(lead_id: str, request: Request,
                        user: WebUser = Depends(need(Action.HANDOFF_WORK))) -> Response:  # noqa: B008
    from leadflow.services.handoff import work
    from leadflow.services.handoff.common import HandoffError

    st = web(request)
    try:
        with st.session() as s:
            lead = _lead_or_404(s, st.workspace_id, lead_id)
            if lead is None:
                return _not_found(request, user)
            verdict, where = work.evaluate_bant(s, st.workspace_id, lead.id, by=user.email)
    except HandoffError as exc:
        return _detail_error(request, user, lead_id, f"{exc.field}: {exc.reason}")
    except (IllegalTransition, ValueError) as exc:
        return _detail_error(request, user, lead_id, str(exc))
    return RedirectResponse(f"/leads/{lead_id}?msg=bant", status_code=303)


@router.get("/leads/{lead_id}/predictive")
def lead_predictive(lead_id: str, request: Request, user: WebUser = Depends(need(Action.PREDICT_READ))) -> Response:  # noqa: B008
    st = web(request)
    p = panels.predictive_for(st.db, st.workspace_id, lead_id[:32])
    return render(request, user, "predictive.html", p=p)
