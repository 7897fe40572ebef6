"""Accounts (companies): list/search, get, create or update by domain."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, or_, select

from leadflow.api.common import decode_cursor, encode_cursor, ingestor, like_pattern
from leadflow.api.deps import AccountsRead, AccountsWrite, SessionDep
from leadflow.api.problems import Problem
from leadflow.store.tables import Account, Lead

router = APIRouter(prefix="/v1/accounts", tags=["accounts"])
Domain = Annotated[str, Field(max_length=255, pattern=r"^[A-Za-z0-9.-]+\.[A-Za-z]{2,}$", examples=["acme.io"])]


class AccountFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str | None, Field(max_length=255)] = None
    industry: Annotated[str | None, Field(max_length=100)] = None
    employee_count: Annotated[int | None, Field(ge=0, le=10_000_000)] = None
    annual_revenue: Annotated[float | None, Field(ge=0, le=1e15)] = None
    country: Annotated[str | None, Field(max_length=100)] = None
    owner: Annotated[str | None, Field(max_length=200)] = None
    properties: dict[str, Any] | None = None


class AccountIn(AccountFields):
    domain: Domain


class AccountOut(BaseModel):
    id: str
    domain: str
    name: str | None = None
    industry: str | None = None
    employee_count: int | None = None
    annual_revenue: float | None = None
    country: str | None = None
    owner: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)
    leads: int | None = None
    created_at: datetime
    updated_at: datetime


class AccountPage(BaseModel):
    items: list[AccountOut]
    next_cursor: str | None = None


def _view(acc: Account, leads: int | None = None) -> AccountOut:
    return AccountOut(**{c: getattr(acc, c) for c in AccountOut.model_fields if hasattr(acc, c) and c != "leads"}
                      | {"properties": acc.properties or {}, "leads": leads})


@router.get("", response_model=AccountPage, summary="List and search accounts (by domain, keyset pagination)")
def list_accounts(session: SessionDep, who: AccountsRead,
                  q: Annotated[str | None, Query(max_length=200)] = None,
                  limit: Annotated[int, Query(ge=1, le=500)] = 50,
                  cursor: Annotated[str | None, Query(max_length=500)] = None) -> AccountPage:
    stmt = select(Account).where(Account.workspace_id == who.workspace_id)
    if q:
        pat = like_pattern(q.strip().lower())
        stmt = stmt.where(or_(Account.domain.like(pat, escape="\\"), Account.name.ilike(pat, escape="\\")))
    if cursor:
        (last,) = decode_cursor(cursor, ["str"])
        stmt = stmt.where(Account.domain > last)
    rows = session.scalars(stmt.order_by(Account.domain).limit(limit + 1)).all()
    nxt = encode_cursor([rows[limit - 1].domain]) if len(rows) > limit else None
    return AccountPage(items=[_view(a) for a in rows[:limit]], next_cursor=nxt)


def _get(session: SessionDep, workspace_id: str, account_id: str) -> Account:
    acc = session.scalar(select(Account).where(Account.workspace_id == workspace_id, Account.id == account_id))
    if acc is None:
        raise Problem(404, f"no account {account_id}")
    return acc


@router.get("/{account_id}", response_model=AccountOut, summary="One account with its number of leads")
def get_account(account_id: str, session: SessionDep, who: AccountsRead) -> AccountOut:
    acc = _get(session, who.workspace_id, account_id)
    n = session.scalar(select(func.count()).select_from(Lead).where(Lead.workspace_id == who.workspace_id,
                                                                    Lead.account_id == acc.id))
    return _view(acc, int(n or 0))


@router.put("", response_model=AccountOut, summary="Create or update an account by domain (re-scores its leads)")
def upsert_account(body: AccountIn, request: Request, session: SessionDep, who: AccountsWrite) -> AccountOut:
    rec = body.model_dump(exclude_none=True)
    rec["domain"] = body.domain.lower()
    ids = ingestor(session, who, request.app.state.settings).upsert_accounts([rec])
    session.expire_all()
    return _view(_get(session, who.workspace_id, ids[rec["domain"]]))


@router.patch("/{account_id}", response_model=AccountOut, summary="Update an account's attributes")
def update_account(account_id: str, body: AccountFields, request: Request, session: SessionDep,
                   who: AccountsWrite) -> AccountOut:
    acc = _get(session, who.workspace_id, account_id)
    rec = body.model_dump(exclude_none=True) | {"domain": acc.domain}
    ingestor(session, who, request.app.state.settings).upsert_accounts([rec])
    session.expire_all()
    return _view(_get(session, who.workspace_id, account_id))
