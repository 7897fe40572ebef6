"""Model activation rescores on the batch engine and replays stages; the incremental path then agrees."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib.resources import files

import pytest
from sqlalchemy import select

from leadflow.core.scoring.spec import parse_model
from leadflow.core.timeutil import epoch
from leadflow.demo.generator import DemoConfig
from leadflow.services.demo import load_demo
from leadflow.services.scoring import explain_lead
from leadflow.store.tables import Lead, ScoreState

T_AFTER = datetime(2030, 1, 1, tzinfo=UTC)


def _variant(points: int) -> str:
    text = files("leadflow.models").joinpath("default.yaml").read_text(encoding="utf-8")
    # a different model: version 2, pricing page visits worth another number of points, a higher MQL bar
    old_rule = 'value: "/pricing"}], points: 12,'
    assert "version: 1" in text and old_rule in text and "engagement_at_least: 60}" in text
    return (text.replace("version: 1", "version: 2", 1).replace(old_rule, f'value: "/pricing"}}], points: {points},')
            .replace("engagement_at_least: 60}", "engagement_at_least: 70}"))


def _scores(lf):
    with lf.db.session() as s:
        return {lid: (fit, grade, eng, st) for lid, fit, grade, eng, st in s.execute(
            select(ScoreState.lead_id, ScoreState.fit, ScoreState.grade, ScoreState.engagement, ScoreState.state)
            .where(ScoreState.workspace_id == lf.workspace_id, ScoreState.model_key == "default"))}


def test_activation_rescores_every_lead_and_next_event_replays(lf):
    load_demo(lf.db, lf.workspace_id, DemoConfig(leads=60, accounts=15, days=60, seed=3))
    text = _variant(7)
    model = parse_model(text, "<variant>")
    seen = []
    key, version = lf.install_model(text, activate=True, progress=lambda d, t: seen.append((d, t)))
    assert (key, version) == ("default", 2)
    assert seen and seen[-1][0] == seen[-1][1] > 0
    scores = _scores(lf)
    with lf.db.session() as s:
        leads = s.scalars(select(Lead).where(Lead.workspace_id == lf.workspace_id)).all()
        assert len(scores) == len(leads) == 60
        for lead in leads:
            fit, grade, _eng, state = scores[lead.id]
            exp = explain_lead(s, lf.workspace_id, lead, model, T_AFTER)
            assert fit == pytest.approx(exp.fit.points) and grade == exp.fit.grade
            assert state, "the stage replay rebuilt the incremental state"
    # scores only (no stage replay): states are cleared, lists fall back to the batch value until the next event
    rep = lf.rescore(stages=False)
    assert rep.scores_written == 60 and rep.requalified == 0
    assert all(st == {} for *_, st in _scores(lf).values())
    top = lf.top_leads(3)
    assert top[0]["engagement"] >= top[-1]["engagement"]
    # the next event of a cleared lead replays it: its state equals a full recompute again
    email = top[0]["email"]
    lf.ingest([{"type": "page_view", "email": email, "timestamp": "2029-12-01T00:00:00Z",
                "properties": {"url": "/pricing"}}], received_at=datetime(2029, 12, 2, tzinfo=UTC))
    with lf.db.session() as s:
        lead = s.scalar(select(Lead).where(Lead.email == email))
        exp = explain_lead(s, lf.workspace_id, lead, model, T_AFTER)
        st = s.get(ScoreState, (lead.id, "default"))
        assert st.state and st.model_version == 2
        from leadflow.services.scoring import engagement_from_state

        assert engagement_from_state(model, st.state, epoch(T_AFTER)) == pytest.approx(exp.engagement.score, abs=1e-9)
