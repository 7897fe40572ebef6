"""Handoff reports: speed-to-lead, SLA compliance, rejection reasons, routing distribution vs weights, SQL
rate per rep, recycled leads. Counts are SQL aggregates in the store; only speed-to-lead percentiles are
computed here, over one number per assignment of the period."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from leadflow.core.handoff.metrics import distribution, speed_to_lead
from leadflow.core.handoff.workflow import REASONS, RejectReason
from leadflow.core.timeutil import as_utc
from leadflow.store import handoff_tables as ht

A = ht.Assignment


def _period(q, col, since: datetime | None, until: datetime | None):  # noqa: ANN001, ANN202
    if since is not None:
        q = q.where(col >= as_utc(since))
    if until is not None:
        q = q.where(col < as_utc(until))
    return q


def speed_to_lead_report(session: Session, ws: str, since: datetime | None = None,
                         until: datetime | None = None) -> dict[str, Any]:
    """Wall-clock minutes from the lead reaching MQL to the first attempt, over SDR assignments."""
    q = _period(select(A.rep_key, A.qualified_at, A.first_touch_at, A.recycled).where(
        A.workspace_id == ws, A.role == "sdr", A.rep_key.is_not(None)), A.qualified_at, since, until)
    mins: list[float] = []
    by_rep: dict[str, list[float]] = defaultdict(list)
    untouched: dict[str, int] = defaultdict(int)
    for rep, q_at, t_at, _rec in session.execute(q):
        if t_at is None:
            untouched[rep] += 1
            continue
        m = max(0.0, (as_utc(t_at) - as_utc(q_at)).total_seconds() / 60.0)
        mins.append(m)
        by_rep[rep].append(m)
    out = asdict(speed_to_lead(mins, sum(untouched.values())))
    out["by_rep"] = {r: asdict(speed_to_lead(by_rep.get(r, []), untouched.get(r, 0)))
                     for r in sorted(set(by_rep) | set(untouched))}
    return out


def sla_report(session: Session, ws: str, since: datetime | None = None, until: datetime | None = None
               ) -> dict[str, Any]:
    q = _period(select(A.rep_key, func.count(), func.count(A.first_touch_breached_at),
                       func.count(A.decision_breached_at), func.count(A.first_touch_at), func.count(A.decided_at))
                .where(A.workspace_id == ws, A.rep_key.is_not(None)).group_by(A.rep_key), A.assigned_at, since, until)
    rows = []
    tot = [0, 0, 0]
    for rep, n, ft_b, dec_b, touched, decided in session.execute(q):
        rows.append({"rep": rep, "assigned": n, "first_touch_breached": ft_b, "decision_breached": dec_b,
                     "touched": touched, "decided": decided,
                     "first_touch_compliance": (n - ft_b) / n if n else None,
                     "decision_compliance": (n - dec_b) / n if n else None})
        tot[0] += n
        tot[1] += ft_b
        tot[2] += dec_b
    return {"by_rep": sorted(rows, key=lambda r: r["rep"]), "assigned": tot[0],
            "first_touch_compliance": (tot[0] - tot[1]) / tot[0] if tot[0] else None,
            "decision_compliance": (tot[0] - tot[2]) / tot[0] if tot[0] else None}


def rejection_report(session: Session, ws: str, since: datetime | None = None, until: datetime | None = None
                     ) -> dict[str, Any]:
    D = ht.Decision
    q = _period(select(D.reason_code, D.disposition, D.recycled, func.count()).where(
        D.workspace_id == ws, D.decision == "rejected").group_by(D.reason_code, D.disposition, D.recycled),
        D.at, since, until)
    by: dict[str, dict[str, Any]] = {}
    total = 0
    for code, disp, rec, n in session.execute(q):
        label = REASONS[RejectReason(code)].label if code in set(RejectReason) else code
        row = by.setdefault(code, {"reason": code, "label": label, "count": 0, "nurture": 0, "disqualified": 0,
                                   "recycled": 0})
        row["count"] += n
        row[disp] = row.get(disp, 0) + n
        if rec:
            row["recycled"] += n
        total += n
    rows = sorted(by.values(), key=lambda r: (-r["count"], r["reason"]))
    for r in rows:
        r["share"] = r["count"] / total if total else 0.0
    acc = session.scalar(_period(select(func.count()).select_from(D).where(D.workspace_id == ws,
                                                                           D.decision == "accepted", D.role == "sdr"),
                                 D.at, since, until)) or 0
    return {"rejected": total, "accepted": acc, "acceptance_rate": acc / (acc + total) if acc + total else None,
            "by_reason": rows}


def distribution_report(session: Session, ws: str, since: datetime | None = None, until: datetime | None = None
                        ) -> dict[str, Any]:
    """Per routing pool: rotation assignments per rep against their weight (over the period's assignments)."""
    weights = {r.key: r.weight for r in session.scalars(select(ht.Rep).where(ht.Rep.workspace_id == ws))}
    q = _period(select(A.pool, A.rep_key, func.count()).where(A.workspace_id == ws, A.method == "rotation")
                .group_by(A.pool, A.rep_key), A.assigned_at, since, until)
    pools: dict[str, dict[str, int]] = defaultdict(dict)
    for pool, rep, n in session.execute(q):
        pools[pool][rep] = n
    members: dict[str, set[str]] = defaultdict(set)
    for r in session.scalars(select(ht.Rotation).where(ht.Rotation.workspace_id == ws)):
        members[r.pool].add(r.rep_key)
    out = {}
    for pool in sorted(set(pools) | set(members)):
        reps = members[pool] | set(pools[pool])
        rows = distribution(pools[pool], {r: weights.get(r, 1) for r in reps})
        out[pool] = [asdict(r) for r in rows]
    methods = dict(session.execute(_period(select(A.method, func.count()).where(A.workspace_id == ws)
                                           .group_by(A.method), A.assigned_at, since, until)).all())
    return {"pools": out, "by_method": methods}


def sql_rate_report(session: Session, ws: str, since: datetime | None = None, until: datetime | None = None
                    ) -> dict[str, Any]:
    E = ht.BantEvaluation
    got = dict(session.execute(_period(select(A.rep_key, func.count(func.distinct(A.lead_id))).where(
        A.workspace_id == ws, A.role == "sdr", A.rep_key.is_not(None)).group_by(A.rep_key),
        A.assigned_at, since, until)).all())
    passed = dict(session.execute(_period(select(E.rep_key, func.count(func.distinct(E.lead_id))).where(
        E.workspace_id == ws, E.passed.is_(True)).group_by(E.rep_key), E.at, since, until)).all())
    rows = [{"rep": r, "leads": n, "sql": passed.get(r, 0), "sql_rate": passed.get(r, 0) / n if n else None}
            for r, n in sorted(got.items())]
    return {"by_rep": rows}


def recycled_report(session: Session, ws: str, since: datetime | None = None, until: datetime | None = None
                    ) -> dict[str, Any]:
    N = ht.NurtureTrack
    tracks = [{"source": s, "ended": e or "open", "count": n} for s, e, n in session.execute(_period(
        select(N.source, N.ended_reason, func.count()).where(N.workspace_id == ws).group_by(N.source, N.ended_reason),
        N.entered_at, since, until))]
    mqls = dict(session.execute(_period(select(A.recycled, func.count()).where(
        A.workspace_id == ws, A.role == "sdr").group_by(A.recycled), A.assigned_at, since, until)).all())
    return {"nurture_tracks": sorted(tracks, key=lambda r: (r["source"], r["ended"])),
            "assignments_recycled": int(mqls.get(True, 0) or 0), "assignments_first_time": int(mqls.get(False, 0) or 0)}


def full_report(session: Session, ws: str, since: datetime | None = None, until: datetime | None = None
                ) -> dict[str, Any]:
    return {"speed_to_lead": speed_to_lead_report(session, ws, since, until),
            "sla": sla_report(session, ws, since, until),
            "rejections": rejection_report(session, ws, since, until),
            "distribution": distribution_report(session, ws, since, until),
            "sql_rate": sql_rate_report(session, ws, since, until),
            "recycled": recycled_report(session, ws, since, until)}
