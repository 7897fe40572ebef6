"""Helpers shared by the routers: the workspace's write path, keyset cursors, lead/account views."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from leadflow.api.deps import Principal
from leadflow.api.problems import Problem, field_error
from leadflow.core.timeutil import parse_ts
from leadflow.services.ingest import Ingestor
from leadflow.settings import Settings
from leadflow.store.tables import Workspace


def workspace(session: Session, who: Principal) -> Workspace:
    ws = session.get(Workspace, who.workspace_id)
    if ws is None:  # the key's workspace was deleted
        raise Problem(404, "workspace not found")
    return ws


def ingestor(session: Session, who: Principal, settings: Settings) -> Ingestor:
    return Ingestor(session, workspace(session, who), allow_custom_types=settings.allow_custom_event_types,
                    future_policy=settings.future_timestamps)


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else v for v in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, kinds: list[str]) -> list[Any]:
    """``kinds`` per value: "str", "float", "datetime"."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != len(kinds):
            raise ValueError
        out: list[Any] = []
        for v, k in zip(values, kinds, strict=True):
            if v is None:
                out.append(None)
            elif k == "datetime":
                out.append(parse_ts(v))
            elif k == "float":
                if isinstance(v, bool) or not isinstance(v, int | float):
                    raise ValueError
                out.append(float(v))
            else:
                if not isinstance(v, str):
                    raise ValueError
                out.append(v)
        return out
    except (ValueError, TypeError, UnicodeDecodeError):
        raise Problem(422, "the cursor is not one this list handed out (it depends on the sort)",
                      errors=[field_error("query.cursor", "invalid cursor")]) from None


def like_pattern(text: str) -> str:
    esc = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{esc}%"
