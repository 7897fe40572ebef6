"""Per-lead explanations in words: "+18%: 3 pricing page views in the last 7 days; -9%: free-mail address".

Each feature's part of the raw log-odds comes from the model itself (:meth:`Model.contributions`: the
logistic regression's coefficient x (value - training mean), or LightGBM's own SHAP contributions). It is
turned into probability points through the calibration: the lead's calibrated probability minus the one
it would have without that part (on the uncalibrated curve when the calibration is isotonic, whose steps
would hide every effect inside a step). The largest effects, either way, are worded with the feature's
description template (``Dataset.describe``: ``"{value} pricing page views in the last 7 days"``, with an
optional ``"||"`` text for a missing value).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from leadflow.predictive.dataset import Dataset
from leadflow.predictive.train import Model

__all__ = ["explain", "format_value", "words"]


def format_value(v: Any) -> str:
    if v is None:
        return "unknown"
    if isinstance(v, float):
        if v.is_integer():
            return str(int(v))
        return f"{v:.2g}" if abs(v) < 10 else f"{v:.0f}"
    return str(v)


def words(describe: dict[str, str], feature: str, value: Any) -> str:
    template = describe.get(feature, f"{feature} = {{value}}")
    text, _, missing = template.partition("||")
    if value is None and missing:
        return missing
    return text.replace("{value}", format_value(value))


def explain(model: Model, ds: Dataset, *, top: int = 5, min_effect: float = 0.005) -> list[list[dict[str, Any]]]:
    """For each row: up to ``top`` factors ``{feature, value, effect, text}``, largest |effect| first.

    ``effect`` is in probability points (0.18 = +18 points).
    """
    if not len(ds):
        return []
    base, contrib, feats = model.contributions(ds)
    raw = base + contrib.sum(axis=1)
    sigmoid = lambda r: 1.0 / (1.0 + np.exp(-np.clip(r, -40, 40)))  # noqa: E731
    # an isotonic map is a step function: effects are read on the smooth uncalibrated curve instead
    cal = model.calibrator if model.calibrator and model.calibrator.method == "platt" else sigmoid
    p = cal(raw)
    effects = np.column_stack([p - cal(raw - contrib[:, j]) for j in range(len(feats))]) if feats else \
        np.zeros((len(ds), 0))
    describe = {**ds.describe, **model.describe}
    out: list[list[dict[str, Any]]] = []
    for i in range(len(ds)):
        order = np.argsort(-np.abs(effects[i]), kind="stable")[:top]
        row: list[dict[str, Any]] = []
        for j in order:
            eff = float(effects[i, j])
            if abs(eff) < min_effect:
                continue
            f = feats[j]
            value = _value(ds, f, i)
            row.append({"feature": f, "value": value, "effect": round(eff, 4),
                        "text": f"{'+' if eff > 0 else '-'}{abs(eff) * 100:.0f}%: {words(describe, f, value)}"})
        out.append(row)
    return out


def _value(ds: Dataset, feature: str, i: int) -> Any:
    if feature in ds.numeric:
        x = float(ds.numeric[feature][i])
        return None if np.isnan(x) else x
    if feature in ds.categorical:
        return ds.categorical[feature][i]
    return None
