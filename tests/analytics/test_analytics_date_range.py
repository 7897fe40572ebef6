"""The optional created-date range of the analyses (``AnalyticsData.created_between``, ``since`` / ``until``).

Hand-built store (analytics_store.small_funnel, days from 2026-01-01): l1 created Jan 5, l2 Jan 15, l3 Feb 1,
l4 Feb 10, l5 Feb 20.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from analytics_store import StoreBuilder, small_funnel

from leadflow.analytics.converts import converts
from leadflow.analytics.data import day_bounds
from leadflow.analytics.score_health import score_health


def test_day_bounds_are_whole_utc_days():
    lo, hi = day_bounds(date(2026, 2, 1), date(2026, 2, 1))
    assert lo == datetime(2026, 2, 1, tzinfo=UTC).timestamp()
    assert hi - lo == 86400.0  # one whole day, the end exclusive
    assert day_bounds(None, None) == (None, None)
    assert day_bounds(None, date(2026, 1, 1))[0] is None
    assert day_bounds(datetime(2026, 2, 1, 15, 30, tzinfo=UTC), None)[0] == lo  # a datetime counts as its day
    hi_max = day_bounds(None, date.max)[1]
    assert hi_max is not None and hi_max > lo  # no overflow on the last representable day
    with pytest.raises(ValueError, match="must be on or before"):
        day_bounds(date(2026, 2, 2), date(2026, 2, 1))
    with pytest.raises(ValueError, match="must be a date"):
        day_bounds("2026-01-01", None)  # type: ignore[arg-type]


def test_created_between_restricts_every_lead_table(builder):
    small_funnel(builder)
    builder.event("l1", "page_view", 6, url="/pricing")
    builder.event("l3", "page_view", 33, url="/pricing")
    builder.commit()
    with builder.open() as data:
        view = data.created_between(date(2026, 1, 1), date(2026, 1, 31))
        assert data.created_between() is data  # no range: the same data
        ids = {builder.ids[k] for k in ("l1", "l2")}
        assert set(view.leads.id.to_pyarrow().to_pylist()) == ids
        assert set(view.stages.lead_id.to_pyarrow().to_pylist()) == ids
        assert set(view.events.lead_id.to_pyarrow().to_pylist()) == {builder.ids["l1"]}
        assert view.outcomes.lead_id.to_pyarrow().to_pylist() == [builder.ids["l1"]]
        assert view.leads.count().to_pyarrow().as_py() == 2
        assert data.leads.count().to_pyarrow().as_py() == 5  # the original is untouched
        # a view closes nothing: the original still works afterwards
        view.close()
        assert data.leads.count().to_pyarrow().as_py() == 5


def test_converts_and_score_health_take_the_range(builder):
    small_funnel(builder)
    for k in ("l1", "l2", "l3"):
        builder.event(k, "page_view", 36, url="/pricing")
    builder.score("l1", 80, "A", 50)   # customer (Jan)
    builder.score("l2", 65, "A", 30)   # SAL (Jan)
    builder.score("l3", 30, "C", 10)   # lead (Feb)
    builder.score("l5", 45, "B", 70)   # SQL (Feb)
    builder.commit()
    with builder.open() as data:
        conv_all = converts(data, target="mql", min_support=1)
        conv_feb = converts(data, target="mql", min_support=1, since=date(2026, 2, 1), until=date(2026, 2, 28))
        sh_jan = score_health(data, min_support=1, until=date(2026, 1, 31))
        sh_feb = score_health(data, target="sql", min_support=1, since=date(2026, 2, 1))
    assert conv_all.notes[0] == "5 leads in the population, 3 converted to mql"
    assert conv_feb.notes[0] == "3 leads in the population, 1 converted to mql"  # l3 l4 l5; l5 is the MQL
    # /pricing in February: touched by l3 only, who never became an MQL; l1 and l2 (January) left out
    pricing = {r["item"]: r for r in conv_feb.rows()}["/pricing"]
    assert (pricing["touched"], pricing["converted"]) == (1, 0)
    assert conv_feb.params["since"] == date(2026, 2, 1)
    jan = {r["grade"]: (r["leads"], r["converted"]) for r in sh_jan.rows("grades")}
    assert jan == {"A": (2, 1)}  # l1 won, l2 did not
    feb = {r["grade"]: (r["leads"], r["converted"]) for r in sh_feb.rows("grades")}
    assert feb == {"B": (1, 1), "C": (1, 0)}  # l5 reached SQL, l3 did not; l4 has no score
    assert {r["period"]: r["mqls"] for r in sh_feb.rows("mql_volume")} == {"2026-02": 1}


def test_api_and_cli_pass_the_range(sqlite_url, tmp_path):
    import json

    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from leadflow.api.app import create_app
    from leadflow.cli import app as cli
    from leadflow.services import apikeys, workspaces
    from leadflow.settings import Settings

    settings = Settings(database_url=sqlite_url, secret_key="test", background=False)
    api = create_app(settings, mount_web=False)
    with api.state.db.session() as s:
        ws = workspaces.get_or_create_workspace(s, "acme")
        ws_id = ws.id
        _, key = apikeys.create_key(s, ws_id, kind="secret", name="admin", scopes="*")
    b = StoreBuilder(sqlite_url, workspace_id=ws_id)
    small_funnel(b)
    b.close()
    h = {"Authorization": f"Bearer {key}"}
    try:
        with TestClient(api) as client:
            r = client.get("/v1/analytics/funnel", params={"since": "2026-02-01", "until": "2026-02-28"}, headers=h)
            assert r.status_code == 200, r.text
            counts = r.json()["tables"]["counts"][0]
            assert (counts["leads"], counts["mql"], counts["sql"]) == (3, 1, 1)  # l3 l4 l5
            assert r.json()["params"]["since"] == "2026-02-01"
            v = client.get("/v1/analytics/velocity", params={"until": "2026-01-31"}, headers=h).json()
            assert {row["stage"]: row for row in v["tables"]["velocity"]}["mql"]["median_days"] == pytest.approx(6.0)
            for path in ("converts", "score-health"):
                assert client.get(f"/v1/analytics/{path}", params={"since": "2026-02-01"},
                                  headers=h).status_code == 200, path
            bad = client.get("/v1/analytics/funnel", params={"since": "2026-13-01"}, headers=h)
            assert bad.status_code == 422
            backwards = client.get("/v1/analytics/funnel", params={"since": "2026-03-01", "until": "2026-02-01"},
                                   headers=h)
            assert backwards.status_code == 422 and "must be on or before" in backwards.text
    finally:
        api.state.db.dispose()
    out = tmp_path / "f.json"
    base = ["--database-url", sqlite_url, "--workspace", "acme"]
    res = CliRunner().invoke(cli, ["analytics", "funnel", "--since", "2026-01-15", "--until", "2026-02-10",
                                   "--out", str(out), *base])
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text())["tables"]["counts"][0]["leads"] == 3  # l2 l3 l4
    res = CliRunner().invoke(cli, ["analytics", "velocity", "--since", "2026-03-01", "--until", "2026-02-01", *base])
    assert res.exit_code == 1 and "must be on or before" in res.output
