"""Team (sales managers, admins): reps with capacity and absences, territories, routing distribution vs
weights, SLA compliance, the unassigned queue with manual assignment; handoff settings shown read-only.

Viewing needs ``analytics:read``; every change needs ``team:manage`` (through :func:`leadflow.web.common.need`,
which also checks the CSRF token). All writes go through ``leadflow.services.handoff`` (``team``,
``assign``); their refusals (``HandoffError(field, reason)``) are shown next to the form that caused them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from leadflow.core.permissions import Action
from leadflow.core.timeutil import as_utc, utcnow
from leadflow.web.auth import WebUser
from leadflow.web.common import available, form_data, need, render, web

router = APIRouter(include_in_schema=False)

DONE = {
    "rep": "Rep saved.",
    "rep_added": "Rep added.",
    "territory": "Territory saved.",
    "away": "Out-of-office period saved.",
    "back": "Out of office ended: the rep gets new leads again.",
    "active": "Rep activated.",
    "inactive": "Rep deactivated: no new leads; their open leads stay until reassigned.",
    "assigned": "Lead assigned.",
    "routed": "Lead routed by the rules.",
}
UNASSIGNED_LIMIT = 100
REP_FORM_FIELDS = ("key", "name", "email", "role", "weight", "capacity", "timezone", "work_days", "work_start",
                   "work_end", "country", "territories", "named_accounts", "team_lead")
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _handoff_ready() -> bool:
    return available("leadflow.services.handoff.team") and available("leadflow.store.handoff_tables")


def _days_text(days: Any) -> str:
    """[0, 1, 2, 3, 4] -> 'mon-fri'; other sets as a list of names."""
    ds = sorted(int(d) for d in (days or ()))
    if not ds:
        return ""
    if ds == list(range(ds[0], ds[-1] + 1)) and len(ds) > 2:
        return f"{DAY_NAMES[ds[0]]}-{DAY_NAMES[ds[-1]]}"
    return ",".join(DAY_NAMES[d] for d in ds)


def _split(value: Any) -> list[str]:
    return [p.strip() for p in str(value or "").replace("\n", ",").split(",") if p.strip()]


def _rep_input(form: dict[str, Any]) -> dict[str, Any]:
    """The rep form as the service's mapping (the service validates every field)."""
    out: dict[str, Any] = {}
    for f in ("key", "name", "email", "role", "timezone", "work_days", "work_start", "work_end", "country",
              "team_lead"):
        v = str(form.get(f) or "").strip()
        if len(v) > 320:
            from leadflow.services.handoff.common import HandoffError

            raise HandoffError(f"rep.{f}", "at most 320 characters")
        out[f] = v or None
    for f in ("weight", "capacity"):
        out[f] = str(form.get(f) or "").strip() or None
    out["territories"] = _split(form.get("territories"))
    out["named_accounts"] = _split(form.get("named_accounts"))
    return out


def _rep_form_values(rep: dict[str, Any]) -> dict[str, str]:
    return {"key": rep["key"], "name": rep.get("name") or "", "email": rep.get("email") or "",
            "role": rep.get("role") or "sdr", "weight": str(rep.get("weight") or 1),
            "capacity": str(rep.get("capacity") if rep.get("capacity") is not None else 25),
            "timezone": rep.get("timezone") or "UTC", "work_days": _days_text(rep.get("work_days")),
            "work_start": rep.get("work_start") or "09:00", "work_end": rep.get("work_end") or "17:00",
            "country": rep.get("country") or "", "territories": ", ".join(rep.get("territories") or ()),
            "named_accounts": ", ".join(rep.get("named_accounts") or ()), "team_lead": rep.get("team_lead") or ""}


def _parse_dt(value: Any, field: str) -> datetime:
    """A ``datetime-local`` value (or ISO time) read as UTC when it has no offset."""
    from leadflow.services.handoff.common import HandoffError

    v = str(value or "").strip()
    if not v:
        raise HandoffError(field, "required")
    try:
        d = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        raise HandoffError(field, f"not a date and time: {v[:40]!r} (use YYYY-MM-DDTHH:MM)") from None
    return d.replace(tzinfo=UTC) if d.tzinfo is None else as_utc(d)


def _unassigned(s: Any, workspace_id: str) -> list[dict[str, Any]]:
    """The open assignments without a rep (the handoff's unassigned queue), oldest first."""
    from sqlalchemy import select

    from leadflow.store import handoff_tables as ht
    from leadflow.store.tables import Lead

    A = ht.Assignment
    q = (select(A.lead_id, A.role, A.stage, A.segment, A.explanation, A.assigned_at, Lead.email, Lead.first_name,
                Lead.last_name, Lead.country)
         .join(Lead, Lead.id == A.lead_id)
         .where(A.workspace_id == workspace_id, A.open_lead_id.is_not(None), A.rep_key.is_(None))
         .order_by(A.assigned_at, A.lead_id).limit(UNASSIGNED_LIMIT))
    return [{"lead_id": lid, "role": role, "stage": stage, "segment": seg, "explanation": expl, "since": at,
             "email": email, "name": f"{first or ''} {last or ''}".strip() or email, "country": country}
            for lid, role, stage, seg, expl, at, email, first, last, country in s.execute(q)]


def _page(request: Request, user: WebUser, *, status: int = 200, error: str = "", error_at: str = "",
          rep_form: dict[str, str] | None = None, territory_form: dict[str, str] | None = None,
          away_for: str = "") -> Response:
    st = web(request)
    ctx: dict[str, Any] = {"available": _handoff_ready(), "error": error, "error_at": error_at,
                           "error_field": _field_of(error),
                           "done": DONE.get(request.query_params.get("done", ""), ""),
                           "can_manage": user.can(Action.TEAM_MANAGE), "away_for": away_for,
                           "rep_form": rep_form or {"role": "sdr", "weight": "1", "capacity": "25", "timezone": "UTC",
                                                    "work_days": "mon-fri", "work_start": "09:00",
                                                    "work_end": "17:00"},
                           "territory_form": territory_form or {"priority": "100"}}
    if ctx["available"]:
        from leadflow.services.handoff import reports, team

        now = utcnow()
        with st.session() as s:
            reps = team.list_reps(s, st.workspace_id, now)
            territories = team.list_territories(s, st.workspace_id)
            cfg = team.get_config(s, st.workspace_id)
            since = now - timedelta(days=90)
            dist = reports.distribution_report(s, st.workspace_id, since=since)
            sla = reports.sla_report(s, st.workspace_id, since=since)
            unassigned = _unassigned(s, st.workspace_id)
            ctx.update(territories=[{"key": t.key, "name": t.name, "countries": list(t.countries or ()),
                                     "segments": list(t.segments or ()), "min_employees": t.min_employees,
                                     "max_employees": t.max_employees, "priority": t.priority} for t in territories])
        for r in reps:
            r["days_text"] = _days_text(r.get("work_days"))
            cap = r.get("capacity") or 0
            r["load"] = min(1.0, r["open"] / cap) if cap else 1.0
            r["full"] = r["open"] >= cap
            if r.get("away_now"):
                r["away_now"]["until_dt"] = datetime.fromisoformat(r["away_now"]["until"])
            for a in r.get("away_planned") or ():
                a["from_dt"], a["until_dt"] = datetime.fromisoformat(a["from"]), datetime.fromisoformat(a["until"])
        assignable = [r for r in reps if r["active"]]
        ctx.update(reps=reps, config=cfg, dist=dist, sla=sla, unassigned=unassigned, assignable=assignable,
                   away_default_from=now.strftime("%Y-%m-%dT%H:%M"),
                   away_default_until=(now + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M"),
                   since=since, rep_names={r["key"]: r["name"] for r in reps})
    return render(request, user, "team.html", status=status, **ctx)


def _field_of(error: str) -> str:
    """'rep.weight: must be ...' -> 'weight' (the form field to mark invalid)."""
    head = error.split(":", 1)[0].strip() if ":" in error else ""
    name = head.rsplit(".", 1)[-1]
    return {"work_hours": "work_end", "rep": "rep"}.get(name, name)


def _refused(exc: Exception) -> str:
    field = getattr(exc, "field", None)
    reason = getattr(exc, "reason", None)
    if field and reason:
        return f"{field}: {reason}"
    return str(exc).strip("'\"") or exc.__class__.__name__


@router.get("/team")
def team_page(request: Request, user: WebUser = Depends(need(Action.ANALYTICS_READ))) -> Response:  # noqa: B008
    return _page(request, user)


@router.post("/team/reps")
async def add_rep(request: Request, user: WebUser = Depends(need(Action.TEAM_MANAGE))) -> Response:  # noqa: B008
    from leadflow.services.handoff import team
    from leadflow.services.handoff.common import HandoffError

    st = web(request)
    form = await form_data(request)
    values = {f: str(form.get(f) or "")[:400] for f in REP_FORM_FIELDS}
    try:
        data = _rep_input(form)
        with st.session() as s:
            team.add_rep(s, st.workspace_id, {k: v for k, v in data.items() if v is not None})
    except HandoffError as exc:
        return _page(request, user, status=422, error=_refused(exc), error_at="rep-add", rep_form=values)
    return RedirectResponse("/team?done=rep_added#reps", status_code=303)


def _rep_edit_page(request: Request, user: WebUser, key: str, *, status: int = 200, error: str = "",
                   values: dict[str, str] | None = None) -> Response:
    from leadflow.services.handoff import team

    st = web(request)
    with st.session() as s:
        rep = next((r for r in team.list_reps(s, st.workspace_id) if r["key"] == key), None)
        territories = [t.key for t in team.list_territories(s, st.workspace_id)]
    if rep is None:
        return render(request, user, "error.html", status=404, title="No such rep", detail=f"There is no rep {key!r}.")
    return render(request, user, "team_rep.html", status=status, rep=rep, form=values or _rep_form_values(rep),
                  error=error, error_field=_field_of(error), territory_keys=territories)


@router.get("/team/reps/{key}")
def edit_rep_page(key: str, request: Request, user: WebUser = Depends(need(Action.TEAM_MANAGE))) -> Response:  # noqa: B008
    if not _handoff_ready():
        return RedirectResponse("/team", status_code=303)
    return _rep_edit_page(request, user, key[:64])


@router.post("/team/reps/{key}")
async def edit_rep(key: str, request: Request, user: WebUser = Depends(need(Action.TEAM_MANAGE))) -> Response:  # noqa: B008
    from leadflow.services.handoff import team
    from leadflow.services.handoff.common import HandoffError, NotFound

    st = web(request)
    key = key[:64]
    form = await form_data(request)
    values = {f: str(form.get(f) or "")[:400] for f in REP_FORM_FIELDS}
    values["key"] = key
    try:
        data = _rep_input(form)
        data.pop("key", None)
        # empty optional fields clear them; the defaults apply to the others
        for f, default in (("timezone", "UTC"), ("work_days", "mon-fri"), ("work_start", "09:00"),
                           ("work_end", "17:00"), ("role", "sdr")):
            data[f] = data.get(f) or default
        with st.session() as s:
            team.update_rep(s, st.workspace_id, key, data)
    except NotFound as exc:
        return render(request, user, "error.html", status=404, title="No such rep", detail=_refused(exc))
    except HandoffError as exc:
        return _rep_edit_page(request, user, key, status=422, error=_refused(exc), values=values)
    return RedirectResponse("/team?done=rep#reps", status_code=303)


@router.post("/team/reps/{key}/active")
async def set_active(key: str, request: Request, user: WebUser = Depends(need(Action.TEAM_MANAGE))) -> Response:  # noqa: B008
    from leadflow.services.handoff import team
    from leadflow.services.handoff.common import HandoffError, NotFound

    st = web(request)
    form = await form_data(request)
    active = form.get("active") == "1"
    try:
        with st.session() as s:
            team.update_rep(s, st.workspace_id, key[:64], {"active": active})
    except (HandoffError, NotFound) as exc:
        return _page(request, user, status=422 if isinstance(exc, HandoffError) else 404, error=_refused(exc),
                     error_at="reps")
    return RedirectResponse(f"/team?done={'active' if active else 'inactive'}#reps", status_code=303)


@router.post("/team/reps/{key}/away")
async def set_away(key: str, request: Request, user: WebUser = Depends(need(Action.TEAM_MANAGE))) -> Response:  # noqa: B008
    from leadflow.services.handoff import team
    from leadflow.services.handoff.common import HandoffError, NotFound

    st = web(request)
    form = await form_data(request)
    try:
        starts = _parse_dt(form.get("starts_at"), "away.starts_at")
        ends = _parse_dt(form.get("ends_at"), "away.ends_at")
        with st.session() as s:
            team.set_away(s, st.workspace_id, key[:64], starts, ends, str(form.get("reason") or "").strip())
    except (HandoffError, NotFound) as exc:
        return _page(request, user, status=422 if isinstance(exc, HandoffError) else 404, error=_refused(exc),
                     error_at="away", away_for=key[:64])
    return RedirectResponse("/team?done=away#reps", status_code=303)


@router.post("/team/reps/{key}/back")
async def end_away(key: str, request: Request, user: WebUser = Depends(need(Action.TEAM_MANAGE))) -> Response:  # noqa: B008
    from leadflow.services.handoff import team
    from leadflow.services.handoff.common import NotFound

    st = web(request)
    try:
        with st.session() as s:
            team.end_away(s, st.workspace_id, key[:64])
    except NotFound as exc:
        return _page(request, user, status=404, error=_refused(exc), error_at="reps")
    return RedirectResponse("/team?done=back#reps", status_code=303)


@router.post("/team/territories")
async def save_territory(request: Request, user: WebUser = Depends(need(Action.TEAM_MANAGE))) -> Response:  # noqa: B008
    from leadflow.services.handoff import team
    from leadflow.services.handoff.common import HandoffError

    st = web(request)
    form = await form_data(request)
    fields = ("key", "name", "countries", "segments", "min_employees", "max_employees", "priority")
    values = {f: str(form.get(f) or "")[:2000] for f in fields}
    data: dict[str, Any] = {"key": values["key"].strip(), "name": values["name"].strip() or None,
                            "countries": _split(values["countries"]), "segments": _split(values["segments"]),
                            "min_employees": values["min_employees"].strip() or None,
                            "max_employees": values["max_employees"].strip() or None,
                            "priority": values["priority"].strip() or 100}
    try:
        with st.session() as s:
            team.add_territory(s, st.workspace_id, data)
    except HandoffError as exc:
        return _page(request, user, status=422, error=_refused(exc), error_at="territory", territory_form=values)
    return RedirectResponse("/team?done=territory#territories", status_code=303)


@router.post("/team/assign/{lead_id}")
async def assign_lead(lead_id: str, request: Request, user: WebUser = Depends(need(Action.TEAM_MANAGE))) -> Response:  # noqa: B008
    from leadflow.services.handoff import assign, route
    from leadflow.services.handoff.common import HandoffError, NotFound

    st = web(request)
    form = await form_data(request)
    rep = str(form.get("rep") or "").strip()[:64]
    try:
        with st.session() as s:
            if rep:
                assign(s, st.workspace_id, lead_id[:32], rep, by=user.email)
            else:
                res = route(s, st.workspace_id, lead_id[:32])
                if res.rep is None:
                    raise HandoffError("rep", f"nobody is available by the rules: {res.explanation}")
    except (HandoffError, NotFound, LookupError) as exc:
        return _page(request, user, status=422, error=_refused(exc), error_at="unassigned")
    return RedirectResponse(f"/team?done={'assigned' if rep else 'routed'}#unassigned", status_code=303)
