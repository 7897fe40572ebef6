"""Store-level invariant: what the incremental write path keeps equals a full recompute from the log.

Random streams with duplicates (same message_id re-sent), out-of-order arrival and several batches go
through the real Ingestor on SQLite; afterwards each lead's stored state read at t, its stage and its
live stage history equal a from-scratch replay of the stored log.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from leadflow.core.lifecycle import Stage
from leadflow.core.qualify import Qualifier, replay
from leadflow.core.scoring.engine import recompute_engagement, score_fit
from leadflow.services.ingest import account_attrs, lead_attrs
from leadflow.services.scoring import lead_events
from leadflow.store.tables import Lead, ScoreState, StageChange

BASE = datetime(2026, 1, 1, tzinfo=UTC)
TYPES = ["page_view", "email_open", "form_submit", "content_download", "demo_requested", "email_unsubscribe"]
URLS = ["/", "/pricing", "/blog/a", "/docs"]

event_st = st.tuples(
    st.integers(0, 2),  # lead
    st.sampled_from(TYPES),
    st.floats(0, 60 * 86400, allow_nan=False),  # seconds after BASE
    st.sampled_from(URLS),
    st.integers(0, 1000),  # message id seed (collisions make duplicates)
)


@settings(max_examples=25, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate], suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(stream=st.lists(event_st, min_size=1, max_size=40), batches=st.integers(1, 4), seed=st.integers(0, 10**6))
def test_incremental_store_equals_recompute(tmp_path_factory, stream, batches, seed):
    from leadflow.facade import Leadflow

    url = f"sqlite:///{tmp_path_factory.mktemp('inv') / 'x.db'}"
    lf = Leadflow(url, "inv")
    raws = []
    for lead, etype, secs, path, mid in stream:
        raws.append({"type": etype, "email": f"p{lead}@acme.io", "message_id": f"m{mid}",
                     "timestamp": (BASE + timedelta(seconds=secs)).isoformat(),
                     "properties": {"url": path, "asset_type": "ebook"}})
    rng = random.Random(seed)
    raws = raws + rng.sample(raws, k=min(len(raws), 5))  # replays
    rng.shuffle(raws)
    received = BASE + timedelta(days=90)
    size = max(1, len(raws) // batches)
    for i in range(0, len(raws), size):
        lf.ingest(raws[i:i + size], received_at=received)
    model = lf.model()
    with lf.db.session() as s:
        for lead in s.scalars(select(Lead).where(Lead.workspace_id == lf.workspace_id)):
            pairs = lead_events(s, lf.workspace_id, lead.id)
            events = [p[0] for p in pairs]
            st_row = s.scalar(select(ScoreState).where(ScoreState.lead_id == lead.id))
            q = Qualifier.from_dict(st_row.state)
            t0 = q.total.max_t if q.total.max_t is not None else BASE.timestamp()  # no event of its own
            for t in (t0, t0 + 3 * 86400, t0 + 45 * 86400):
                assert abs(q.total.engagement_at(model, t) - recompute_engagement(model, events, t)) <= 1e-9
            fit = score_fit(model, lead_attrs(lead), account_attrs(None))
            q2, trs = replay(model, fit, events)
            # a lead with no event of its own (its only event duplicated another person's message_id) stays
            # at the service's starting stage, subscriber
            assert (q2.stage or Stage.SUBSCRIBER).value == lead.stage
            live = s.scalars(select(StageChange).where(StageChange.lead_id == lead.id,
                                                       StageChange.superseded_at.is_(None))
                             .order_by(StageChange.at)).all()
            assert [(r.from_stage, r.to_stage, r.rule) for r in live] == \
                   [(tr.from_stage.value if tr.from_stage else None, tr.to_stage.value, tr.rule) for tr in trs]
    lf.close()
