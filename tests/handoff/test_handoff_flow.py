"""Scenarios on both stores: first visit -> customer; MQL -> rejection -> nurture -> re-qualification."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from leadflow.core.lifecycle import IllegalTransition
from leadflow.core.timeutil import as_utc
from leadflow.services.handoff import HandoffError, check_sla, route, work
from leadflow.services.handoff import reports as rep_svc
from leadflow.services.ingest import Ingestor
from leadflow.store import handoff_tables as ht
from leadflow.store.tables import Lead, StageChange, Workspace

T0 = datetime(2026, 3, 10, 8, 30, tzinfo=UTC)  # as in conftest: a Tuesday 09:30 in Berlin


def kinds(sigs, lead_id=None):
    return [s.kind for s in sigs if lead_id is None or s.lead_id == lead_id]


def ev(etype, at, email=None, anon=None, **props):
    e = {"type": etype, "timestamp": at.isoformat(), "properties": props}
    if email:
        e["email"] = email
    if anon:
        e["anonymous_id"] = anon
    return e


def ingest(hs, events, leads=()):
    with hs.db.session() as s:
        ing = Ingestor(s, s.get(Workspace, hs.ws_id))
        if leads:
            ing.upsert_leads(list(leads))
        return ing.ingest_events(events)


def lead_of(hs, email):
    with hs.db.session() as s:
        return s.scalar(select(Lead).where(Lead.workspace_id == hs.ws_id, Lead.email == email))


def history(hs, lead_id):
    with hs.db.session() as s:
        rows = s.scalars(select(StageChange).where(StageChange.lead_id == lead_id, StageChange.superseded_at.is_(None))
                         .order_by(StageChange.at, StageChange.recorded_at)).all()
        return [(r.from_stage, r.to_stage, r.actor, r.actor_id, r.reason) for r in rows]


def test_first_visit_to_customer(hs):
    email = "dana@bigco.de"
    # anonymous first visit, then a form (identified: the visit merges into the lead), then a demo request
    ingest(hs, [ev("page_view", T0 - timedelta(hours=2), anon="anon-1", url="/pricing")])
    ingest(hs, [ev("form_submit", T0 - timedelta(hours=1), email=email, anon="anon-1")],
           leads=[{"email": email, "country": "Germany", "first_name": "Dana", "seniority": "director"}])
    lead = lead_of(hs, email)
    assert lead.stage == "lead" and lead.owner is None
    hs.clock.now = T0 + timedelta(minutes=1)
    hs.seen.clear()
    ingest(hs, [ev("demo_requested", T0, email=email)])
    lead = lead_of(hs, email)
    assert lead.stage == "mql" and lead.owner == "alice" and lead.lead_status == "new"
    assert kinds(hs.seen) == ["stage.changed", "lead.mql", "lead.assigned"]
    assigned = hs.seen[-1]
    assert assigned.data["rep"] == "alice" and assigned.data["role"] == "sdr"
    assert "because territory EMEA" in assigned.data["explanation"] and "weight 2" in assigned.data["explanation"]
    # SLA clock in Alice's business hours (Berlin): 09:31 + 4 h = 13:31 local = 12:31 UTC
    assert assigned.data["first_touch_due"] == (T0 + timedelta(hours=4, minutes=1)).isoformat()

    with hs.db.session() as s:
        work.log_attempt(s, hs.ws_id, lead.id, kind="call", outcome="no_answer", at=T0 + timedelta(minutes=3))
        work.log_attempt(s, hs.ws_id, lead.id, kind="call", outcome="connected", at=T0 + timedelta(minutes=20))
        work.change_status(s, hs.ws_id, lead.id, "in_progress", at=T0 + timedelta(minutes=25))
    hs.seen.clear()
    with hs.db.session() as s:
        work.accept(s, hs.ws_id, lead.id, rep="alice", at=T0 + timedelta(minutes=30))
    assert kinds(hs.seen) == ["stage.changed"] and hs.seen[0].data["to"] == "sal"
    with hs.db.session() as s:
        for c, state, details in (("need", "met", {"pain_category": "efficiency", "description": "manual routing"}),
                                  ("timeline", "met", {"quarter": "2026-Q2"}),
                                  ("budget", "unknown", {}),
                                  ("budget", "met", {"min": 20000, "max": 30000, "currency": "EUR",
                                                     "confirmed": True}),
                                  ("authority", "not_met", {"role": "Director", "kind": "influencer",
                                                            "other_deciders": ["CFO"]})):
            work.record_bant(s, hs.ws_id, lead.id, c, state, details, at=T0 + timedelta(minutes=40))
    hs.seen.clear()
    hs.clock.now = T0 + timedelta(minutes=45)
    with hs.db.session() as s:
        verdict, outcome = work.evaluate_bant(s, hs.ws_id, lead.id, at=T0 + timedelta(minutes=45))
        assert verdict.passed and outcome == "sql"
        assert len(work.bant_history(s, hs.ws_id, lead.id)) == 5
    assert kinds(hs.seen) == ["stage.changed", "lead.sql", "lead.assigned"]
    assert hs.seen[-1].data["rep"] == "ann" and hs.seen[-1].data["role"] == "ae"
    assert lead_of(hs, email).owner == "ann"
    hs.seen.clear()
    with hs.db.session() as s:
        opp = work.ae_accept(s, hs.ws_id, lead.id, amount=24000, currency="EUR",
                             expected_close=T0 + timedelta(days=30), at=T0 + timedelta(hours=2))
        opp_id = opp.id
    assert kinds(hs.seen) == ["stage.changed"] and hs.seen[0].data["to"] == "opportunity"
    hs.seen.clear()
    with hs.db.session() as s:
        work.close_opportunity(s, hs.ws_id, lead.id, "won", at=T0 + timedelta(days=20))
    assert kinds(hs.seen) == ["stage.changed", "outcome.recorded"]
    assert hs.seen[0].data["to"] == "customer" and hs.seen[1].data["amount"] == 24000
    lead = lead_of(hs, email)
    assert lead.stage == "customer" and lead.lead_status == "open_deal"

    h = history(hs, lead.id)
    assert [(a, b) for a, b, *_ in h] == [("subscriber", "lead"), ("lead", "mql"),
                                          ("mql", "sal"), ("sal", "sql"), ("sql", "opportunity"),
                                          ("opportunity", "customer")]
    assert [x[2] for x in h] == ["rule", "rule", "user", "user", "user", "system"]
    assert [x[3] for x in h] == [None, None, "alice", "alice", "ann", None]
    assert h[0][4].startswith("lead criteria met") and h[1][4].startswith("MQL criteria met")
    assert h[2][4] == "accepted by alice"
    assert h[3][4].startswith("BANT passed the SQL rule (need and timeline met and at least 3 of 4 met)")
    assert h[4][4] == "accepted by AE ann: opportunity 24,000 EUR"
    assert h[5][4] == "outcome: won"
    with hs.db.session() as s:
        statuses = [(r.from_status, r.to_status) for r in s.scalars(select(ht.StatusChange).where(
            ht.StatusChange.lead_id == lead.id).order_by(ht.StatusChange.at))]
        assert statuses == [("attempting_to_contact", "connected"), ("connected", "in_progress"),
                            ("in_progress", "open_deal")] or statuses[0] == ("new", "attempting_to_contact")
        assert s.get(ht.Opportunity, opp_id).status == "won"
        assigns = s.scalars(select(ht.Assignment).where(ht.Assignment.lead_id == lead.id)
                            .order_by(ht.Assignment.assigned_at)).all()
        assert [(a.rep_key, a.role, a.open_lead_id) for a in assigns] == [("alice", "sdr", None), ("ann", "ae", None)]
        assert as_utc(assigns[0].first_touch_at) == T0 + timedelta(minutes=3)
        stl = rep_svc.speed_to_lead_report(s, hs.ws_id)
        assert stl["count"] == 1 and stl["p50_minutes"] == pytest.approx(3.0) and stl["bands"]["0-5 min"] == 1
        assert rep_svc.sql_rate_report(s, hs.ws_id)["by_rep"] == [{"rep": "alice", "leads": 1, "sql": 1,
                                                                    "sql_rate": 1.0}]


def test_reject_nurture_and_requalify(hs):
    email = "eve@smallco.fr"
    hs.clock.now = T0
    ingest(hs, [ev("contact_request", T0 - timedelta(minutes=5), email=email)],
           leads=[{"email": email, "country": "France"}])
    lead = lead_of(hs, email)
    assert lead.stage == "mql" and lead.owner == "alice"
    hs.seen.clear()
    with hs.db.session() as s:
        work.log_attempt(s, hs.ws_id, lead.id, kind="email", outcome="replied", at=T0 + timedelta(minutes=10))
        d = work.reject(s, hs.ws_id, lead.id, "bad timing", note="budget cycle in Q4", at=T0 + timedelta(hours=1))
        assert d.disposition == "nurture"
    assert kinds(hs.seen) == ["stage.changed"] and hs.seen[0].data["to"] == "nurture"
    lead = lead_of(hs, email)
    assert lead.stage == "nurture" and lead.lead_status == "bad_timing"
    with hs.db.session() as s:
        track = s.scalar(select(ht.NurtureTrack).where(ht.NurtureTrack.lead_id == lead.id))
        assert track.reason_code == "bad_timing" and track.source == "rejected"
        assert as_utc(track.reengage_at) == T0 + timedelta(hours=1, days=90) and track.ended_at is None
        assert work.nurture_due(s, hs.ws_id, T0 + timedelta(days=91))[0].id == track.id
    # old points alone do not re-qualify: a page view after recycling is not enough
    hs.seen.clear()
    ingest(hs, [ev("page_view", T0 + timedelta(days=2), email=email, url="/blog")])
    assert lead_of(hs, email).stage == "nurture" and "lead.mql" not in kinds(hs.seen)
    # fresh engagement: a demo request re-qualifies it, and it is routed again (bob: the rotation's next)
    hs.clock.now = T0 + timedelta(days=3)
    ingest(hs, [ev("demo_requested", T0 + timedelta(days=3), email=email)])
    lead = lead_of(hs, email)
    assert lead.stage == "mql"
    assert kinds(hs.seen, lead.id)[-3:] == ["stage.changed", "lead.mql", "lead.assigned"]
    assigned = hs.seen[-1]
    assert assigned.data["recycled"] is True and assigned.data["rep"] == "bob"  # weights 2:1 rotate alice, bob, alice
    h = history(hs, lead.id)
    assert [(a, b, actor) for a, b, actor, *_ in h][-3:] == [("subscriber", "mql", "rule"), ("mql", "nurture", "user"),
                                                              ("nurture", "mql", "rule")]
    assert h[-2][4] == "rejected by alice: Bad timing (budget cycle in Q4) -> nurture"
    assert h[-1][4].startswith("re-qualified on fresh engagement since recycling")
    with hs.db.session() as s:
        track = s.scalar(select(ht.NurtureTrack).where(ht.NurtureTrack.lead_id == lead.id))
        assert track.ended_reason == "requalified"
        rej = rep_svc.rejection_report(s, hs.ws_id)
        assert rej["rejected"] == 1 and rej["by_reason"][0]["reason"] == "bad_timing"
        rec = rep_svc.recycled_report(s, hs.ws_id)
        assert rec["assignments_recycled"] == 1 and rec["assignments_first_time"] == 1


def test_bad_input_changes_nothing(hs):
    email = "finn@acme.de"
    ingest(hs, [ev("contact_request", T0 - timedelta(minutes=5), email=email)],
           leads=[{"email": email, "country": "Germany"}])
    lead = lead_of(hs, email)
    before = history(hs, lead.id)
    with hs.db.session() as s:
        with pytest.raises(HandoffError, match="assigned to an SDR, not an AE"):
            work.ae_accept(s, hs.ws_id, lead.id, amount=10)
        with pytest.raises(HandoffError, match="the lead is assigned to alice, not bob"):
            work.accept(s, hs.ws_id, lead.id, rep="bob")
        with pytest.raises(HandoffError, match="reason: unknown code"):
            work.reject(s, hs.ws_id, lead.id, "meh")
        with pytest.raises(HandoffError, match="status"):
            work.change_status(s, hs.ws_id, lead.id, "in_progress")
        with pytest.raises(HandoffError, match="bant.budget.currency"):
            work.record_bant(s, hs.ws_id, lead.id, "budget", "met", {"currency": "EURO"})
    with pytest.raises(HandoffError, match="BANT is recorded on MQL or SAL leads"), hs.db.session() as s:
        work.reject(s, hs.ws_id, lead.id, "competitor", at=T0)
        work.record_bant(s, hs.ws_id, lead.id, "need", "met")  # disqualified now: refused, all rolled back
    assert history(hs, lead.id) == before and lead_of(hs, email).stage == "mql"
    with pytest.raises(IllegalTransition), hs.db.session() as s:
        work.accept(s, hs.ws_id, lead.id, at=T0)
        work.accept(s, hs.ws_id, lead.id, at=T0)  # SAL -> SAL is no move
    assert lead_of(hs, email).stage == "mql"
    with hs.db.session() as s:
        assert s.scalar(select(ht.Decision.id).where(ht.Decision.lead_id == lead.id)) is None


def test_sla_breach_escalates_and_reassigns(hs):
    from leadflow.services.handoff import team

    with hs.db.session() as s:
        team.set_config(s, hs.ws_id, {"sla": {"default": {"first_touch_hours": 1, "decision_hours": 8,
                                                          "reassign_on_breach": True}}})
    email = "gus@acme.de"
    hs.clock.now = T0
    ingest(hs, [ev("contact_request", T0, email=email)], leads=[{"email": email, "country": "Germany"}])
    lead = lead_of(hs, email)
    assert lead.owner == "alice"
    hs.seen.clear()
    with hs.db.session() as s:
        assert check_sla(s, hs.ws_id, T0 + timedelta(minutes=59)).breaches == []
    with hs.db.session() as s:
        rep = check_sla(s, hs.ws_id, T0 + timedelta(hours=1, minutes=1))
        assert [(b["kind"], b["rep"], b["escalated_to"]) for b in rep.breaches] == [("first_touch", "alice", "tess")]
        assert rep.reassigned[0]["to"] == "bob"
    assert kinds(hs.seen) == ["sla.breached", "lead.assigned"]
    assert hs.seen[1].data["previous"] == "alice" and "previously alice" in hs.seen[1].data["explanation"]
    assert lead_of(hs, email).owner == "bob"
    with hs.db.session() as s:  # a second check does not breach the same clock again
        assert check_sla(s, hs.ws_id, T0 + timedelta(hours=1, minutes=2)).breaches == []
        alerts = s.scalars(select(ht.Alert).where(ht.Alert.kind == "sla_breached")).all()
        assert len(alerts) == 1 and alerts[0].recipient == "tess"
        sla = rep_svc.sla_report(s, hs.ws_id)
        assert sla["by_rep"][0]["rep"] == "alice" and sla["by_rep"][0]["first_touch_breached"] == 1


def test_unassigned_queue_and_manual_assignment(hs):
    from leadflow.services.handoff import assign, team

    with hs.db.session() as s:
        team.set_away(s, hs.ws_id, "alice", T0 - timedelta(days=1), T0 + timedelta(days=1), "vacation")
        team.update_rep(s, hs.ws_id, "bob", {"capacity": 0})
    email = "hal@acme.de"
    hs.clock.now = T0
    ingest(hs, [ev("contact_request", T0, email=email)], leads=[{"email": email, "country": "Germany"}])
    lead = lead_of(hs, email)
    assert lead.owner is None
    with hs.db.session() as s:
        a = s.scalar(select(ht.Assignment).where(ht.Assignment.lead_id == lead.id))
        assert a.rep_key is None and a.open_lead_id == lead.id
        assert "alice: out of office" in a.explanation and "bob: at capacity (0 of 0 open)" in a.explanation
        alert = s.scalar(select(ht.Alert).where(ht.Alert.kind == "unassigned"))
        assert alert.lead_id == lead.id
        with pytest.raises(HandoffError, match="out of office"):
            assign(s, hs.ws_id, lead.id, "alice", by="tess", at=T0)
        with pytest.raises(HandoffError, match="at capacity"):
            assign(s, hs.ws_id, lead.id, "bob", by="tess", at=T0)
        with pytest.raises(HandoffError, match="is an AE"):
            assign(s, hs.ws_id, lead.id, "ann", by="tess", at=T0)
        # still nobody: no second queue entry, no second alert
        assert not route(s, hs.ws_id, lead.id, at=T0).created
    # alice is back: the SLA check assigns the queue
    with hs.db.session() as s:
        rep = check_sla(s, hs.ws_id, T0 + timedelta(days=2))
        assert rep.queue_assigned[0]["to"] == "alice"
    assert lead_of(hs, email).owner == "alice"


def test_concurrent_routing_assigns_once(pg_url, clock, monkeypatch):
    """Two workers route the same MQL at once on PostgreSQL: one assignment."""
    import threading

    from leadflow.services import signals
    from leadflow.services import workspaces as ws_svc
    from leadflow.services.handoff import team
    from leadflow.store.db import Database
    from leadflow.store.migrate import upgrade

    monkeypatch.setattr(signals, "SUBSCRIBERS", ())  # route by hand below
    db = Database(pg_url)
    upgrade(db)
    with db.session() as s:
        ws = ws_svc.get_or_create_workspace(s, "acme")
        team.add_territory(s, ws.id, {"key": "all"})
        for k in ("a", "b", "c"):
            team.add_rep(s, ws.id, {"key": k, "role": "sdr", "territories": ["all"]})
        Ingestor(s, ws).ingest_events([ev("contact_request", T0, email=f"p{i}@x.io") for i in range(6)])
        ids = list(s.scalars(select(Lead.id).where(Lead.stage == "mql")))
        ws_id = ws.id
    assert len(ids) == 6
    barrier = threading.Barrier(2)
    results, errors = [], []

    def worker():
        try:
            for lid in ids:
                barrier.wait(timeout=30)
                with db.session() as s:
                    results.append(route(s, ws_id, lid, at=T0).created)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    assert sorted(results) == [False] * 6 + [True] * 6
    with db.session() as s:
        rows = s.scalars(select(ht.Assignment).where(ht.Assignment.workspace_id == ws_id)).all()
        assert sorted(r.lead_id for r in rows) == sorted(ids)
        assert sorted(r.rep_key for r in rows) == ["a", "a", "b", "b", "c", "c"]
    db.dispose()

