"""Users (admin): list, add, change role, reset password, deactivate."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from leadflow.core.permissions import Action, Role
from leadflow.services import users as users_svc
from leadflow.web.auth import WebUser
from leadflow.web.common import form_data, need, render, web

router = APIRouter(include_in_schema=False)


def _page(request: Request, user: WebUser, error: str = "", status: int = 200, form: dict | None = None) -> Response:
    st = web(request)
    with st.session() as s:
        rows = users_svc.list_users(s, st.workspace_id)
    return render(request, user, "users.html", status=status, users=rows, roles=[r.value for r in Role], error=error,
                  form=form or {})


@router.get("/users")
def users_page(request: Request, user: WebUser = Depends(need(Action.USERS_MANAGE))) -> Response:  # noqa: B008
    return _page(request, user)


@router.post("/users")
async def add_user(request: Request, user: WebUser = Depends(need(Action.USERS_MANAGE))) -> Response:  # noqa: B008
    st = web(request)
    form = await form_data(request)
    try:
        with st.session() as s:
            users_svc.create_user(s, st.workspace_id, str(form.get("email") or ""), str(form.get("password") or ""),
                                  str(form.get("role") or ""), name=str(form.get("name") or ""))
    except users_svc.UserError as exc:
        return _page(request, user, f"{exc.field}: {exc.reason}", 422,
                     {k: str(form.get(k) or "") for k in ("email", "name", "role")})
    return RedirectResponse("/users?msg=user", status_code=303)


@router.post("/users/{email}")
async def update_user(email: str, request: Request, user: WebUser = Depends(need(Action.USERS_MANAGE))) -> Response:  # noqa: B008
    st = web(request)
    form = await form_data(request)
    try:
        with st.session() as s:
            if form.get("role"):
                if email == user.email and form.get("role") != Role.ADMIN.value:
                    raise users_svc.UserError("role", "you cannot remove your own admin role")
                users_svc.set_role(s, st.workspace_id, email, str(form["role"]))
            if form.get("password"):
                users_svc.set_password(s, st.workspace_id, email, str(form["password"]))
            if form.get("active") in ("0", "1"):
                if email == user.email:
                    raise users_svc.UserError("active", "you cannot deactivate yourself")
                users_svc.set_active(s, st.workspace_id, email, form["active"] == "1")
    except users_svc.UserError as exc:
        return _page(request, user, f"{exc.field}: {exc.reason}", 422)
    return RedirectResponse("/users?msg=user", status_code=303)
