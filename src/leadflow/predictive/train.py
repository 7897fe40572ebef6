"""Training: encode the features, split in time, fit candidates, pick one on validation, calibrate it.

* **Encoding** (:class:`Encoder`, fitted on the training part only): numeric features are imputed with the
  training median (plus a "was missing" indicator when values are missing), heavy-tailed non-negative ones
  are ``log1p``-transformed, then standardised for the linear model; categorical features keep the levels
  seen at least ``min_count`` times in training (the rest become ``(other)``, missing values
  ``(missing)``), one-hot for the linear model and integer codes for LightGBM.
* **Split**: with times, a temporal split - the last 20 % of rows (by time) test; of the rows whose label is
  observed before the test period starts (time + horizon gap <= test start), the latest quarter validate
  and the rows whose label is observed before the validation period starts train (with no gap: 60 / 20 /
  20 %). Without times, a
  stratified random split (seeded).
* **Candidates**: L2-regularised logistic regression (strength chosen on validation) and gradient-boosted
  trees (LightGBM, early-stopped on validation; tried from 50 training conversions on). The candidate with
  the best validation ROC AUC wins; LightGBM must beat the logistic regression by ``0.005`` (readability
  wins ties).
* **Calibration** on the validation part: isotonic when it holds at least 200 of each class, Platt
  (a logistic fit on the raw log-odds) otherwise. The test part is touched only by :func:`train`'s final
  evaluation.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from leadflow.predictive.dataset import Dataset
from leadflow.predictive.errors import MIN_CLASS, MIN_CLASS_PER_PART, BadTarget, NoFeatures, TooFewOutcomes

__all__ = ["Calibrator", "Encoder", "Model", "TrainResult", "check_target", "split", "train"]

MISSING = "(missing)"
OTHER = "(other)"
LGBM_MIN_POSITIVES = 50
C_GRID = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
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
    def fit(cls, ds: Dataset, min_count: int = 5, max_levels: int = 60) -> Encoder:
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
            enc.nums.append(_Num(name, median, log, float(t.mean()), std, bool((~ok).any())))
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
    """Maps raw log-odds to calibrated probabilities: ``platt`` (a, b) or ``isotonic`` (x, y knots)."""

    method: str
    a: float = 1.0
    b: float = 0.0
    xs: list[float] = field(default_factory=list)
    ys: list[float] = field(default_factory=list)

    @classmethod
    def fit(cls, raw: np.ndarray, y: np.ndarray, method: str = "auto") -> Calibrator:
        pos, neg = int(y.sum()), int(len(y) - y.sum())
        if method == "auto":
            method = "isotonic" if min(pos, neg) >= 200 else "platt"
        if method == "isotonic":
            from sklearn.isotonic import IsotonicRegression

            iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, y)
            return cls("isotonic", xs=[float(v) for v in iso.X_thresholds_], ys=[float(v) for v in iso.y_thresholds_])
        if method != "platt":
            raise ValueError(f"calibration must be auto, platt or isotonic, not {method!r}")
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=1e4, max_iter=1000).fit(raw[:, None], y)
        return cls("platt", a=float(lr.coef_[0, 0]), b=float(lr.intercept_[0]))

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        raw = np.asarray(raw, dtype=np.float64)
        if self.method == "isotonic":
            p = np.interp(raw, self.xs, self.ys)
            return np.clip(p, 1e-4, 1 - 1e-4)  # a probability of exactly 0 or 1 is never honest
        return _sigmoid(self.a * raw + self.b)


# --------------------------------------------------------------------------------------------- model


@dataclass
class Model:
    """A fitted, calibrated model: ``predict(ds)`` -> probabilities; ``contributions(ds)`` -> log-odds parts."""

    algorithm: str  # logistic | lightgbm
    encoder: Encoder
    estimator: Any
    calibrator: Calibrator | None = None
    params: dict[str, Any] = field(default_factory=dict)
    describe: dict[str, str] = field(default_factory=dict)  # feature -> words (see explain)

    def raw(self, ds: Dataset) -> np.ndarray:
        """Uncalibrated log-odds."""
        if self.algorithm == "logistic":
            return self.estimator.decision_function(self.encoder.linear(ds))
        return self.estimator.predict(self.encoder.tree(ds), raw_score=True)

    def predict(self, ds: Dataset) -> np.ndarray:
        raw = self.raw(ds)
        return self.calibrator(raw) if self.calibrator else _sigmoid(raw)

    def contributions(self, ds: Dataset) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """``(base, contrib, features)``: raw log-odds = base + contrib.sum(axis=1), one column per feature.

        Logistic: coefficient x (value - training mean) summed over a feature's design columns (exact).
        LightGBM: its own SHAP contributions (``pred_contrib``).
        """
        feats = self.encoder.features
        if self.algorithm == "logistic":
            x = self.encoder.linear(ds)
            coef = self.estimator.coef_[0]
            parts = x * coef
            owner = [f for f, _ in self.encoder.linear_columns()]
            idx = {f: i for i, f in enumerate(feats)}
            contrib = np.zeros((len(ds), len(feats)))
            for j, f in enumerate(owner):
                contrib[:, idx[f]] += parts[:, j]
            base = np.full(len(ds), float(self.estimator.intercept_[0]))
            return base, contrib, feats
        out = self.estimator.predict(self.encoder.tree(ds), pred_contrib=True)
        return out[:, -1], out[:, :-1], feats

    def top_weights(self, n: int = 15) -> list[tuple[str, float]]:
        """Global importance: |coefficient| (logistic) or gain (LightGBM), by feature."""
        feats = self.encoder.features
        if self.algorithm == "logistic":
            agg: dict[str, float] = dict.fromkeys(feats, 0.0)
            for (f, _), c in zip(self.encoder.linear_columns(), self.estimator.coef_[0], strict=True):
                agg[f] = max(agg[f], abs(float(c)))
        else:
            gains = self.estimator.feature_importance(importance_type="gain")
            agg = {f: float(g) for f, g in zip(feats, gains, strict=True)}
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


def _fit_logistic(enc: Encoder, tr: Dataset, va: Dataset, seed: int) -> tuple[Any, float, dict[str, Any]]:
    from sklearn.linear_model import LogisticRegression

    xt, xv = enc.linear(tr), enc.linear(va)
    best: tuple[Any, float, dict[str, Any]] | None = None
    for c in C_GRID:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lr = LogisticRegression(C=c, max_iter=3000, random_state=seed).fit(xt, tr.y)
        auc = _auc(va.y, lr.decision_function(xv))
        if best is None or auc > best[1] + 1e-9:
            best = (lr, auc, {"C": c})
    assert best is not None
    return best


def _fit_lightgbm(enc: Encoder, tr: Dataset, va: Dataset, seed: int) -> tuple[Any, float, dict[str, Any]]:
    import lightgbm as lgb

    xt, xv = enc.tree(tr), enc.tree(va)
    cats = enc.tree_categorical()
    best: tuple[Any, float, dict[str, Any]] | None = None
    for leaves, min_child in ((7, 40), (15, 20)):
        params = {"objective": "binary", "learning_rate": 0.03, "num_leaves": leaves, "min_data_in_leaf": min_child,
                  "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 1.0,
                  "cat_smooth": 20.0, "min_data_per_group": 20, "verbose": -1, "seed": seed, "num_threads": 1,
                  "deterministic": True, "force_col_wise": True}
        dt = lgb.Dataset(xt, tr.y.astype(float), categorical_feature=cats or "auto", free_raw_data=False)
        dv = lgb.Dataset(xv, va.y.astype(float), reference=dt, categorical_feature=cats or "auto")
        booster = lgb.train(params, dt, num_boost_round=600, valid_sets=[dv],
                            callbacks=[lgb.early_stopping(50, verbose=False)])
        auc = _auc(va.y, booster.predict(xv, raw_score=True, num_iteration=booster.best_iteration))
        if booster.best_iteration and booster.best_iteration < booster.current_iteration():
            booster = lgb.train(params, dt, num_boost_round=booster.best_iteration)
        if best is None or auc > best[1] + 1e-9:
            best = (booster, auc, {"num_leaves": leaves, "min_data_in_leaf": min_child,
                                   "rounds": booster.current_iteration()})
    assert best is not None
    return best


@dataclass
class TrainResult:
    model: Model
    split: dict[str, Any]
    candidates: dict[str, dict[str, Any]]  # algorithm -> {valid_auc, params} or {skipped: why}
    test: Dataset
    test_p: np.ndarray
    train_rows: int
    valid_rows: int
    warnings: list[str]
    reference: dict[str, Any]  # feature distributions on the training part (for drift)


def train(ds: Dataset, *, algorithm: Algorithm = "auto", calibration: str = "auto", gap_s: float = 0.0,
          seed: int = 7, progress: Progress | None = None) -> TrainResult:
    """Split ``ds``, fit the candidates, pick, calibrate; see the module docstring."""
    say = progress or (lambda _msg: None)
    y = check_target(ds.y)
    ds.y = y
    tr_i, va_i, te_i, info = split(ds, gap_s=gap_s, seed=seed)
    _check_parts(y, {"train": tr_i, "validation": va_i, "test": te_i})
    tr, va, te = ds.subset(tr_i), ds.subset(va_i), ds.subset(te_i)
    say("encoding features")
    enc = Encoder.fit(tr)
    notes = list(ds.warnings)
    if enc.dropped:
        notes.append("features dropped: " + ", ".join(f"{k} ({v})" for k, v in sorted(enc.dropped.items())))
    candidates: dict[str, dict[str, Any]] = {}
    fitted: dict[str, tuple[Any, float, dict[str, Any]]] = {}
    if algorithm in ("auto", "logistic"):
        say("fitting logistic regression")
        fitted["logistic"] = _fit_logistic(enc, tr, va, seed)
    if algorithm in ("auto", "lightgbm"):
        if algorithm == "auto" and int(tr.y.sum()) < LGBM_MIN_POSITIVES:
            candidates["lightgbm"] = {"skipped": f"fewer than {LGBM_MIN_POSITIVES} conversions in training"}
        else:
            say("fitting gradient-boosted trees")
            fitted["lightgbm"] = _fit_lightgbm(enc, tr, va, seed)
    for name, (_, auc, params) in fitted.items():
        candidates[name] = {"valid_auc": round(auc, 4), "params": params}
    pick = "logistic" if "logistic" in fitted else "lightgbm"
    if "lightgbm" in fitted and (pick != "logistic" or fitted["lightgbm"][1] > fitted["logistic"][1] + 0.005):
        pick = "lightgbm"
    est, _, params = fitted[pick]
    model = Model(pick, enc, est, params=dict(params), describe=dict(ds.describe))
    say("calibrating")
    model.calibrator = Calibrator.fit(model.raw(va), va.y, calibration)
    test_p = model.predict(te)
    return TrainResult(model=model, split={**info, "train": len(tr), "valid": len(va), "test": len(te)},
                       candidates=candidates, test=te, test_p=test_p, train_rows=len(tr), valid_rows=len(va),
                       warnings=notes, reference=reference_distributions(enc, tr))


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
