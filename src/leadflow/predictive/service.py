"""Predictive scoring end to end: train (store or CSV), evaluate, score every lead, score one on read,
explain, check drift. Functions take a :class:`~leadflow.store.db.Database` and a workspace; each write is
one transaction; nothing is written when an error is raised.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import delete, func, insert, select, update

from leadflow.core.scoring.spec import ScoringModel, parse_model
from leadflow.core.timeutil import as_utc, utcnow
from leadflow.predictive import features as F
from leadflow.predictive.artifacts import Artifact, load, save
from leadflow.predictive.dataset import Dataset
from leadflow.predictive.drift import drift_report
from leadflow.predictive.errors import ArtifactError, PredictiveError, TooFewOutcomes
from leadflow.predictive.evaluate import evaluate, render_html
from leadflow.predictive.explain import explain
from leadflow.predictive.tabular import load_csv
from leadflow.predictive.train import Algorithm, Model, train
from leadflow.store.db import Database
from leadflow.store.predictive_tables import LeadPrediction, PredictiveModelRow
from leadflow.store.tables import Event, Lead, ScoringModelRow

__all__ = ["TrainOutcome", "active_model", "drift", "evaluate_table", "predict_lead", "score_all",
           "train_store", "train_table"]

Say = Callable[[str], None]
DAY = 86400.0


@dataclass
class TrainOutcome:
    artifact: Artifact
    report: dict[str, Any]
    warnings: list[str] = field(default_factory=list)

    def html(self) -> str:
        return render_html(self.report, _summary(self.artifact.meta))


def _summary(meta: dict[str, Any]) -> dict[str, Any]:
    keys = ("name", "version", "algorithm", "kind", "target", "horizon_days", "data_window", "split", "calibration",
            "leadflow_version", "created_at")
    return {k: meta[k] for k in keys if k in meta}


def rules_model(db: Database, workspace_id: str) -> ScoringModel | None:
    """The active rule-based (YAML) model, ``default`` first."""
    with db.session() as s:
        rows = s.scalars(select(ScoringModelRow).where(ScoringModelRow.workspace_id == workspace_id,
                                                       ScoringModelRow.active.is_(True))).all()
    if not rows:
        return None
    row = next((r for r in rows if r.key == "default"), rows[0])
    return parse_model(row.yaml, source=f"{row.key}@v{row.version}")


def _json_clean(o: Any) -> Any:
    if isinstance(o, dict):
        return {str(k): _json_clean(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [_json_clean(v) for v in o]
    if isinstance(o, float | np.floating):
        return None if not math.isfinite(float(o)) else float(o)
    if isinstance(o, np.integer):
        return int(o)
    return o


def _iso(t: float | None) -> str | None:
    return None if t is None or not math.isfinite(t) else datetime.fromtimestamp(t, UTC).isoformat()


def _headline(report: dict[str, Any]) -> dict[str, Any]:
    m = report["model"]
    out = {k: m.get(k) for k in ("roc_auc", "pr_auc", "top20_share", "ece", "brier")}
    if "rules" in report:
        out["rules_roc_auc"] = report["rules"]["roc_auc"]
        out["rules_top20_share"] = report["rules"]["top20_share"]
    return _json_clean(out)


# ------------------------------------------------------------------------------------------- train


def train_store(db: Database, workspace_id: str, workspace_slug: str, *, models_dir: str | Path,
                name: str = "conversion", target: F.Target = "sql", horizon_days: int = 30,
                algorithm: Algorithm = "auto", activate: bool = True, created_by: str | None = None,
                say: Say | None = None) -> TrainOutcome:
    """Train on point-in-time snapshots of the store's leads (weekly cutoffs), evaluate on the latest ones."""
    say = say or (lambda _m: None)
    if target not in ("sql", "customer"):
        raise PredictiveError(f"target must be sql or customer, not {target!r}")
    if horizon_days < 1:
        raise PredictiveError("horizon_days must be at least 1")
    rules = rules_model(db, workspace_id)
    say("reading the store")
    store, aux = F.open_for(db, workspace_id)
    try:
        spec = F.FeatureSpec(event_types=F.discover_types(store, rules), target=target, horizon_days=horizon_days)
        cutoffs = F.training_cutoffs(store, horizon_days)
        if len(cutoffs) < 3:
            raise TooFewOutcomes(0, 0, detail=f" (the event log must span at least {14 + horizon_days + 14} days "
                                 f"for weekly snapshots with a {horizon_days}-day horizon)")
        say(f"computing features at {len(cutoffs)} cutoffs")
        ds = F.build(store, aux, spec, cutoffs, model=rules)
        res = train(ds, algorithm=algorithm, gap_s=horizon_days * DAY, progress=say)
        rule_score = rule_flag = None
        if rules is not None:
            say("scoring the holdout with the rules")
            eng = F.rule_engagement(store, rules, res.test)
            rule_score = np.nan_to_num(res.test.numeric.get("rule_fit", np.zeros(len(res.test)))) + eng
            rule_flag = F.rule_mql_flag(rules, res.test, eng)
    finally:
        store.close()
    report = evaluate(res.test.y, res.test_p, rule_score=rule_score, rule_flag=rule_flag,
                      rule_name=f"rules ({rules.ref})" if rules else "rules")
    meta = {
        "kind": "store", "target": target, "horizon_days": horizon_days, "feature_spec": spec.as_dict(),
        "features": res.model.encoder.features, "dropped_features": res.model.encoder.dropped,
        "data_window": {"first_cutoff": _iso(cutoffs[0]), "last_cutoff": _iso(cutoffs[-1]), "cutoffs": len(cutoffs),
                        "snapshots": len(ds), "converted": int(ds.y.sum())},
        "split": {**res.split, "valid_from": _iso(res.split.get("valid_from")),
                  "test_from": _iso(res.split.get("test_from"))},
        "candidates": res.candidates, "calibration": res.model.calibrator.method if res.model.calibrator else None,
        "rules_model": rules.ref if rules else None, "metrics": _headline(report), "report": _json_clean(report),
        "reference": res.reference, "warnings": res.warnings, "describe": ds.describe,
    }
    artifact = save(res.model, _json_clean(meta), models_dir, workspace_slug, name)
    _register(db, workspace_id, artifact, activate=activate, created_by=created_by)
    return TrainOutcome(artifact, report, res.warnings)


def train_table(path: str | Path, target: str, *, models_dir: str | Path, workspace_slug: str,
                name: str = "table", id_col: str | None = None, time_col: str | None = None,
                exclude: tuple[str, ...] | list[str] = (), algorithm: Algorithm = "auto",
                say: Say | None = None) -> TrainOutcome:
    """Train on a lead table from elsewhere (see :mod:`leadflow.predictive.tabular`)."""
    say = say or (lambda _m: None)
    say(f"reading {path}")
    ds, roles = load_csv(path, target, id_col=id_col, time_col=time_col, exclude=exclude)
    for w in ds.warnings:
        say(f"warning: {w}")
    res = train(ds, algorithm=algorithm, progress=say)
    report = evaluate(res.test.y, res.test_p)
    meta = {
        "kind": "table", "target": target, "source": str(path), "roles": roles.as_dict(),
        "features": res.model.encoder.features, "dropped_features": res.model.encoder.dropped,
        "data_window": {"rows": len(ds), "converted": int(ds.y.sum()),
                        "first": _iso(float(np.nanmin(ds.times))) if ds.times is not None else None,
                        "last": _iso(float(np.nanmax(ds.times))) if ds.times is not None else None},
        "split": {**res.split, "valid_from": _iso(res.split.get("valid_from")),
                  "test_from": _iso(res.split.get("test_from"))},
        "candidates": res.candidates, "calibration": res.model.calibrator.method if res.model.calibrator else None,
        "metrics": _headline(report), "report": _json_clean(report), "reference": res.reference,
        "warnings": res.warnings, "describe": ds.describe,
    }
    artifact = save(res.model, _json_clean(meta), models_dir, workspace_slug, name)
    return TrainOutcome(artifact, report, res.warnings)


def evaluate_table(artifact_path: str | Path, path: str | Path) -> dict[str, Any]:
    """Evaluate a tabular model on every row of another file with the same columns and target."""
    model, meta = load(artifact_path)
    if meta.get("kind") != "table":
        raise PredictiveError(f"{artifact_path} was trained on the store, not on a table: use `leadflow predict "
                              "evaluate` without --data")
    roles = meta["roles"]
    ds, _ = load_csv(path, roles["target"], id_col=roles["id"], time_col=roles["time"], exclude=roles["excluded"])
    return evaluate(ds.y, model.predict(ds))


def _register(db: Database, workspace_id: str, art: Artifact, *, activate: bool, created_by: str | None) -> None:
    with db.session() as s:
        if activate:
            s.execute(update(PredictiveModelRow).where(PredictiveModelRow.workspace_id == workspace_id,
                                                       PredictiveModelRow.name == art.name).values(active=False))
        m = art.meta
        s.execute(insert(PredictiveModelRow), [{
            "workspace_id": workspace_id, "name": art.name, "version": art.version, "path": str(art.path),
            "algorithm": m["algorithm"], "target": m["target"], "horizon_days": m.get("horizon_days"),
            "checksum": art.checksum, "format_version": m["format_version"], "metrics": m["metrics"],
            "meta": {k: m[k] for k in ("data_window", "split", "calibration", "features", "rules_model") if k in m},
            "active": activate, "created_at": utcnow(), "created_by": created_by}])


# ------------------------------------------------------------------------------------------- models


def list_models(db: Database, workspace_id: str) -> list[PredictiveModelRow]:
    with db.session() as s:
        rows = s.scalars(select(PredictiveModelRow).where(PredictiveModelRow.workspace_id == workspace_id)
                         .order_by(PredictiveModelRow.name, PredictiveModelRow.version)).all()
        s.expunge_all()
        return list(rows)


def active_model(db: Database, workspace_id: str, name: str = "conversion") -> tuple[PredictiveModelRow, Model, dict]:
    """The active registered model of that name, loaded (checksum verified)."""
    with db.session() as s:
        row = s.scalar(select(PredictiveModelRow).where(
            PredictiveModelRow.workspace_id == workspace_id, PredictiveModelRow.name == name,
            PredictiveModelRow.active.is_(True)))
        if row is None:
            raise ArtifactError(f"no active predictive model {name!r} in this workspace: train one with "
                                "`leadflow predict train` (until then the rule-based score is used)")
        s.expunge(row)
    model, meta = load(row.path, expected_checksum=row.checksum)
    return row, model, meta


# ------------------------------------------------------------------------------------------- score


def _snapshot(db: Database, workspace_id: str, meta: dict[str, Any], at: datetime,
              lead_ids: list[str] | None = None) -> Dataset:
    spec = F.FeatureSpec.from_dict(meta["feature_spec"])
    rules = rules_model(db, workspace_id)
    store, aux = F.open_for(db, workspace_id)
    try:
        if lead_ids is not None:
            keep = set(lead_ids)
            mask = [i in keep for i in aux.leads["id"].to_pylist()]
            aux = F.Aux(aux.leads.filter(mask), aux.conversions)
        return F.build(store, aux, spec, [at], model=rules, labels=False)
    finally:
        store.close()


def score_all(db: Database, workspace_id: str, *, name: str = "conversion", at: datetime | None = None,
              say: Say | None = None) -> int:
    """Score every lead with the active model and replace the stored predictions (one transaction)."""
    say = say or (lambda _m: None)
    row, model, meta = active_model(db, workspace_id, name)
    at = at or utcnow()
    say("computing features")
    ds = _snapshot(db, workspace_id, meta, at)
    p = model.predict(ds) if len(ds) else np.array([])
    say("explaining")
    factors = explain(model, ds)
    now = utcnow()
    rows = [{"lead_id": str(ds.ids[i]), "model_name": name, "workspace_id": workspace_id,
             "model_version": row.version, "probability": float(p[i]), "factors": factors[i], "scored_at": now}
            for i in range(len(ds))]
    with db.session() as s:
        s.execute(delete(LeadPrediction).where(LeadPrediction.workspace_id == workspace_id,
                                               LeadPrediction.model_name == name))
        for k in range(0, len(rows), 5000):
            s.execute(insert(LeadPrediction), rows[k:k + 5000])
    return len(rows)


def predict_lead(db: Database, workspace_id: str, lead_id: str, *, name: str = "conversion",
                 refresh: bool = True) -> dict[str, Any] | None:
    """The lead's prediction; recomputed (and stored) when an event arrived after it was scored."""
    with db.session() as s:
        pred = s.get(LeadPrediction, (lead_id, name))
        last = s.scalar(select(func.max(Event.received_at)).where(Event.workspace_id == workspace_id,
                                                                  Event.lead_id == lead_id))
        exists = s.scalar(select(Lead.id).where(Lead.workspace_id == workspace_id, Lead.id == lead_id))
        if exists is None:
            raise LookupError(f"no lead {lead_id}")
        stale = pred is None or (last is not None and F.to_epoch(last) > F.to_epoch(pred.scored_at))
        if pred is not None and not (stale and refresh):
            return {"probability": pred.probability, "factors": pred.factors, "model_version": pred.model_version,
                    "scored_at": as_utc(pred.scored_at), "fresh": not stale}
    if not refresh:
        return None
    row, model, meta = active_model(db, workspace_id, name)
    ds = _snapshot(db, workspace_id, meta, utcnow(), [lead_id])
    if not len(ds):
        return None
    p = float(model.predict(ds)[0])
    factors = explain(model, ds)[0]
    now = utcnow()
    with db.session() as s:
        s.execute(delete(LeadPrediction).where(LeadPrediction.lead_id == lead_id, LeadPrediction.model_name == name))
        s.execute(insert(LeadPrediction), [{"lead_id": lead_id, "model_name": name, "workspace_id": workspace_id,
                                            "model_version": row.version, "probability": p, "factors": factors,
                                            "scored_at": now}])
    return {"probability": p, "factors": factors, "model_version": row.version, "scored_at": now, "fresh": True}


def top_predictions(db: Database, workspace_id: str, *, name: str = "conversion", n: int = 20) -> list[dict]:
    with db.session() as s:
        rows = s.execute(select(Lead.email, LeadPrediction.probability, LeadPrediction.factors,
                                LeadPrediction.scored_at).join(Lead, Lead.id == LeadPrediction.lead_id)
                         .where(LeadPrediction.workspace_id == workspace_id, LeadPrediction.model_name == name)
                         .order_by(LeadPrediction.probability.desc(), Lead.email).limit(n)).all()
    return [{"email": e, "probability": p, "factors": f, "scored_at": as_utc(t)} for e, p, f, t in rows]


# ------------------------------------------------------------------------------------------- drift


def drift(db: Database, workspace_id: str, *, name: str = "conversion", recent_days: int = 60,
          at: datetime | None = None) -> dict[str, Any]:
    """Feature drift now vs training, and calibration on the most recent snapshots whose outcome is known."""
    _row, model, meta = active_model(db, workspace_id, name)
    at = at or utcnow()
    now_ds = _snapshot(db, workspace_id, meta, at)
    spec = F.FeatureSpec.from_dict(meta["feature_spec"])
    rules = rules_model(db, workspace_id)
    store, aux = F.open_for(db, workspace_id)
    try:
        end = F.to_epoch(at)
        cuts = [c for c in F.training_cutoffs(store, spec.horizon_days, end=end) if c >= end - (recent_days + spec.horizon_days) * DAY]
        recent = F.build(store, aux, spec, cuts, model=rules) if cuts else None
    finally:
        store.close()
    y = p = None
    if recent is not None and len(recent):
        y, p = recent.y, model.predict(recent)
    return drift_report(model, meta, now_ds, y, p)
