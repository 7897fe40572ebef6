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
