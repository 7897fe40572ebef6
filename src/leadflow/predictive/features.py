"""Point-in-time features and labels over the store, set-wise with the batch engine (Ibis on DuckDB).

A *snapshot* is (lead, cutoff): the lead as it could be seen at ``cutoff`` - only events with
``t <= cutoff`` count, and only leads created by then take part. Features per snapshot:

* per event type (the most frequent types in the log, plus every type the MQL rules name): counts over
  the last 7 / 30 / 90 days and all history, and days since the last one (missing = never);
* activity: events in total per window, days since the last event, the lead's age, the trend of
  engagement = (events in the last 14 days - events in the 14 before) / (both + 1) - negative when visits
  decline, as they do before an unsubscribe;
* web: page views of the pricing page (7 / 30 days), time on site (30 days, seconds), web sessions
  (30-minute gap) and pages per session (90 days), distinct pages viewed (90 days);
* content: distinct assets downloaded, brochure downloads;
* attribution: source, medium, campaign, landing page path;
* fit: seniority, department, country, student / intern title, free-mail address, company domain or not,
  account industry, employee count, annual revenue, account country, whether there is an account;
* the rule-based model's fit points (the active YAML model, computed by
  :func:`leadflow.batch.expressions.fit_expr`; the rules' engagement at each cutoff, for the rules' side of
  the evaluation, comes from :func:`rule_engagement`).

Lead and account attributes are read as they are now (the store keeps no history of attributes);
fields that change *because of* the outcome (stage, lead status, owner, unsubscribed) are never used.

Label: the lead *converted* within ``horizon_days`` after the cutoff. ``target="sql"``: it reached SQL,
opportunity or customer in the stage history (rows not superseded), or an outcome (won or lost: only
opportunities close) was recorded; ``target="customer"``: a won outcome or the customer stage. Leads that
converted at or before the cutoff are not in that cutoff's snapshot.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa

from leadflow.batch.expressions import engagement_expr, fit_expr, json_get, to_epoch
from leadflow.batch.source import Store, open_store
from leadflow.core.scoring.rules import FREE_MAIL_DOMAINS
from leadflow.core.scoring.spec import ScoringModel
from leadflow.predictive.dataset import Dataset
from leadflow.store.db import Database

__all__ = ["Aux", "FeatureSpec", "build", "load_aux", "rule_mql_flag", "training_cutoffs"]

DAY = 86400.0
Target = Literal["sql", "customer"]
SQL_STAGES = ("sql", "opportunity", "customer")
MAX_TYPES = 24
SESSION_GAP = 1800.0


@dataclass
class FeatureSpec:
    event_types: list[str] = field(default_factory=list)
    windows: tuple[int, ...] = (7, 30, 90)
    target: Target = "sql"
    horizon_days: int = 30

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "windows": list(self.windows)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeatureSpec:
        return cls(event_types=list(d["event_types"]), windows=tuple(d["windows"]), target=d["target"],
                   horizon_days=int(d["horizon_days"]))


@dataclass
class Aux:
    """What the normalised batch tables do not carry: lead creation times and conversions.

    ``leads``: (id, created_t); ``conversions``: (lead_id, t, kind) with kind ``stage:<stage>`` or
    ``outcome:<won|lost>``.
    """

    leads: pa.Table
    conversions: pa.Table


def load_aux(store: Store) -> Aux:
    """Read lead creation times, stage history (not superseded) and outcomes through the batch store."""
    ld = store.lead_times()
    st = store.stage_changes()
    st = st.filter(st.to_stage.isin(SQL_STAGES))
    oc = store.outcomes()
    conv = ibis.union(st.select(lead_id=st.lead_id, t=st.t, kind="stage:" + st.to_stage),
                      oc.select(lead_id=oc.lead_id, t=oc.t, kind="outcome:" + oc.result))
    return Aux(
        leads=store.con.to_pyarrow(ld.order_by("id")).cast(
            pa.schema([("id", pa.string()), ("created_t", pa.float64())])),
        conversions=store.con.to_pyarrow(conv.order_by(["lead_id", "t", "kind"])).cast(
            pa.schema([("lead_id", pa.string()), ("t", pa.float64()), ("kind", pa.string())])),
    )


def _conversion_times(aux: Aux, target: Target) -> ir.Table:
    c = ibis.memtable(aux.conversions)
    if target == "customer":
        keep = (c.kind == "stage:customer") | (c.kind == "outcome:won")
    else:
        keep = c.kind.startswith("stage:") | c.kind.startswith("outcome:")
    c = c.filter(keep)
    return c.group_by("lead_id").aggregate(conv_t=c.t.min())


def discover_types(store: Store, model: ScoringModel | None) -> list[str]:
    ev = store.events.filter(store.events.lead_id.notnull())
    counts = store.con.to_pyarrow(ev.group_by("type").aggregate(n=ev.count()).order_by([ibis.desc("n"), "type"]))
    types = [str(t) for t in counts["type"].to_pylist()][:MAX_TYPES]
    for t in _rule_event_types(model):
        if t not in types:
            types.append(t)
    return types


def _rule_event_types(model: ScoringModel | None) -> list[str]:
    if model is None:
        return []
    out: list[str] = []
    for crit in model.lifecycle.mql.any_of:
        for t in (*(crit.event_in or ()), *(crit.has_events_all or ())):
            if t not in out:
                out.append(t)
    return out


def training_cutoffs(store: Store, horizon_days: int, step_days: int = 7, warmup_days: int = 14,
                     end: float | None = None) -> list[float]:
    """Weekly cutoffs from ``warmup_days`` after the first event to ``horizon_days`` before the end of the
    data (the last event, or ``end``), so every label is observed in full."""
    ev = store.events
    row = store.con.to_pyarrow(ev.aggregate(lo=ev.t.min(), hi=ev.t.max()))
    lo, hi = row["lo"][0].as_py(), row["hi"][0].as_py()
    if lo is None:
        return []
    last = (end if end is not None else hi) - horizon_days * DAY
    out, t = [], lo + warmup_days * DAY
    while t <= last:
        out.append(float(math.floor(t / DAY) * DAY))
        t += step_days * DAY
    return out


def _slug(t: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in t.lower())


def _describe(spec: FeatureSpec) -> dict[str, str]:
    d: dict[str, str] = {
        "lead_age_days": "lead for {value} days",
        "days_since_last_event": "last activity {value} days ago||no activity yet",
        "trend_14d": "engagement trend {value} (last 14 days vs the 14 before)",
        "pricing_views_7d": "{value} pricing page views in the last 7 days",
        "pricing_views_30d": "{value} pricing page views in the last 30 days",
        "time_on_site_30d": "{value} seconds on the site in the last 30 days",
        "sessions_90d": "{value} web sessions in the last 90 days",
        "pages_per_session_90d": "{value} pages per visit (90 days)||no web visit in 90 days",
        "distinct_pages_90d": "{value} different pages viewed in 90 days",
        "assets_downloaded": "{value} different assets downloaded",
        "brochure_downloads": "{value} product brochure downloads",
        "rule_fit": "fit score {value}",
        "employee_count": "{value} employees at the account||company size unknown",
        "annual_revenue": "annual revenue {value}||revenue unknown",
        "source": "source: {value}||no source recorded",
        "medium": "medium: {value}||no medium recorded",
        "campaign": "campaign: {value}||no campaign",
        "landing_page": "landed on {value}||landing page unknown",
        "seniority": "seniority: {value}||seniority unknown",
        "department": "department: {value}||department unknown",
        "country": "country: {value}||country unknown",
        "industry": "industry: {value}||industry unknown",
        "account_country": "account country: {value}||account country unknown",
        "student": "student or intern title: {value}",
        "free_mail": "free-mail address: {value}",
        "has_account": "company account known: {value}",
    }
    for w in spec.windows:
        d[f"events_{w}d"] = f"{{value}} events in the last {w} days"
    for t in spec.event_types:
        s, words = _slug(t), t.replace("_", " ")
        for w in spec.windows:
            d[f"n_{s}_{w}d"] = f"{words}: {{value}} in the last {w} days"
        d[f"n_{s}_all"] = f"{words}: {{value}} in all"
        d[f"days_since_{s}"] = f"last {words} {{value}} days ago||never {words}"
    return d


def _features_expr(store: Store, aux: Aux, spec: FeatureSpec, cutoffs: Sequence[float],
                   target: Target | None) -> ir.Table:
    created = ibis.memtable(aux.leads)
    cut = ibis.memtable(pa.table({"cutoff": pa.array([float(c) for c in cutoffs], pa.float64())}))
    pop = created.cross_join(cut)
    pop = pop.filter(pop.created_t <= pop.cutoff)
    if target is not None:
        conv = _conversion_times(aux, target)
        pop = pop.left_join(conv, pop.id == conv.lead_id).select(pop.id, pop.created_t, pop.cutoff, conv.conv_t)
        pop = pop.filter(pop.conv_t.isnull() | (pop.conv_t > pop.cutoff))
        label = (pop.conv_t.notnull() & (pop.conv_t <= pop.cutoff + spec.horizon_days * DAY)).cast("int8")
        pop = pop.mutate(label=label)
    keys = pop.select(k_id=pop.id, k_cut=pop.cutoff)
    ev = store.events
    ev = ev.filter(ev.lead_id.notnull())
    e = ev.join(keys, ev.lead_id == keys.k_id)
    e = e.filter(e.t <= e.k_cut)
    e = e.mutate(age=e.k_cut - e.t)
    aggs: dict[str, ir.Value] = {}
    one, zero = ibis.literal(1), ibis.literal(0)
    for w in spec.windows:
        aggs[f"events_{w}d"] = ibis.ifelse(e.age < w * DAY, one, zero).sum()
    aggs["events_14d"] = ibis.ifelse(e.age < 14 * DAY, one, zero).sum()
    aggs["events_prev14d"] = ibis.ifelse((e.age >= 14 * DAY) & (e.age < 28 * DAY), one, zero).sum()
    aggs["last_age"] = e.age.min()
    for t in spec.event_types:
        s = _slug(t)
        is_t = e.type == t
        for w in spec.windows:
            aggs[f"n_{s}_{w}d"] = ibis.ifelse(is_t & (e.age < w * DAY), one, zero).sum()
        aggs[f"n_{s}_all"] = ibis.ifelse(is_t, one, zero).sum()
        aggs[f"age_{s}"] = ibis.ifelse(is_t, e.age, ibis.null("float64")).min()
    url = json_get(e.properties, "url").str
    secs = json_get(e.properties, "seconds_on_page").float
    asset = json_get(e.properties, "asset").str
    asset_type = json_get(e.properties, "asset_type").str
    is_pv = e.type == "page_view"
    pricing = is_pv & url.fill_null("").contains("/pricing")
    aggs["pricing_views_7d"] = ibis.ifelse(pricing & (e.age < 7 * DAY), one, zero).sum()
    aggs["pricing_views_30d"] = ibis.ifelse(pricing & (e.age < 30 * DAY), one, zero).sum()
    aggs["time_on_site_30d"] = ibis.ifelse(is_pv & (e.age < 30 * DAY), secs.fill_null(0.0), 0.0).sum()
    aggs["distinct_pages_90d"] = ibis.ifelse(is_pv & (e.age < 90 * DAY), url, ibis.null("string")).nunique()
    aggs["assets_downloaded"] = ibis.ifelse(e.type == "content_download", asset, ibis.null("string")).nunique()
    aggs["brochure_downloads"] = ibis.ifelse((e.type == "content_download") & (asset_type == "brochure"), one,
                                             zero).sum()
    per = e.group_by([e.k_id, e.k_cut]).aggregate(**aggs)
    # web sessions: page views more than 30 minutes after the previous one start a session
    pv = e.filter((e.type == "page_view") & (e.age < 90 * DAY)).select("k_id", "k_cut", "t")
    prev = pv.t.lag().over(group_by=[pv.k_id, pv.k_cut], order_by=pv.t)
    pv = pv.mutate(new=ibis.ifelse(prev.isnull() | ((pv.t - prev) > SESSION_GAP), 1, 0))
    sess = pv.group_by([pv.k_id, pv.k_cut]).aggregate(sessions_90d=pv.new.sum(), pv_90d=pv.count())
    sess = sess.rename(s_id="k_id", s_cut="k_cut")
    j = pop.left_join(per, (pop.id == per.k_id) & (pop.cutoff == per.k_cut))
    j = j.left_join(sess, (j.id == sess.s_id) & (j.cutoff == sess.s_cut))
    leads = store.leads
    j = j.left_join(leads, j.id == leads.id)
    acc = store.accounts.select(a_id=store.accounts.id, industry=store.accounts.industry,
                                employee_count=store.accounts.employee_count,
                                annual_revenue=store.accounts.annual_revenue, account_country=store.accounts.country)
    j = j.left_join(acc, j.account_id == acc.a_id)
    email = j.email.cast("string").fill_null("")
    domain = ibis.ifelse(email.contains("@"), email.re_extract(r"@([^@]*)$", 1).lower(), "")
    cols: dict[str, ir.Value] = {"lead_id": j.id, "cutoff": j.cutoff,
                                 "lead_age_days": (j.cutoff - j.created_t) / DAY,
                                 "days_since_last_event": j.last_age / DAY}
    for w in spec.windows:
        cols[f"events_{w}d"] = j[f"events_{w}d"].fill_null(0).cast("float64")
    n14, p14 = j.events_14d.fill_null(0).cast("float64"), j.events_prev14d.fill_null(0).cast("float64")
    cols["trend_14d"] = (n14 - p14) / (n14 + p14 + 1.0)
    for t in spec.event_types:
        s = _slug(t)
        for w in spec.windows:
            cols[f"n_{s}_{w}d"] = j[f"n_{s}_{w}d"].fill_null(0).cast("float64")
        cols[f"n_{s}_all"] = j[f"n_{s}_all"].fill_null(0).cast("float64")
        cols[f"days_since_{s}"] = j[f"age_{s}"] / DAY
    for name in ("pricing_views_7d", "pricing_views_30d", "time_on_site_30d", "distinct_pages_90d",
                 "assets_downloaded", "brochure_downloads"):
        cols[name] = j[name].fill_null(0).cast("float64")
    sessions = j.sessions_90d.fill_null(0).cast("float64")
    cols["sessions_90d"] = sessions
    cols["pages_per_session_90d"] = ibis.ifelse(sessions > 0, j.pv_90d.cast("float64") / sessions,
                                                ibis.null("float64"))
    cols["employee_count"] = j.employee_count.cast("float64")
    cols["annual_revenue"] = j.annual_revenue.cast("float64")
    landing = j.landing_page.cast("string").re_replace(r"^https?://[^/]+", "").re_replace(r"[?#].*$", "")
    cols.update({
        "source": j.source, "medium": j.medium, "campaign": j.campaign, "landing_page": landing,
        "seniority": j.seniority.lower(), "department": j.department.lower(), "country": j.country,
        "industry": j.industry, "account_country": j.account_country,
        "student": ibis.ifelse(j.title.lower().re_search(r"\b(student|intern|trainee)\b"), "yes", "no"),
        "free_mail": ibis.ifelse(domain.isin(sorted(FREE_MAIL_DOMAINS)), "yes", "no"),
        "has_account": ibis.ifelse(j.a_id.notnull(), "yes", "no"),
    })
    if target is not None:
        cols["label"] = j.label
    out = j.select(**cols)
    return out.order_by(["cutoff", "lead_id"])


def _with_rule_fit(store: Store, model: ScoringModel, tab: pa.Table) -> pa.Table:
    """Add ``rule_fit`` and ``rule_grade`` (attributes only: the same at every cutoff, one query)."""
    r = store.con.to_pyarrow(fit_expr(model, store.leads, store.accounts))
    fit = dict(zip(r["lead_id"].to_pylist(), zip(r["fit"].to_pylist(), r["grade"].to_pylist(), strict=True),
                   strict=True))
    vals = [fit.get(lid, (None, None)) for lid in tab["lead_id"].to_pylist()]
    return (tab.append_column("rule_fit", pa.array([v[0] for v in vals], pa.float64()))
               .append_column("rule_grade", pa.array([v[1] for v in vals], pa.string())))


def rule_engagement(store: Store, model: ScoringModel, ds: Dataset) -> np.ndarray:
    """The rules' engagement of each snapshot at its cutoff (one batch query per distinct cutoff)."""
    out = np.zeros(len(ds))
    if not len(ds):
        return out
    for c in np.unique(ds.times):
        rows = np.flatnonzero(ds.times == c)
        r = store.con.to_pyarrow(engagement_expr(model, store.events, float(c)))
        eng = dict(zip(r["lead_id"].to_pylist(), r["engagement"].to_pylist(), strict=True))
        zero = min(max(0.0, float(model.engagement.floor)), float(model.engagement.ceiling))  # clamp(0)
        out[rows] = [eng.get(ds.ids[i], zero) for i in rows]
    return out


NUMERIC_EXCLUDE = {"lead_id", "cutoff", "label", "rule_grade"}
CATEGORICAL = ("source", "medium", "campaign", "landing_page", "seniority", "department", "country", "industry",
               "account_country", "student", "free_mail", "has_account")


def build(store: Store, aux: Aux, spec: FeatureSpec, cutoffs: Sequence[float | datetime], *,
          model: ScoringModel | None = None, labels: bool = True) -> Dataset:
    """The snapshots of every lead at each cutoff as a :class:`Dataset` (``times`` = cutoff).

    ``meta`` carries ``rule_grade`` and the event counts the MQL rules read (for :func:`rule_mql_flag`).
    """
    cuts = [to_epoch(c) for c in cutoffs]
    if not cuts:
        return Dataset(y=np.array([], dtype=np.int8) if labels else None)
    expr = _features_expr(store, aux, spec, cuts, spec.target if labels else None)
    tab = store.con.to_pyarrow(expr)
    if model is not None:
        tab = _with_rule_fit(store, model, tab)
    ds = Dataset(ids=np.array(tab["lead_id"].to_pylist(), dtype=object),
                 times=tab["cutoff"].to_numpy(zero_copy_only=False).astype(np.float64),
                 describe=_describe(spec))
    for name in tab.column_names:
        if name in NUMERIC_EXCLUDE:
            continue
        col = tab[name]
        if name in CATEGORICAL:
            ds.categorical[name] = np.array(col.to_pylist(), dtype=object)
        else:
            ds.numeric[name] = np.array([np.nan if v is None else float(v) for v in col.to_pylist()], dtype=np.float64)
    if labels:
        ds.y = tab["label"].to_numpy(zero_copy_only=False).astype(np.int8)
    if "rule_grade" in tab.column_names:
        ds.meta["rule_grade"] = np.array(tab["rule_grade"].to_pylist(), dtype=object)
    return ds


_GRADES = {"A": 4, "B": 3, "C": 2, "D": 1}


def rule_mql_flag(model: ScoringModel, ds: Dataset, eng: np.ndarray) -> np.ndarray:
    """Whether the rule-based MQL criteria hold for each snapshot (fit grade, engagement ``eng`` at the
    cutoff, events so far). The stage itself is sticky; this is the criteria's verdict at the cutoff."""
    n = len(ds)
    grade = np.array([_GRADES.get(str(g), 0) for g in ds.meta.get("rule_grade", np.full(n, "D"))])
    fit = ds.numeric.get("rule_fit", np.zeros(n))

    def has(t: str) -> np.ndarray:
        col = ds.numeric.get(f"n_{_slug(t)}_all")
        return np.zeros(n, dtype=bool) if col is None else col > 0

    flag = np.zeros(n, dtype=bool)
    for c in model.lifecycle.mql.any_of:
        ok = np.ones(n, dtype=bool)
        if c.fit_grade_at_least is not None:
            ok &= grade >= _GRADES[c.fit_grade_at_least]
        if c.fit_at_least is not None:
            ok &= fit >= c.fit_at_least
        if c.engagement_at_least is not None:
            ok &= eng >= c.engagement_at_least
        if c.event_in:
            any_t = np.zeros(n, dtype=bool)
            for t in c.event_in:
                any_t |= has(t)
            ok &= any_t
        if c.has_events_all:
            for t in c.has_events_all:
                ok &= has(t)
        flag |= ok
    return flag


def open_for(db: Database, workspace_id: str) -> tuple[Store, Aux]:
    """The batch store (DuckDB over the database) and the auxiliary tables of one workspace."""
    store = open_store(db.url, workspace_id)
    try:
        return store, load_aux(store)
    except BaseException:
        store.close()
        raise
