"""Panels that depend on other areas' services (predictive scoring, handoff/BANT, analytics).

Each returns ``{"available": False, "why": ...}`` until its module has landed, so a screen shows a clear
"not available yet" state instead of inventing data.
"""

from __future__ import annotations

from typing import Any

from leadflow.core.permissions import Action
from leadflow.core.timeutil import utcnow
from leadflow.web.auth import WebUser
from leadflow.web.common import available


def predictive_panel(s: Any, workspace_id: str, lead: Any, user: WebUser) -> dict[str, Any]:
    """Only whether to show the panel; its content is loaded on its own (``predictive_for``), it may take a
    second when the lead's prediction has to be recomputed."""
    if not user.can(Action.PREDICT_READ):
        return {"available": False, "hidden": True, "why": ""}
    if not available("leadflow.predictive.service"):
        return {"available": False, "hidden": False,
                "why": "Predictive scoring is not available yet in this installation."}
    return {"available": False, "hidden": False, "lazy": True, "why": ""}


def predictive_for(db: Any, workspace_id: str, lead_id: str) -> dict[str, Any]:
    """The lead's conversion probability with its factors, from the active predictive model."""
    if not available("leadflow.predictive.service"):
        return {"available": False, "why": "Predictive scoring is not available yet in this installation."}
    from leadflow.predictive.errors import PredictiveError
    from leadflow.predictive.service import predict_lead

    try:
        pred = predict_lead(db, workspace_id, lead_id, refresh=True)
    except PredictiveError as exc:  # no active model yet, an unreadable artifact ...
        return {"available": False, "why": str(exc)}
    except LookupError:
        return {"available": False, "why": "No such lead."}
    if pred is None:
        return {"available": False, "why": "No prediction for this lead (it has no features to score yet)."}
    factors = [{"text": f.get("text") or f.get("feature"), "feature": f.get("feature"), "value": f.get("value"),
                "effect": float(f.get("effect") or 0.0)} for f in pred.get("factors") or []]
    return {"available": True, "probability": pred["probability"], "model": f"v{pred.get('model_version')}",
            "scored_at": pred.get("scored_at"), "factors": factors}


def bant_panel(s: Any, workspace_id: str, lead: Any, user: WebUser) -> dict[str, Any]:
    if not available("leadflow.services.handoff.work"):
        return {"available": False, "why": "BANT qualification is not available yet (the handoff service has not landed)."}
    from leadflow.core.handoff.bant import AUTHORITY_KINDS, PAIN_CATEGORIES, Criterion, CriterionState
    from leadflow.services.handoff import work
    from leadflow.services.handoff.common import load_config

    rec = work.bant_record(s, workspace_id, lead.id)
    crit = {c.value: {"state": r.state.value, "details": dict(r.details or {}), "by": r.recorded_by, "at": r.recorded_at}
            for c, r in rec.criteria.items()}
    try:
        rule = load_config(s, workspace_id).sql_rule.describe()
    except Exception:  # noqa: BLE001 - the rule text is informative only
        rule = ""
    editable = lead.stage in ("mql", "sal") and user.can(Action.HANDOFF_WORK)
    why = "" if editable else (f"BANT is recorded on MQL or SAL leads; this lead is {lead.stage}."
                               if user.can(Action.HANDOFF_WORK) else "")
    return {"available": True, "criteria": crit, "order": [c.value for c in Criterion],
            "states": [x.value for x in CriterionState], "authority_kinds": AUTHORITY_KINDS,
            "pain_categories": PAIN_CATEGORIES, "editable": editable, "why": why, "rule": rule}


# ------------------------------------------------------------------------------------------ jobs
def _runner(st: Any) -> Any:
    if st.runner is None:  # a bare app without the API's runner (tests): one of our own
        from leadflow.services.jobs import JobRunner

        st.runner = JobRunner(st.db, workers=1)
    return st.runner


def start_rescore(st: Any, model_key: str, created_by: str) -> str:
    """Queue a rescore of every lead under ``model_key`` as a background job; returns the job id."""
    from leadflow.services.jobs import create_job
    from leadflow.services.rescore import rescore_workspace

    with st.session() as s:
        job = create_job(s, st.workspace_id, "rescore", {"model_key": model_key}, created_by=created_by)
        job_id = job.id

    def work(progress: Any) -> dict[str, Any]:
        rep = rescore_workspace(st.db, st.workspace_id, model_key=model_key, progress=progress)
        return {"leads": rep.leads, "models": rep.models, "scores_written": rep.scores_written,
                "requalified": rep.requalified, "transitions": rep.transitions}

    _runner(st).submit(job_id, work)
    return job_id


def job_view(s: Any, workspace_id: str, job_id: str) -> dict[str, Any] | None:
    from leadflow.services.jobs import get_job

    try:
        job = get_job(s, workspace_id, job_id[:32])
    except LookupError:
        return None
    return _job_dict(job)


def _job_dict(job: Any) -> dict[str, Any]:
    pct = None
    if job.total:
        pct = min(100, round(100 * job.done / job.total))
    return {"id": job.id, "kind": job.kind, "status": job.status, "done": job.done, "total": job.total,
            "pct": pct, "result": job.result or {}, "error": job.error, "params": job.params or {},
            "created_at": job.created_at, "finished_at": job.finished_at, "created_by": job.created_by,
            "running": job.status in ("queued", "running")}


def recent_jobs(s: Any, workspace_id: str, kind: str | None = None, limit: int = 5) -> list[dict[str, Any]]:
    from leadflow.services.jobs import list_jobs

    return [_job_dict(j) for j in list_jobs(s, workspace_id, 50) if kind is None or j.kind == kind][:limit]


# ------------------------------------------------------------------------------------------ backtest
def backtest_available() -> bool:
    return available("leadflow.predictive.backtest")


def run_backtest(st: Any, key: str, version: int, convert_on: str = "sql") -> dict[str, Any]:
    """Backtest a stored model version against the active lifecycle model on this workspace's history."""
    if not backtest_available():
        return {"available": False, "why": "Backtesting is not available yet in this installation."}
    from sqlalchemy import select

    from leadflow.predictive import backtest as bt
    from leadflow.store.tables import ScoringModelRow

    with st.session() as s:
        row = s.scalar(select(ScoringModelRow).where(ScoringModelRow.workspace_id == st.workspace_id,
                                                     ScoringModelRow.key == key, ScoringModelRow.version == version))
        if row is None:
            return {"available": False, "why": f"There is no model {key} version {version} in this workspace."}
        text = row.yaml
    from leadflow.core.scoring.spec import parse_model

    candidate = parse_model(text, source=f"{key}@v{version}")
    try:
        result = bt.run_backtest(st.db, st.workspace_id, candidate, "active", convert_on=convert_on).as_dict()
    except (ValueError, LookupError) as exc:
        return {"available": False, "why": f"The backtest could not run: {exc}"}
    cand, base = result["candidate"], result.get("baseline")
    weeks: dict[str, dict[str, Any]] = {}
    for tag, res in (("candidate", cand), ("active", base)):
        for w in (res or {}).get("weeks", []):
            weeks.setdefault(w["week"], {})[tag] = w.get("mqls", 0)
    labels = sorted(weeks)
    chart = {"type": "line", "data": {"labels": labels, "datasets": [
        {"label": f"{cand['model']} (candidate)", "data": [weeks[k].get("candidate", 0) for k in labels]},
        *([{"label": f"{base['model']} (active)", "data": [weeks[k].get("active", 0) for k in labels]}] if base else []),
    ]}, "options": {"plugins": {"legend": {"display": True}}, "scales": {"y": {"beginAtZero": True}}}}
    metrics = [("MQLs", "mqls", "n"), ("MQLs per week", "mqls_per_week", "f"), ("MQLs that converted", "mqls_converted", "n"),
               ("Precision", "precision", "p"), ("Converters", "converters", "n"), ("Caught (MQL before converting)", "caught", "n"),
               ("Recall", "recall", "p"), ("Median lead time (days)", "median_lead_days", "f")]
    return {"available": True, "candidate": cand["model"], "active": base["model"] if base else None,
            "metrics": [(label, cand["totals"].get(k), (base or {}).get("totals", {}).get(k), kind)
                        for label, k, kind in metrics],
            "difference": result.get("difference") or {}, "chart": chart, "convert_on": result["convert_on"],
            "seconds": result["seconds"], "start": cand["start"], "end": cand["end"]}


# ------------------------------------------------------------------------------------------ imports
def start_import(st: Any, path: Any, kind: str, mapping: dict[str, str | None], skip_invalid: bool,
                 created_by: str) -> str:
    """Queue a file import as a background job (progress in rows; per-row errors kept in the result)."""
    from leadflow.services.imports import ImportRejected, import_file
    from leadflow.services.jobs import JobFailed, create_job

    with st.session() as s:
        job = create_job(s, st.workspace_id, "import", {"kind": kind, "file": path.name, "skip_invalid": skip_invalid,
                                                        "mapping": mapping}, created_by=created_by)
        job_id = job.id
    settings = st.settings

    def errors(errs: list[Any]) -> list[dict[str, Any]]:
        return [{"row": e.row, "column": e.column, "value": e.value, "reason": e.reason} for e in errs[:500]]

    def work(progress: Any) -> dict[str, Any]:
        with open(path, "rb") as fh:
            total = max(sum(1 for _ in fh) - 1, 0)
        done = [0]

        def tick(n: int) -> None:
            done[0] += n
            progress(min(done[0], total), total)

        progress(0, total)
        try:
            summary = import_file(st.db, st.workspace_id, path, kind, mapping=mapping or None, fmt="csv",
                                  skip_invalid=skip_invalid, chunk_size=settings.batch_size,
                                  allow_custom_types=settings.allow_custom_event_types,
                                  future_policy=settings.future_timestamps, progress=tick)
        except ImportRejected as exc:
            raise JobFailed(f"{len(exc.errors)} invalid rows; nothing was stored (tick 'store the valid rows' "
                            "to import the rest)", {"errors": errors(exc.errors), "error_count": len(exc.errors)}) from None
        finally:
            path.unlink(missing_ok=True)
        return {"rows": summary.rows, "stored": summary.stored, "duplicates": summary.duplicates,
                "rejected": summary.rejected, "transitions": summary.transitions,
                "warnings": summary.warnings[:20], "errors": errors(summary.errors),
                "error_count": len(summary.errors)}

    _runner(st).submit(job_id, work)
    return job_id


# ------------------------------------------------------------------------------------------ SDR queue
QUEUE_LIMIT = 200


def rep_key_for(s: Any, workspace_id: str, user: WebUser) -> str | None:
    """The handoff rep this user works as: ``users.rep_id`` (a rep key) or the rep with the user's email."""
    from sqlalchemy import func, or_, select

    from leadflow.store import handoff_tables as ht

    conds = [func.lower(ht.Rep.email) == user.email]
    if user.rep_id:
        conds.append(ht.Rep.key == user.rep_id)
    return s.scalar(select(ht.Rep.key).where(ht.Rep.workspace_id == workspace_id, ht.Rep.active.is_(True),
                                             or_(*conds)).limit(1))


def queue_panel(s: Any, workspace_id: str, user: WebUser) -> dict[str, Any]:
    if not (available("leadflow.services.handoff.work") and available("leadflow.store.handoff_tables")):
        return {"available": False,
                "why": "The SDR queue is not available yet: the handoff service (queue, SLA clocks) has not landed."}
    from sqlalchemy import and_, func, select

    from leadflow.core.handoff.workflow import REASONS, TouchKind, TouchOutcome
    from leadflow.core.timeutil import as_utc
    from leadflow.store import handoff_tables as ht
    from leadflow.store.tables import Account, Lead, ScoreState

    rep = rep_key_for(s, workspace_id, user)
    team = rep is None and user.can(Action.TEAM_MANAGE)
    base = {"available": True, "rep": rep, "team": team, "rows": [],
            "reasons": [(code.value, info.label, info.disposition.value) for code, info in REASONS.items()],
            "kinds": [k.value for k in TouchKind], "outcomes": [o.value for o in TouchOutcome]}
    if rep is None and not team:
        base["why"] = ("Your user is not linked to a sales rep. An admin can add you as a rep with your email "
                       f"({user.email}) or link your user to a rep key.")
        return base
    A = ht.Assignment
    touches = (select(ht.Touch.assignment_id, func.count().label("n"), func.max(ht.Touch.at).label("last"))
               .where(ht.Touch.workspace_id == workspace_id).group_by(ht.Touch.assignment_id).subquery())
    q = (select(A, Lead.email, Lead.first_name, Lead.last_name, Lead.title, Lead.stage, Lead.lead_status,
                Account.name, Account.domain, ScoreState.grade, ScoreState.engagement, touches.c.n, touches.c.last)
         .join(Lead, Lead.id == A.lead_id)
         .outerjoin(Account, Account.id == Lead.account_id)
         .outerjoin(ScoreState, and_(ScoreState.lead_id == Lead.id, ScoreState.model_key == "default"))
         .outerjoin(touches, touches.c.assignment_id == A.id)
         .where(A.workspace_id == workspace_id, A.closed_at.is_(None)))
    if not team:
        q = q.where(A.rep_key == rep)
    rows = []
    for a, email, first, last, title, stage, status, acc_name, domain, grade, eng, n, last_touch in s.execute(
            q.limit(QUEUE_LIMIT * 5)):
        if a.first_touch_at is None and a.first_touch_due is not None:
            due, due_kind = a.first_touch_due, "first touch"
        elif a.decided_at is None and a.decision_due is not None:
            due, due_kind = a.decision_due, "decision"
        else:
            due, due_kind = None, ""
        rows.append({"lead_id": a.lead_id, "name": f"{first or ''} {last or ''}".strip() or email, "email": email,
                     "title": title, "company": acc_name or domain, "stage": stage, "status": status, "role": a.role,
                     "rep": a.rep_key, "assigned_at": a.assigned_at, "due": as_utc(due) if due else None,
                     "due_kind": due_kind, "explanation": a.explanation, "grade": grade, "engagement": eng,
                     "touches": n or 0, "last_touch": last_touch, "recycled": a.recycled,
                     "can_accept": a.role == "sdr" and stage == "mql" and a.decided_at is None,
                     "breached": bool(a.first_touch_breached_at or a.decision_breached_at)})
    far = as_utc(utcnow()).replace(year=9999)
    rows.sort(key=lambda r: (r["due"] or far, r["lead_id"]))
    base["rows"] = rows[:QUEUE_LIMIT]
    return base
