"""Training: encode the features, split, fit candidates, pick one on held-out rows, calibrate it.

* **Encoding** (:class:`Encoder`, fitted on the training rows only): numeric features are imputed with the
  training median (plus a "was missing" indicator when values are missing), heavy-tailed non-negative ones
  are ``log1p``-transformed, then standardised for the linear model, which also gets a cubic B-spline of
  each numeric feature (``SPLINE_KNOTS`` knots at quantiles of the transformed training values, constant
  beyond them: a smooth shape, since a linear term alone cannot say "zero minutes on the site is bad, a few
  minutes good, more no better"; models of artifact formats 1-2 used one indicator per training decile
  instead, and still do); categorical features keep the levels seen at
  least ``min_count`` times in training (the rest are pooled as ``(other)``, missing values ``(missing)``),
  one-hot for the linear model and integer codes for LightGBM.
* **Split**: with times, a temporal split - the last 20 % of rows (by time) test; of the rows whose label is
  observed before the test period starts (time + horizon gap <= test start), the latest quarter validate
  and the rows whose label is observed before the validation period starts train (with no gap: 60 / 20 /
  20 %); candidates are fitted on the training rows and chosen, early-stopped and calibrated on the
  validation rows. Without times, a stratified random split (seeded) keeps the same 20 % test, and the
  other 80 % are **cross-fitted**: ``folds`` stratified folds, each candidate fitted on the other folds and
  scored on its own fold, so every one of those rows gets an out-of-fold score; the final model is the
  average of the fold models (for the logistic regression: the averaged coefficients).
* **Candidates**: L2-regularised logistic regression (strength chosen on the held-out rows), gradient-boosted
  trees (LightGBM, a small grid of tree sizes, early-stopped on the held-out rows; tried from 50 training
  conversions on), and a blend of the two (a weighted mean of their log-odds, the weight chosen on the
  held-out rows). The best held-out ROC AUC wins; a candidate other than the logistic regression must beat
  it by ``0.005`` (readability wins ties).
* **Optional feature groups** (``ds.meta["optional_groups"]``, e.g. the time-derived features of the
  tabular path) are kept only when they raise the best held-out ROC AUC by ``0.002``.
* **Calibration** on the held-out scores: none (the model's own probabilities), Platt (a logistic fit on
  the raw log-odds) or isotonic, whichever has the lowest cross-validated ECE on those rows (5 folds;
  isotonic is considered from 100 of each class, the choice from 20; Platt below that). The test part is touched
  only by :func:`train`'s final evaluation.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from leadflow.predictive.dataset import Dataset
from leadflow.predictive.errors import MIN_CLASS, MIN_CLASS_PER_PART, BadTarget, NoFeatures, TooFewOutcomes

__all__ = ["Calibrator", "Encoder", "Model", "TrainResult", "check_target", "choose_calibration", "split", "train"]

MISSING = "(missing)"
OTHER = "(other)"
LGBM_MIN_POSITIVES = 50
C_GRID = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
# (num_leaves, min_data_in_leaf): from nearly additive stumps to deeper interactions
LGBM_GRID = ((4, 20), (7, 40), (15, 20), (31, 20))
BLEND_WEIGHTS = (0.25, 0.5, 0.75)  # LightGBM's share of the blended log-odds
READABILITY_MARGIN = 0.005
OPTIONAL_MARGIN = 0.002
CROSS_FIT_FOLDS = 5
LINEAR_BINS = 10  # decile indicators of models written in formats 1-2 (still read)
SPLINE_KNOTS = 8  # quantile knots of each numeric feature's cubic spline in the linear model
SPLINE_DEGREE = 3
Algorithm = Literal["auto", "logistic", "lightgbm"]
Progress = Callable[[str], None]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))


# ------------------------------------------------------------------------------------------- target


def check_target(y: np.ndarray | None, name: str = "target") -> np.ndarray:
    """``y`` as 0/1 ``int8``; raises :class:`BadTarget` when missing, not binary or a single class."""
    if y is None:
        raise BadTarget(f"no {name}: pass the column that says whether the lead converted")
    y = np.asarray(y)
    if y.dtype.kind == "f" and np.isnan(y).any():
        raise BadTarget(f"{name} has {int(np.isnan(y).sum())} missing values: fill or drop those rows")
    values = set(np.unique(y).tolist())
    if not values <= {0, 1}:
        shown = ", ".join(repr(v) for v in sorted(values, key=str)[:6])
        raise BadTarget(f"{name} must be binary (0/1, yes/no, true/false); found {len(values)} values: {shown}")
    if len(values) < 2:
        only = "converted" if values == {1} else "not converted"
        raise BadTarget(f"{name} holds a single class (every row is {only}): a model needs both outcomes")
    return y.astype(np.int8)


# ------------------------------------------------------------------------------------------ encoder


@dataclass
class _Num:
    name: str
    median: float
    log: bool
    mean: float
    std: float
    indicator: bool
    edges: tuple[float, ...] = ()  # inner decile edges on training values: bin indicators (formats 1-2)
    knots: tuple[float, ...] = ()  # quantile knots on the transformed training values: a cubic spline (format 3+)


def _spline_basis(v: np.ndarray, log: bool, knots: tuple[float, ...]) -> np.ndarray:
    """Cubic B-spline basis of ``v`` (log1p-transformed when ``log``) on ``knots`` (quantiles of the training
    values, extended beyond both ends by the outer spacing): ``len(knots) + 2`` columns that sum to 1; constant
    beyond the training range; all zero for a missing value (the "missing" indicator speaks for it)."""
    from scipy.interpolate import BSpline

    k = np.asarray(knots, dtype=np.float64)
    lo, hi = k[1] - k[0], k[-1] - k[-2]
    full = np.concatenate([k[0] - lo * np.arange(SPLINE_DEGREE, 0, -1), k, k[-1] + hi * np.arange(1, SPLINE_DEGREE + 1)])
    out = np.zeros((len(v), len(k) + SPLINE_DEGREE - 1))
    ok = np.flatnonzero(~np.isnan(v))
    if len(ok):
        x = np.log1p(np.maximum(v[ok], 0.0)) if log else v[ok]
        x = np.clip(x, k[0], k[-1])
        out[ok] = BSpline.design_matrix(x, full, SPLINE_DEGREE).toarray()
    return out


@dataclass
class _Cat:
    name: str
    levels: list[str]


@dataclass
class Encoder:
    """Fitted on training rows; turns a :class:`Dataset` into the linear / tree design matrices."""

    nums: list[_Num] = field(default_factory=list)
    cats: list[_Cat] = field(default_factory=list)
    dropped: dict[str, str] = field(default_factory=dict)  # feature -> why
    col_means: np.ndarray | None = None  # of the linear design on the training rows

    @classmethod
    def fit(cls, ds: Dataset, min_count: int = 3, max_levels: int = 200) -> Encoder:
        enc = cls()
        for name, v in ds.numeric.items():
            ok = ~np.isnan(v)
            if not ok.any():
                enc.dropped[name] = "all missing"
                continue
            vals = v[ok]
            if np.all(vals == vals[0]) and ok.all():
                enc.dropped[name] = "constant"
                continue
            median = float(np.median(vals))
            log = bool(vals.min() >= 0 and np.percentile(vals, 99) > 10)
            filled = np.where(ok, v, median)
            t = np.log1p(filled) if log else filled
            std = float(t.std()) or 1.0
            tv = np.log1p(vals) if log else vals
            knots = np.unique(np.quantile(tv, np.linspace(0, 1, SPLINE_KNOTS)))
            enc.nums.append(_Num(name, median, log, float(t.mean()), std, bool((~ok).any()),
                                 knots=tuple(float(k) for k in knots) if len(knots) >= 3 else ()))
        for name, v in ds.categorical.items():
            present = [x for x in v if x is not None]
            if not present:
                enc.dropped[name] = "all missing"
                continue
            uniq, counts = np.unique(np.asarray(present, dtype=object).astype(str), return_counts=True)
            order = np.argsort(-counts, kind="stable")
            levels = [str(uniq[i]) for i in order if counts[i] >= min_count][:max_levels]
            n_missing = len(v) - len(present)
            if len(uniq) == 1 and n_missing == 0:
                enc.dropped[name] = "constant"
                continue
            if not levels or (len(levels) == 1 and n_missing == 0 and len(uniq) == 1):
                enc.dropped[name] = f"no level seen {min_count}+ times"
                continue
            enc.cats.append(_Cat(name, levels))
        if not enc.nums and not enc.cats:
            why = "; ".join(f"{k}: {v}" for k, v in list(enc.dropped.items())[:10])
            raise NoFeatures(f"no usable feature (every column is constant, all missing or excluded){': ' + why if why else ''}")
        enc.col_means = enc.linear(ds, center=False).mean(axis=0)
        return enc

    @property
    def features(self) -> list[str]:
        return [n.name for n in self.nums] + [c.name for c in self.cats]

    def _num(self, ds: Dataset, n: _Num) -> tuple[np.ndarray, np.ndarray]:
        v = ds.numeric.get(n.name)
        if v is None:
            v = np.full(len(ds), np.nan)
        miss = np.isnan(v)
        x = np.where(miss, n.median, v)
        if n.log:
            x = np.log1p(np.maximum(x, 0.0))
        return (x - n.mean) / n.std, miss

    def _codes(self, ds: Dataset, c: _Cat) -> np.ndarray:
        """Level index; len(levels) = other, len(levels) + 1 = missing."""
        v = ds.categorical.get(c.name)
        if v is None:
            return np.full(len(ds), len(c.levels) + 1)
        index = {lv: i for i, lv in enumerate(c.levels)}
        other, missing = len(c.levels), len(c.levels) + 1
        return np.fromiter((missing if x is None else index.get(str(x), other) for x in v), dtype=np.int64,
                           count=len(v))

    def linear_columns(self) -> list[tuple[str, str]]:
        """(feature, column label) of each linear design column, in order."""
        cols: list[tuple[str, str]] = []
        for n in self.nums:
            cols.append((n.name, n.name))
            if n.indicator:
                cols.append((n.name, f"{n.name} missing"))
            edges = getattr(n, "edges", ())
            if edges:
                bounds = ["", *(f"{e:g}" for e in edges), ""]
                cols.extend((n.name, f"{n.name} in [{bounds[k]}, {bounds[k + 1]})") for k in range(len(edges) + 1))
            knots = getattr(n, "knots", ())
            if knots:
                cols.extend((n.name, f"{n.name} spline {k + 1}") for k in range(len(knots) + SPLINE_DEGREE - 1))
        for c in self.cats:
            cols.extend((c.name, f"{c.name}={lv}") for lv in [*c.levels, OTHER, MISSING])
        return cols

    def linear(self, ds: Dataset, center: bool = True) -> np.ndarray:
        parts: list[np.ndarray] = []
        for n in self.nums:
            z, miss = self._num(ds, n)
            parts.append(z[:, None])
            if n.indicator:
                parts.append(miss.astype(np.float64)[:, None])
            edges = getattr(n, "edges", ())
            if edges:
                v = ds.numeric.get(n.name)
                v = np.full(len(ds), np.nan) if v is None else v
                onehot = np.zeros((len(ds), len(edges) + 1))
                ok = np.flatnonzero(~np.isnan(v))
                onehot[ok, np.searchsorted(edges, v[ok], side="right")] = 1.0
                parts.append(onehot)
            knots = getattr(n, "knots", ())
            if knots:
                v = ds.numeric.get(n.name)
                v = np.full(len(ds), np.nan) if v is None else v
                parts.append(_spline_basis(v, n.log, knots))
        for c in self.cats:
            codes = self._codes(ds, c)
            onehot = np.zeros((len(ds), len(c.levels) + 2))
            onehot[np.arange(len(ds)), codes] = 1.0
            parts.append(onehot)
        x = np.hstack(parts) if parts else np.zeros((len(ds), 0))
        return x - self.col_means if center and self.col_means is not None else x

    def tree(self, ds: Dataset) -> np.ndarray:
        cols = []
        for n in self.nums:
            v = ds.numeric.get(n.name)
            cols.append(np.full(len(ds), np.nan) if v is None else v.astype(np.float64))
        for c in self.cats:
            codes = self._codes(ds, c).astype(np.float64)
            codes[codes == len(c.levels) + 1] = np.nan
            cols.append(codes)
        return np.column_stack(cols) if cols else np.zeros((len(ds), 0))

    def tree_categorical(self) -> list[int]:
        return list(range(len(self.nums), len(self.nums) + len(self.cats)))


# -------------------------------------------------------------------------------------- calibration


@dataclass
class Calibrator:
    """Maps raw log-odds to calibrated probabilities: ``none`` (the model's own sigmoid), ``platt`` (a, b)
    or ``isotonic`` (x, y knots)."""

    method: str
    a: float = 1.0
    b: float = 0.0
    xs: list[float] = field(default_factory=list)
    ys: list[float] = field(default_factory=list)

    @classmethod
    def fit(cls, raw: np.ndarray, y: np.ndarray, method: str = "auto") -> Calibrator:
        if method == "auto":
            method = choose_calibration(raw, y)[0]
        if method == "none":
            return cls("none")
        if method == "isotonic":
            from sklearn.isotonic import IsotonicRegression

            iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, y)
            return cls("isotonic", xs=[float(v) for v in iso.X_thresholds_], ys=[float(v) for v in iso.y_thresholds_])
        if method != "platt":
            raise ValueError(f"calibration must be auto, none, platt or isotonic, not {method!r}")
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=1e4, max_iter=1000).fit(raw[:, None], y)
        return cls("platt", a=float(lr.coef_[0, 0]), b=float(lr.intercept_[0]))

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        raw = np.asarray(raw, dtype=np.float64)
        if self.method == "isotonic":
            p = np.interp(raw, self.xs, self.ys)
            return np.clip(p, 1e-4, 1 - 1e-4)  # a probability of exactly 0 or 1 is never honest
        return _sigmoid(self.a * raw + self.b)


CALIBRATION_CHOICE_MIN = 20  # of each class, to choose by cross-validation (Platt below)
ISOTONIC_MIN = 100  # of each class, for isotonic to be considered


def choose_calibration(raw: np.ndarray, y: np.ndarray, folds: int = 5, seed: int = 11
                       ) -> tuple[str, dict[str, dict[str, float]]]:
    """The calibration with the lowest cross-validated ECE on held-out scores ``raw`` (see the module
    docstring), and each method's cross-validated ECE and log loss."""
    from leadflow.predictive.evaluate import calibration as _calibration
    from leadflow.predictive.evaluate import log_loss

    raw = np.asarray(raw, dtype=np.float64)
    y = np.asarray(y).astype(np.int8)
    pos, neg = int(y.sum()), int(len(y) - y.sum())
    if min(pos, neg) < CALIBRATION_CHOICE_MIN:
        return "platt", {}
    methods = ["none", "platt"] + (["isotonic"] if min(pos, neg) >= ISOTONIC_MIN else [])
    out = {m: np.zeros(len(y)) for m in methods}
    for fit_i, eval_i in _stratified_folds(y, folds, seed):
        for m in methods:
            out[m][eval_i] = Calibrator.fit(raw[fit_i], y[fit_i], m)(raw[eval_i])
    scores = {m: {"log_loss": round(log_loss(y, p), 5), "ece": round(_calibration(y, p)[1], 5)} for m, p in out.items()}
    best = min(methods, key=lambda m: (scores[m]["ece"], methods.index(m)))
    return best, scores


def _stratified_folds(y: np.ndarray, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``k`` (fit rows, held-out rows) pairs; each class is dealt round-robin over the folds after a shuffle."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(y), dtype=np.int64)
    for cls in np.unique(y):
        idx = np.flatnonzero(y == cls)
        rng.shuffle(idx)
        fold[idx] = np.arange(len(idx)) % k
    return [(np.flatnonzero(fold != f), np.flatnonzero(fold == f)) for f in range(k)]


# --------------------------------------------------------------------------------------------- model


class Bag:
    """The average of the fold models' raw scores (cross-fitting): LightGBM boosters side by side."""

    def __init__(self, members: list[Any]):
        self.members = members

    def predict(self, x: np.ndarray, *, raw_score: bool = False, pred_contrib: bool = False) -> np.ndarray:
        return np.mean([m.predict(x, raw_score=raw_score, pred_contrib=pred_contrib) for m in self.members], axis=0)

    def feature_importance(self, importance_type: str = "gain") -> np.ndarray:
        return np.mean([m.feature_importance(importance_type=importance_type) for m in self.members], axis=0)

    def current_iteration(self) -> int:
        return round(float(np.mean([m.current_iteration() for m in self.members])))


@dataclass
class Blend:
    """``(1 - weight) x`` the logistic regression's log-odds ``+ weight x`` LightGBM's."""

    logistic: Any
    lightgbm: Any
    weight: float


@dataclass
class Model:
    """A fitted, calibrated model: ``predict(ds)`` -> probabilities; ``contributions(ds)`` -> log-odds parts."""

    algorithm: str  # logistic | lightgbm | blend
    encoder: Encoder
    estimator: Any
    calibrator: Calibrator | None = None
    params: dict[str, Any] = field(default_factory=dict)
    describe: dict[str, str] = field(default_factory=dict)  # feature -> words (see explain)

    def raw(self, ds: Dataset) -> np.ndarray:
        """Uncalibrated log-odds."""
        if self.algorithm == "logistic":
            return self.estimator.decision_function(self.encoder.linear(ds))
        if self.algorithm == "blend":
            b = self.estimator
            return ((1 - b.weight) * b.logistic.decision_function(self.encoder.linear(ds))
                    + b.weight * b.lightgbm.predict(self.encoder.tree(ds), raw_score=True))
        return self.estimator.predict(self.encoder.tree(ds), raw_score=True)

    def predict(self, ds: Dataset) -> np.ndarray:
        raw = self.raw(ds)
        return self.calibrator(raw) if self.calibrator else _sigmoid(raw)

    def contributions(self, ds: Dataset) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """``(base, contrib, features)``: raw log-odds = base + contrib.sum(axis=1), one column per feature.

        Logistic: coefficient x (value - training mean) summed over a feature's design columns (exact).
        LightGBM: its own SHAP contributions (``pred_contrib``; averaged over the fold models of a bag).
        Blend: the weighted sum of the two.
        """
        if self.algorithm == "logistic":
            return self._linear_contributions(self.estimator, ds)
        if self.algorithm == "blend":
            b = self.estimator
            lb, lc, feats = self._linear_contributions(b.logistic, ds)
            tb, tc, _ = self._tree_contributions(b.lightgbm, ds)
            w = b.weight
            return (1 - w) * lb + w * tb, (1 - w) * lc + w * tc, feats
        return self._tree_contributions(self.estimator, ds)

    def _linear_contributions(self, lr: Any, ds: Dataset) -> tuple[np.ndarray, np.ndarray, list[str]]:
        feats = self.encoder.features
        parts = self.encoder.linear(ds) * lr.coef_[0]
        owner = [f for f, _ in self.encoder.linear_columns()]
        idx = {f: i for i, f in enumerate(feats)}
        contrib = np.zeros((len(ds), len(feats)))
        for j, f in enumerate(owner):
            contrib[:, idx[f]] += parts[:, j]
        return np.full(len(ds), float(lr.intercept_[0])), contrib, feats

    def _tree_contributions(self, est: Any, ds: Dataset) -> tuple[np.ndarray, np.ndarray, list[str]]:
        out = est.predict(self.encoder.tree(ds), pred_contrib=True)
        return out[:, -1], out[:, :-1], self.encoder.features

    def top_weights(self, n: int = 15) -> list[tuple[str, float]]:
        """Global importance: |coefficient| (logistic), gain (LightGBM), or the blend's weighted mean of the two
        (each as a share of its total)."""
        feats = self.encoder.features

        def linear(lr: Any) -> dict[str, float]:
            agg: dict[str, float] = dict.fromkeys(feats, 0.0)
            for (f, _), c in zip(self.encoder.linear_columns(), lr.coef_[0], strict=True):
                agg[f] = max(agg[f], abs(float(c)))
            return agg

        def tree(est: Any) -> dict[str, float]:
            gains = est.feature_importance(importance_type="gain")
            return {f: float(g) for f, g in zip(feats, gains, strict=True)}

        if self.algorithm == "logistic":
            agg = linear(self.estimator)
        elif self.algorithm == "blend":
            a, t = linear(self.estimator.logistic), tree(self.estimator.lightgbm)
            sa, st = sum(a.values()) or 1.0, sum(t.values()) or 1.0
            w = self.estimator.weight
            agg = {f: (1 - w) * a[f] / sa + w * t[f] / st for f in feats}
        else:
            agg = tree(self.estimator)
        return sorted(agg.items(), key=lambda kv: -kv[1])[:n]


# --------------------------------------------------------------------------------------------- split


def split(ds: Dataset, *, gap_s: float = 0.0, seed: int = 7, fractions: tuple[float, float] = (0.6, 0.8)
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """Indices of (train, valid, test) and a description of the split (see the module docstring)."""
    n = len(ds)
    if ds.times is not None and not np.isnan(ds.times).all():
        t = np.where(np.isnan(ds.times), -np.inf, ds.times)
        ordered = np.sort(t)
        t0 = ordered[min(n - 1, int(n * fractions[1]))]
        # validation: the latest rows whose label is observed before the test period starts
        eligible = ordered[ordered + gap_s <= t0]
        if not len(eligible):
            eligible = ordered[:1]
        v0 = eligible[min(len(eligible) - 1, int(len(eligible) * fractions[0] / fractions[1]))]
        train = np.flatnonzero((t < v0) & (t + gap_s <= v0))
        valid = np.flatnonzero((t >= v0) & (t < t0) & (t + gap_s <= t0))
        test = np.flatnonzero(t >= t0)
        info = {"kind": "temporal", "valid_from": float(v0), "test_from": float(t0), "gap_s": gap_s}
        return train, valid, test, info
    rng = np.random.default_rng(seed)
    train_l, valid_l, test_l = [], [], []
    y = ds.y if ds.y is not None else np.zeros(n, dtype=np.int8)
    for cls in np.unique(y):
        idx = np.flatnonzero(y == cls)
        rng.shuffle(idx)
        a, b = int(len(idx) * fractions[0]), int(len(idx) * fractions[1])
        train_l.append(idx[:a])
        valid_l.append(idx[a:b])
        test_l.append(idx[b:])
    return (np.sort(np.concatenate(train_l)), np.sort(np.concatenate(valid_l)), np.sort(np.concatenate(test_l)),
            {"kind": "random-stratified", "seed": seed})


def _check_parts(y: np.ndarray, parts: dict[str, np.ndarray]) -> None:
    pos, neg = int(y.sum()), int(len(y) - y.sum())
    if pos < MIN_CLASS or neg < MIN_CLASS:
        raise TooFewOutcomes(pos, neg)
    for name, idx in parts.items():
        p = int(y[idx].sum())
        q = len(idx) - p
        need = MIN_CLASS_PER_PART if name != "train" else MIN_CLASS // 2
        if p < need or q < need:
            raise TooFewOutcomes(pos, neg, detail=(
                f" (the {name} part of the split holds {p} converted and {q} not converted; it needs {need} of "
                "each - record more outcomes or widen the data window)"))


# -------------------------------------------------------------------------------------- candidates


def _auc(y: np.ndarray, s: np.ndarray) -> float:
    from leadflow.predictive.evaluate import roc_auc

    return roc_auc(y, s)


Plan = list[tuple[np.ndarray, np.ndarray]]  # (fit rows, held-out rows) per fold, indices into the dev rows


@dataclass
class _Fitted:
    estimator: Any
    held_raw: np.ndarray  # raw log-odds of each held-out row (NaN for rows never held out)
    auc: float
    params: dict[str, Any]


def _held(plan: Plan) -> np.ndarray:
    return np.sort(np.concatenate([e for _, e in plan]))


def _fit_logistic(enc: Encoder, dev: Dataset, plan: Plan, seed: int) -> _Fitted:
    from sklearn.linear_model import LogisticRegression

    x = enc.linear(dev)
    y = dev.y
    held = _held(plan)
    # Newton steps converge in a few iterations while the design is narrow; L-BFGS scales to wide ones
    solver = "newton-cholesky" if x.shape[1] <= 400 else "lbfgs"
    best: _Fitted | None = None
    for c in C_GRID:
        raw = np.full(len(dev), np.nan)
        fits = []
        for fit_i, eval_i in plan:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                lr = LogisticRegression(C=c, solver=solver, max_iter=3000, random_state=seed).fit(
                    x[fit_i], y[fit_i])
            raw[eval_i] = lr.decision_function(x[eval_i])
            fits.append(lr)
        auc = _auc(y[held], raw[held])
        if best is None or auc > best.auc + 1e-9:
            est = fits[0]
            if len(fits) > 1:  # the average of linear models is a linear model: one readable set of weights
                est = copy.deepcopy(fits[0])
                est.coef_ = np.mean([f.coef_ for f in fits], axis=0)
                est.intercept_ = np.mean([f.intercept_ for f in fits], axis=0)
            best = _Fitted(est, raw, auc, {"C": c})
    assert best is not None
    return best


def _lgbm_params(leaves: int, min_child: int, seed: int) -> dict[str, Any]:
    return {"objective": "binary", "learning_rate": 0.03, "num_leaves": leaves, "min_data_in_leaf": min_child,
            "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 1.0,
            "cat_smooth": 20.0, "min_data_per_group": 20, "verbose": -1, "seed": seed, "num_threads": 1,
            "deterministic": True, "force_col_wise": True}


def _fit_lightgbm(enc: Encoder, dev: Dataset, plan: Plan, seed: int) -> _Fitted:
    import lightgbm as lgb

    x = enc.tree(dev)
    y = dev.y.astype(float)
    cats = enc.tree_categorical()
    held = _held(plan)
    best: _Fitted | None = None
    for leaves, min_child in LGBM_GRID:
        params = _lgbm_params(leaves, min_child, seed)
        raw = np.full(len(dev), np.nan)
        members = []
        for fit_i, eval_i in plan:
            dt = lgb.Dataset(x[fit_i], y[fit_i], categorical_feature=cats or "auto", free_raw_data=False)
            dv = lgb.Dataset(x[eval_i], y[eval_i], reference=dt, categorical_feature=cats or "auto")
            booster = lgb.train(params, dt, num_boost_round=1000, valid_sets=[dv],
                                callbacks=[lgb.early_stopping(50, verbose=False)])
            rounds = booster.best_iteration or booster.current_iteration()
            booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=rounds))
            raw[eval_i] = booster.predict(x[eval_i], raw_score=True)
            members.append(booster)
        auc = _auc(y[held], raw[held])
        if best is None or auc > best.auc + 1e-9:
            est = members[0] if len(members) == 1 else Bag(members)
            best = _Fitted(est, raw, auc, {"num_leaves": leaves, "min_data_in_leaf": min_child,
                                           "rounds": est.current_iteration()})
    assert best is not None
    return best


def _fit_blend(lr: _Fitted, gb: _Fitted, y: np.ndarray, held: np.ndarray) -> _Fitted:
    best: _Fitted | None = None
    for w in BLEND_WEIGHTS:
        raw = (1 - w) * lr.held_raw + w * gb.held_raw
        auc = _auc(y[held], raw[held])
        if best is None or auc > best.auc + 1e-9:
            best = _Fitted(Blend(lr.estimator, gb.estimator, w), raw, auc,
                           {"weight_lightgbm": w, "logistic": lr.params, "lightgbm": gb.params})
    assert best is not None
    return best


@dataclass
class _Candidates:
    encoder: Encoder
    fitted: dict[str, _Fitted]
    skipped: dict[str, str]

    @property
    def best_auc(self) -> float:
        return max(f.auc for f in self.fitted.values())

    def pick(self) -> str:
        """The best held-out ROC AUC; anything but the logistic regression must beat it by the margin."""
        order = [a for a in ("logistic", "lightgbm", "blend") if a in self.fitted]
        pick = max(order, key=lambda a: (self.fitted[a].auc, -order.index(a)))
        if "logistic" in self.fitted and pick != "logistic" and \
                self.fitted[pick].auc < self.fitted["logistic"].auc + READABILITY_MARGIN:
            pick = "logistic"
        return pick


def _fit_candidates(dev: Dataset, plan: Plan, enc_rows: np.ndarray, algorithm: Algorithm, seed: int,
                    say: Progress) -> _Candidates:
    enc = Encoder.fit(dev.subset(enc_rows))
    fitted: dict[str, _Fitted] = {}
    skipped: dict[str, str] = {}
    if algorithm in ("auto", "logistic"):
        say("fitting logistic regression")
        fitted["logistic"] = _fit_logistic(enc, dev, plan, seed)
    if algorithm in ("auto", "lightgbm"):
        fewest = min(int(dev.y[f].sum()) for f, _ in plan)
        if algorithm == "auto" and fewest < LGBM_MIN_POSITIVES:
            skipped["lightgbm"] = f"fewer than {LGBM_MIN_POSITIVES} conversions in training"
        else:
            say("fitting gradient-boosted trees")
            fitted["lightgbm"] = _fit_lightgbm(enc, dev, plan, seed)
    if "logistic" in fitted and "lightgbm" in fitted:
        fitted["blend"] = _fit_blend(fitted["logistic"], fitted["lightgbm"], dev.y, _held(plan))
    return _Candidates(enc, fitted, skipped)


@dataclass
class TrainResult:
    model: Model
    split: dict[str, Any]
    candidates: dict[str, dict[str, Any]]  # algorithm -> {valid_auc, params} or {skipped: why}; calibration
    test: Dataset
    test_p: np.ndarray
    train_rows: int
    valid_rows: int
    warnings: list[str]
    reference: dict[str, Any]  # feature distributions on the training part (for drift)


def train(ds: Dataset, *, algorithm: Algorithm = "auto", calibration: str = "auto", gap_s: float = 0.0,
          seed: int = 7, progress: Progress | None = None, folds: int = CROSS_FIT_FOLDS) -> TrainResult:
    """Split ``ds``, fit the candidates, pick, calibrate; see the module docstring."""
    say = progress or (lambda _msg: None)
    y = check_target(ds.y)
    ds.y = y
    tr_i, va_i, te_i, info = split(ds, gap_s=gap_s, seed=seed)
    _check_parts(y, {"train": tr_i, "validation": va_i, "test": te_i})
    te = ds.subset(te_i)
    dev = ds.subset(np.concatenate([tr_i, va_i]))
    if info["kind"] == "temporal" or folds < 2:
        plan: Plan = [(np.arange(len(tr_i)), np.arange(len(tr_i), len(dev)))]
        enc_rows = plan[0][0]
    else:  # no time order to respect: every non-test row trains and is held out once
        plan = _stratified_folds(dev.y, folds, seed)
        enc_rows = np.arange(len(dev))
        info = {**info, "cross_fit_folds": folds}
    say("encoding features")
    cands = _fit_candidates(dev, plan, enc_rows, algorithm, seed, say)
    notes = list(ds.warnings)
    for group, names in (ds.meta.get("optional_groups") or {}).items():
        present = [n for n in names if n in dev.features]
        if not present or len(present) == len(dev.features):
            continue
        say(f"trying without the {group} features")
        alt = _fit_candidates(dev.drop(present), plan, enc_rows, algorithm, seed, say)
        with_, without = cands.best_auc, alt.best_auc
        if with_ >= without + OPTIONAL_MARGIN:
            notes.append(f"{group} features kept: held-out ROC AUC {with_:.3f} with them, {without:.3f} without")
        else:
            notes.append(f"{group} features left out: held-out ROC AUC {with_:.3f} with them, {without:.3f} "
                         f"without (they must add {OPTIONAL_MARGIN})")
            cands = alt
            for n in present:
                cands.encoder.dropped[n] = f"{group} group left out"
    enc = cands.encoder
    own = {k: v for k, v in enc.dropped.items() if not v.endswith("group left out")}  # those have a note above
    if own:
        notes.append("features dropped: " + ", ".join(f"{k} ({v})" for k, v in sorted(own.items())))
    candidates: dict[str, dict[str, Any]] = {name: {"skipped": why} for name, why in cands.skipped.items()}
    for name, f in cands.fitted.items():
        candidates[name] = {"valid_auc": round(f.auc, 4), "params": f.params}
    pick = cands.pick()
    chosen = cands.fitted[pick]
    model = Model(pick, enc, chosen.estimator, params=dict(chosen.params), describe=dict(ds.describe))
    say("calibrating")
    held = _held(plan)
    raw_held, y_held = chosen.held_raw[held], dev.y[held]
    method, scores = choose_calibration(raw_held, y_held) if calibration == "auto" else (calibration, {})
    candidates["calibration"] = {"chosen": method, "cross_validated": scores}
    model.calibrator = Calibrator.fit(raw_held, y_held, method)
    test_p = model.predict(te)
    return TrainResult(model=model, split={**info, "train": len(tr_i), "valid": len(va_i), "test": len(te)},
                       candidates=candidates, test=te, test_p=test_p, train_rows=len(enc_rows),
                       valid_rows=len(held), warnings=notes, reference=reference_distributions(enc, dev.subset(enc_rows)))


# ------------------------------------------------------------------------------------ reference


def reference_distributions(enc: Encoder, ds: Dataset, bins: int = 10) -> dict[str, Any]:
    """Per feature: decile edges and shares (numeric) or level shares (categorical), for drift checks."""
    out: dict[str, Any] = {}
    for n in enc.nums:
        v = ds.numeric[n.name]
        ok = v[~np.isnan(v)]
        edges = sorted(set(np.quantile(ok, np.linspace(0, 1, bins + 1)[1:-1]).tolist())) if len(ok) else []
        out[n.name] = {"kind": "numeric", "edges": edges, "shares": _shares_numeric(v, edges)}
    for c in enc.cats:
        out[c.name] = {"kind": "categorical", "levels": c.levels,
                       "shares": _shares_categorical(enc._codes(ds, c), len(c.levels))}
    return out


def _shares_numeric(v: np.ndarray, edges: list[float]) -> list[float]:
    miss = np.isnan(v)
    idx = np.searchsorted(edges, v[~miss], side="right")
    counts = np.bincount(idx, minlength=len(edges) + 1).tolist() + [int(miss.sum())]
    total = max(1, len(v))
    return [c / total for c in counts]


def _shares_categorical(codes: np.ndarray, n_levels: int) -> list[float]:
    counts = np.bincount(codes, minlength=n_levels + 2)
    return (counts / max(1, len(codes))).tolist()


def finite(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)
