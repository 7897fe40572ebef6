"""Metrics against hand-computed values, and properties of the metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadflow.predictive.evaluate import (
    calibration,
    deciles,
    evaluate,
    pr_auc,
    precision_recall,
    render_html,
    roc_auc,
    top_share,
)


def test_roc_auc_hand_computed():
    # pairs (pos, neg): scores pos = [0.8, 0.4], neg = [0.5, 0.1]: (0.8>0.5, 0.8>0.1, 0.4<0.5, 0.4>0.1) = 3/4
    assert roc_auc([1, 0, 1, 0], [0.8, 0.5, 0.4, 0.1]) == pytest.approx(0.75)
    # a tie counts one half: pos 0.5 vs neg 0.5 -> 0.5
    assert roc_auc([1, 0], [0.5, 0.5]) == pytest.approx(0.5)
    assert roc_auc([1, 1, 0], [0.2, 0.9, 0.1]) == pytest.approx(1.0)
    assert math.isnan(roc_auc([1, 1], [0.2, 0.3]))


def test_pr_auc_hand_computed():
    # ranked: 0.9 (1), 0.8 (0), 0.7 (1): precision at the recall steps: 1/1 and 2/3 -> (1 + 2/3) / 2
    assert pr_auc([1, 0, 1], [0.9, 0.8, 0.7]) == pytest.approx((1 + 2 / 3) / 2)
    assert pr_auc([0, 1], [0.9, 0.1]) == pytest.approx(0.5)


def test_deciles_and_top_share():
    y = np.array([1] * 3 + [0] * 7 + [1] + [0] * 9)  # 20 rows, 4 converters, best scores first
    s = np.linspace(1, 0, 20)
    d = deciles(y, s)
    assert [r["rows"] for r in d] == [2] * 10
    assert [r["converters"] for r in d] == [2, 1, 0, 0, 0, 1, 0, 0, 0, 0]
    assert d[0]["lift"] == pytest.approx((2 / 2) / (4 / 20))
    assert d[1]["cumulative_gain"] == pytest.approx(3 / 4)
    assert d[-1]["cumulative_gain"] == pytest.approx(1.0)
    assert top_share(y, s, 0.2) == pytest.approx(3 / 4)


def test_calibration_and_ece_hand_computed():
    y = [0, 1, 1, 1]
    p = [0.05, 0.15, 0.95, 0.85]
    bins, ece = calibration(y, p)
    # bin 0.0-0.1: p 0.05 obs 0; bin 0.1-0.2: p 0.15 obs 1; bin 0.8-0.9: 0.85 vs 1; bin 0.9-1.0: 0.95 vs 1
    assert [b["bin"] for b in bins] == ["0.0-0.1", "0.1-0.2", "0.8-0.9", "0.9-1.0"]
    assert ece == pytest.approx((0.05 + 0.85 + 0.15 + 0.05) / 4)
    _, perfect = calibration([0, 0, 1, 1], [0.0, 0.0, 1.0, 1.0])
    assert perfect == pytest.approx(0.0)


def test_precision_recall_and_side_by_side():
    pr = precision_recall(np.array([1, 0, 1, 0]), np.array([True, True, False, False]))
    assert pr == {"flagged": 2, "precision": 0.5, "recall": 0.5}
    y = np.array([1, 0, 1, 0, 0, 0])
    p = np.array([0.9, 0.2, 0.8, 0.1, 0.3, 0.05])
    rep = evaluate(y, p, rule_score=np.array([1, 2, 3, 4, 5, 6]), rule_flag=np.array([0, 0, 1, 1, 0, 0], bool))
    assert rep["model"]["roc_auc"] == pytest.approx(1.0)
    assert rep["at_mql_threshold"]["rules"]["precision"] == pytest.approx(0.5)
    same = rep["at_mql_threshold"]["model_same_volume"]
    assert same["flagged"] == 2 and same["precision"] == pytest.approx(1.0)


def test_html_report_escapes_text():
    y = np.array([1, 0, 1, 0])
    rep = evaluate(y, np.array([0.7, 0.2, 0.6, 0.4]), rule_score=np.array([1.0, 0, 1, 0]),
                   rule_name="<script>alert(1)</script>")
    page = render_html(rep, {"name": "<b>x</b>"})
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page and page.count("<svg") == 3


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 20)), min_size=2, max_size=40))
def test_auc_matches_sklearn_and_is_rank_invariant(rows):
    from sklearn.metrics import average_precision_score, roc_auc_score

    y = np.array([int(a) for a, _ in rows])
    s = np.array([b / 20 for _, b in rows])
    if y.min() == y.max():
        assert math.isnan(roc_auc(y, s))
        return
    assert roc_auc(y, s) == pytest.approx(roc_auc_score(y, s))
    assert roc_auc(y, np.exp(3 * s)) == pytest.approx(roc_auc(y, s))  # any increasing map
    assert pr_auc(y, s) == pytest.approx(average_precision_score(y, s))
