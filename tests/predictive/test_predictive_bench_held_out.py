"""The real-data benchmark's held-out summary: the figures that decide, never the test ones."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "predictive" / "real_data.py"


def _bench():
    spec = importlib.util.spec_from_file_location("real_data_bench", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_held_out_summary_reads_the_chosen_candidate_and_its_calibration():
    cands = {"logistic": {"valid_auc": 0.81, "params": {"C": 0.3}},
             "lightgbm": {"skipped": "fewer than 50 conversions in training"},
             "calibration": {"chosen": "platt", "cross_validated": {"none": {"ece": 0.05, "log_loss": 0.5},
                                                                    "platt": {"ece": 0.02, "log_loss": 0.4}}}}
    out = _bench().held_out(cands, "logistic")
    assert out == {"roc_auc": 0.81, "candidates": {"logistic": 0.81}, "calibration": "platt", "cv_ece": 0.02}


def test_held_out_summary_without_a_cross_validated_calibration():
    cands = {"logistic": {"valid_auc": 0.7}, "lightgbm": {"valid_auc": 0.75}, "blend": {"valid_auc": 0.76},
             "calibration": {"chosen": "platt", "cross_validated": {}}}
    out = _bench().held_out(cands, "blend")
    assert out["roc_auc"] == 0.76 and out["cv_ece"] is None
    assert out["candidates"] == {"logistic": 0.7, "lightgbm": 0.75, "blend": 0.76}
