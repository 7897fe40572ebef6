"""How many queued events to score in the next step (one transaction) of deferred scoring.

A step's time is modelled as ``a + b * n``: a fixed part ``a`` (the step's round trips to the database: taking
the rows, locking and reading the leads, their states, writing them, the commit) and a part per event ``b``.
Both are estimated from the steps as they went, by least squares with exponential forgetting, so the estimate
follows the load. The next step takes as many events as fit in the caller's time budget
(``(budget - a) / b``), but never so few that the fixed part is more than half of the step (``a / b``).

Why not simply "as many as the last steps' rate fits in the budget": when the fixed part alone is larger than
the budget, that rule shrinks the step to its floor and keeps it there, and the fixed part then dominates every
step. It did on PostgreSQL under load: the ingest writer shares the GIL with the busy HTTP event loop, so each
of a step's ~10 round trips waits up to the interpreter's switch interval (5 ms) to get the GIL back; steps of
10 events took ~100 ms and the queue drained at 90-260 events/s while batches were stored at 8-9k/s. Steps of
~250 events amortise that fixed part (1.3k events/s on the same load).

With ``amortize=False`` the sizer does not model a fixed part (``a = 0``: the plain rate fills the budget). The
scorer process uses that on SQLite, where a step's time includes waiting for the one write lock that the
server's writer holds: counted as a fixed cost, that wait would make the scorer take bigger steps and hold the
lock longer, and the server's requests would wait behind it (measured: p99 of single events 215-634 ms vs
29-75 ms in the previous runs).

The steps alternate between a little below and a little above the target (x0.75 / x1.25), so the two parts
can be told apart; a step whose fit is degenerate (too little spread, or noise giving a negative part) keeps
the last good estimate, and until there is one the plain rate is used (``a = 0``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class StepSizer:
    """``size(budget)`` gives the next step's number of events; ``observe(n, seconds)`` records a step."""

    floor: int = 10
    cap: int = 1000
    forget: float = 0.9  # weight of the past per step: ~10 steps of memory
    amortize: bool = True  # model a fixed part per step (False: the plain rate)
    a: float = 0.0  # fixed seconds per step (estimate)
    b: float = 0.0005  # seconds per event (estimate): 2,000 events/s before any step is seen
    _s0: float = 0.0
    _s1: float = 0.0
    _s2: float = 0.0
    _sy: float = 0.0
    _sny: float = 0.0
    _flip: bool = False
    _fitted: bool = False

    def target(self, budget: float) -> int:
        """Events for a step of about ``budget`` seconds, at least enough that the fixed part is at most half
        of the step; within ``[floor, cap]``."""
        n = math.ceil(max(budget - self.a, self.a) / self.b - 1e-6)  # 229.99999... events is 230
        return int(min(self.cap, max(self.floor, n)))

    def size(self, budget: float) -> int:
        """The next step's size: :meth:`target` alternately x0.75 and x1.25 (at least 1, at most ``cap``)."""
        if not self.amortize:
            return self.target(budget)
        self._flip = not self._flip
        n = self.target(budget) * (1.25 if self._flip else 0.75)
        return int(min(self.cap, max(1, round(n))))

    def observe(self, n: int, seconds: float) -> None:
        """Record a step that handled ``n`` events in ``seconds``; steps that handled nothing are ignored."""
        if n <= 0 or seconds <= 0:
            return
        f = self.forget
        self._s0 = f * self._s0 + 1.0
        self._s1 = f * self._s1 + n
        self._s2 = f * self._s2 + n * n
        self._sy = f * self._sy + seconds
        self._sny = f * self._sny + n * seconds
        det = self._s0 * self._s2 - self._s1 * self._s1
        if self.amortize and det > 1e-6 * self._s0 * self._s2:  # the sizes varied enough to separate the two parts
            b = (self._s0 * self._sny - self._s1 * self._sy) / det
            a = (self._sy - b * self._s1) / self._s0
            if b > 0 and a >= 0:
                self.a, self.b, self._fitted = a, max(b, 1e-7), True
                return
        if not self._fitted:  # until the two parts were told apart once: the plain rate
            self.a, self.b = 0.0, max(self._sy / self._s1, 1e-7)
