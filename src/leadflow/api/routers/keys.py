"""API keys: create (the key is shown once), list, revoke."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from leadflow.api.deps import KeysManage, SessionDep
from leadflow.api.problems import Problem, field_error
from leadflow.services import apikeys

router = APIRouter(prefix="/v1/keys", tags=["keys"])


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["ingest", "secret"]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    scopes: Annotated[list[str], Field(max_length=50, description="Actions (e.g. leads:read) or * for all; "
                                       "an ingest key holds events:write only.")] = []


class KeyOut(BaseModel):
    id: str
    kind: str
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    created_by: str | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class KeyCreated(KeyOut):
    key: str = Field(description="The key itself. Shown this once; only its hash is stored.")


def _view(k: apikeys.KeyInfo) -> dict:
    return {"id": k.id, "kind": k.kind, "name": k.name, "prefix": k.prefix, "scopes": sorted(k.scopes),
            "created_at": k.created_at, "created_by": k.created_by, "last_used_at": k.last_used_at,
            "revoked_at": k.revoked_at}


@router.get("", response_model=list[KeyOut], summary="The workspace's keys (prefixes only)")
def list_keys(session: SessionDep, who: KeysManage) -> list[dict]:
    return [_view(k) for k in apikeys.list_keys(session, who.workspace_id)]


@router.post("", response_model=KeyCreated, status_code=201, summary="Create a key (returned once)")
def create_key(body: KeyIn, session: SessionDep, who: KeysManage) -> dict:
    try:
        info, plaintext = apikeys.create_key(session, who.workspace_id, kind=body.kind, name=body.name,
                                             scopes=body.scopes, created_by=who.actor_id)
    except ValueError as exc:
        raise Problem(422, str(exc), errors=[field_error("body.scopes", str(exc))]) from None
    return _view(info) | {"key": plaintext}


@router.delete("/{key_id}", response_model=KeyOut, summary="Revoke a key (idempotent)")
def revoke_key(key_id: str, request: Request, session: SessionDep, who: KeysManage) -> dict:
    info = apikeys.revoke_key(session, who.workspace_id, key_id)
    request.app.state.key_cache.forget(key_id)
    return _view(info)
