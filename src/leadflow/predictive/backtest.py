"""Backtest a scoring model against history: when would each lead first have become an MQL under it,
and how do those MQLs line up with the leads that really converted?

The replay is set-wise, on the batch engine (Ibis expressions on DuckDB, :mod:`leadflow.batch`); the
per-lead fold of the core (:func:`leadflow.core.qualify.replay`) is its reference and its fallback.

**What is replayed.** The lead's events alone, in the core's order (time, then event id), from a fresh
qualifier: the first MQL is the first event at which one of the model's ``lifecycle.mql`` criteria holds,
with the engagement of every event up to and including that one (window, cap, decay and clamp exactly as
:mod:`leadflow.core.scoring.engine`), the count of event types seen so far and the lead's fit (its current
attributes, as the core's replay uses them). Human stage moves and outcomes are the *labels*, not inputs:
a candidate model is judged on the signals it reads, not on the sales process the active model drove.

**How, set-wise.** Between events engagement only decays, so a threshold is first crossed at an event; the
engagement at each event ``k`` of a lead is computed for all events at once:

* rules without window or cap: for each distinct half-life ``h``, a running sum (a window function over the
  lead's events in order) of ``points * 2 ** ((t_j - ref) / h)``, scaled by ``2 ** (-(t_k - ref) / h)``,
  where ``ref`` is the lead's first event (so the exponents stay bounded by the lead's span over ``h``);
* rules with a window or a cap: each match gets its rank ``m`` among the rule's matches of the lead, each
  event ``k`` the number ``c_k`` of matches at or before it (a running count); the counted matches are those
  with ``c_k - cap < m <= c_k`` and ``t_k - t_j < window`` (the core's own test), joined and summed with
  the core's decay ``points * 2 ** (-(t_k - t_j) / h)``.

**Exactness.** Sums in a different order differ in the last bits, so a score within ``TOLERANCE`` of an
engagement threshold (at or before the batch first MQL, where the criterion's other tests hold) makes
that lead *ambiguous*; leads whose span over the shortest half-life would overflow the exponent are
*wide*. Both are replayed with the core (``via = "core"`` in the result), so the first-MQL times equal the
core's replay exactly (property-tested). On the demo no lead needs it; it is there for exact ties, such
as whole points summing to exactly the threshold.

Known differences from the core's fit, inherited from :mod:`leadflow.batch.expressions` (regex engine,
``lower`` vs ``casefold``, decimal sums of non-binary fractions) apply to fit tests too.
"""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from leadflow.batch import expressions as bx
from leadflow.batch.source import Store
from leadflow.core.lifecycle import Stage
from leadflow.core.qualify import replay
from leadflow.core.scoring.engine import ScoredEvent, score_fit
from leadflow.core.scoring.spec import ACCOUNT_FIELDS, GRADES, ScoringModel
from leadflow.core.timeutil import DAY

__all__ = [
    "FIRST_MQL_SCHEMA",
    "LABEL_SCHEMA",
    "TOLERANCE",
    "BacktestResult",
    "backtest",
    "compare",
    "core_first_mql",
    "engagement_points_expr",
    "first_mql",
    "first_mql_expr",
    "matched_expr",
    "metrics",
    "ordered_events",
]

#: Scores closer than this to an engagement threshold are settled by the core's replay.
TOLERANCE = 1e-6
#: Largest exponent (lead span over the shortest half-life) the running sums are allowed.
MAX_EXPONENT = 900.0

FIRST_MQL_SCHEMA = pa.schema(
    [
        pa.field("lead_id", pa.string(), nullable=False),
        pa.field("mql_t", pa.float64()),
        pa.field("event_id", pa.string()),
        pa.field("criterion", pa.int64()),
        pa.field("via", pa.string(), nullable=False),
    ]
)
#: Labels: the time (epoch seconds) each converted lead converted.
LABEL_SCHEMA = pa.schema([pa.field("lead_id", pa.string(), nullable=False), pa.field("conv_t", pa.float64())])


# ------------------------------------------------------------------------------------- matches


class Stash:
    """Temporary DuckDB tables for the steps of one replay (each step computed once), dropped on exit."""

    def __init__(self, con: Any) -> None:
        self.con = con
        self.names: list[str] = []
        con.con.execute("SET enable_progress_bar = false")

    def keep(self, table: ir.Table) -> ir.Table:
        name = f"lf_bt_{next(_stash_seq)}"
        out = self.con.create_table(name, table, temp=True)
        self.names.append(name)
        return out

    def __enter__(self) -> Stash:
        return self

    def __exit__(self, *exc: object) -> None:
        while self.names:
            self.con.drop_table(self.names.pop(), force=True)


_stash_seq = itertools.count(1)


def ordered_events(events: ir.Table) -> ir.Table:
    """``(lead_id, id, type, t, properties, pos)``: ``pos`` is the core's order (t, id), from 0."""
    ev = events.select("id", "lead_id", "type", "t", "properties")
    ev = ev.filter(ev.lead_id.notnull())
    pos = ibis.row_number().over(group_by=ev.lead_id, order_by=[ev.t, ev.id])
    return ev.mutate(pos=pos)


def matched_expr(model: ScoringModel, ordered: ir.Table) -> ir.Table:
    """``(lead_id, rule_idx, id, t, pos)``: every (event, engagement rule) pair where the rule matches.

    Same pairing and property tests as the rescore (:func:`leadflow.batch.expressions.matched_pairs`),
    without a time cut.
    """
    return bx.matched_pairs(model.engagement.rules, ordered, ["lead_id", "rule_idx", "id", "t", "pos"])


# ---------------------------------------------------------------------------------- engagement


def _half_lives(model: ScoringModel) -> list[float | None]:
    out: list[float | None] = []
    for r in model.engagement.rules:
        if not r.buffered and r.half_life_days not in out:
            out.append(r.half_life_days)
    return out


def _spans(model: ScoringModel, ordered: ir.Table) -> ir.Table:
    """Per event: the lead's first event time ``_lf_ref`` and whether the lead is *wide*."""
    win = ibis.window(group_by=ordered.lead_id)
    base = ordered.select("lead_id", "id", "type", "t", "pos", _lf_ref=ordered.t.min().over(win),
                          _lf_last=ordered.t.max().over(win))
    decaying = [h for h in _half_lives(model) if h is not None]
    wide = ((base._lf_last - base._lf_ref) / (min(decaying) * DAY)) > MAX_EXPONENT if decaying else ibis.literal(False)
    return base.mutate(wide=wide)


def engagement_points_expr(model: ScoringModel, ordered: ir.Table, matched: ir.Table, points: ir.Table | None,
                           stash: Stash) -> ir.Table:
    """``(lead_id, id, raw)``: the raw engagement right after each event is applied (before clamping).

    ``ordered`` and ``matched`` come from :func:`ordered_events` and :func:`matched_expr`; ``points``
    (``lead_id, id``) limits the output to those events (``None``: all events). The ``stash`` materialises
    the intermediate tables in DuckDB: each step runs once, and window functions are computed before the
    joins that follow them (Ibis may otherwise merge a projection with window functions into a later join,
    which changes the rows the window sees).
    """
    keep = stash.keep
    rules = model.engagement.rules
    m = matched
    base = _spans(model, ordered)

    # -- rules without window or cap: running decayed sums, one per distinct half-life
    plain = [i for i, r in enumerate(rules) if not r.buffered]
    halves = _half_lives(model)
    raw: ir.FloatingValue = ibis.literal(0.0, "float64")
    if plain:
        pm = m.filter(m.rule_idx.isin(plain))
        cols = {}
        for g, h in enumerate(halves):
            members = [i for i in plain if rules[i].half_life_days == h]
            pts = ibis.cases(*((pm.rule_idx == i, float(rules[i].points)) for i in members), else_=0.0)
            cols[f"_lf_pp{g}"] = pts.cast("float64")
        pm = pm.mutate(**cols)
        per_event = pm.group_by(["lead_id", "id"]).aggregate(**{c: pm[c].sum() for c in cols})
        j = base.left_join(per_event, [base.lead_id == per_event.lead_id, base.id == per_event.id])
        base = j.select(*[j[c] for c in ("lead_id", "id", "t", "pos", "_lf_ref")],
                        **{c: j[c].fill_null(0.0) for c in cols})
        run = ibis.window(group_by=base.lead_id, order_by=base.pos, preceding=None, following=0)
        sums = {}
        for g, h in enumerate(halves):
            c = base[f"_lf_pp{g}"]
            if h is None:
                sums[f"_lf_s{g}"] = c.sum().over(run)
            else:
                grow = ibis.literal(2.0, "float64") ** ((base.t - base._lf_ref) / (h * DAY))
                sums[f"_lf_s{g}"] = (c * grow).sum().over(run)
        base = base.mutate(**sums)
        for g, h in enumerate(halves):
            s = base[f"_lf_s{g}"]
            if h is None:
                raw = raw + s
            else:
                raw = raw + s * ibis.literal(2.0, "float64") ** (-(base.t - base._lf_ref) / (h * DAY))
    base = base.select("lead_id", "id", "t", "pos", _lf_plain=raw)
    if points is not None:
        # materialised first: Ibis may otherwise evaluate the running sums after the filtering join
        base = keep(base)
        p = points.select(p_lead=points.lead_id, p_id=points.id)
        base = base.join(p, [base.lead_id == p.p_lead, base.id == p.p_id]).select("lead_id", "id", "t", "pos",
                                                                                    "_lf_plain")

    # -- rules with a window or a cap: the counted matches, joined and summed
    buffered = [i for i, r in enumerate(rules) if r.buffered]
    if not buffered:
        return base.select("lead_id", "id", raw=base._lf_plain)
    bm = m.filter(m.rule_idx.isin(buffered))
    bm = keep(bm.mutate(m_idx=ibis.row_number().over(group_by=[bm.lead_id, bm.rule_idx], order_by=bm.pos) + 1))
    # c_k: matches of the rule at or before each event of the lead, as running counts (one column per rule,
    # all over the same window), then one row per (evaluated event, rule) with c_k > 0
    flags = bm.group_by(["lead_id", "id"]).aggregate(
        **{f"_lf_b{i}": (bm.rule_idx == i).cast("int64").max() for i in buffered})
    allev = ordered.select("lead_id", "id", "t", "pos")
    fj = allev.left_join(flags, [allev.lead_id == flags.lead_id, allev.id == flags.id])
    run = ibis.window(group_by=fj.lead_id, order_by=fj.pos, preceding=None, following=0)
    counts = keep(fj.select(k_lead=fj.lead_id, k_id=fj.id, k_t=fj.t,
                            **{f"_lf_c{i}": fj[f"_lf_b{i}"].fill_null(0).sum().over(run) for i in buffered}))
    # (materialised before the filtering join: Ibis may otherwise compute the running counts after it)
    if points is not None:
        p = points.select(p_lead=points.lead_id, p_id=points.id)
        counts = counts.join(p, [counts.k_lead == p.p_lead, counts.k_id == p.p_id]).drop("p_lead", "p_id")
    # unpivot: one row per (event, buffered rule), the rule's running count picked by a CASE
    idx = ibis.memtable(pa.table({"rule_idx": pa.array(buffered, pa.int16())}))
    u = counts.cross_join(idx)
    u = u.select(lead_id=u.k_lead, rule_idx=u.rule_idx, k_id=u.k_id, k_t=u.k_t,
                 c_k=ibis.cases(*((u.rule_idx == i, u[f"_lf_c{i}"]) for i in buffered), else_=0))
    u = u.filter(u.c_k > 0)
    rt = bx.rules_table(rules)
    u = u.join(rt, u.rule_idx == rt.rule_idx).select(
        "lead_id", "rule_idx", "k_id", "k_t", "c_k", "rule_points", "half_life_s", "window_s", "cap")
    mm = bm.select(j_lead=bm.lead_id, j_rule=bm.rule_idx, j_t=bm.t, m_idx=bm.m_idx)
    # capped rules: the K candidate ranks c_k, c_k - 1, ... are generated and joined on equality;
    # rules with a window and no cap: every earlier match, cut by the window test below
    caps = [rules[i].cap for i in buffered if rules[i].cap is not None]
    joined = []
    if caps:
        offs = ibis.memtable(pa.table({"off": pa.array(range(max(caps)), pa.int64())}))
        uc = u.filter(u.cap.notnull())
        uc = uc.cross_join(offs)
        uc = uc.filter((uc.off < uc.cap) & (uc.c_k - uc.off >= 1))
        uc = uc.mutate(want=uc.c_k - uc.off)
        pc = uc.join(mm, [uc.lead_id == mm.j_lead, uc.rule_idx == mm.j_rule, uc.want == mm.m_idx])
        joined.append(pc.select("lead_id", "k_id", "k_t", "rule_points", "half_life_s", "window_s", "j_t"))
    if len(caps) < len(buffered):
        uw = u.filter(u.cap.isnull())
        pw = uw.join(mm, [uw.lead_id == mm.j_lead, uw.rule_idx == mm.j_rule, mm.m_idx <= uw.c_k])
        joined.append(pw.select("lead_id", "k_id", "k_t", "rule_points", "half_life_s", "window_s", "j_t"))
    pj = joined[0] if len(joined) == 1 else joined[0].union(joined[1])
    pj = pj.filter(pj.window_s.isnull() | ((pj.k_t - pj.j_t) < pj.window_s))
    decay = ibis.literal(2.0, "float64") ** (-(pj.k_t - pj.j_t) / pj.half_life_s)
    value = ibis.ifelse(pj.half_life_s.isnull(), pj.rule_points, pj.rule_points * decay)
    pj = pj.select(lead_id=pj.lead_id, k_id=pj.k_id, value=value)
    per_k = pj.group_by(["lead_id", "k_id"]).aggregate(_lf_buf=pj.value.sum())
    j = base.left_join(per_k, [base.lead_id == per_k.lead_id, base.id == per_k.k_id])
    return j.select(lead_id=j.lead_id, id=j.id, raw=j._lf_plain + j._lf_buf.fill_null(0.0))


# ------------------------------------------------------------------------------------ criteria


def _needed_types(model: ScoringModel) -> list[str]:
    out: list[str] = []
    for c in model.lifecycle.mql.any_of:
        for name in c.has_events_all or ():
            if name not in out:
                out.append(name)
    return out


def thresholds_of(model: ScoringModel) -> list[float | None]:
    """Each MQL criterion's engagement threshold (None: the criterion has no engagement test)."""
    return [None if c.engagement_at_least is None else float(c.engagement_at_least)
            for c in model.lifecycle.mql.any_of]


def gates_expr(model: ScoringModel, ordered: ir.Table, fit: ir.Table) -> ir.Table:
    """Per event: ``lead_id, id, type, t, pos, fit, grade, wide``, ``g<i>`` (criterion ``i``'s tests other
    than engagement hold there), ``cheap`` (a criterion without an engagement test holds) and ``need``
    (a criterion with an engagement test could hold: the engagement is needed there)."""
    base = _spans(model, ordered)
    j = base.join(fit, base.lead_id == fit.lead_id)
    ev = j.select("lead_id", "id", "type", "t", "pos", "wide", fit=j.fit, grade=j.grade)
    types = _needed_types(model)
    if types:
        run = ibis.window(group_by=ev.lead_id, order_by=ev.pos, preceding=None, following=0)
        ev = ev.mutate(**{f"_lf_n{i}": (ev.type == name).cast("int64").sum().over(run)
                          for i, name in enumerate(types)})
    gates = {}
    for i, c in enumerate(model.lifecycle.mql.any_of):
        gate: ir.BooleanValue = ibis.literal(True)
        if c.fit_grade_at_least is not None:
            gate = gate & ev.grade.isin(list(GRADES[: GRADES.index(c.fit_grade_at_least) + 1]))
        if c.fit_at_least is not None:
            gate = gate & (ev.fit >= float(c.fit_at_least))
        if c.event_in is not None:
            gate = gate & ev.type.isin(list(c.event_in))
        for name in c.has_events_all or ():
            gate = gate & (ev[f"_lf_n{types.index(name)}"] > 0)
        gates[f"g{i}"] = gate.fill_null(False)
    xs = thresholds_of(model)
    cheap = [gates[f"g{i}"] for i, x in enumerate(xs) if x is None]
    need = [gates[f"g{i}"] for i, x in enumerate(xs) if x is not None]
    return ev.select("lead_id", "id", "type", "t", "pos", "fit", "grade", "wide", **gates,
                     cheap=ibis.or_(*cheap) if cheap else ibis.literal(False),
                     need=ibis.or_(*need) if need else ibis.literal(False))


def evaluation_expr(model: ScoringModel, store: Store, stash: Stash, *, prune: bool = True) -> ir.Table:
    """Every event of every lead with what the MQL criteria read there and whether they hold.

    Columns: those of :func:`gates_expr`, ``raw`` and ``engagement`` (NULL where no engagement test can
    hold, or - with ``prune`` - after the lead's first MQL by a criterion without engagement test), ``hit``
    (the first criterion that holds, NULL if none) and ``ambiguous`` (an engagement test within
    :data:`TOLERANCE` of its threshold where the criterion's other tests hold).
    """
    keep = stash.keep
    ordered = keep(ordered_events(store.events))
    matched = keep(matched_expr(model, ordered))
    fit = keep(bx.fit_expr(model, store.leads, store.accounts))
    g = keep(gates_expr(model, ordered, fit))
    pts = g.filter(g.need)
    if prune:
        cf = g.filter(g.cheap).group_by("lead_id").aggregate(_lf_cf=ibis._.pos.min())
        cf = cf.select(c_lead=cf.lead_id, _lf_cf=cf._lf_cf)
        pj = pts.left_join(cf, pts.lead_id == cf.c_lead)
        pts = pj.filter(pj._lf_cf.isnull() | (pj.pos <= pj._lf_cf))
    pts = pts.select("lead_id", "id")
    eng = keep(engagement_points_expr(model, ordered, matched, pts, stash))
    eng = eng.select(e_lead=eng.lead_id, e_id=eng.id, raw=eng.raw)
    j = g.left_join(eng, [g.lead_id == eng.e_lead, g.id == eng.e_id])
    ev = j.drop("e_lead", "e_id")
    ev = ev.mutate(engagement=bx.clamp_expr(model, ev.raw))
    xs = thresholds_of(model)
    holds = [ev[f"g{i}"] & (ev.engagement >= x).fill_null(False) if x is not None else ev[f"g{i}"]
             for i, x in enumerate(xs)]
    hit = ibis.cases(*((h, i) for i, h in enumerate(holds)), else_=ibis.null("int64"))
    near = [ev[f"g{i}"] & ((ev.raw - x).abs() <= TOLERANCE).fill_null(False) for i, x in enumerate(xs) if x is not None]
    ambiguous = ibis.or_(*near) if near else ibis.literal(False)
    return ev.mutate(hit=hit.cast("int64"), ambiguous=ambiguous)


def first_mql_expr(model: ScoringModel, store: Store, stash: Stash) -> ir.Table:
    """``(lead_id, mql_t, event_id, criterion, needs_core)`` for every lead (NULLs: never an MQL)."""
    keep = stash.keep
    ev = keep(evaluation_expr(model, store, stash))
    firsts = ev.filter(ev.hit.notnull())
    firsts = firsts.mutate(_lf_rank=ibis.row_number().over(group_by=firsts.lead_id, order_by=firsts.pos))
    firsts = keep(firsts.filter(firsts._lf_rank == 0).select(
        f_lead=firsts.lead_id, mql_t=firsts.t, event_id=firsts.id, criterion=firsts.hit, f_pos=firsts.pos))
    j = ev.left_join(firsts, ev.lead_id == firsts.f_lead)
    relevant = j.ambiguous & (j.f_pos.isnull() | (j.pos <= j.f_pos))
    flags = j.group_by(j.lead_id).aggregate(
        _lf_amb=relevant.cast("int64").max(), _lf_wide=j.wide.cast("int64").max())
    leads = store.leads.select(lid=store.leads.id)
    out = leads.left_join(firsts, leads.lid == firsts.f_lead)
    out = out.select(lead_id=out.lid, mql_t=out.mql_t, event_id=out.event_id, criterion=out.criterion)
    out = out.left_join(flags, out.lead_id == flags.lead_id)
    needs = (out._lf_amb.fill_null(0) + out._lf_wide.fill_null(0)) > 0
    return out.select(lead_id=out.lead_id, mql_t=out.mql_t, event_id=out.event_id,
                      criterion=out.criterion.cast("int64"), needs_core=needs)


# ------------------------------------------------------------------------------------ the core


def _obj(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, str):
        value = json.loads(value)
    return value if isinstance(value, dict) else {}


def core_first_mql(model: ScoringModel, leads: Iterable[Mapping[str, Any]],
                   accounts: Iterable[Mapping[str, Any]], events: Iterable[Mapping[str, Any]]
                   ) -> dict[str, tuple[float, str, int] | None]:
    """The reference: each lead's first MQL ``(t, event id, criterion index)`` by the core's replay.

    Rows are the normalised tables' (``properties`` as dicts or JSON text). Used as the fallback for
    ambiguous leads and by the tests and the benchmark.
    """
    acc = {a["id"]: {**{f: a.get(f) for f in ACCOUNT_FIELDS}, "properties": _obj(a.get("properties"))}
           for a in accounts}
    by_lead: dict[str, list[ScoredEvent]] = defaultdict(list)
    for e in events:
        if e.get("lead_id") is not None:
            by_lead[e["lead_id"]].append(ScoredEvent(float(e["t"]), e["id"], e["type"], _obj(e.get("properties"))))
    out: dict[str, tuple[float, str, int] | None] = {}
    for lead in leads:
        fields = {k: v for k, v in lead.items() if k not in ("id", "account_id")}
        fields["properties"] = _obj(lead.get("properties"))
        fit = score_fit(model, fields, acc.get(lead.get("account_id")))
        _, transitions = replay(model, fit, by_lead.get(lead["id"], ()))
        first = next((tr for tr in transitions if tr.to_stage == Stage.MQL), None)
        if first is None:
            out[lead["id"]] = None
        else:
            out[lead["id"]] = (first.at, first.cause_id or "", int(first.rule.rsplit("[", 1)[1].rstrip("]")))
    return out


def _rows(store: Store, table: ir.Table) -> list[dict[str, Any]]:
    return store.con.to_pyarrow(table).to_pylist()


def first_mql(model: ScoringModel, store: Store, *, fallback: bool = True) -> pa.Table:
    """Each lead's first MQL under ``model`` (:data:`FIRST_MQL_SCHEMA`), sorted by lead id.

    ``via`` says who settled it: ``batch`` or ``core`` (ambiguous or wide leads, see the module doc).
    ``fallback=False`` keeps the batch answer everywhere (``via`` is then ``batch`` or ``unsure``).
    """
    with Stash(store.con) as stash:
        result = store.con.to_pyarrow(first_mql_expr(model, store, stash).order_by("lead_id"))
    needs = result.column("needs_core").to_pylist()
    redo = [lid for lid, n in zip(result.column("lead_id").to_pylist(), needs, strict=True) if n]
    core: dict[str, tuple[float, str, int] | None] = {}
    if redo and fallback:
        leads = store.leads.filter(store.leads.id.isin(redo))
        lead_rows = _rows(store, leads)
        account_ids = [r["account_id"] for r in lead_rows if r.get("account_id")]
        accounts = _rows(store, store.accounts.filter(store.accounts.id.isin(account_ids))) if account_ids else []
        events = _rows(store, store.events.filter(store.events.lead_id.isin(redo)))
        core = core_first_mql(model, lead_rows, accounts, events)
    cols: dict[str, list[Any]] = {"lead_id": [], "mql_t": [], "event_id": [], "criterion": [], "via": []}
    for row, n in zip(result.to_pylist(), needs, strict=True):
        lid = row["lead_id"]
        if n and fallback:
            got = core.get(lid)
            t, eid, crit = got if got is not None else (None, None, None)
            via = "core"
        else:
            t, eid, crit = row["mql_t"], row["event_id"], row["criterion"]
            via = "unsure" if n else "batch"
        cols["lead_id"].append(lid)
        cols["mql_t"].append(t)
        cols["event_id"].append(eid)
        cols["criterion"].append(crit)
        cols["via"].append(via)
    return pa.table(cols, schema=FIRST_MQL_SCHEMA)


# ------------------------------------------------------------------------------------- metrics


@dataclass
class BacktestResult:
    """Per-week and total figures of one model over ``[start, end)`` (epoch seconds)."""

    model_ref: str
    start: float
    end: float
    horizon_days: float | None
    weeks: list[dict[str, Any]]
    totals: dict[str, Any]
    leads: pa.Table = field(repr=False)  # per lead: mql_t, conv_t, caught, lead_days, via

    def as_dict(self) -> dict[str, Any]:
        return {"model": self.model_ref, "start": _iso(self.start), "end": _iso(self.end),
                "horizon_days": self.horizon_days, "weeks": self.weeks, "totals": self.totals}


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


def week_expr(t: ir.FloatingValue) -> ir.DateValue:
    ts = ibis.literal(datetime(1970, 1, 1), "timestamp") + (t * 1_000_000).cast("int64").as_interval("us")
    return ts.truncate("W").date()


def metrics(con: Any, firsts: pa.Table, labels: pa.Table, *, start: float, end: float,
            horizon_days: float | None = None, model_ref: str = "") -> BacktestResult:
    """Weekly MQLs, precision, recall and lead time from first MQLs and conversion labels.

    * An MQL counts in the week of ``mql_t`` (within ``[start, end)``), unless the lead had already
      converted by then; it is *converted* if the lead converts at or after it (within ``horizon_days``).
    * A converter counts in the week of its conversion (within ``[start, end)``); it is *caught* if its
      first MQL came at or before the conversion (within ``horizon_days``); the lead time is the gap in days.
    """
    horizon = None if horizon_days is None else horizon_days * DAY
    f = ibis.memtable(firsts.select(["lead_id", "mql_t", "via"]))
    lab = ibis.memtable(labels.cast(LABEL_SCHEMA)).group_by("lead_id").aggregate(conv_t=ibis._.conv_t.min())
    lab = lab.select(l_lead=lab.lead_id, conv_t=lab.conv_t)
    j = f.left_join(lab, f.lead_id == lab.l_lead)
    gap = j.conv_t - j.mql_t
    ok_gap = gap >= 0 if horizon is None else (gap >= 0) & (gap <= horizon)
    matched = j.mql_t.notnull() & j.conv_t.notnull() & ok_gap
    per = j.select(
        lead_id=j.lead_id, mql_t=j.mql_t, conv_t=j.conv_t, via=j.via,
        is_mql=(j.mql_t.notnull() & (j.conv_t.isnull() | (j.conv_t >= j.mql_t))
                & (j.mql_t >= start) & (j.mql_t < end)),
        is_conv=j.conv_t.notnull() & (j.conv_t >= start) & (j.conv_t < end),
        caught=matched.fill_null(False),
        lead_days=ibis.ifelse(matched.fill_null(False), gap / DAY, ibis.null("float64")),
    )
    mq = per.filter(per.is_mql)
    mq = mq.mutate(week=week_expr(mq.mql_t))
    wm = mq.group_by("week").aggregate(mqls=mq.count(), mqls_converted=mq.caught.cast("int64").sum())
    cv = per.filter(per.is_conv)
    cv = cv.mutate(week=week_expr(cv.conv_t))
    wc = cv.group_by("week").aggregate(converters=cv.count(), caught=cv.caught.cast("int64").sum(),
                                       median_lead_days=cv.lead_days.median())
    weeks_t = wm.outer_join(wc, wm.week == wc.week)
    weeks_t = weeks_t.select(week=ibis.coalesce(weeks_t.week, weeks_t.week_right),
                             mqls=weeks_t.mqls.fill_null(0), mqls_converted=weeks_t.mqls_converted.fill_null(0),
                             converters=weeks_t.converters.fill_null(0), caught=weeks_t.caught.fill_null(0),
                             median_lead_days=weeks_t.median_lead_days).order_by("week")
    tot_m = mq.aggregate(mqls=mq.count(), mqls_converted=mq.caught.cast("int64").sum())
    tot_c = cv.aggregate(converters=cv.count(), caught=cv.caught.cast("int64").sum(),
                         median_lead_days=cv.lead_days.median())
    weeks = con.to_pyarrow(weeks_t).to_pylist()
    tm = con.to_pyarrow(tot_m).to_pylist()[0]
    tc = con.to_pyarrow(tot_c).to_pylist()[0]
    for w in weeks:
        w["week"] = w["week"].isoformat()
        _ratios(w)
    n_weeks = max((end - start) / (7 * DAY), 1e-9)
    totals = {"mqls": int(tm["mqls"] or 0), "mqls_converted": int(tm["mqls_converted"] or 0),
              "converters": int(tc["converters"] or 0), "caught": int(tc["caught"] or 0),
              "median_lead_days": tc["median_lead_days"]}
    _ratios(totals)
    totals["mqls_per_week"] = totals["mqls"] / n_weeks
    via = firsts.column("via").to_pylist()
    totals["leads_via_core"] = sum(1 for v in via if v != "batch")
    leads = con.to_pyarrow(per.order_by("lead_id"))
    return BacktestResult(model_ref, start, end, horizon_days, weeks, totals, leads)


def _ratios(row: dict[str, Any]) -> None:
    row["precision"] = row["mqls_converted"] / row["mqls"] if row["mqls"] else None
    row["recall"] = row["caught"] / row["converters"] if row["converters"] else None


def event_span(store: Store) -> tuple[float, float]:
    """``[first event, last event + 1 s)`` of the store, or ``(0, 0)`` without events."""
    ev = store.events
    row = store.con.to_pyarrow(ev.aggregate(lo=ev.t.min(), hi=ev.t.max())).to_pylist()[0]
    if row["lo"] is None:
        return 0.0, 0.0
    return float(row["lo"]), float(row["hi"]) + 1.0


def backtest(model: ScoringModel, store: Store, labels: pa.Table, *, start: float | None = None,
             end: float | None = None, horizon_days: float | None = None) -> BacktestResult:
    """Replay ``model`` on the store's history and score it against ``labels`` (:data:`LABEL_SCHEMA`)."""
    lo, hi = event_span(store)
    start = lo if start is None else start
    end = hi if end is None else end
    if end <= start:
        raise ValueError("the backtest period is empty: 'to' must come after 'from'")
    firsts = first_mql(model, store)
    return metrics(store.con, firsts, labels, start=start, end=end, horizon_days=horizon_days, model_ref=model.ref)


def compare(a: BacktestResult, b: BacktestResult) -> dict[str, Any]:
    """Side by side: weeks of both, and how many leads only one of them made MQL (before converting)."""
    weeks: dict[str, dict[str, Any]] = {}
    for tag, res in (("a", a), ("b", b)):
        for w in res.weeks:
            weeks.setdefault(w["week"], {"week": w["week"]})[tag] = w
    la = a.leads.select(["lead_id", "is_mql", "caught"])
    lb = b.leads.select(["lead_id", "is_mql", "caught"])
    ia, ib = la.column("is_mql").to_pylist(), lb.column("is_mql").to_pylist()
    ca, cb = la.column("caught").to_pylist(), lb.column("caught").to_pylist()
    if la.column("lead_id").to_pylist() != lb.column("lead_id").to_pylist():
        raise ValueError("the two backtests cover different leads")
    return {
        "a": a.model_ref, "b": b.model_ref,
        "weeks": [weeks[k] for k in sorted(weeks)],
        "totals": {"a": a.totals, "b": b.totals},
        "mql_only_a": sum(1 for x, y in zip(ia, ib, strict=True) if x and not y),
        "mql_only_b": sum(1 for x, y in zip(ia, ib, strict=True) if y and not x),
        "caught_only_a": sum(1 for x, y in zip(ca, cb, strict=True) if x and not y),
        "caught_only_b": sum(1 for x, y in zip(ca, cb, strict=True) if y and not x),
    }


# -------------------------------------------------------------------------------------- labels

#: What counts as converted: the stages that count as reached, and whether any closed outcome counts.
CONVERSIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # stages reached (stage history)                 outcome results (an outcome means an opportunity)
    "sql": (("sql", "opportunity", "customer"), ("won", "lost")),
    "opportunity": (("opportunity", "customer"), ("won", "lost")),
    "won": (("customer",), ("won",)),
}


def conversion_labels(session: Any, workspace_id: str, convert_on: str = "sql") -> pa.Table:
    """Each converted lead's first conversion time (:data:`LABEL_SCHEMA`), aggregated in the store's SQL.

    ``convert_on``: ``sql`` (reached SQL, opportunity or customer in the stage history, or has a closed
    opportunity: any outcome), ``opportunity`` (the same from opportunity on), ``won`` (customer stage or a
    won outcome). An outcome's ``closed_at`` stands for when the lead reached the stage when the stage
    history does not say earlier (so lead times are upper bounds for such leads). Superseded stage changes
    do not count.
    """
    from sqlalchemy import func, select

    from leadflow.store.tables import Outcome, StageChange

    if convert_on not in CONVERSIONS:
        raise ValueError(f"convert_on: expected one of {', '.join(CONVERSIONS)}, got {convert_on!r}")
    stages, results = CONVERSIONS[convert_on]
    q1 = (select(StageChange.lead_id, func.min(StageChange.at))
          .where(StageChange.workspace_id == workspace_id, StageChange.to_stage.in_(stages),
                 StageChange.superseded_at.is_(None))
          .group_by(StageChange.lead_id))
    q2 = (select(Outcome.lead_id, func.min(Outcome.closed_at))
          .where(Outcome.workspace_id == workspace_id, Outcome.result.in_(results))
          .group_by(Outcome.lead_id))
    first: dict[str, float] = {}
    for q in (q1, q2):
        for lead_id, at in session.execute(q):
            t = epoch_of(at)
            if lead_id not in first or t < first[lead_id]:
                first[lead_id] = t
    ids = sorted(first)
    return pa.table({"lead_id": ids, "conv_t": [first[i] for i in ids]}, schema=LABEL_SCHEMA)


def epoch_of(at: Any) -> float:
    if isinstance(at, str):  # SQLite aggregates come back as text
        at = datetime.fromisoformat(at)
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.timestamp()


def active_model(session: Any, workspace_id: str) -> ScoringModel:
    """The workspace's active lifecycle model (the one that moves stages), parsed."""
    from sqlalchemy import select

    from leadflow.core.scoring.spec import parse_model
    from leadflow.store.tables import ScoringModelRow, Workspace

    ws = session.get(Workspace, workspace_id)
    if ws is None:
        raise LookupError(f"no workspace {workspace_id!r}")
    row = session.scalar(select(ScoringModelRow).where(
        ScoringModelRow.workspace_id == workspace_id, ScoringModelRow.key == ws.lifecycle_model,
        ScoringModelRow.active.is_(True)))
    if row is None:
        raise LookupError(f"workspace has no active model {ws.lifecycle_model!r}")
    return parse_model(row.yaml, source=f"{row.key}@v{row.version}")


# ------------------------------------------------------------------------------------- runner


@dataclass
class Comparison:
    """A candidate's backtest, and its baseline's when there is one."""

    candidate: BacktestResult
    baseline: BacktestResult | None
    convert_on: str
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"convert_on": self.convert_on, "candidate": self.candidate.as_dict(),
                               "baseline": self.baseline.as_dict() if self.baseline else None,
                               "seconds": round(self.seconds, 3)}
        if self.baseline is not None:
            c = compare(self.candidate, self.baseline)
            out["difference"] = {k: c[k] for k in ("mql_only_a", "mql_only_b", "caught_only_a", "caught_only_b")}
        return out


def run_backtest(db: Any, workspace_id: str, candidate: ScoringModel, against: ScoringModel | str | None = "active",
                 *, convert_on: str = "sql", start: float | None = None, end: float | None = None,
                 horizon_days: float | None = None) -> Comparison:
    """Backtest ``candidate`` on a store (:class:`leadflow.store.db.Database`), against the workspace's
    active model (``"active"``), another model, or nothing (``None``). Both run on the same period."""
    import time

    from leadflow.batch.source import open_store

    t0 = time.perf_counter()
    with db.session() as s:
        labels = conversion_labels(s, workspace_id, convert_on)
        baseline_model = active_model(s, workspace_id) if against == "active" else against
    if isinstance(baseline_model, str):
        raise ValueError(f"against: expected 'active', a model or None, got {against!r}")
    with open_store(db.url, workspace_id) as store:
        lo, hi = event_span(store)
        start = lo if start is None else start
        end = hi if end is None else end
        cand = backtest(candidate, store, labels, start=start, end=end, horizon_days=horizon_days)
        base = None
        if baseline_model is not None:
            base = backtest(baseline_model, store, labels, start=start, end=end, horizon_days=horizon_days)
    return Comparison(cand, base, convert_on, time.perf_counter() - t0)
