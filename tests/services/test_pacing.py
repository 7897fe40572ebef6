"""The deferred-scoring step sizer: it learns a step's fixed cost and its cost per event from the steps it sees
and sizes the next step to the budget, never letting the fixed cost be more than half of a step."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadflow.services.pacing import StepSizer


def _run(sizer: StepSizer, a: float, b: float, budget: float, steps: int = 40, backlog: int | None = None) -> list[int]:
    """Drive the sizer with steps costing exactly ``a + b * n``; ``backlog`` caps what a step finds queued."""
    sizes = []
    for _ in range(steps):
        n = sizer.size(budget)
        done = n if backlog is None else min(n, backlog)
        sizer.observe(done, a + b * done)
        sizes.append(n)
    return sizes


def test_before_any_step_the_default_rate_fills_the_budget() -> None:
    assert StepSizer().target(0.015) == 30  # 2,000 events/s assumed: 30 events in 15 ms


def test_learns_fixed_and_per_event_cost() -> None:
    s = StepSizer()
    _run(s, a=0.004, b=0.0002, budget=0.015)
    assert s.a == pytest.approx(0.004, rel=1e-6)
    assert s.b == pytest.approx(0.0002, rel=1e-6)
    assert s.target(0.015) == 55  # (15 - 4) ms / 0.2 ms
    assert s.target(0.05) == 230


def test_fixed_cost_above_the_budget_grows_the_step_instead_of_shrinking_it() -> None:
    # the PostgreSQL case: ~100 ms of round trips per step, 0.4 ms per event; a 15 ms budget cannot be met
    s = StepSizer()
    sizes = _run(s, a=0.1, b=0.0004, budget=0.015)
    assert s.target(0.015) == 250  # fixed part = half of the step
    assert min(sizes[-10:]) >= 180 and max(sizes[-10:]) <= 320  # the x0.75 / x1.25 alternation
    # the old rule (the rate of the last steps times the budget) would have stayed at its floor of 10
    rate = 10 / (0.1 + 0.0004 * 10)
    assert int(rate * 0.015) < 10


def test_cap_and_floor() -> None:
    s = StepSizer(floor=10, cap=100)
    _run(s, a=0.0, b=0.00001, budget=0.05)  # 5,000 events would fit
    assert s.target(0.05) == 100 and max(_run(s, 0.0, 0.00001, 0.05, 6)) <= 100
    slow = StepSizer(floor=10, cap=100)
    _run(slow, a=0.0, b=0.01, budget=0.015)  # 1.5 events would fit
    assert slow.target(0.015) == 10


def test_steps_that_found_nothing_are_ignored() -> None:
    s = StepSizer()
    _run(s, a=0.004, b=0.0002, budget=0.015)
    before = (s.a, s.b)
    for _ in range(20):
        s.size(0.015)
        s.observe(0, 0.003)
    assert (s.a, s.b) == before


def test_a_small_backlog_still_gives_a_sensible_estimate() -> None:
    # every step finds only 7 events queued: no spread, the plain rate is used (a = 0), never a division error
    s = StepSizer()
    _run(s, a=0.002, b=0.0003, budget=0.015, backlog=7)
    assert s.a == 0.0 and s.b == pytest.approx((0.002 + 0.0003 * 7) / 7)
    assert 10 <= s.target(0.015) <= 1000


@settings(max_examples=200, deadline=None)
@given(a=st.floats(0.0, 0.5), b=st.floats(1e-6, 1e-2), budget=st.sampled_from([0.01, 0.015, 0.05]),
       noise=st.lists(st.floats(0.8, 1.25), min_size=30, max_size=30))
def test_sizes_stay_in_bounds_and_the_fixed_part_at_most_half(a: float, b: float, budget: float,
                                                              noise: list[float]) -> None:
    s = StepSizer(floor=10, cap=1000)
    for k in noise:
        n = s.size(budget)
        assert 1 <= n <= 1000
        s.observe(n, (a + b * n) * k)
    assert s.a >= 0 and s.b > 0
    t = s.target(budget)
    assert 10 <= t <= 1000
    # on the estimate: the chosen step spends at most half of its time on the fixed part unless capped
    if t < 1000:
        assert s.a <= 0.5 * (s.a + s.b * t) + s.b * 1e-6


@given(a=st.floats(0.0, 0.5), b=st.floats(1e-5, 1e-2))
def test_noise_free_costs_are_recovered(a: float, b: float) -> None:
    s = StepSizer(floor=10, cap=100000)
    _run(s, a=a, b=b, budget=0.015, steps=30)
    assert s.b == pytest.approx(b, rel=1e-4)
    assert s.a == pytest.approx(a, rel=1e-4, abs=1e-7)


def test_without_amortizing_the_plain_rate_fills_the_budget() -> None:
    # the SQLite scorer process: a step's time includes waiting for the write lock, which must not grow the step
    s = StepSizer(amortize=False)
    sizes = _run(s, a=0.1, b=0.0004, budget=0.015)
    assert s.a == 0.0
    assert s.b == pytest.approx((0.1 + 0.0004 * 10) / 10, rel=0.02)
    assert s.target(0.015) == 10 and set(sizes[1:]) == {10}
