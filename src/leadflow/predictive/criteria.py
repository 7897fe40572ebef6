"""Which attributes and behaviours separate won from lost deals, and what points they could be worth.

Seed 001's "examine past behaviour of converted and lost prospects", set-wise on the batch engine: the
population is the leads with a closed outcome (the first one decides: won or lost). For each candidate
*feature* - a lead or account attribute value (company size and revenue in bands), the free-mail flag, an
event type done at least once, an engagement rule of the current model matched at least once - the win
rate of the leads that have it is compared with the base rate. Behaviours only count when they happened
before the outcome was closed (no leakage from after the decision).

* ``lift`` = win rate with the feature / base win rate, with a 95% Wilson interval on the win rate
  (divided by the base rate: the base rate is taken as known);
* features seen on fewer than ``min_support`` leads are dropped;
* ranking: by the conservative end of the lift interval (``lift_low`` for lifts above 1, ``1 / lift_high``
  below), so a strong effect on few leads ranks after a clear one on many;
* suggested points: ``round(points_per_doubling * log2(lift))`` for features whose interval excludes 1
  (10 points per doubling of the win rate by default) - fit rules for attributes, engagement rules for
  behaviours, printed as a YAML snippet to paste and edit. Points are not additive evidence (features
  overlap); treat them as a starting point and backtest the result.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import yaml

from leadflow.batch import expressions as bx
from leadflow.batch.source import Store
from leadflow.core.scoring.rules import FREE_MAIL_DOMAINS
from leadflow.core.scoring.spec import ScoringModel
from leadflow.predictive.backtest import Stash, matched_expr, ordered_events

__all__ = ["OUTCOME_SCHEMA", "Feature", "outcome_labels", "rank_features", "suggest_yaml", "wilson"]

OUTCOME_SCHEMA = pa.schema([pa.field("lead_id", pa.string(), nullable=False),
                            pa.field("won", pa.bool_(), nullable=False),
                            pa.field("closed_t", pa.float64(), nullable=False)])

LEAD_ATTRIBUTES = ("seniority", "department", "source", "medium", "country")
ACCOUNT_ATTRIBUTES = ("industry", "country")
EMPLOYEE_BANDS = ((0, 10), (10, 50), (50, 200), (200, 1000), (1000, 5000), (5000, None))
REVENUE_BANDS = ((0, 1e6), (1e6, 5e6), (5e6, 5e7), (5e7, 5e8), (5e8, None))
Z95 = 1.959963984540054


@dataclass(frozen=True)
class Feature:
    kind: str  # "fit" (attribute) | "event" (event type done) | "rule" (engagement rule matched)
    field: str  # lead.seniority, account.employee_count, event type, rule id
    value: str  # the attribute value or band ("" for events and rules)
    band: tuple[float | None, float | None] | None
    n: int  # leads with the feature (with an outcome)
    won: int
    rate: float
    rate_low: float
    rate_high: float
    lift: float
    lift_low: float
    lift_high: float
    significant: bool
    points: int | None  # suggested points (significant features only)
    current_points: float | None = None  # for rules of the model: their points today

    @property
    def strength(self) -> float:
        """The conservative size of the effect (log scale), used for ranking."""
        if self.lift_low > 1:
            return math.log(self.lift_low)
        if self.lift_high < 1:
            return -math.log(max(self.lift_high, 1e-12))
        return 0.0

    def as_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["band"] = list(self.band) if self.band else None
        return out


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a proportion ``k / n``."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    lo = 0.0 if k == 0 else max(0.0, mid - half)
    hi = 1.0 if k == n else min(1.0, mid + half)
    return lo, hi


def outcome_labels(session: Any, workspace_id: str) -> pa.Table:
    """Each lead's first closed outcome: ``(lead_id, won, closed_t)`` (:data:`OUTCOME_SCHEMA`)."""
    from sqlalchemy import select

    from leadflow.predictive.backtest import epoch_of
    from leadflow.store.tables import Outcome

    first: dict[str, tuple[float, bool]] = {}
    q = select(Outcome.lead_id, Outcome.result, Outcome.closed_at).where(Outcome.workspace_id == workspace_id)
    for lead_id, result, closed_at in session.execute(q):
        t = epoch_of(closed_at)
        if lead_id not in first or t < first[lead_id][0]:
            first[lead_id] = (t, result == "won")
    ids = sorted(first)
    return pa.table({"lead_id": ids, "won": [first[i][1] for i in ids], "closed_t": [first[i][0] for i in ids]},
                    schema=OUTCOME_SCHEMA)


def _short(x: float) -> str:
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if x >= div:
            return f"{x / div:g}{suffix}"
    return f"{x:g}"


def _band_name(lo: float, hi: float | None) -> str:
    return f"{_short(lo)}-{_short(hi)}" if hi is not None else f"{_short(lo)}+"


def _band_expr(col: ir.NumericValue, bands: tuple[tuple[float, float | None], ...]) -> ir.StringValue:
    cases = []
    for lo, hi in bands:
        test = (col >= lo) & (col < hi) if hi is not None else col >= lo
        cases.append((test, _band_name(lo, hi)))
    return ibis.cases(*cases, else_=ibis.null("string"))


def _counts(store: Store, model: ScoringModel | None, outcomes: pa.Table, stash: Stash) -> pa.Table:
    """``(kind, field, value, n, won)`` for every candidate feature, one query."""
    oc = stash.keep(ibis.memtable(outcomes.cast(OUTCOME_SCHEMA)))
    leads, accounts = store.leads, store.accounts
    acc = accounts.select(a_id=accounts.id, a_industry=accounts.industry, a_country=accounts.country,
                          a_emp=accounts.employee_count, a_rev=accounts.annual_revenue)
    base = oc.join(leads, oc.lead_id == leads.id).select(oc.lead_id, oc.won, leads.email, leads.account_id,
                                                         *[leads[a] for a in LEAD_ATTRIBUTES])
    base = base.left_join(acc, base.account_id == acc.a_id)
    email = base.email.cast("string").fill_null("")
    domain = ibis.ifelse(email.contains("@"), email.re_extract(r"@([^@]*)$", 1).lower(), "")
    values: dict[tuple[str, str], ir.Value] = {}
    for a in LEAD_ATTRIBUTES:
        values[("fit", f"lead.{a}")] = base[a].cast("string").lower().strip()
    values[("fit", "lead.free_mail")] = ibis.ifelse(domain == "", ibis.null("string"),
                                                    ibis.ifelse(domain.isin(sorted(FREE_MAIL_DOMAINS)), "true", "false"))
    values[("fit", "account.industry")] = base.a_industry.cast("string").lower().strip()
    values[("fit", "account.country")] = base.a_country.cast("string").lower().strip()
    values[("fit", "account.employee_count")] = _band_expr(base.a_emp, EMPLOYEE_BANDS)
    values[("fit", "account.annual_revenue")] = _band_expr(base.a_rev, REVENUE_BANDS)
    parts = []
    for (kind, fld), v in values.items():
        t = base.select(base.lead_id, base.won, kind=ibis.literal(kind), field=ibis.literal(fld), value=v)
        parts.append(t.filter(t.value.notnull() & (t.value != "")))
    # behaviours before the close
    ordered = stash.keep(ordered_events(store.events))
    ev = ordered.join(oc, ordered.lead_id == oc.lead_id).select(ordered.lead_id, ordered.type, ordered.t, oc.won,
                                                               oc.closed_t)
    ev = ev.filter(ev.t < ev.closed_t)
    parts.append(ev.select(ev.lead_id, ev.won, kind=ibis.literal("event"), field=ev.type.cast("string"),
                           value=ibis.literal("")).distinct())
    if model is not None and model.engagement.rules:
        m = matched_expr(model, ordered)
        m = m.join(oc, m.lead_id == oc.lead_id).select(m.lead_id, m.rule_idx, m.t, oc.won, oc.closed_t)
        m = m.filter(m.t < m.closed_t)
        parts.append(m.select(m.lead_id, m.won, kind=ibis.literal("rule"),
                              field=bx.rule_id_expr(model.engagement.rules, m.rule_idx),
                              value=ibis.literal("")).distinct())
    u = parts[0]
    for p in parts[1:]:
        u = u.union(p)
    agg = u.group_by(["kind", "field", "value"]).aggregate(n=u.count(), won=u.won.cast("int64").sum())
    return store.con.to_pyarrow(agg.order_by(["kind", "field", "value"]))


def rank_features(store: Store, outcomes: pa.Table, model: ScoringModel | None = None, *, min_support: int = 20,
                  points_per_doubling: float = 10.0) -> tuple[dict[str, Any], list[Feature]]:
    """Summary (leads, won, base rate) and the features with enough support, strongest first."""
    total = outcomes.num_rows
    won_total = sum(1 for w in outcomes.column("won").to_pylist() if w)
    summary = {"leads": total, "won": won_total, "base_rate": won_total / total if total else None,
               "min_support": min_support}
    if total == 0 or won_total == 0 or won_total == total:
        return summary, []
    base = won_total / total
    rule_points = {r.id: r.points for r in model.engagement.rules} if model is not None else {}
    bands = {_band_name(lo, hi): (lo, hi) for lo, hi in EMPLOYEE_BANDS + REVENUE_BANDS}
    with Stash(store.con) as stash:
        rows = _counts(store, model, outcomes, stash).to_pylist()
    out = []
    for r in rows:
        n, k = int(r["n"]), int(r["won"])
        if n < min_support:
            continue
        lo, hi = wilson(k, n)
        rate = k / n
        lift, lift_lo, lift_hi = rate / base, lo / base, hi / base
        sig = lift_lo > 1 or lift_hi < 1
        points = None
        if sig:
            points = round(points_per_doubling * math.log2(max(lift, 1e-3)))
        is_band = r["field"] in ("account.employee_count", "account.annual_revenue")
        out.append(Feature(kind=r["kind"], field=r["field"], value=r["value"], band=bands.get(r["value"]) if is_band else None,
                           n=n, won=k, rate=rate, rate_low=lo, rate_high=hi, lift=lift, lift_low=lift_lo,
                           lift_high=lift_hi, significant=sig, points=points,
                           current_points=rule_points.get(r["field"]) if r["kind"] == "rule" else None))
    out.sort(key=lambda f: (-f.strength, -abs(math.log(max(f.lift, 1e-12))), f.kind, f.field, f.value))
    return summary, out


def _slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return s or "x"


def suggest_yaml(features: list[Feature], model: ScoringModel | None = None, *, limit: int = 20) -> str:
    """A YAML snippet (fit rules, engagement rules, and notes on the current rules) for the strongest
    significant features with non-zero points. Event types a rule of ``model`` already scores are left
    to that rule's note."""
    fit_rules: list[dict[str, Any]] = []
    eng_rules: list[dict[str, Any]] = []
    notes: list[str] = []
    covered = {r.event for r in model.engagement.rules} if model is not None else set()
    chosen = [f for f in features if f.significant and f.points and not (f.kind == "event" and f.field in covered)]
    for f in chosen[:limit]:
        why = f"lift {f.lift:.2f} (95% {f.lift_low:.2f}-{f.lift_high:.2f}) on {f.n} closed leads"
        if f.kind == "fit":
            rule: dict[str, Any] = {"id": _slug(f"{f.field.split('.', 1)[1]}_{f.value.replace('+', '_plus')}"),
                                    "field": f.field}
            if f.band is not None:
                rule.update({"op": "range", "min": f.band[0]})
                if f.band[1] is not None:
                    rule["max"] = f.band[1]
            elif f.field == "lead.free_mail":
                rule.update({"op": "equals", "value": f.value == "true"})
            else:
                rule.update({"op": "equals", "value": f.value})
            rule.update({"points": f.points, "description": why})
            fit_rules.append(rule)
        elif f.kind == "event":
            eng_rules.append({"id": _slug(f"did_{f.field}"), "event": f.field, "points": f.points,
                              "half_life_days": 30, "description": why})
        else:
            notes.append(f"# rule {f.field}: now {f.current_points:g} points, suggested {f.points} ({why})")
    doc: dict[str, Any] = {}
    if fit_rules:
        doc["fit"] = {"rules": fit_rules}
    if eng_rules:
        doc["engagement"] = {"rules": eng_rules}
    text = "# Suggested from won vs lost outcomes; review, merge into your model and backtest it.\n"
    if doc:
        text += yaml.safe_dump(doc, sort_keys=False, width=120, allow_unicode=True)
    if notes:
        text += "# Existing engagement rules:\n" + "\n".join(notes) + "\n"
    return text
