"""Garbage-collector tuning for a serving process (setting ``gc_freeze``, on by default).

A loaded leadflow app holds about 250,000 long-lived Python objects (FastAPI routes, Pydantic and SQLAlchemy
metadata, the web app). CPython's full (generation 2) collection walks all of them; under a steady stream of
requests - whose objects live across an ``await`` long enough to be promoted - it runs every second or so and
pauses the whole process (event loop and ingest writer) for 100-200 ms on this 2-core machine: the single-event
p99 at 1,000 req/s was dominated by those pauses (``benchmarks/http_ingest.py``). After start-up we therefore
collect once and move every surviving object to the permanent generation (:func:`gc.freeze`, as Instagram's
servers do), so later collections only walk what requests allocate, and run the youngest generation less often.
Reference counting still frees almost everything at once; only cycles wait for a collection. The app's
shutdown undoes both (tests create and stop many apps in one process).
"""

from __future__ import annotations

import gc
from dataclasses import dataclass

# young-generation threshold: collections of generation 0 every this many net allocations (CPython: 700)
GEN0_THRESHOLD = 20_000


@dataclass(frozen=True)
class GcState:
    thresholds: tuple[int, int, int]


def tune_gc(gen0: int = GEN0_THRESHOLD) -> GcState:
    """Collect, freeze what survives, raise the young threshold; returns what :func:`restore_gc` restores."""
    before = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(max(gen0, before[0]), before[1], before[2])
    return GcState(before)


def restore_gc(state: GcState) -> None:
    gc.unfreeze()
    gc.set_threshold(*state.thresholds)
