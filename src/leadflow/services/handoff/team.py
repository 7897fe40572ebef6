"""Team management: reps, territories, out-of-office periods, handoff settings (SLA, SQL rule, segments)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadflow.core.handoff.bant import SqlRule
from leadflow.core.handoff.sla import SlaConfig
from leadflow.core.handoff.team import Away, TeamError, Territory, rep_from_mapping
from leadflow.core.timeutil import as_utc, utcnow
from leadflow.services.handoff.common import (
    DEFAULT_CONFIG,
    HandoffError,
    NotFound,
    now_or,
    open_counts,
    parse_config,
    rep_row,
)
from leadflow.store import handoff_tables as ht

REP_FIELDS = ("name", "email", "role", "weight", "capacity", "timezone", "work_days", "work_start", "work_end",
              "country", "territories", "named_accounts", "team_lead", "active")


def _validated(data: Mapping[str, Any]) -> dict[str, Any]:
    try:
        rep = rep_from_mapping(data)
    except TeamError as exc:
        raise HandoffError(exc.field, exc.reason) from None
    return {"key": rep.key, "name": rep.name, "email": rep.email, "role": rep.role.value, "weight": rep.weight,
            "capacity": rep.capacity, "timezone": rep.hours.tz, "work_days": sorted(rep.hours.days),
            "work_start": rep.hours.start.strftime("%H:%M"), "work_end": rep.hours.end.strftime("%H:%M"),
            "country": rep.country, "territories": sorted(rep.territories), "named_accounts": sorted(rep.named_accounts),
            "team_lead": rep.team_lead, "active": rep.active}


def add_rep(session: Session, workspace_id: str, data: Mapping[str, Any]) -> ht.Rep:
    """Add a rep (``key``, ``name``, ``role`` sdr|ae, ``weight``, ``capacity``, ``timezone``, ``work_days``,
    ``work_start``/``work_end``, ``country``, ``territories``, ``named_accounts``, ``team_lead``, ``email``)."""
    clean = _validated(data)
    _check_territories(session, workspace_id, clean["territories"])
    if session.scalar(select(ht.Rep.id).where(ht.Rep.workspace_id == workspace_id, ht.Rep.key == clean["key"])):
        raise HandoffError("rep.key", f"a rep {clean['key']!r} already exists")
    now = utcnow()
    row = ht.Rep(workspace_id=workspace_id, created_at=now, updated_at=now, **clean)
    session.add(row)
    session.flush()
    return row


def update_rep(session: Session, workspace_id: str, key: str, changes: Mapping[str, Any]) -> ht.Rep:
    row = rep_row(session, workspace_id, key)
    unknown = sorted(set(changes) - set(REP_FIELDS))
    if unknown:
        raise HandoffError(f"rep.{unknown[0]}", f"unknown field (known: {', '.join(REP_FIELDS)})")
    merged = {"key": row.key, **{f: getattr(row, f) for f in REP_FIELDS}, **changes}
    clean = _validated(merged)
    _check_territories(session, workspace_id, clean["territories"])
    for f in REP_FIELDS:
        setattr(row, f, clean[f])
    row.updated_at = utcnow()
    session.flush()
    return row


def deactivate_rep(session: Session, workspace_id: str, key: str) -> ht.Rep:
    """The rep leaves: no new leads. Their open leads stay until reassigned (``leadflow handoff assign``)."""
    return update_rep(session, workspace_id, key, {"active": False})


def set_away(session: Session, workspace_id: str, key: str, starts_at: datetime, ends_at: datetime,
             reason: str = "") -> ht.RepAway:
    row = rep_row(session, workspace_id, key)
    try:
        a = Away(starts_at, ends_at, reason)
    except TeamError as exc:
        raise HandoffError(exc.field, exc.reason) from None
    if len(reason) > 200:
        raise HandoffError("away.reason", "at most 200 characters")
    out = ht.RepAway(workspace_id=workspace_id, rep_id=row.id, starts_at=a.starts_at, ends_at=a.ends_at,
                     reason=reason, created_at=utcnow())
    session.add(out)
    session.flush()
    return out


def end_away(session: Session, workspace_id: str, key: str, at: datetime | None = None) -> int:
    """End the rep's current and future absences now; returns how many were changed."""
    at = now_or(at)
    row = rep_row(session, workspace_id, key)
    n = 0
    for a in session.scalars(select(ht.RepAway).where(ht.RepAway.workspace_id == workspace_id,
                                                      ht.RepAway.rep_id == row.id, ht.RepAway.ends_at > at)):
        if as_utc(a.starts_at) >= at:
            session.delete(a)
        else:
            a.ends_at = at
        n += 1
    session.flush()
    return n


def list_reps(session: Session, workspace_id: str, at: datetime | None = None) -> list[dict[str, Any]]:
    at = now_or(at)
    counts = open_counts(session, workspace_id)
    out = []
    reps = session.scalars(select(ht.Rep).where(ht.Rep.workspace_id == workspace_id).order_by(ht.Rep.key)).all()
    aways = session.scalars(select(ht.RepAway).where(ht.RepAway.workspace_id == workspace_id,
                                                     ht.RepAway.ends_at > at)).all()
    for r in reps:
        mine = sorted((a for a in aways if a.rep_id == r.id), key=lambda a: a.starts_at)
        now_away = next((a for a in mine if as_utc(a.starts_at) <= at), None)
        out.append({**{f: getattr(r, f) for f in ("key", *REP_FIELDS)}, "open": counts.get(r.key, 0),
                    "away_now": {"until": as_utc(now_away.ends_at).isoformat(), "reason": now_away.reason}
                    if now_away else None,
                    "away_planned": [{"from": as_utc(a.starts_at).isoformat(), "until": as_utc(a.ends_at).isoformat(),
                                      "reason": a.reason} for a in mine if a is not now_away]})
    return out


def _check_territories(session: Session, workspace_id: str, keys: list[str]) -> None:
    if not keys:
        return
    known = set(session.scalars(select(ht.Territory.key).where(ht.Territory.workspace_id == workspace_id)))
    missing = [k for k in keys if k not in known]
    if missing:
        raise HandoffError("rep.territories", f"unknown territory {missing[0]!r} (add it first)")


def add_territory(session: Session, workspace_id: str, data: Mapping[str, Any]) -> ht.Territory:
    """Add or replace a territory (``key``, ``name``, ``countries``, ``segments``, ``min_employees``,
    ``max_employees``, ``priority``)."""
    try:
        t = Territory(str(data.get("key") or ""), str(data.get("name") or data.get("key") or ""),
                      frozenset(data.get("countries") or ()), frozenset(data.get("segments") or ()),
                      _opt_int(data.get("min_employees"), "territory.min_employees"),
                      _opt_int(data.get("max_employees"), "territory.max_employees"),
                      _opt_int(data.get("priority", 100), "territory.priority") or 0)
    except TeamError as exc:
        raise HandoffError(exc.field, exc.reason) from None
    row = session.scalar(select(ht.Territory).where(ht.Territory.workspace_id == workspace_id,
                                                    ht.Territory.key == t.key))
    if row is None:
        row = ht.Territory(workspace_id=workspace_id, key=t.key, created_at=utcnow())
        session.add(row)
    row.name, row.countries, row.segments = t.name, sorted(data.get("countries") or ()), sorted(t.segments)
    row.min_employees, row.max_employees, row.priority = t.min_employees, t.max_employees, t.priority
    session.flush()
    return row


def _opt_int(v: Any, field: str) -> int | None:
    if v is None or v == "":
        return None
    try:
        return int(v)
    except (TypeError, ValueError):
        raise TeamError(field, f"must be a whole number, got {v!r}") from None


def list_territories(session: Session, workspace_id: str) -> list[ht.Territory]:
    return list(session.scalars(select(ht.Territory).where(ht.Territory.workspace_id == workspace_id)
                                .order_by(ht.Territory.priority, ht.Territory.key)))


def get_config(session: Session, workspace_id: str) -> dict[str, Any]:
    row = session.get(ht.HandoffConfig, workspace_id)
    return {**DEFAULT_CONFIG, **(row.config if row and row.config else {})}


def set_config(session: Session, workspace_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Change handoff settings (``sla``, ``sql_rule``, ``segments``, ``nurture_days``, ``escalation_contact``);
    validated whole before anything is stored."""
    unknown = sorted(set(changes) - set(DEFAULT_CONFIG))
    if unknown:
        raise HandoffError(f"config.{unknown[0]}", f"unknown setting (known: {', '.join(DEFAULT_CONFIG)})")
    merged = {**get_config(session, workspace_id), **changes}
    try:
        cfg = parse_config(merged)
        merged["sla"] = SlaConfig.to_dict(cfg.sla)
        merged["sql_rule"] = SqlRule.to_dict(cfg.sql_rule)
    except TeamError as exc:
        raise HandoffError(exc.field, exc.reason) from None
    except (TypeError, ValueError, KeyError) as exc:
        raise HandoffError("config", f"invalid value: {exc}") from None
    row = session.get(ht.HandoffConfig, workspace_id)
    if row is None:
        row = ht.HandoffConfig(workspace_id=workspace_id, config=merged, updated_at=utcnow())
        session.add(row)
    else:
        row.config, row.updated_at = merged, utcnow()
    session.flush()
    return merged


__all__ = ["NotFound", "add_rep", "add_territory", "deactivate_rep", "end_away", "get_config", "list_reps",
           "list_territories", "set_away", "set_config", "update_rep"]
