"""The CSV path: role inference, missing tokens, leakage warning, bad input, artifacts, the CLI."""

from __future__ import annotations

import csv
import json
import random
from datetime import date, timedelta

import numpy as np
import pytest
from typer.testing import CliRunner

from leadflow.predictive.artifacts import FORMAT_VERSION, load, save
from leadflow.predictive.errors import ArtifactError, BadTarget, NoFeatures, TooFewOutcomes
from leadflow.predictive.explain import explain
from leadflow.predictive.tabular import load_csv
from leadflow.predictive.train import train


def write_leads(path, n=400, seed=1, *, converted=None, target_values=None):
    rng = random.Random(seed)
    header = ["Lead ID", "created_date", "Visits", "Source", "Constant", "Empty", "Lead Quality", "Converted"]
    rows = []
    for i in range(n):
        visits = rng.randint(0, 12)
        source = rng.choice(["Google", "Referral", "Select", "Olark Chat", ""])
        p = 0.1 + 0.06 * visits + (0.2 if source == "Referral" else 0.0)
        y = int(rng.random() < p) if converted is None else converted
        quality = ("High" if y else "Low") if rng.random() < 0.95 else "Select"
        target = y if target_values is None else target_values[i % len(target_values)]
        day = date(2025, 1, 1) + timedelta(days=i // 2)
        rows.append([f"L{i:05d}", day.isoformat(), visits, source, "same", "", quality, target])
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def test_roles_missing_tokens_and_leakage_warning(tmp_path):
    ds, roles = load_csv(write_leads(tmp_path / "leads.csv"), "Converted")
    assert roles.id == "Lead ID" and roles.time == "created_date"
    assert roles.numeric == ["Visits"]
    assert set(roles.categorical) == {"Source", "Constant", "Empty", "Lead Quality"}
    assert "Select" not in set(ds.categorical["Source"]) and None in set(ds.categorical["Source"])
    assert ds.times is not None and "weekday" in ds.categorical
    leaks = [w for w in ds.warnings if "leakage" in w]
    assert len(leaks) == 1 and "'Lead Quality'" in leaks[0] and "ROC AUC" in leaks[0]
    ds2, roles2 = load_csv(tmp_path / "leads.csv", "Converted", id_col="Lead ID", time_col="created_date",
                           exclude=["Lead Quality"])
    assert "Lead Quality" not in ds2.features and not [w for w in ds2.warnings if "leakage" in w]


def test_train_temporal_split_calibrated_and_explained(tmp_path):
    ds, _ = load_csv(write_leads(tmp_path / "leads.csv", n=500), "Converted", exclude=["Lead Quality"])
    res = train(ds, algorithm="logistic")
    assert res.split["kind"] == "temporal"
    tr_max = ds.times[np.isin(ds.ids, res.test.ids, invert=True)].max()
    assert res.test.times.min() >= tr_max or res.split["test_from"] <= res.test.times.min()
    assert "Constant" in res.model.encoder.dropped and "Empty" in res.model.encoder.dropped
    cal = res.candidates["calibration"]
    assert res.model.calibrator is not None and res.model.calibrator.method == cal["chosen"]
    # chosen on the validation scores by cross-validated ECE; too few rows there for isotonic
    assert set(cal["cross_validated"]) == {"none", "platt"}
    assert cal["cross_validated"][cal["chosen"]]["ece"] == min(v["ece"] for v in cal["cross_validated"].values())
    p = res.test_p
    assert ((p > 0) & (p < 1)).all()
    from leadflow.predictive.evaluate import roc_auc

    assert roc_auc(res.test.y, p) > 0.6  # the visits signal is learnt
    factors = explain(res.model, res.test.subset([0, 1, 2]))
    assert len(factors) == 3
    texts = [f["text"] for row in factors for f in row]
    assert texts and all(t[0] in "+-" and "%: " in t for t in texts)
    assert any("Visits" in t for t in texts)


def test_bad_targets(tmp_path):
    with pytest.raises(BadTarget, match="'Outcome' is not in"):
        load_csv(write_leads(tmp_path / "a.csv"), "Outcome")
    with pytest.raises(BadTarget, match="must be binary"):
        load_csv(write_leads(tmp_path / "b.csv", target_values=["yes", "no", "maybe"]), "Converted")
    ds, _ = load_csv(write_leads(tmp_path / "c.csv", converted=0), "Converted")
    with pytest.raises(BadTarget, match="single class"):
        train(ds)


def test_too_few_outcomes_says_how_many(tmp_path):
    ds, _ = load_csv(write_leads(tmp_path / "few.csv", n=60), "Converted", exclude=["Lead Quality"])
    with pytest.raises(TooFewOutcomes, match="at least 30 of each") as info:
        train(ds)
    assert "rule-based score" in str(info.value)


def test_no_usable_feature(tmp_path):
    ds, _ = load_csv(write_leads(tmp_path / "d.csv"), "Converted",
                     exclude=["Visits", "Source", "Lead Quality", "created_date"])
    ds = ds.drop(["weekday"])
    with pytest.raises(NoFeatures, match="no usable feature"):
        train(ds, algorithm="logistic")


def test_artifacts_versioned_never_overwritten_and_format_checked(tmp_path):
    ds, _ = load_csv(write_leads(tmp_path / "leads.csv"), "Converted", exclude=["Lead Quality"])
    res = train(ds, algorithm="logistic")
    a1 = save(res.model, {"target": "Converted"}, tmp_path / "models", "acme", "table")
    before = (a1.path / "model.joblib").read_bytes()
    a2 = save(res.model, {"target": "Converted"}, tmp_path / "models", "acme", "table")
    assert (a1.version, a2.version) == (1, 2) and a2.path.name == "table-v2"
    assert (a1.path / "model.joblib").read_bytes() == before
    model, meta = load(a2.path)
    assert meta["format_version"] == FORMAT_VERSION and meta["checksum"] == a2.checksum
    assert np.allclose(model.predict(res.test), res.test_p)
    # another format version: refused with a clear message
    meta_path = a1.path / "meta.json"
    m = json.loads(meta_path.read_text())
    m["format_version"] = FORMAT_VERSION + 1
    meta_path.write_text(json.dumps(m))
    with pytest.raises(ArtifactError, match=f"format version {FORMAT_VERSION + 1}.*retrain"):
        load(a1.path)
    # a changed file: refused
    with (a2.path / "model.joblib").open("ab") as fh:
        fh.write(b"x")
    with pytest.raises(ArtifactError, match="checksum"):
        load(a2.path)
    with pytest.raises(ArtifactError, match="model name"):
        save(res.model, {}, tmp_path / "models", "acme", "../escape")


def test_cli_train_and_evaluate_table(tmp_path):
    from leadflow.cli import app

    path = write_leads(tmp_path / "leads.csv", n=500)
    runner = CliRunner()
    models = tmp_path / "models"
    res = runner.invoke(app, ["predict", "train", "--data", str(path), "--target", "Converted", "--exclude",
                              "Lead Quality", "--algorithm", "logistic", "--models-dir", str(models),
                              "--html", str(tmp_path / "r.html"), "-w", "acme"])
    assert res.exit_code == 0, res.output
    assert "ROC AUC" in res.output and "table@v1" in res.output
    assert (tmp_path / "r.html").read_text().count("<svg") == 3
    res = runner.invoke(app, ["predict", "evaluate", "--model", str(models / "acme" / "table-v1"), "--data",
                              str(path)])
    assert res.exit_code == 0, res.output
    assert "ROC AUC" in res.output
    bad = runner.invoke(app, ["predict", "train", "--data", str(path), "--target", "Nope", "--models-dir",
                              str(models), "-w", "acme"])
    assert bad.exit_code == 1 and "'Nope' is not in" in bad.output
    few = runner.invoke(app, ["predict", "train", "--data", str(write_leads(tmp_path / "few.csv", n=60)),
                              "--target", "Converted", "--models-dir", str(models), "-w", "acme"])
    assert few.exit_code == 2 and "too few outcomes" in few.output
    assert sorted(p.name for p in (models / "acme").iterdir()) == ["table-v1"]  # nothing written on errors


# ------------------------------------------------------------------------ time-derived features


def test_time_features_hand_computed_and_strictly_earlier():
    from leadflow.predictive.timefeatures import DAY, calendar_year, first_seen_age, trailing_count

    t = np.array([0.0, 0.0, 1.0, 3.0, 9.0, np.nan]) * DAY + 1_500_000_000.0
    keys = ["a", "b", "a", "a", None, "a"]
    # same-time rows do not see each other; the window is [t - 7 days, t)
    assert trailing_count(t, 7).tolist()[:5] == [0, 0, 2, 3, 1]  # day 9 sees days 2..8: only day 3
    assert np.isnan(trailing_count(t, 7)[5])
    got = trailing_count(t, 7, keys)
    assert got[:4].tolist() == [0, 0, 1, 2] and np.isnan(got[4]) and np.isnan(got[5])
    age = first_seen_age(t, keys)
    assert age[:4].tolist() == [0, 0, 1, 3] and np.isnan(age[4]) and np.isnan(age[5])
    year = calendar_year(np.array([1_514_764_800.0, 1_530_403_200.0]))  # 2018-01-01, 2018-07-01
    assert year[0] == 2018.0 and 2018.49 < year[1] < 2018.5


def test_time_features_of_a_row_do_not_change_when_later_rows_are_appended():
    from leadflow.predictive.timefeatures import time_features

    rng = np.random.default_rng(5)
    n = 300
    t = np.sort(rng.integers(0, 200, n)).astype(float) * 86400 + 1_600_000_000.0
    cats = {"source": rng.choice(np.array(["ads", "seo", None], dtype=object), n),
            "page": rng.choice(np.array([f"p{i}" for i in range(30)], dtype=object), n)}
    first = 200
    cut = t[first - 1]
    head = t <= cut  # every row up to (and including all rows at) the cut time
    early, _ = time_features(t[head], {k: v[head] for k, v in cats.items()})
    full, _ = time_features(t, cats)
    assert set(early) == set(full) and len(full) == 3 + 2 * len(cats)
    for name, values in early.items():
        np.testing.assert_array_equal(values, full[name][head], err_msg=name)
    # a row's features ignore later rows even when the later rows are shuffled in before it in the file
    perm = rng.permutation(n)
    shuffled, _ = time_features(t[perm], {k: v[perm] for k, v in cats.items()})
    for name, values in full.items():
        np.testing.assert_array_equal(values[perm], shuffled[name], err_msg=name)


def test_table_time_features_are_an_optional_group_and_leak_free(tmp_path):
    path = write_leads(tmp_path / "leads.csv", n=500)
    ds, _ = load_csv(path, "Converted", exclude=["Lead Quality"])
    group = ds.meta["optional_groups"]["time-derived"]
    assert "calendar year" in group and "Source: rows in the previous 30 days" in group
    assert all(g in ds.numeric and "{value}" in ds.describe[g] for g in group)
    assert not [w for w in ds.warnings if "leakage" in w]
    # the same file cut after 300 rows: the first 300 rows' features are identical
    with open(path, newline="") as fh:
        lines = list(csv.reader(fh))
    with open(tmp_path / "head.csv", "w", newline="") as fh:
        csv.writer(fh).writerows(lines[:301])
    head, _ = load_csv(tmp_path / "head.csv", "Converted", exclude=["Lead Quality"])
    for name in group:
        np.testing.assert_array_equal(head.numeric[name], ds.numeric[name][:300], err_msg=name)
    res = train(ds)
    kept = any(w.startswith("time-derived features kept") for w in res.warnings)
    left = any(w.startswith("time-derived features left out") for w in res.warnings)
    assert kept != left
    assert all((g in res.model.encoder.features) == kept for g in group)


# ------------------------------------------------------------------------ encoding, candidates, calibration


def _random_table(n=900, seed=3):
    """A table without dates: a non-linear numeric signal (a bump), a categorical one, noise."""
    from leadflow.predictive.dataset import Dataset

    rng = np.random.default_rng(seed)
    minutes = rng.exponential(10, n)
    minutes[rng.random(n) < 0.1] = np.nan
    channel = rng.choice(np.array(["ads", "seo", "partner", "event", None], dtype=object), n)
    logit = -1.0 + 2.0 * ((minutes > 5) & (minutes < 25)) + 1.2 * (channel == "partner")
    y = (rng.random(n) < 1 / (1 + np.exp(-np.nan_to_num(logit, nan=-1.0)))).astype(np.int8)
    return Dataset(numeric={"minutes": minutes, "noise": rng.normal(size=n)},
                   categorical={"channel": channel}, ids=np.array([str(i) for i in range(n)], dtype=object),
                   y=y, describe={"minutes": "{value} minutes"})


def test_linear_design_has_a_spline_per_numeric_and_contributions_add_up(tmp_path):
    from leadflow.predictive.train import SPLINE_KNOTS, Bag, Encoder, split

    ds = _random_table()
    enc = Encoder.fit(ds)
    minutes = next(n for n in enc.nums if n.name == "minutes")
    assert len(minutes.knots) == SPLINE_KNOTS and not minutes.edges
    x = enc.linear(ds, center=False)
    labels = [label for _, label in enc.linear_columns()]
    assert x.shape[1] == len(labels)
    basis = [j for j, label in enumerate(labels) if label.startswith("minutes spline ")]
    assert len(basis) == SPLINE_KNOTS + 2
    present = ~np.isnan(ds.numeric["minutes"])
    # a B-spline basis sums to one inside and beyond the training range; a missing value has none of it
    np.testing.assert_allclose(x[present][:, basis].sum(axis=1), 1.0)
    assert (x[~present][:, basis] == 0).all()
    far = ds.subset([0, 1])
    far.numeric["minutes"] = np.array([-5.0, 1e6])
    edge = ds.subset([0, 1])
    edge.numeric["minutes"] = np.array([np.nanmin(ds.numeric["minutes"]), np.nanmax(ds.numeric["minutes"])])
    np.testing.assert_allclose(enc.linear(far)[:, basis], enc.linear(edge)[:, basis], atol=1e-9)  # constant beyond
    res = train(ds)
    _, _, test_i, _ = split(ds)
    assert res.split["kind"] == "random-stratified" and res.split["cross_fit_folds"] == 5
    assert sorted(res.test.ids.tolist()) == sorted(ds.ids[test_i].tolist())  # the test rows never train
    assert res.train_rows == res.valid_rows == res.split["train"] + res.split["valid"]  # every row held out once
    assert {"logistic", "calibration"} <= set(res.candidates)
    for algorithm in ("logistic", "lightgbm"):
        model = train(ds, algorithm=algorithm).model
        base, contrib, feats = model.contributions(res.test)
        np.testing.assert_allclose(base + contrib.sum(axis=1), model.raw(res.test), atol=1e-6)
        assert feats == model.encoder.features
    # the cross-fitted bag of boosters is saved and loaded like any model
    assert isinstance(model.estimator, Bag) and len(model.estimator.members) == 5
    art = save(model, {"target": "y"}, tmp_path / "models", "acme", "bag")
    loaded, _ = load(art.path)
    np.testing.assert_allclose(loaded.predict(res.test), model.predict(res.test))
    assert roc_auc_of(res) > 0.65


def roc_auc_of(res):
    from leadflow.predictive.evaluate import roc_auc

    return roc_auc(res.test.y, res.test_p)


def test_blend_contributions_add_up_and_explain():
    from leadflow.predictive.train import (
        Blend,
        Encoder,
        Model,
        _fit_blend,
        _fit_lightgbm,
        _fit_logistic,
        _Fitted,
        _stratified_folds,
    )

    ds = _random_table(n=1200, seed=9)
    plan = _stratified_folds(ds.y, 3, 7)
    enc = Encoder.fit(ds)
    lr, gb = _fit_logistic(enc, ds, plan, 7), _fit_lightgbm(enc, ds, plan, 7)
    blend = _fit_blend(lr, gb, ds.y, np.arange(len(ds)))
    assert isinstance(blend, _Fitted) and isinstance(blend.estimator, Blend)
    assert blend.auc >= max(lr.auc, gb.auc) - 0.02
    model = Model("blend", enc, blend.estimator, describe=ds.describe)
    base, contrib, _ = model.contributions(ds)
    np.testing.assert_allclose(base + contrib.sum(axis=1), model.raw(ds), atol=1e-6)
    assert model.top_weights(3)[0][0] in {"minutes", "channel"}
    texts = [f["text"] for row in explain(model, ds.subset([0, 1, 2, 3])) for f in row]
    assert texts and all(t[0] in "+-" for t in texts)


def test_calibration_choice_by_cross_validated_ece():
    from leadflow.predictive.train import Calibrator, choose_calibration

    rng = np.random.default_rng(1)
    true_logit = rng.normal(-0.5, 1.5, 4000)
    y = (rng.random(4000) < 1 / (1 + np.exp(-true_logit))).astype(np.int8)
    # over-confident scores (3x the true log-odds): the model's own probabilities are badly calibrated
    method, scores = choose_calibration(3 * true_logit, y)
    assert method in ("platt", "isotonic") and set(scores) == {"none", "platt", "isotonic"}
    assert scores["none"]["ece"] > 2 * scores[method]["ece"]
    # well-calibrated scores: whatever wins, its cross-validated ECE is the lowest and small
    method, scores = choose_calibration(true_logit, y)
    assert scores[method]["ece"] == min(v["ece"] for v in scores.values()) < 0.03
    # too few of a class to choose: Platt, as before
    few = np.r_[np.flatnonzero(y == 1)[:10], np.flatnonzero(y == 0)[:300]]
    assert choose_calibration(true_logit[few], y[few]) == ("platt", {})
    none = Calibrator.fit(true_logit, y, "none")
    np.testing.assert_allclose(none(np.array([0.0, 2.0])), 1 / (1 + np.exp(-np.array([0.0, 2.0]))))


def test_format_1_and_2_artifacts_still_load(tmp_path, monkeypatch):
    """Format 2 added blended and averaged models, format 3 splines in the linear design instead of decile
    indicators; a model written as format 1 or 2 (decile bins) still loads and predicts as it did."""
    from sklearn.linear_model import LogisticRegression

    from leadflow.predictive import artifacts
    from leadflow.predictive.train import LINEAR_BINS, Encoder, Model

    ds, _ = load_csv(write_leads(tmp_path / "leads.csv"), "Converted", exclude=["Lead Quality"])
    res = train(ds, algorithm="logistic")
    # an encoder as formats 1-2 pickled it: decile edges, and no knots attribute
    enc = Encoder.fit(ds)
    for n in enc.nums:
        v = ds.numeric[n.name]
        vals = v[~np.isnan(v)]
        n.edges = tuple(float(e) for e in np.unique(np.quantile(vals, np.linspace(0, 1, LINEAR_BINS + 1)[1:-1])))
        del n.knots
    enc.col_means = enc.linear(ds, center=False).mean(axis=0)
    assert any(label.startswith("Visits in [") for _, label in enc.linear_columns())
    lr = LogisticRegression(C=1.0, max_iter=2000).fit(enc.linear(ds), ds.y)
    old_model = Model("logistic", enc, lr, describe=ds.describe)
    expected = old_model.predict(res.test)
    for fmt in (1, 2):
        monkeypatch.setattr(artifacts, "FORMAT_VERSION", fmt)
        old = save(old_model, {"target": "Converted"}, tmp_path / "models", "acme", f"table{fmt}")
        monkeypatch.undo()
        model, meta = load(old.path)
        assert meta["format_version"] == fmt and artifacts.FORMAT_VERSION == 3
        np.testing.assert_allclose(model.predict(res.test), expected)
        base, contrib, _ = model.contributions(res.test)
        np.testing.assert_allclose(base + contrib.sum(axis=1), model.raw(res.test), atol=1e-6)
        assert all(f["text"][0] in "+-" for row in explain(model, res.test.subset([0, 1, 2])) for f in row)
