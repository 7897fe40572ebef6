"""The store's tables the analytics read, opened in DuckDB through Ibis (the batch engine).

:func:`open_analytics` attaches the store read-only, the way :mod:`leadflow.batch.source` does (DuckDB's
offline sqlite / postgres scanners), and normalises, for one workspace:

* ``leads(id, created_t, stage, source, medium, campaign, landing_page, owner, account_id, segment,
  properties)`` - ``segment`` is the lead property ``segment``, else the account property ``segment``, else
  the account's industry;
* ``events(id, lead_id, type, t, properties)`` (:func:`leadflow.batch.source.normalise_events`);
* ``stages(lead_id, from_stage, to_stage, t, actor, actor_id, reason, rule, score)`` - the stage history
  without superseded rows;
* ``outcomes(lead_id, result, amount, currency, t, reason)``;
* ``scores(lead_id, fit, grade, engagement)`` - the stored score of the workspace's lifecycle model;
* ``spend(id, channel, period_start, period_end, amount, currency)`` (empty before migration 0007);
* ``tables`` - any other store table by name (``table(name)``), e.g. the hand-off tables, or ``None``.

Every time is ``t``, epoch seconds as float64 (UTC). The tables are copied into DuckDB temporary tables
once (``materialize``), so each report reads the database once.

:meth:`AnalyticsData.created_between` narrows the data to the leads created in a date range (the optional
``since`` / ``until`` of the reports about leads: funnel, velocity, what converts, score health).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import ibis
import ibis.expr.types as ir
from ibis.backends.duckdb import Backend as DuckDBBackend

from leadflow.batch import source as batch_source
from leadflow.batch.expressions import json_get
from leadflow.core.lifecycle import FUNNEL, Stage

__all__ = ["AnalyticsData", "day_bounds", "epoch_expr", "month_expr", "open_analytics", "stage_index_expr"]

_seq = itertools.count(1)
_NULL_STR = ibis.null("string")


def epoch_expr(ts: ir.Value) -> ir.FloatingValue:
    """Epoch seconds (float64) of a timestamp column, stored as text (SQLite) or a timestamp."""
    if ts.type().is_date():
        ts = ts.cast("timestamp")
    return batch_source.epoch_seconds(ts)


def month_expr(t: ir.FloatingValue, period: str = "month") -> ir.StringValue:
    """The UTC calendar ``YYYY-MM`` (``period="month"``) or ISO week ``YYYY-Www`` (``"week"``) of epoch ``t``."""
    ts = t.floor().cast("int64").as_timestamp("s")
    if period == "month":
        return ts.strftime("%Y-%m")
    if period == "week":
        return ts.strftime("%G-W%V")
    if period == "day":
        return ts.strftime("%Y-%m-%d")
    raise ValueError(f"period must be month, week or day, got {period!r}")


def day_bounds(since: date | None, until: date | None) -> tuple[float | None, float | None]:
    """Epoch seconds ``[lo, hi)`` of the UTC calendar days ``since`` .. ``until`` (both inclusive; ``None``:
    unbounded on that side). A ``datetime`` counts as its date. ``since`` after ``until`` is a ValueError."""
    def day(d: date | None, name: str) -> date | None:
        if d is None:
            return None
        if not isinstance(d, date):
            raise ValueError(f"{name} must be a date, got {d!r}")
        return d.date() if isinstance(d, datetime) else d

    lo_d, hi_d = day(since, "since"), day(until, "until")
    if lo_d is not None and hi_d is not None and lo_d > hi_d:
        raise ValueError(f"since ({lo_d.isoformat()}) must be on or before until ({hi_d.isoformat()})")

    def start(d: date) -> float:
        return datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp()

    return (None if lo_d is None else start(lo_d)), (None if hi_d is None else start(hi_d) + 86400.0)


def stage_index_expr(stage: ir.StringValue) -> ir.IntegerValue:
    """Position of a stage in the funnel (subscriber 0 ... customer 6); NULL for nurture / disqualified."""
    return ibis.cases(*((stage == s.value, i) for i, s in enumerate(FUNNEL)), else_=ibis.null("int64")).cast("int64")


@dataclass
class AnalyticsData:
    con: DuckDBBackend
    leads: ir.Table
    events: ir.Table
    stages: ir.Table
    outcomes: ir.Table
    scores: ir.Table
    spend: ir.Table
    workspace_id: str | None = None
    lifecycle_model: str = "default"
    _raw: Callable[[str], ir.Table | None] | None = field(default=None, repr=False)
    _close: list[Callable[[], None]] = field(default_factory=list, repr=False)

    def table(self, name: str) -> ir.Table | None:
        """Another store table, filtered on the workspace, or ``None`` when the store has no such table."""
        if self._raw is None:
            return None
        raw = self._raw(name)
        if raw is None:
            return None
        if "workspace_id" in raw.columns and self.workspace_id is not None:
            raw = raw.filter(raw.workspace_id == self.workspace_id)
        return raw

    def materialize(self) -> None:
        n = next(_seq)
        for attr in ("leads", "events", "stages", "outcomes", "scores", "spend"):
            name = f"lf_an_{attr}_{n}"
            setattr(self, attr, self.con.create_table(name, getattr(self, attr), temp=True))
            self._close.append(lambda name=name: self.con.drop_table(name, force=True))

    def created_between(self, since: date | None = None, until: date | None = None) -> AnalyticsData:
        """The same data restricted to the leads created from ``since`` to ``until`` (UTC calendar days, both
        inclusive; ``None`` leaves that side open): ``leads`` and, through them, ``events``, ``stages``,
        ``outcomes`` and ``scores``. ``spend`` and :meth:`table` are not restricted (channel economics and
        sales filter on their own periods). The view shares the connection: closing it closes nothing."""
        lo, hi = day_bounds(since, until)
        if lo is None and hi is None:
            return self
        ld = self.leads
        cond = ibis.literal(True)
        if lo is not None:
            cond = cond & (ld.created_t >= lo)
        if hi is not None:
            cond = cond & (ld.created_t < hi)
        leads = ld.filter(cond)
        ids = leads.select(_kept_id=leads.id)

        def kept(t: ir.Table) -> ir.Table:
            return t.semi_join(ids, t.lead_id == ids._kept_id)

        return dataclasses.replace(self, leads=leads, events=kept(self.events), stages=kept(self.stages),
                                   outcomes=kept(self.outcomes), scores=kept(self.scores), _close=[])

    # -- derived tables shared by the reports -----------------------------------------------------
    def entries(self) -> ir.Table:
        """``(lead_id, idx, t)``: every time a lead entered a funnel stage.

        From the stage history (funnel stages only), won outcomes (customer at the close time), the lead's
        creation (subscriber) and its current stage (time unknown: NULL ``t``).
        """
        st = self.stages
        st = st.select(lead_id=st.lead_id, idx=stage_index_expr(st.to_stage), t=st.t)
        st = st.filter(st.idx.notnull())
        oc = self.outcomes.filter(self.outcomes.result == "won")
        won = oc.select(lead_id=oc.lead_id, idx=ibis.literal(FUNNEL.index(Stage.CUSTOMER), "int64"), t=oc.t)
        ld = self.leads
        created = ld.select(lead_id=ld.id, idx=ibis.literal(0, "int64"), t=ld.created_t)
        cur = ld.select(lead_id=ld.id, idx=stage_index_expr(ld.stage), t=ibis.null("float64"))
        cur = cur.filter(cur.idx.notnull())
        schema = ibis.schema({"lead_id": "string", "idx": "int64", "t": "float64"})
        return ibis.union(*(x.cast(schema) for x in (st, won, created, cur)))

    def reach(self) -> ir.Table:
        """Every lead with ``max_idx`` (the furthest funnel stage it ever reached) and its attributes."""
        e = self.entries()
        r = e.group_by("lead_id").aggregate(max_idx=e.idx.max())
        ld = self.leads
        j = ld.left_join(r, ld.id == r.lead_id)
        return j.select(*[ld[c] for c in ld.columns], max_idx=j.max_idx.fill_null(0))

    def first_reach(self, idx: int) -> ir.Table:
        """``(lead_id, t)``: when each lead first entered stage ``idx`` or a later funnel stage."""
        e = self.entries()
        e = e.filter((e.idx >= idx) & e.t.notnull())
        return e.group_by("lead_id").aggregate(t=e.t.min())

    def close(self) -> None:
        while self._close:
            self._close.pop()()

    def __enter__(self) -> AnalyticsData:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_analytics(source: str | Path, workspace_id: str | None, *, materialize: bool = True,
                   con: DuckDBBackend | None = None) -> AnalyticsData:
    """Open a SQLite / PostgreSQL (SQLAlchemy URL) or DuckDB store for the analytics of one workspace."""
    own = con is None
    con = con or batch_source.connect()
    closers: list[Callable[[], None]] = [con.disconnect] if own else []
    try:
        db = batch_source.attach(con, source)
        closers.append(db.detach)
        present = set(db.list_tables())

        def raw(name: str) -> ir.Table | None:
            return db.table(name) if name in present else None

        data = _build(con, raw, workspace_id)
        data._close = closers
        if materialize:
            data.materialize()
        return data
    except BaseException:
        while closers:
            closers.pop()()
        raise


def _ws(table: ir.Table, workspace_id: str | None) -> ir.Table:
    if workspace_id is not None and "workspace_id" in table.columns:
        return table.filter(table.workspace_id == workspace_id)
    return table


def _json(table: ir.Table, name: str) -> ir.Value:
    col = table[name]
    return col if col.type().is_json() else col.cast("string").cast("json")


def _text(v: ir.Value) -> ir.StringValue:
    """A JSON scalar as text (strings unquoted); NULL for null / missing / empty."""
    s = ibis.coalesce(v.str, v.cast("string"))
    return ibis.ifelse(s == "", _NULL_STR, s)


def _build(con: DuckDBBackend, raw: Callable[[str], ir.Table | None], ws: str | None) -> AnalyticsData:
    leads_raw, accounts_raw = raw("leads"), raw("accounts")
    events_raw, history_raw, outcomes_raw = raw("events"), raw("stage_history"), raw("outcomes")
    if leads_raw is None or events_raw is None or history_raw is None or outcomes_raw is None:
        raise ValueError("not a leadflow store (run `leadflow db upgrade` first): leads / events / stage_history "
                         "/ outcomes missing")
    lifecycle = "default"
    wsr = raw("workspaces")
    if wsr is not None and ws is not None:
        rows = wsr.filter(wsr.id == ws).select("lifecycle_model").execute()
        if len(rows):
            lifecycle = str(rows["lifecycle_model"].iloc[0])

    ld = _ws(leads_raw, ws)
    lprops = _json(ld, "properties")
    acc = _ws(accounts_raw, ws) if accounts_raw is not None else None
    base_cols = {
        "id": ld.id.cast("string"),
        "created_t": epoch_expr(ld.created_at),
        "stage": ld.stage.cast("string"),
        **{c: ld[c].cast("string") for c in ("source", "medium", "campaign", "landing_page", "owner")},
        "account_id": ld.account_id.cast("string"),
        "properties": lprops,
        "_lead_segment": _text(json_get(lprops, "segment")),
    }
    leads = ld.select(**base_cols)
    if acc is not None:
        aprops = _json(acc, "properties")
        a = acc.select(_acc_id=acc.id.cast("string"), _acc_segment=ibis.coalesce(
            _text(json_get(aprops, "segment")), acc.industry.cast("string")))
        j = leads.left_join(a, leads.account_id == a._acc_id)
        leads = j.select(*[c for c in leads.columns if c != "_lead_segment"],
                         segment=ibis.coalesce(j._lead_segment, j._acc_segment))
    else:
        leads = leads.select(*[c for c in leads.columns if c != "_lead_segment"], segment=leads._lead_segment)

    events = batch_source.normalise_events(events_raw, ws)

    h = _ws(history_raw, ws)
    h = h.filter(h.superseded_at.isnull())
    stages = h.select(lead_id=h.lead_id.cast("string"), from_stage=h.from_stage.cast("string"),
                      to_stage=h.to_stage.cast("string"), t=epoch_expr(h.at), actor=h.actor.cast("string"),
                      actor_id=h.actor_id.cast("string"), reason=h.reason.cast("string"),
                      rule=h.rule.cast("string"), score=_json(h, "score"))

    o = _ws(outcomes_raw, ws)
    outcomes = o.select(lead_id=o.lead_id.cast("string"), result=o.result.cast("string"),
                        amount=o.amount.cast("float64"), currency=o.currency.cast("string"),
                        t=epoch_expr(o.closed_at), reason=o.reason.cast("string"))

    sr = raw("score_states")
    if sr is not None:
        s = _ws(sr, ws)
        s = s.filter(s.model_key == lifecycle)
        scores = s.select(lead_id=s.lead_id.cast("string"), fit=s.fit.cast("float64"),
                          grade=s.grade.cast("string"), engagement=s.engagement.cast("float64"))
    else:
        scores = ibis.memtable({"lead_id": [], "fit": [], "grade": [], "engagement": []},
                               schema={"lead_id": "string", "fit": "float64", "grade": "string",
                                       "engagement": "float64"})

    sp = raw("channel_spend")
    if sp is not None:
        sp = _ws(sp, ws)
        spend = sp.select(id=sp.id.cast("string"), channel=sp.channel.cast("string"),
                          period_start=sp.period_start.cast("date"), period_end=sp.period_end.cast("date"),
                          amount=sp.amount.cast("float64"), currency=sp.currency.cast("string"))
    else:
        spend = ibis.memtable(
            {"id": [], "channel": [], "period_start": [], "period_end": [], "amount": [], "currency": []},
            schema={"id": "string", "channel": "string", "period_start": "date", "period_end": "date",
                    "amount": "float64", "currency": "string"})

    return AnalyticsData(con=con, leads=leads, events=events, stages=stages, outcomes=outcomes, scores=scores,
                         spend=spend, workspace_id=ws, lifecycle_model=lifecycle, _raw=raw)
