"""The SDR queue: my open leads ordered by SLA due time with live countdowns; log an attempt, accept or
reject with a reason. Built on ``leadflow.services.handoff`` (routing assigns the leads, its SLA clocks set the
due times). A sales user works the leads of the rep whose email (or key, ``users.rep_id``) is theirs; an admin
sees the whole team's open leads and acts as a manager."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from leadflow.core.lifecycle import IllegalTransition
from leadflow.core.permissions import Action
from leadflow.web import panels
from leadflow.web.auth import WebUser
from leadflow.web.common import clean, form_data, need, render, web

router = APIRouter(include_in_schema=False)


def _page(request: Request, user: WebUser, error: str = "", status: int = 200) -> Response:
    st = web(request)
    with st.session() as s:
        q = panels.queue_panel(s, st.workspace_id, user)
    return render(request, user, "queue.html", status=status, q=q, error=error)


@router.get("/queue")
def queue_page(request: Request, user: WebUser = Depends(need(Action.HANDOFF_WORK))) -> Response:  # noqa: B008
    return _page(request, user)


@router.post("/queue/{lead_id}/{action}")
async def queue_action(lead_id: str, action: str, request: Request,
                       user: WebUser = Depends(need(Action.HANDOFF_WORK))) -> Response:  # noqa: B008
    if action not in ("attempt", "accept", "reject"):
        return render(request, user, "error.html", status=404, title="Unknown action", detail="Unknown queue action.")
    from leadflow.services.handoff import work
    from leadflow.services.handoff.common import HandoffError, NotFound

    st = web(request)
    form = await form_data(request)
    msg = {"attempt": "attempt", "accept": "accepted", "reject": "rejected"}[action]
    try:
        note = clean(form.get("note"), "note", 5000) or None
        with st.session() as s:
            rep = panels.rep_key_for(s, st.workspace_id, user)
            if rep is None and not user.can(Action.TEAM_MANAGE):
                raise HandoffError("user", "your user is not linked to a sales rep; ask an admin")
            if action == "attempt":
                work.log_attempt(s, st.workspace_id, lead_id[:32], kind=str(form.get("kind") or "call"),
                                 outcome=str(form.get("outcome") or "no_answer"), note=note, rep=rep)
            elif action == "accept":
                work.accept(s, st.workspace_id, lead_id[:32], rep=rep, note=note)
            else:
                work.reject(s, st.workspace_id, lead_id[:32], clean(form.get("reason"), "reason", 40, required=True),
                            rep=rep, note=note)
    except HandoffError as exc:
        return _page(request, user, f"{exc.field}: {exc.reason}" if hasattr(exc, "field") else str(exc), 422)
    except (NotFound, IllegalTransition, ValueError, LookupError) as exc:
        return _page(request, user, str(exc), 422)
    return RedirectResponse(f"/queue?msg={msg}", status_code=303)


