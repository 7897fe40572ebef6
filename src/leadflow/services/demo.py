"""Load the seeded demo funnel (``leadflow.demo.generator``) through the normal write path."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any

from leadflow.demo.generator import DemoConfig, iter_accounts, iter_events, iter_leads, iter_outcomes
from leadflow.services.ingest import Ingestor
from leadflow.store.db import Database
from leadflow.store.tables import Workspace


def _batches(it: Iterable[dict[str, Any]], n: int) -> Iterator[list[dict[str, Any]]]:
    it = iter(it)
    while batch := list(islice(it, n)):
        yield batch


def load_demo(db: Database, workspace_id: str, config: DemoConfig, *, batch_size: int = 5000,
              progress: Callable[[str, int], Any] | None = None) -> dict[str, int]:
    """Generate and store the demo data; returns counts. Each batch is one transaction."""
    counts = {"accounts": 0, "leads": 0, "events": 0, "duplicates": 0, "outcomes": 0}
    steps: list[tuple[str, Iterable[dict[str, Any]]]] = [
        ("accounts", iter_accounts(config)), ("leads", iter_leads(config)),
        ("events", iter_events(config)), ("outcomes", iter_outcomes(config))]
    for kind, records in steps:
        for batch in _batches(records, batch_size):
            with db.session() as s:
                ing = Ingestor(s, s.get(Workspace, workspace_id))
                if kind == "accounts":
                    ing.upsert_accounts(batch)
                elif kind == "leads":
                    ing.upsert_leads(batch)
                elif kind == "events":
                    clean = [{k: v for k, v in r.items() if not k.startswith("_")} for r in batch]
                    rep = ing.ingest_events(clean)
                    counts["duplicates"] += rep.count("duplicate")
                    bad = [r for r in rep.results if r.status == "rejected"]
                    if bad:
                        raise ValueError(f"demo generator produced invalid events: {bad[:3]}")
                else:
                    ing.record_outcomes(batch)
            counts[kind] += len(batch)
            if progress:
                progress(kind, len(batch))
    return counts


# ------------------------------------------------------------------------------------- the full demo
DEMO_PASSWORD = "leadflow-demo"
DEMO_USERS = (  # (email, role, name, rep key)
    ("admin@demo.leadflow.dev", "admin", "Ada Admin", None),
    ("marketing@demo.leadflow.dev", "marketing", "Mona Marketing", None),
    ("sales@demo.leadflow.dev", "sales", "Sofia Rossi (SDR)", "sofia"),
)
#: demo cost per lead by acquisition source (a month's spend = leads that month x this x noise)
DEMO_COST_PER_LEAD = {"paid_search": 95.0, "social": 140.0, "events": 260.0, "email": 12.0, "organic_search": 18.0}


def build_demo(db: Database, workspace_id: str, config: DemoConfig, *, batch_size: int = 5000,
               progress: Callable[[str, int], Any] | None = None) -> dict[str, Any]:
    """The whole demo: the funnel (:func:`load_demo`), a sales team working the MQLs, channel spend,
    one user per role (password :data:`DEMO_PASSWORD`) and an ingest key for the snippet demo page.

    Returns counts plus ``users`` and the plaintext ``ingest_key`` (shown once)."""
    import random
    from collections import Counter

    from sqlalchemy import select

    from leadflow.analytics.spend import parse_spend, store_spend
    from leadflow.services import apikeys, users
    from leadflow.services.handoff.demo import seed_demo_team, simulate_activity
    from leadflow.services.handoff.routing import route_pending
    from leadflow.store.tables import Lead

    out: dict[str, Any] = dict(load_demo(db, workspace_id, config, batch_size=batch_size, progress=progress))
    with db.session() as s:  # the team, then the MQLs that qualified before it existed, then their work
        out["team"] = seed_demo_team(s, workspace_id)
        out["routed"] = len(route_pending(s, workspace_id, limit=100_000))
        out["activity"] = simulate_activity(s, workspace_id, seed=config.seed)
    if progress:
        progress("handoff", 1)
    with db.session() as s:  # spend per paid channel per month, proportional to the leads it brought
        rng = random.Random(config.seed)
        per_month: Counter[tuple[str, str]] = Counter()
        for source, created in s.execute(select(Lead.source, Lead.created_at).where(Lead.workspace_id == workspace_id)):
            if source in DEMO_COST_PER_LEAD:
                per_month[(source, f"{created:%Y-%m}")] += 1
        rows = [{"channel": src, "period": month, "currency": "USD",
                 "amount": round(n * DEMO_COST_PER_LEAD[src] * rng.uniform(0.8, 1.25), 2)}
                for (src, month), n in sorted(per_month.items())]
        out["spend_rows"] = store_spend(s, workspace_id, parse_spend(rows), origin="demo").rows
    with db.session() as s:
        made = []
        for email, role, name, rep in DEMO_USERS:
            if users.get_by_email(s, workspace_id, email) is None:
                users.create_user(s, workspace_id, email, DEMO_PASSWORD, role, name=name, rep_id=rep)
                made.append(email)
        out["users"] = made
        _info, out["ingest_key"] = apikeys.create_key(s, workspace_id, kind="ingest", name="demo website snippet")
    return out
