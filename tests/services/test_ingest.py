"""Integration tests of the write path on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from leadflow.core.lifecycle import IllegalTransition
from leadflow.store.tables import Event

T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)  # receive time, after every event below


def ev(etype, email=None, ts="2026-03-01T09:00:00Z", mid=None, anon=None, **props):
    out = {"type": etype, "timestamp": ts, "properties": props}
    if email:
        out["email"] = email
    if mid:
        out["message_id"] = mid
    if anon:
        out["anonymous_id"] = anon
    return out


def test_batch_results_dedup_and_rejections(lf):
    rep = lf.ingest([
        ev("page_view", "a@acme.io", mid="m1", url="/pricing"),
        ev("page_view", "a@acme.io", mid="m1", url="/pricing"),  # duplicate in the batch
        ev("page_view", "a@acme.io", ts="not a date", mid="m2"),
        ev("form_submit", email=None, mid="m3"),  # no person
        {"type": "page_view", "email": "a@acme.io", "timestamp": "2026-03-01T10:00:00Z",
         "properties": {"seconds_on_page": "long"}},
    ], received_at=T0)
    assert [r.status for r in rep.results] == ["accepted", "duplicate", "rejected", "rejected", "rejected"]
    assert rep.results[2].field == "occurred_at"
    assert rep.results[3].field == "email"
    assert rep.results[4].field == "properties.seconds_on_page"
    # a replay of the same batch is a no-op
    rep2 = lf.ingest([ev("page_view", "a@acme.io", mid="m1", url="/pricing")], received_at=T0)
    assert [r.status for r in rep2.results] == ["duplicate"]
    with lf.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Event)) == 1


def test_hand_raiser_makes_mql_with_audit(lf):
    lf.upsert_leads([{"email": "b@acme.io", "seniority": "vp"}])
    lf.ingest([ev("form_submit", "b@acme.io", ts="2026-03-01T09:00:00Z", mid="f"),
               ev("demo_requested", "b@acme.io", ts="2026-03-02T09:00:00Z", mid="d")], received_at=T0)
    assert lf.lead("b@acme.io")["stage"] == "mql"
    hist = lf.explain("b@acme.io").history
    assert [(h["from"], h["to"], h["actor"]) for h in hist] == [("subscriber", "lead", "rule"), ("lead", "mql", "rule")]
    assert "demo_requested" in hist[1]["reason"]
    assert hist[1]["model"] == "default@v1"
    assert hist[1]["score"]["grade"] in "ABCD"


def test_anonymous_history_merged_from_original_time(lf):
    lf.ingest([ev("page_view", anon="anon-1", ts="2026-02-20T09:00:00Z", mid="p1", url="/pricing"),
               ev("page_view", anon="anon-1", ts="2026-02-21T09:00:00Z", mid="p2", url="/pricing")], received_at=T0)
    with lf.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Event).where(Event.lead_id.is_(None))) == 2
    rep = lf.ingest([ev("form_submit", "c@acme.io", anon="anon-1", ts="2026-02-22T09:00:00Z", mid="f1")], received_at=T0)
    assert rep.replayed_leads == 1
    x = lf.explain("c@acme.io", at=datetime(2026, 2, 23, tzinfo=UTC))
    pricing = next(r for r in x.engagement.rules if r.rule_id == "pricing_page")
    assert len(pricing.contributions) == 2
    assert sorted(c.t for c in pricing.contributions)[0] == datetime(2026, 2, 20, 9, tzinfo=UTC).timestamp()


def test_late_event_replays_and_supersedes(lf):
    lf.upsert_leads([{"email": "d@acme.io", "seniority": "vp", "department": "marketing"}])
    lf.upsert_accounts([{"domain": "acme.io", "employee_count": 300, "industry": "software"}])
    lf.ingest([ev("demo_requested", "d@acme.io", ts="2026-03-05T09:00:00Z", mid="d1")], received_at=T0)
    first = [h for h in lf.explain("d@acme.io").history if h["to"] == "mql"]
    assert len(first) == 1
    # a late contact_request (hand raiser) from before: the MQL moves earlier, the old row is kept, superseded
    rep = lf.ingest([ev("contact_request", "d@acme.io", ts="2026-03-02T09:00:00Z", mid="c1")], received_at=T0)
    assert rep.replayed_leads == 1
    hist = lf.explain("d@acme.io").history
    live = [h for h in hist if not h["superseded"] and h["to"] == "mql"]
    assert len(live) == 1 and live[0]["at"].day == 2
    assert any(h["superseded"] for h in hist)


def test_manual_change_validated_and_recycling(lf):
    lf.ingest([ev("demo_requested", "e@acme.io", ts="2026-03-01T09:00:00Z", mid="d1")], received_at=T0)
    assert lf.lead("e@acme.io")["stage"] == "mql"
    with pytest.raises(IllegalTransition):
        lf.change_stage("e@acme.io", "customer", reason="skip ahead")
    assert lf.lead("e@acme.io")["stage"] == "mql"  # nothing changed
    lf.change_stage("e@acme.io", "nurture", reason="bad timing", actor_id="sdr-1")
    assert lf.lead("e@acme.io")["stage"] == "nurture"
    # fresh engagement after recycling re-qualifies it
    lf.ingest([ev("quote_requested", "e@acme.io", ts="2030-01-01T09:00:00Z", mid="q1")],
              received_at=datetime(2030, 1, 1, 10, tzinfo=UTC))
    lead = lf.lead("e@acme.io")
    assert lead["stage"] == "mql"
    hist = lf.explain("e@acme.io").history
    assert hist[-1]["reason"].startswith("re-qualified on fresh engagement")
    assert any(h["actor"] == "user" and h["actor_id"] == "sdr-1" for h in hist)


def test_outcomes_close_the_loop(lf):
    lf.ingest([ev("demo_requested", "f@acme.io", mid="d1")], received_at=T0)
    lf.record_outcomes([{"email": "f@acme.io", "result": "won", "amount": 12000.0,
                         "closed_at": datetime(2026, 4, 1, tzinfo=UTC)}])
    assert lf.lead("f@acme.io")["stage"] == "customer"
    with pytest.raises(LookupError):
        lf.record_outcomes([{"email": "nobody@acme.io", "result": "won"}])


def test_workspaces_are_isolated(db_url):
    from leadflow.facade import Leadflow

    a, b = Leadflow(db_url, "ws-a"), Leadflow(db_url, "ws-b")
    try:
        a.ingest([ev("page_view", "g@acme.io", mid="same-id")], received_at=T0)
        rep = b.ingest([ev("page_view", "g@acme.io", mid="same-id")], received_at=T0)
        assert rep.results[0].status == "accepted"  # message ids are unique per workspace only
        with pytest.raises(LookupError):
            Leadflow(db_url, "ws-c").lead("g@acme.io")
        assert a.lead("g@acme.io")["id"] != b.lead("g@acme.io")["id"]
    finally:
        a.close()
        b.close()


def test_model_upload_errors_and_activation(lf):
    from leadflow.core.scoring.spec import ModelFileError
    from leadflow.services.workspaces import ModelVersionConflict, default_model_text

    bad = default_model_text().replace("version: 1", "version: 2").replace('value: "/pricing"', 'value: "/pric(ing"')
    with pytest.raises(ModelFileError) as exc:
        lf.install_model(bad, source="new.yaml")
    assert "new.yaml:" in str(exc.value) and "does not compile" in str(exc.value)
    with pytest.raises(ModelVersionConflict):
        lf.install_model(default_model_text().replace("points: 12,", "points: 13,"), source="same-version.yaml")
    lf.ingest([ev("page_view", "h@acme.io", mid="p", url="/pricing")], received_at=T0)
    v2 = default_model_text().replace("version: 1", "version: 2").replace("id: pricing_page, event: page_view, where: [{property: url, op: regex, value: \"/pricing\"}], points: 12",
                                                                       "id: pricing_page, event: page_view, where: [{property: url, op: regex, value: \"/pricing\"}], points: 50")
    assert lf.install_model(v2, activate=True) == ("default", 2)
    x = lf.explain("h@acme.io", at=datetime(2026, 3, 1, 9, tzinfo=UTC))
    assert x.model_ref == "default@v2"
    assert next(r for r in x.engagement.rules if r.rule_id == "pricing_page").total == pytest.approx(50.0)
