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
    assert res.model.calibrator is not None and res.model.calibrator.method == "platt"
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
    with pytest.raises(ArtifactError, match="format version 2.*retrain"):
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
