"""The lead list query: search, filters, sort, keyset paging - one indexed query per page.

Sorts are on stored, indexed columns so a page never reads more than it shows (plus what its filters skip):

* ``score``: the stored engagement (``score_states.engagement``: as of the lead's last scoring - its last
  event, or the last batch rescore), highest first; the page shows each lead's engagement decayed to now next
  to it. Ties by lead id.
* ``fit``: the fit points, highest first. * ``newest``: creation time, newest first.

Keyset paging: the cursor is the last row's (sort value, id), so page N costs what page 1 costs (no OFFSET).
Search matches an email prefix (emails are stored lower-case) or a last-name prefix, both by index range.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, or_, select, tuple_
from sqlalchemy.orm import Session

from leadflow.core.lifecycle import LeadStatus, Stage
from leadflow.store.tables import Account, Lead, ScoreState

SORTS = ("score", "fit", "newest")
GRADES = ("A", "B", "C", "D")
PAGE_SIZE = 50
SMALL_SET = 3000  # filters matching at most this many leads are served from their match set


class FilterError(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass
class LeadFilter:
    q: str = ""
    stage: str = ""
    status: str = ""
    owner: str = ""
    grade: str = ""
    source: str = ""
    score_min: float | None = None
    score_max: float | None = None
    sort: str = "score"
    cursor: str = ""
    limit: int = PAGE_SIZE

    @classmethod
    def from_params(cls, p: Any) -> LeadFilter:
        """From query parameters (a mapping); invalid values raise FilterError naming the field."""
        def text(name: str, maxlen: int = 200) -> str:
            v = str(p.get(name) or "").strip()
            if len(v) > maxlen:
                raise FilterError(name, f"at most {maxlen} characters")
            return v

        def num(name: str) -> float | None:
            v = text(name, 32)
            if not v:
                return None
            try:
                x = float(v)
            except ValueError:
                raise FilterError(name, f"{v!r} is not a number") from None
            if x != x or x in (float("inf"), float("-inf")):
                raise FilterError(name, "must be a finite number")
            return x

        f = cls(q=text("q"), stage=text("stage", 20), status=text("status", 30), owner=text("owner"),
                grade=text("grade", 1).upper(), source=text("source", 100), score_min=num("score_min"),
                score_max=num("score_max"), sort=text("sort", 10) or "score", cursor=text("cursor", 400))
        if f.stage and f.stage not in {s.value for s in Stage}:
            raise FilterError("stage", f"{f.stage!r} is not a stage")
        if f.status and f.status not in {s.value for s in LeadStatus}:
            raise FilterError("status", f"{f.status!r} is not a lead status")
        if f.grade and f.grade not in GRADES:
            raise FilterError("grade", f"{f.grade!r} is not one of A, B, C, D")
        if f.sort not in SORTS:
            raise FilterError("sort", f"{f.sort!r} is not one of {', '.join(SORTS)}")
        if f.score_min is not None and f.score_max is not None and f.score_min > f.score_max:
            raise FilterError("score_min", "is above score_max")
        if f.cursor:
            decode_cursor(f.cursor)
        return f

    def params(self, **override: Any) -> dict[str, str]:
        """The non-empty query parameters (for links), with overrides."""
        d = {"q": self.q, "stage": self.stage, "status": self.status, "owner": self.owner, "grade": self.grade,
             "source": self.source, "score_min": "" if self.score_min is None else f"{self.score_min:g}",
             "score_max": "" if self.score_max is None else f"{self.score_max:g}", "sort": self.sort,
             "cursor": self.cursor}
        d.update({k: "" if v is None else str(v) for k, v in override.items()})
        return {k: v for k, v in d.items() if v and not (k == "sort" and v == "score")}

    @property
    def active(self) -> bool:
        return any((self.q, self.stage, self.status, self.owner, self.grade, self.source,
                    self.score_min is not None, self.score_max is not None))


def encode_cursor(value: Any, lead_id: str) -> str:
    raw = json.dumps([value, lead_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[Any, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, lead_id = json.loads(raw)
    except (ValueError, TypeError):
        raise FilterError("cursor", "is not a cursor this list produced") from None
    if not isinstance(lead_id, str) or not (value is None or isinstance(value, int | float | str)):
        raise FilterError("cursor", "is not a cursor this list produced")
    return value, lead_id


@dataclass
class LeadPage:
    rows: list[dict[str, Any]] = field(default_factory=list)
    next_cursor: str | None = None


def _prefix_range(col: Any, prefix: str) -> Any:
    return and_(col >= prefix, col < prefix + "\uffff")


def lead_conditions(f: LeadFilter) -> list[Any]:
    """The filters on lead columns (each backed by an index on (workspace_id, column))."""
    conds: list[Any] = []
    if f.q:
        term = f.q.strip()
        conds.append(or_(_prefix_range(Lead.email, term.lower()),
                         _prefix_range(Lead.last_name, term[:1].upper() + term[1:])))
    if f.stage:
        conds.append(Lead.stage == f.stage)
    if f.status:
        conds.append(Lead.lead_status == f.status)
    if f.owner:
        conds.append(Lead.owner == f.owner)
    if f.source:
        conds.append(Lead.source == f.source)
    return conds


def _score_conditions(f: LeadFilter) -> list[Any]:
    conds: list[Any] = []
    if f.grade:
        conds.append(ScoreState.grade == f.grade)
    if f.score_min is not None:
        conds.append(ScoreState.engagement >= f.score_min)
    if f.score_max is not None:
        conds.append(ScoreState.engagement <= f.score_max)
    return conds


def _sort_value(f: LeadFilter, row: Any) -> Any:
    return row.engagement if f.sort == "score" else row.fit if f.sort == "fit" else row.created_at


def list_leads(session: Session, workspace_id: str, model_key: str, f: LeadFilter) -> LeadPage:
    """One page of leads. Two plans, chosen per request:

    * **Match set** (a search or filters on lead columns matching at most ``SMALL_SET`` leads): the matches and
      their sort keys are read from the lead indexes (no ORDER BY, so no database walks the sort index), sorted
      here, and only the page's rows fetched by primary key.
    * **Sort-index walk** (no lead filter, or one matching many leads): the sort index is walked from the
      cursor and the filters checked row by row; matches are dense, so a page is found after a few rows.
    """
    cursor = decode_cursor(f.cursor) if f.cursor else None
    if cursor is not None and f.sort == "newest" and isinstance(cursor[0], str):
        from leadflow.core.timeutil import parse_ts

        cursor = (parse_ts(cursor[0]), cursor[1])
    lead_conds, score_conds = lead_conditions(f), _score_conditions(f)
    state_join = and_(ScoreState.lead_id == Lead.id, ScoreState.model_key == model_key)
    if lead_conds:
        # an upper bound of the matches: the smallest match count of one filter, each counted on its own index
        # (capped, index-only: cheap either way)
        matched = min(session.scalar(select(func.count()).select_from(
            select(Lead.id).where(Lead.workspace_id == workspace_id, c).limit(SMALL_SET + 1).subquery()))
            for c in lead_conds)
        if matched <= SMALL_SET:
            keyed = select(Lead.id, Lead.created_at, ScoreState.engagement, ScoreState.fit).select_from(Lead)
            keyed = (keyed.join(ScoreState, state_join) if f.sort != "newest" or score_conds
                     else keyed.outerjoin(ScoreState, state_join))
            found = session.execute(keyed.where(Lead.workspace_id == workspace_id, *lead_conds, *score_conds)).all()
            return _page_from_set(session, model_key, f, found, cursor)
    return _page_by_walk(session, workspace_id, model_key, f, lead_conds + score_conds, cursor)


def _columns() -> tuple[Any, ...]:
    return (Lead.id, Lead.email, Lead.first_name, Lead.last_name, Lead.title, Lead.stage, Lead.lead_status,
            Lead.owner, Lead.source, Lead.created_at, Account.domain, Account.name.label("account_name"),
            ScoreState.fit, ScoreState.grade, ScoreState.engagement, ScoreState.last_event_at,
            ScoreState.state, ScoreState.scored_at)


def _finish(f: LeadFilter, rows: list[dict[str, Any]]) -> LeadPage:
    page = LeadPage(rows[:f.limit])
    if len(rows) > f.limit:
        last = page.rows[-1]
        v = last["engagement"] if f.sort == "score" else last["fit"] if f.sort == "fit" else last["created_at"].isoformat()
        page.next_cursor = encode_cursor(v, last["id"])
    return page


def _page_from_set(session: Session, model_key: str, f: LeadFilter, found: list[Any],
                   cursor: tuple[Any, str] | None) -> LeadPage:
    from leadflow.core.timeutil import as_utc

    def key(r: Any) -> tuple[Any, str]:
        v = _sort_value(f, r)
        if f.sort == "newest":
            v = as_utc(v)
        return (v if v is not None else float("-inf"), r.id)

    keys = sorted(((key(r), r.id) for r in found), reverse=True)
    if cursor is not None:
        c = (as_utc(cursor[0]) if f.sort == "newest" else cursor[0], cursor[1])
        keys = [k for k in keys if k[0] < c]
    ids = [i for _, i in keys[:f.limit + 1]]
    if not ids:
        return LeadPage([])
    q = (select(*_columns()).select_from(Lead)
         .outerjoin(ScoreState, and_(ScoreState.lead_id == Lead.id, ScoreState.model_key == model_key))
         .outerjoin(Account, Account.id == Lead.account_id).where(Lead.id.in_(ids)))
    by_id = {r.id: dict(r._mapping) for r in session.execute(q)}
    return _finish(f, [by_id[i] for i in ids if i in by_id])


def _page_by_walk(session: Session, workspace_id: str, model_key: str, f: LeadFilter, conds: list[Any],
                  cursor: tuple[Any, str] | None) -> LeadPage:
    if f.sort in ("score", "fit"):
        key = ScoreState.engagement if f.sort == "score" else ScoreState.fit
        q = (select(*_columns()).select_from(ScoreState).join(Lead, Lead.id == ScoreState.lead_id)
             .where(ScoreState.workspace_id == workspace_id, ScoreState.model_key == model_key))
        idcol = ScoreState.lead_id
    else:
        key = Lead.created_at
        q = (select(*_columns()).select_from(Lead)
             .outerjoin(ScoreState, and_(ScoreState.lead_id == Lead.id, ScoreState.model_key == model_key))
             .where(Lead.workspace_id == workspace_id))
        idcol = Lead.id
    q = q.outerjoin(Account, Account.id == Lead.account_id).where(*conds)
    if cursor is not None:
        q = q.where(tuple_(key, idcol) < tuple_(cursor[0], cursor[1]))
    q = q.order_by(key.desc(), idcol.desc()).limit(f.limit + 1)
    return _finish(f, [dict(r._mapping) for r in session.execute(q)])


def distinct_values(session: Session, workspace_id: str, column: Any, limit: int = 50) -> list[str]:
    """A few distinct values of an indexed column (filter choices): an index skip-scan, not a table scan."""
    out: list[str] = []
    last: str | None = None
    while len(out) < limit:
        q = select(column).where(Lead.workspace_id == workspace_id, column.is_not(None))
        if last is not None:
            q = q.where(column > last)
        v = session.scalar(q.order_by(column).limit(1))
        if v is None:
            break
        out.append(v)
        last = v
    return out
