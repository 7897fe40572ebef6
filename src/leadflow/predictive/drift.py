"""Drift: do recent leads and outcomes still look like what the model was trained on?

* **Feature drift** - the population stability index (PSI) of each feature between the training part and
  the leads now, over the training deciles (numeric; missing values in a bin of their own) or levels
  (categorical): PSI = sum (now - then) x ln(now / then), shares floored at 0.0001. Above 0.25 is a
  large shift, 0.1-0.25 a moderate one.
* **Calibration drift** - on the most recent snapshots whose outcome window has closed: the ECE, the ROC
  AUC and the mean predicted vs observed conversion rate, against the holdout figures at training time.

Retraining is suggested when the recent ECE exceeds max(0.05, twice the training ECE), the AUC fell by
more than 0.05, the predicted and observed rates differ by more than half the observed rate, or a
feature among the model's ten most important has PSI > 0.25.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from leadflow.predictive.dataset import Dataset
from leadflow.predictive.evaluate import calibration, roc_auc
from leadflow.predictive.train import Model, _shares_categorical, _shares_numeric

__all__ = ["drift_report", "psi"]

FLOOR = 1e-4


def psi(then: list[float], now: list[float]) -> float:
    a = np.maximum(np.asarray(then, dtype=float), FLOOR)
    b = np.maximum(np.asarray(now, dtype=float), FLOOR)
    return float(((b - a) * np.log(b / a)).sum())


def drift_report(model: Model, meta: dict[str, Any], now: Dataset, y: np.ndarray | None,
                 p: np.ndarray | None) -> dict[str, Any]:
    ref = meta.get("reference", {})
    enc = model.encoder
    feats: list[dict[str, Any]] = []
    if len(now):
        for n in enc.nums:
            r = ref.get(n.name)
            if r and n.name in now.numeric:
                feats.append({"feature": n.name, "psi": psi(r["shares"], _shares_numeric(now.numeric[n.name], r["edges"]))})
        for c in enc.cats:
            r = ref.get(c.name)
            if r and c.name in now.categorical:
                feats.append({"feature": c.name,
                              "psi": psi(r["shares"], _shares_categorical(enc._codes(now, c), len(c.levels)))})
    feats.sort(key=lambda d: -d["psi"])
    important = {f for f, _ in model.top_weights(10)}
    train_m = meta.get("metrics", {})
    out: dict[str, Any] = {"leads_now": len(now), "features": feats[:15], "reasons": []}
    for f in feats:
        if f["psi"] > 0.25 and f["feature"] in important:
            out["reasons"].append(f"feature {f['feature']!r} shifted (PSI {f['psi']:.2f})")
    if y is not None and p is not None and len(y):
        _, ece = calibration(y, p)
        auc = roc_auc(y, p)
        cal = {"rows": len(y), "converters": int(y.sum()), "ece": ece, "roc_auc": auc,
               "predicted_rate": float(p.mean()), "observed_rate": float(y.mean()),
               "training_ece": train_m.get("ece"), "training_roc_auc": train_m.get("roc_auc")}
        out["calibration"] = cal
        t_ece = train_m.get("ece") or 0.0
        if ece > max(0.05, 2 * t_ece):
            out["reasons"].append(f"recent ECE {ece:.3f} vs {t_ece:.3f} at training")
        t_auc = train_m.get("roc_auc")
        if t_auc is not None and not math.isnan(auc) and auc < t_auc - 0.05:
            out["reasons"].append(f"recent ROC AUC {auc:.3f} vs {t_auc:.3f} at training")
        if y.mean() > 0 and abs(p.mean() - y.mean()) > 0.5 * y.mean():
            out["reasons"].append(f"predicted rate {p.mean():.1%} vs observed {y.mean():.1%}")
    else:
        out["calibration"] = None
    out["retrain"] = bool(out["reasons"])
    out["suggestion"] = ("retrain: `leadflow predict train` (" + "; ".join(out["reasons"]) + ")") if out["retrain"] \
        else "no retraining needed"
    return out
