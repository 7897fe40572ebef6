"""Evaluation: ROC AUC, PR AUC, lift and cumulative gains by decile, calibration and ECE, precision and
recall at the active MQL threshold, the rule-based score beside the model, and an HTML report.

Every metric is computed here with NumPy (and checked against hand-computed values in the tests):

* ``roc_auc`` - the probability that a random converter is scored above a random non-converter, ties
  counting one half (Mann-Whitney);
* ``pr_auc`` - average precision: sum over distinct score thresholds of (recall step) x precision;
* ``deciles`` - rows sorted by score, highest first, cut into 10 groups as equal as possible (ties are
  broken by the row order); per group the conversion rate, its lift over the base rate, and the cumulative
  share of all converters (gains);
* ``calibration`` - 10 equal-width probability bins; ECE = sum over bins of (rows in bin / rows) x
  |observed rate - mean predicted probability|.

The HTML report draws its plots as inline SVG (no plotting library) and escapes every text it prints.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "brier",
    "calibration",
    "deciles",
    "evaluate",
    "pr_auc",
    "precision_recall",
    "render_html",
    "roc_auc",
    "roc_curve",
    "top_share",
]


def _arrays(y: Sequence[int] | np.ndarray, s: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=np.float64)
    s = np.asarray(s, dtype=np.float64)
    if y.shape != s.shape:
        raise ValueError(f"labels ({y.shape}) and scores ({s.shape}) differ in length")
    return y, s


def roc_auc(y: Sequence[int] | np.ndarray, s: Sequence[float] | np.ndarray) -> float:
    """Area under the ROC curve (NaN when one class is absent)."""
    y, s = _arrays(y, s)
    pos = y.sum()
    neg = len(y) - pos
    if pos == 0 or neg == 0:
        return math.nan
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    sorted_s = s[order]
    # average ranks over ties
    _, start, counts = np.unique(sorted_s, return_index=True, return_counts=True)
    avg = start + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[y == 1].sum() - pos * (pos + 1) / 2.0) / (pos * neg))


def roc_curve(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(false-positive rate, true-positive rate) at each distinct threshold, from (0, 0) to (1, 1)."""
    y, s = _arrays(y, s)
    order = np.argsort(-s, kind="mergesort")
    ys, ss = y[order], s[order]
    last = np.r_[np.flatnonzero(np.diff(ss)), len(ss) - 1]
    tp = np.cumsum(ys)[last]
    fp = (last + 1) - tp
    pos, neg = max(ys.sum(), 1), max(len(ys) - ys.sum(), 1)
    return np.r_[0.0, fp / neg], np.r_[0.0, tp / pos]


def pr_auc(y: Sequence[int] | np.ndarray, s: Sequence[float] | np.ndarray) -> float:
    """Average precision (the step-wise area under the precision-recall curve)."""
    y, s = _arrays(y, s)
    pos = y.sum()
    if pos == 0:
        return math.nan
    order = np.argsort(-s, kind="mergesort")
    ys, ss = y[order], s[order]
    last = np.r_[np.flatnonzero(np.diff(ss)), len(ss) - 1]
    tp = np.cumsum(ys)[last]
    precision = tp / (last + 1)
    recall = tp / pos
    steps = np.diff(np.r_[0.0, recall])
    return float((steps * precision).sum())


def brier(y: np.ndarray, p: np.ndarray) -> float:
    y, p = _arrays(y, p)
    return float(np.mean((p - y) ** 2))


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    y, p = _arrays(y, p)
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def deciles(y: Sequence[int] | np.ndarray, s: Sequence[float] | np.ndarray, k: int = 10) -> list[dict[str, Any]]:
    """Per score decile (1 = highest scores): rows, converters, rate, lift, cumulative gain."""
    y, s = _arrays(y, s)
    n = len(y)
    order = np.argsort(-s, kind="mergesort")
    ys = y[order]
    total = ys.sum()
    base = total / n if n else math.nan
    out: list[dict[str, Any]] = []
    cum = 0.0
    for i, chunk in enumerate(np.array_split(ys, k), start=1):
        conv = float(chunk.sum())
        cum += conv
        rate = conv / len(chunk) if len(chunk) else math.nan
        out.append({"decile": i, "rows": len(chunk), "converters": int(conv), "rate": rate,
                    "lift": rate / base if base else math.nan,
                    "cumulative_gain": cum / total if total else math.nan})
    return out


def top_share(y: np.ndarray, s: np.ndarray, fraction: float = 0.2) -> float:
    """Share of all converters found in the top ``fraction`` of rows by score."""
    y, s = _arrays(y, s)
    k = int(round(len(y) * fraction))
    order = np.argsort(-s, kind="mergesort")
    total = y.sum()
    return float(y[order[:k]].sum() / total) if total else math.nan


def calibration(y: Sequence[int] | np.ndarray, p: Sequence[float] | np.ndarray, bins: int = 10
                ) -> tuple[list[dict[str, Any]], float]:
    """(bins with rows / mean predicted / observed rate, ECE) over ``bins`` equal-width probability bins."""
    y, p = _arrays(y, p)
    idx = np.minimum((p * bins).astype(int), bins - 1)
    rows: list[dict[str, Any]] = []
    ece = 0.0
    for b in range(bins):
        m = idx == b
        n = int(m.sum())
        if not n:
            continue
        mean_p, obs = float(p[m].mean()), float(y[m].mean())
        ece += n / len(y) * abs(obs - mean_p)
        rows.append({"bin": f"{b / bins:.1f}-{(b + 1) / bins:.1f}", "rows": n, "predicted": mean_p, "observed": obs})
    return rows, float(ece)


def precision_recall(y: np.ndarray, flag: np.ndarray) -> dict[str, float]:
    """Precision and recall of a yes/no decision (``flag``)."""
    y = np.asarray(y, dtype=bool)
    flag = np.asarray(flag, dtype=bool)
    tp = int((y & flag).sum())
    flagged, pos = int(flag.sum()), int(y.sum())
    return {"flagged": flagged, "precision": tp / flagged if flagged else math.nan,
            "recall": tp / pos if pos else math.nan}


def _scores(y: np.ndarray, s: np.ndarray, probabilities: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"roc_auc": roc_auc(y, s), "pr_auc": pr_auc(y, s), "top20_share": top_share(y, s, 0.2),
                           "deciles": deciles(y, s)}
    if probabilities:
        bins, ece = calibration(y, s)
        out.update({"ece": ece, "calibration": bins, "brier": brier(y, s), "log_loss": log_loss(y, s)})
    return out


def evaluate(y: np.ndarray, p: np.ndarray, *, rule_score: np.ndarray | None = None,
             rule_flag: np.ndarray | None = None, rule_name: str = "rule-based score") -> dict[str, Any]:
    """The evaluation report as a dict (JSON-ready apart from NaN)."""
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    report: dict[str, Any] = {"rows": len(y), "converters": int(y.sum()),
                              "base_rate": float(y.mean()) if len(y) else math.nan,
                              "model": _scores(y, p, True)}
    fpr, tpr = roc_curve(y, p)
    report["model"]["roc"] = _thin(fpr, tpr)
    if rule_score is not None:
        rs = np.asarray(rule_score, dtype=np.float64)
        report["rules"] = {"name": rule_name, **_scores(y, rs, False)}
        fpr, tpr = roc_curve(y, rs)
        report["rules"]["roc"] = _thin(fpr, tpr)
    if rule_flag is not None:
        flag = np.asarray(rule_flag, dtype=bool)
        k = int(flag.sum())
        report["at_mql_threshold"] = {"rules": precision_recall(y, flag)}
        if k:
            # the model at the same volume: its top-k leads, k = how many the MQL rules flag
            order = np.argsort(-p, kind="mergesort")
            mflag = np.zeros(len(p), dtype=bool)
            mflag[order[:k]] = True
            report["at_mql_threshold"]["model_same_volume"] = {
                **precision_recall(y, mflag), "probability_cut": float(p[order[k - 1]])}
    return report


def _thin(x: np.ndarray, y: np.ndarray, n: int = 101) -> list[list[float]]:
    if len(x) <= n:
        return [[float(a), float(b)] for a, b in zip(x, y, strict=True)]
    idx = np.unique(np.linspace(0, len(x) - 1, n).astype(int))
    return [[float(x[i]), float(y[i])] for i in idx]


# ---------------------------------------------------------------------------------------------- HTML


def _fmt(v: Any, pct: bool = False) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, float):
        return f"{v:.1%}" if pct else f"{v:.3f}"
    return str(v)


def _svg_plot(title: str, series: list[tuple[str, list[list[float]], str]], *, diagonal: bool = True,
              x_label: str = "", y_label: str = "", y_max: float = 1.0) -> str:
    w, h, m = 320, 260, 40
    sx = lambda x: m + x * (w - 2 * m)  # noqa: E731
    sy = lambda y: h - m - (y / y_max) * (h - 2 * m)  # noqa: E731
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img" '
             f'aria-label="{html.escape(title)}">',
             f'<rect x="{m}" y="{m}" width="{w - 2 * m}" height="{h - 2 * m}" fill="none" stroke="#999"/>',
             f'<text x="{w / 2}" y="20" text-anchor="middle" font-size="13">{html.escape(title)}</text>',
             f'<text x="{w / 2}" y="{h - 8}" text-anchor="middle" font-size="11">{html.escape(x_label)}</text>',
             f'<text x="12" y="{h / 2}" font-size="11" transform="rotate(-90 12 {h / 2})" '
             f'text-anchor="middle">{html.escape(y_label)}</text>']
    for t in (0.0, 0.5, 1.0):
        parts.append(f'<text x="{sx(t):.1f}" y="{h - m + 14}" font-size="10" text-anchor="middle">{t:g}</text>')
        parts.append(f'<text x="{m - 4}" y="{sy(t * y_max) + 3:.1f}" font-size="10" '
                     f'text-anchor="end">{t * y_max:g}</text>')
    if diagonal:
        parts.append(f'<line x1="{sx(0)}" y1="{sy(0)}" x2="{sx(1)}" y2="{sy(min(1.0, y_max))}" stroke="#ccc" '
                     'stroke-dasharray="4 3"/>')
    for i, (name, pts, color) in enumerate(series):
        if not pts:
            continue
        d = " ".join(f"{sx(x):.1f},{sy(min(y, y_max)):.1f}" for x, y in pts)
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{d}"/>')
        parts.append(f'<text x="{m + 6}" y="{m + 14 + 13 * i}" font-size="11" fill="{color}">'
                     f'{html.escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def render_html(report: dict[str, Any], meta: dict[str, Any] | None = None) -> str:
    """A self-contained HTML page: summary, side-by-side table, deciles, calibration, plots (inline SVG)."""
    meta = meta or {}
    e = html.escape
    model, rules = report["model"], report.get("rules")
    rows = [("ROC AUC", "roc_auc", False), ("PR AUC", "pr_auc", False),
            ("converters in the top 20 %", "top20_share", True), ("ECE", "ece", False), ("Brier", "brier", False)]
    head = "<tr><th>metric</th><th>model</th>" + ("<th>" + e(rules["name"]) + "</th>" if rules else "") + "</tr>"
    body = "".join(
        f"<tr><td>{e(label)}</td><td>{e(_fmt(model.get(key), pct))}</td>"
        + (f"<td>{e(_fmt(rules.get(key), pct))}</td>" if rules else "") + "</tr>"
        for label, key, pct in rows)
    dec = "".join(
        f"<tr><td>{d['decile']}</td><td>{d['rows']}</td><td>{d['converters']}</td><td>{e(_fmt(d['rate'], True))}</td>"
        f"<td>{e(_fmt(d['lift']))}</td><td>{e(_fmt(d['cumulative_gain'], True))}</td></tr>" for d in model["deciles"])
    cal = "".join(
        f"<tr><td>{e(c['bin'])}</td><td>{c['rows']}</td><td>{e(_fmt(c['predicted'], True))}</td>"
        f"<td>{e(_fmt(c['observed'], True))}</td></tr>" for c in model["calibration"])
    mql = ""
    if "at_mql_threshold" in report:
        items = "".join(
            f"<tr><td>{e(k)}</td><td>{v['flagged']}</td><td>{e(_fmt(v['precision'], True))}</td>"
            f"<td>{e(_fmt(v['recall'], True))}</td></tr>" for k, v in report["at_mql_threshold"].items())
        mql = ("<h2>At the active MQL threshold</h2><table><tr><th>who decides</th><th>flagged</th>"
               f"<th>precision</th><th>recall</th></tr>{items}</table>")
    gains = [("model", [[0.0, 0.0]] + [[d["decile"] / 10, d["cumulative_gain"]] for d in model["deciles"]], "#1f6feb")]
    roc = [("model", model["roc"], "#1f6feb")]
    if rules:
        gains.append((rules["name"], [[0.0, 0.0]] + [[d["decile"] / 10, d["cumulative_gain"]]
                                                    for d in rules["deciles"]], "#d97706"))
        roc.append((rules["name"], rules["roc"], "#d97706"))
    calib = [("model", [[c["predicted"], c["observed"]] for c in model["calibration"]], "#1f6feb")]
    plots = (_svg_plot("ROC", roc, x_label="false-positive rate", y_label="true-positive rate")
             + _svg_plot("Cumulative gains", gains, x_label="share of leads (by score)", y_label="share of converters")
             + _svg_plot("Calibration", calib, x_label="predicted", y_label="observed"))
    info = "".join(f"<tr><th>{e(str(k))}</th><td>{e(str(v))}</td></tr>" for k, v in meta.items())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>leadflow predictive evaluation</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem;max-width:1100px}}table{{border-collapse:collapse;
margin:.5rem 0 1.5rem}}td,th{{border:1px solid #ddd;padding:.25rem .6rem;text-align:right}}th{{background:#f4f4f4}}
svg{{margin-right:1rem}}</style></head><body>
<h1>Predictive model evaluation</h1>
<p>{report['rows']} rows in the holdout, {report['converters']} converters (base rate {e(_fmt(report['base_rate'], True))}).</p>
<table>{info}</table>
<h2>Model and rule-based score on the same holdout</h2><table>{head}{body}</table>
{mql}
<div>{plots}</div>
<h2>Lift and cumulative gains by decile (model)</h2>
<table><tr><th>decile</th><th>rows</th><th>converters</th><th>rate</th><th>lift</th><th>cumulative gain</th></tr>{dec}</table>
<h2>Calibration (model)</h2>
<table><tr><th>bin</th><th>rows</th><th>mean predicted</th><th>observed</th></tr>{cal}</table>
</body></html>
"""
