"""The marketing-to-sales handoff as pure domain code (issue 4).

* :mod:`.team` - reps, roles, territories, segments, working hours, out-of-office periods;
* :mod:`.routing` - named accounts, territories, the weighted rotation (stride scheduling), explanations;
* :mod:`.sla` - business-hours clocks (time zones, DST, weekends, holidays) and SLA policies;
* :mod:`.bant` - the BANT record, criterion states and the configurable SQL rule;
* :mod:`.workflow` - lead-status moves, rejection reason codes and dispositions, touches;
* :mod:`.metrics` - speed-to-lead percentiles / bands, distribution against weights.
"""
