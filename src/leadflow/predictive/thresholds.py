"""Suggest MQL thresholds from history: for a sales capacity (MQLs per week) or a target precision.

The model's MQL criteria with an engagement test (``engagement_at_least``) are shifted together by one
amount ``delta`` (so ``B >= 60`` and ``C >= 80`` become ``B >= 60 + delta`` and ``C >= 80 + delta``); the
criteria without an engagement test (hand-raisers, event combinations) stay as they are. For every
``delta`` on a grid the first MQL of every lead is derived set-wise from one replay on the batch engine
(:func:`leadflow.predictive.backtest.evaluation_expr`): a lead's engagement "record highs" (events where
its engagement, less the criterion's threshold, beats every earlier one) are crossed with the grid, so
the replay runs once whatever the grid size.

The sweep is a suggestion: it does not send near-ties to the core's replay as
:func:`~leadflow.predictive.backtest.first_mql` does. Check the chosen threshold with a backtest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ibis
import pyarrow as pa

from leadflow.batch.source import Store
from leadflow.core.scoring.spec import ScoringModel
from leadflow.core.timeutil import DAY
from leadflow.predictive.backtest import (
    LABEL_SCHEMA,
    Stash,
    evaluation_expr,
    event_span,
    thresholds_of,
    week_expr,
)

__all__ = ["SweepRow", "ThresholdSuggestion", "shifted_model", "suggest_threshold", "sweep"]


@dataclass(frozen=True)
class SweepRow:
    delta: float
    thresholds: tuple[float | None, ...]  # each MQL criterion's engagement threshold after the shift
    mqls: int
    mqls_per_week: float
    peak_week: int
    mqls_converted: int
    precision: float | None
    converters: int
    caught: int
    recall: float | None


@dataclass(frozen=True)
class ThresholdSuggestion:
    goal: str
    chosen: SweepRow | None
    rows: list[SweepRow]
    note: str


def shifted_model(model: ScoringModel, delta: float) -> ScoringModel:
    """``model`` with every ``engagement_at_least`` of its MQL criteria moved by ``delta``."""
    data = model.model_dump(mode="python")
    for c in data["lifecycle"]["mql"]["any_of"]:
        if c.get("engagement_at_least") is not None:
            c["engagement_at_least"] = c["engagement_at_least"] + delta
    return ScoringModel.model_validate(data)


def _default_grid(model: ScoringModel) -> list[float]:
    xs = [x for x in thresholds_of(model) if x is not None]
    if not xs:
        return []
    lo = max(model.engagement.floor, 0.0) - min(xs)
    hi = model.engagement.ceiling - min(xs)
    n = int(hi - lo)
    return [lo + i for i in range(n + 1)]


def sweep(model: ScoringModel, store: Store, labels: pa.Table, *, grid: list[float] | None = None,
          start: float | None = None, end: float | None = None, horizon_days: float | None = None) -> list[SweepRow]:
    """Precision, recall and MQL volume for each shift ``delta`` of the engagement thresholds."""
    xs = thresholds_of(model)
    if all(x is None for x in xs):
        raise ValueError(f"model {model.ref}: no MQL criterion has an engagement threshold to tune")
    grid = sorted(set(grid if grid is not None else _default_grid(model)))
    if not grid:
        raise ValueError("the threshold grid is empty")
    lo, hi = event_span(store)
    start = lo if start is None else start
    end = hi if end is None else end
    if end <= start:
        raise ValueError("the period is empty: 'to' must come after 'from'")
    con = store.con
    with Stash(con) as stash:
        ev = stash.keep(evaluation_expr(model, store, stash))
        # s: how far the engagement is above the lowest threshold whose other tests hold at that event
        margins = [ibis.ifelse(ev[f"g{i}"], ev.engagement - x, ibis.null("float64"))
                   for i, x in enumerate(xs) if x is not None]
        s = margins[0] if len(margins) == 1 else ibis.greatest(*margins)
        ev = ev.mutate(_lf_s=s)
        upto = ibis.window(group_by=ev.lead_id, order_by=ev.pos, preceding=None, following=0)
        ev = ev.mutate(_lf_max=ev._lf_s.max().over(upto))
        ev = ev.mutate(_lf_prev=ev._lf_max.lag().over(group_by=ev.lead_id, order_by=ev.pos))
        records = ev.filter(ev._lf_s.notnull() & (ev._lf_prev.isnull() | (ev._lf_s > ev._lf_prev)))
        records = stash.keep(records.select("lead_id", "t", s=records._lf_s))
        cheap = ev.filter(ev.cheap).group_by("lead_id").aggregate(cheap_t=ibis._.t.min())
        gt = ibis.memtable(pa.table({"delta": pa.array(grid, pa.float64())}))
        hits = records.cross_join(gt)
        hits = hits.filter(hits.s >= hits.delta).group_by(["lead_id", "delta"]).aggregate(eng_t=ibis._.t.min())
        leads = store.leads.select(lead_id=store.leads.id)
        per = leads.cross_join(gt)
        per = per.left_join(hits, [per.lead_id == hits.lead_id, per.delta == hits.delta]).select(
            lead_id=per.lead_id, delta=per.delta, eng_t=hits.eng_t)
        per = per.left_join(cheap, per.lead_id == cheap.lead_id).select(
            "lead_id", "delta", mql_t=ibis.least(per.eng_t, cheap.cheap_t))  # least ignores NULLs in DuckDB
        lab = ibis.memtable(labels.cast(LABEL_SCHEMA)).group_by("lead_id").aggregate(conv_t=ibis._.conv_t.min())
        lab = lab.select(l_lead=lab.lead_id, conv_t=lab.conv_t)
        j = per.left_join(lab, per.lead_id == lab.l_lead)
        gap = j.conv_t - j.mql_t
        ok = (gap >= 0) if horizon_days is None else (gap >= 0) & (gap <= horizon_days * DAY)
        matched = (j.mql_t.notnull() & j.conv_t.notnull() & ok).fill_null(False)
        j = j.select(
            delta=j.delta, mql_t=j.mql_t,
            is_mql=(j.mql_t.notnull() & (j.conv_t.isnull() | (j.conv_t >= j.mql_t))
                    & (j.mql_t >= start) & (j.mql_t < end)).fill_null(False),
            is_conv=(j.conv_t.notnull() & (j.conv_t >= start) & (j.conv_t < end)).fill_null(False),
            caught=matched)
        agg = j.group_by("delta").aggregate(
            mqls=j.is_mql.cast("int64").sum(),
            mqls_converted=(j.is_mql & j.caught).cast("int64").sum(),
            converters=j.is_conv.cast("int64").sum(),
            caught=(j.is_conv & j.caught).cast("int64").sum(),
        )
        mq = j.filter(j.is_mql)
        mq = mq.mutate(week=week_expr(mq.mql_t))
        wk = mq.group_by(["delta", "week"]).aggregate(n=ibis._.count())
        peak = wk.group_by("delta").aggregate(peak=wk.n.max())
        out = agg.left_join(peak, agg.delta == peak.delta).select(agg, peak=peak.peak.fill_null(0)).order_by("delta")
        rows = con.to_pyarrow(out).to_pylist()
    weeks = max((end - start) / (7 * DAY), 1e-9)
    result = []
    for r in rows:
        mqls, conv = int(r["mqls"] or 0), int(r["converters"] or 0)
        result.append(SweepRow(
            delta=r["delta"], thresholds=tuple(None if x is None else x + r["delta"] for x in xs),
            mqls=mqls, mqls_per_week=mqls / weeks, peak_week=int(r["peak"]),
            mqls_converted=int(r["mqls_converted"] or 0),
            precision=(int(r["mqls_converted"] or 0) / mqls) if mqls else None,
            converters=conv, caught=int(r["caught"] or 0),
            recall=(int(r["caught"] or 0) / conv) if conv else None))
    return result


def suggest_threshold(model: ScoringModel, store: Store, labels: pa.Table, *, capacity: float | None = None,
                      precision: float | None = None, **kwargs: Any) -> ThresholdSuggestion:
    """The lowest thresholds (most recall) that keep within ``capacity`` MQLs a week on average, or that
    reach ``precision``. Exactly one of the two goals must be given."""
    if (capacity is None) == (precision is None):
        raise ValueError("give exactly one goal: capacity (MQLs per week) or precision (0-1)")
    if capacity is not None and capacity <= 0:
        raise ValueError("capacity must be a positive number of MQLs per week")
    if precision is not None and not 0 < precision <= 1:
        raise ValueError("precision must be in (0, 1]")
    rows = sweep(model, store, labels, **kwargs)
    if capacity is not None:
        goal = f"at most {capacity:g} MQLs per week on average"
        fits = [r for r in rows if r.mqls_per_week <= capacity]
    else:
        goal = f"precision of at least {precision:.0%}"
        fits = [r for r in rows if r.precision is not None and r.precision >= precision]
    chosen = min(fits, key=lambda r: r.delta) if fits else None
    if chosen is None:
        note = "no threshold on the grid meets the goal (criteria without an engagement test still fire)"
    else:
        note = "lowest thresholds meeting the goal; check them with `leadflow backtest run`"
    return ThresholdSuggestion(goal, chosen, rows, note)
