"""Demo data for the handoff screens: a seeded sales team, and realistic SDR / AE activity on the demo's MQLs.

``seed_demo_team`` is idempotent. ``simulate_activity`` works the open assignments the demo load produced
(routed when the leads became MQLs), through the same service functions a rep would use, with times drawn
after each lead's qualification: first touches (speed-to-lead from minutes to days), accepts and
rejections with reasons, BANT records and evaluations, AE accepts into opportunities. Seeded: the same
seed gives the same activity.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadflow.core.handoff.sla import start_clock
from leadflow.core.lifecycle import IllegalTransition
from leadflow.core.timeutil import as_utc
from leadflow.services.handoff import team as team_svc
from leadflow.services.handoff import work
from leadflow.services.handoff.common import (
    HandoffError,
    calendar,
    load_config,
    load_reps,
    now_or,
    open_assignment,
)
from leadflow.store import handoff_tables as ht

TERRITORIES = [
    {"key": "enterprise", "name": "Enterprise (all regions)", "segments": ["enterprise"], "priority": 10},
    {"key": "na", "name": "North America", "countries": ["United States", "Canada"], "priority": 50},
    {"key": "emea", "name": "EMEA", "countries": ["United Kingdom", "Germany", "France", "Netherlands", "Spain",
                                                  "Sweden", "Ireland"], "priority": 50},
    {"key": "apac", "name": "APAC", "countries": ["India", "Australia", "Singapore"], "priority": 50},
    {"key": "world", "name": "Rest of world", "priority": 1000},
]

REPS = [
    {"key": "maya", "name": "Maya Lopez", "role": "sdr", "weight": 2, "capacity": 60, "timezone": "America/New_York",
     "country": "US", "territories": ["na", "world"], "team_lead": "grace"},
    {"key": "liam", "name": "Liam Chen", "role": "sdr", "weight": 1, "capacity": 40, "timezone": "America/Chicago",
     "country": "US", "territories": ["na"], "team_lead": "grace"},
    {"key": "sofia", "name": "Sofia Rossi", "role": "sdr", "weight": 2, "capacity": 50, "timezone": "Europe/Berlin",
     "country": "DE", "territories": ["emea", "world"], "team_lead": "grace"},
    {"key": "tom", "name": "Tom Byrne", "role": "sdr", "weight": 1, "capacity": 40, "timezone": "Europe/Dublin",
     "country": "IE", "territories": ["emea"], "team_lead": "grace"},
    {"key": "priya", "name": "Priya Nair", "role": "sdr", "weight": 1, "capacity": 40, "timezone": "Asia/Kolkata",
     "country": "IN", "territories": ["apac", "world"], "team_lead": "grace"},
    {"key": "omar", "name": "Omar Haddad", "role": "sdr", "weight": 1, "capacity": 30, "timezone": "Europe/London",
     "country": "GB", "territories": ["enterprise"], "team_lead": "grace"},
    {"key": "grace", "name": "Grace Kim", "role": "ae", "weight": 2, "capacity": 40, "timezone": "America/New_York",
     "country": "US", "territories": ["na", "enterprise", "world"], "team_lead": "vp-sales"},
    {"key": "lukas", "name": "Lukas Weber", "role": "ae", "weight": 1, "capacity": 30, "timezone": "Europe/Berlin",
     "country": "DE", "territories": ["emea", "enterprise", "apac", "world"], "team_lead": "vp-sales"},
]

REJECT_MIX = [("bad_timing", 30), ("no_interest_now", 20), ("wrong_person", 12), ("no_budget", 12), ("bad_fit", 10),
              ("unresponsive", 8), ("student", 3), ("competitor", 2), ("duplicate", 3)]


def seed_demo_team(session: Session, workspace_id: str) -> dict[str, int]:
    """Create the demo territories and reps (skips what exists). Returns counts created."""
    have_t = {t.key for t in team_svc.list_territories(session, workspace_id)}
    made = {"territories": 0, "reps": 0}
    for t in TERRITORIES:
        if t["key"] not in have_t:
            team_svc.add_territory(session, workspace_id, t)
            made["territories"] += 1
    have_r = set(session.scalars(select(ht.Rep.key).where(ht.Rep.workspace_id == workspace_id)))
    for r in REPS:
        if r["key"] not in have_r:
            team_svc.add_rep(session, workspace_id, r)
            made["reps"] += 1
    return made


def _pick(rng: random.Random, mix: list[tuple[str, int]]) -> str:
    return rng.choices([m for m, _ in mix], weights=[w for _, w in mix])[0]


def simulate_activity(session: Session, workspace_id: str, *, seed: int = 7, now: datetime | None = None,
                      max_leads: int = 300) -> dict[str, Any]:
    """Work the open SDR assignments like a team would (see the module doc). Returns counts."""
    rng = random.Random(seed)
    now = now_or(now)
    cfg = load_config(session, workspace_id)
    reps = {r.key: r for r in load_reps(session, workspace_id)}
    counts = {"worked": 0, "touches": 0, "accepted": 0, "rejected": 0, "sql": 0, "bant_failed": 0,
              "opportunities": 0, "left_open": 0}
    open_sdr = session.scalars(select(ht.Assignment).where(
        ht.Assignment.workspace_id == workspace_id, ht.Assignment.open_lead_id.is_not(None),
        ht.Assignment.role == "sdr", ht.Assignment.rep_key.is_not(None))
        .order_by(ht.Assignment.qualified_at, ht.Assignment.id).limit(max_leads)).all()
    for a in open_sdr:
        lead_id, rep = a.lead_id, reps.get(a.rep_key)
        if rep is None:
            continue
        # the demo loads months of history at once: put the assignment at the qualification time
        start = as_utc(a.qualified_at) + timedelta(seconds=rng.randint(5, 90))
        if start >= now:
            continue
        a.assigned_at = start
        clock = start_clock(calendar(rep, start), cfg.sla.policy(a.segment), start)
        a.first_touch_due, a.decision_due = clock.first_touch_due, clock.decision_due
        session.flush()
        if rng.random() < 0.08:  # some leads are still waiting
            counts["left_open"] += 1
            continue
        # speed-to-lead: log-normal minutes, a long tail into the next business day
        t = start + timedelta(minutes=min(60 * 24 * 5, math.exp(rng.gauss(2.6, 1.6))))
        if t >= now:
            counts["left_open"] += 1
            continue
        try:
            for i in range(rng.randint(1, 3)):
                outcome = "connected" if i > 0 and rng.random() < 0.6 else rng.choice(["no_answer", "voicemail", "sent"])
                work.log_attempt(session, workspace_id, lead_id, kind=rng.choice(["call", "email", "linkedin"]),
                                 outcome=outcome, at=t)
                counts["touches"] += 1
                t += timedelta(hours=rng.uniform(1, 20))
            counts["worked"] += 1
            decide_at = min(t, now - timedelta(minutes=1))
            if rng.random() < 0.35:
                work.reject(session, workspace_id, lead_id, _pick(rng, REJECT_MIX), at=decide_at)
                counts["rejected"] += 1
                continue
            work.accept(session, workspace_id, lead_id, at=decide_at)
            counts["accepted"] += 1
            bt = min(decide_at + timedelta(hours=rng.uniform(2, 72)), now - timedelta(seconds=30))
            for crit, p_met in (("need", 0.8), ("timeline", 0.65), ("budget", 0.55), ("authority", 0.5)):
                r = rng.random()
                state = "met" if r < p_met else "unknown" if r < p_met + 0.2 else "not_met"
                work.record_bant(session, workspace_id, lead_id, crit, state, at=bt)
            verdict, outcome = work.evaluate_bant(session, workspace_id, lead_id, at=bt)
            if not verdict.passed:
                counts["bant_failed"] += 1
                continue
            counts["sql"] += 1
            if rng.random() < 0.7:
                ot = min(bt + timedelta(hours=rng.uniform(4, 96)), now)
                ae = open_assignment(session, workspace_id, lead_id)
                if ae is not None and ae.rep_key is not None and ae.rep_key in reps:
                    ae.assigned_at = ae.qualified_at = bt
                    clk = start_clock(calendar(reps[ae.rep_key], bt), cfg.sla.policy(ae.segment), bt)
                    ae.first_touch_due, ae.decision_due = clk.first_touch_due, clk.decision_due
                    work.ae_accept(session, workspace_id, lead_id, amount=float(rng.choice([6, 12, 18, 24, 48]) * 1000),
                                   currency="USD", at=ot)
                    counts["opportunities"] += 1
        except (HandoffError, IllegalTransition):
            continue  # the generated history moved this lead on (e.g. an outcome): leave it
    session.flush()
    return counts
