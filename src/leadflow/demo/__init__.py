"""Demo data: a seeded, deterministic generator of a realistic B2B funnel (see :mod:`.generator`)."""

from leadflow.demo.generator import (
    DemoConfig,
    DemoData,
    generate,
    iter_accounts,
    iter_events,
    iter_leads,
    iter_outcomes,
)

__all__ = [
    "DemoConfig",
    "DemoData",
    "generate",
    "iter_accounts",
    "iter_events",
    "iter_leads",
    "iter_outcomes",
]
