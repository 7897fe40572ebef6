"""Score health: conversion by grade and band, the monotonicity check, MQL volume (hand-computed)."""

from __future__ import annotations

import pytest
from analytics_store import small_funnel

from leadflow.analytics.score_health import score_health


def _scores(b):
    small_funnel(b)
    b.score("l1", 80, "A", 50)   # customer
    b.score("l2", 65, "A", 30)   # reached SAL
    b.score("l3", 30, "C", 10)
    b.score("l4", 10, "D", 0)
    b.score("l5", 45, "B", 70)   # reached SQL
    return b.commit()


def test_grades_bands_and_volume(builder):
    _scores(builder)
    with builder.open() as data:
        rep = score_health(data, min_support=1)
        sql = score_health(data, target="sql", min_support=1)
    grades = {r["grade"]: r for r in rep.rows("grades")}
    assert (grades["A"]["leads"], grades["A"]["converted"], grades["A"]["rate"]) == (2, 1, 0.5)
    assert grades["B"]["rate"] == 0.0 and grades["D"]["leads"] == 1
    fit = [(r["band_low"], r["leads"], r["converted"]) for r in rep.rows("fit_bands")]
    assert fit == [(0.0, 1, 0), (20.0, 1, 0), (40.0, 1, 0), (60.0, 1, 0), (80.0, 1, 1)]
    checks = {r["dimension"]: r for r in rep.rows("checks")}
    assert checks["grade"]["monotone"] is True and checks["fit"]["monotone"] is True
    # to SQL: A converts 1 of 2 (l1), B 1 of 1 (l5): a higher grade converts less
    sql_checks = {r["dimension"]: r for r in sql.rows("checks")}
    assert sql_checks["grade"]["monotone"] is False
    assert sql_checks["grade"]["inversions"] == "B (100.0%) > A (50.0%)"
    assert any("grade: higher score converts less" in n for n in sql.notes)
    vol = {r["period"]: (r["mqls"], r["leads"]) for r in rep.rows("mql_volume")}
    assert vol == {"2026-01": (2, 2), "2026-02": (1, 1)}


def test_min_support_hides_small_bands(sqlite_builder):
    _scores(sqlite_builder)
    with sqlite_builder.open() as data:
        rep = score_health(data, target="sql", min_support=2)
    assert {r["dimension"]: r["monotone"] for r in rep.rows("checks")}["grade"] is True  # B has 1 lead


def test_score_at_mql_time(sqlite_builder):
    b = sqlite_builder
    b.lead("m1", 0, "sql")
    b.stage("m1", "mql", 1, "subscriber", score={"fit": 70.0, "grade": "A", "engagement": 40.0})
    b.stage("m1", "sql", 3, "mql", actor="user")
    b.lead("m2", 0, "mql")
    b.stage("m2", "mql", 2, "subscriber", score={"fit": 30.0, "grade": "C", "engagement": 25.0})
    b.lead("m3", 0, "subscriber")
    b.commit()
    with b.open() as data:
        rep = score_health(data, basis="mql", target="sql", min_support=1, engagement_width=50)
        with pytest.raises(ValueError, match="basis"):
            score_health(data, basis="later")
    assert {r["grade"]: (r["leads"], r["converted"]) for r in rep.rows("grades")} == {"A": (1, 1), "C": (1, 0)}
    assert [(r["band_low"], r["leads"]) for r in rep.rows("engagement_bands")] == [(0.0, 2)]
