"""Ingestion and qualification: the one write path for leads, accounts, events, outcomes and stage changes.

Everything is written in batches, one transaction per batch (nothing half-stored), with a handful of round
trips per batch whatever its size. Per lead and per active scoring model, the :class:`~leadflow.core.qualify.Qualifier`
state is loaded once, events are folded in (the O(1) fast path when they arrive in time order) and the state
written back once. An event older than what a lead has already folded (a late event, or an anonymous history
merged on identification) makes that lead replay from the log, so the result is always what a full
recompute gives. Rule-made stage rows that a replay no longer produces are kept and marked superseded.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from operator import itemgetter
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from leadflow.core.events import EventRejected, ValidEvent, normalize_email, validate_event
from leadflow.core.lifecycle import Actor, Stage, Transition, check_transition
from leadflow.core.qualify import Input, ManualChange, OutcomeInput, Qualifier, input_key, replay
from leadflow.core.scoring.engine import FitResult, ScoredEvent, clamp, score_fit
from leadflow.core.scoring.rules import FREE_MAIL_DOMAINS
from leadflow.core.scoring.spec import ScoringModel
from leadflow.core.timeutil import as_utc, epoch, from_epoch, utcnow
from leadflow.services.signals import Signal, publish
from leadflow.services.workspaces import active_models
from leadflow.store import bulk
from leadflow.store.tables import (
    Account,
    Event,
    Identity,
    Lead,
    Outcome,
    QualifyQueue,
    ScoreState,
    StageChange,
    Workspace,
    new_id,
)

log = logging.getLogger("leadflow.scoring")

LEAD_FIELDS = ("first_name", "last_name", "title", "seniority", "department", "phone", "country", "source", "medium",
               "campaign", "landing_page", "consent", "unsubscribed", "owner", "lead_status")
ACCOUNT_FIELDS = ("name", "industry", "employee_count", "annual_revenue", "country", "owner")
CHUNK = 500  # ids per IN (...) list


def _chunks(seq: Sequence[Any], n: int = CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


@dataclass
class EventResult:
    index: int
    status: str  # accepted | duplicate | rejected
    id: str | None = None
    field: str | None = None
    reason: str | None = None


@dataclass
class BatchReport:
    results: list[EventResult] = field(default_factory=list)
    transitions: int = 0
    replayed_leads: int = 0
    leads_created: int = 0

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)


LEAD_ATTRS = ("email", *LEAD_FIELDS, "properties")  # what fit rules read of a lead
ACCOUNT_ATTRS = ("domain", *ACCOUNT_FIELDS, "properties")  # ... and of its account


def lead_attrs(lead: Any) -> dict[str, Any]:
    """A lead (entity or row) as the attribute mapping fit rules read."""
    return {c: getattr(lead, c) for c in LEAD_ATTRS}


def account_attrs(acc: Any | None) -> dict[str, Any] | None:
    if acc is None:
        return None
    return {c: getattr(acc, c) for c in ACCOUNT_ATTRS}


def email_domain(email: str) -> str | None:
    domain = email.rpartition("@")[2].lower()
    return None if domain in FREE_MAIL_DOMAINS else domain


class Ingestor:
    """Write path for one workspace. Use one per batch inside a unit of work (``Database.session()``).

    ``workspace``: a :class:`Workspace` or a :func:`workspace_row` (only its ``id`` and ``lifecycle_model`` are read).
    """

    def __init__(self, session: Session, workspace: Any, *, allow_custom_types: bool = True,
                 future_policy: str = "clamp") -> None:
        self.s = session
        self.ws = workspace
        self.allow_custom_types = allow_custom_types
        self.future_policy = future_policy
        self.models: list[ScoringModel] = active_models(session, workspace.id)
        self.lifecycle_key = workspace.lifecycle_model
        self.dialect = session.get_bind().dialect.name

    # ------------------------------------------------------------------------------------ accounts
    def upsert_accounts(self, records: Sequence[Mapping[str, Any]]) -> dict[str, str]:
        """Create or update accounts by domain; returns domain -> account id."""
        now = utcnow()
        by_domain: dict[str, Mapping[str, Any]] = {}
        for r in records:
            by_domain[str(r["domain"]).lower()] = r
        existing = self._accounts_by_domain(list(by_domain))
        new_rows, changed = [], []
        for domain, r in by_domain.items():
            acc = existing.get(domain)
            if acc is None:
                row = {"id": new_id(), "workspace_id": self.ws.id, "domain": domain, "created_at": now, "updated_at": now,
                       "properties": dict(r.get("properties") or {}), **{c: r.get(c) for c in ACCOUNT_FIELDS}}
                new_rows.append(row)
            else:
                dirty = False
                for c in ACCOUNT_FIELDS:
                    if r.get(c) not in (None, "") and getattr(acc, c) != r.get(c):
                        setattr(acc, c, r.get(c))
                        dirty = True
                if r.get("properties"):
                    acc.properties = {**(acc.properties or {}), **r["properties"]}
                    dirty = True
                if dirty:
                    acc.updated_at = now
                    changed.append(acc.id)
        out = {d: a.id for d, a in existing.items()}
        if new_rows:  # Core insert: no ORM bookkeeping per row (the rows are complete)
            inserted = self._insert_new(Account.__table__, new_rows, "domain")
            if len(inserted) < len(new_rows):  # created meanwhile by another transaction: update those
                lost = [r["domain"] for r in new_rows if r["id"] not in inserted]
                new_rows = [r for r in new_rows if r["id"] in inserted]
                out.update(self.upsert_accounts([by_domain[d] for d in lost]))
        out.update({r["domain"]: r["id"] for r in new_rows})
        if changed:
            self.s.flush()
            lead_ids = self.s.scalars(select(Lead.id).where(Lead.workspace_id == self.ws.id,
                                                            Lead.account_id.in_(changed))).all()
            self.requalify(list(lead_ids))
        return out

    def _account_ids_by_domain(self, domains: list[str]) -> dict[str, str]:
        """domain -> account id, two columns read (no entities)."""
        stmt = _statements(self.dialect).account_ids_by_domain
        out: dict[str, str] = {}
        for part in _chunks(domains):
            out.update(self.s.execute(stmt, {"ws": self.ws.id, "ids": list(part)}).all())
        return out

    def _accounts_by_domain(self, domains: list[str]) -> dict[str, Account]:
        out: dict[str, Account] = {}
        for part in _chunks(domains):
            for acc in self.s.scalars(select(Account).where(Account.workspace_id == self.ws.id, Account.domain.in_(part))):
                out[acc.domain] = acc
        return out

    # --------------------------------------------------------------------------------------- leads
    def upsert_leads(self, records: Sequence[Mapping[str, Any]], *, requalify: bool = True,
                     defer_scoring: bool = False, known_new: bool = False) -> dict[str, str]:
        """Create or update leads by email (later values win); returns email -> lead id.

        ``known_new``: the caller looked these emails up in this transaction and found none, so the lookup is
        not repeated (a lead another transaction creates meanwhile is still handled: see :meth:`_insert_new`).

        A record may carry ``company_domain`` (linked to an account, created if missing; derived from a
        company email when absent), ``stage`` (an imported stage, recorded as a system change) and
        ``created_at``. The leads are then replayed (``requalify``), or with ``defer_scoring`` queued for a
        replay by :meth:`qualify_queued`.
        """
        now = utcnow()
        merged: dict[str, dict[str, Any]] = {}
        for r in records:
            email = normalize_email(r["email"])
            cur = merged.setdefault(email, {"email": email})
            for k, v in r.items():
                if k != "email" and v not in (None, ""):
                    cur[k] = {**cur.get(k, {}), **v} if k == "properties" else v
        domains = {}
        for email, r in merged.items():
            d = r.get("company_domain") or email_domain(email)
            if d:
                domains[email] = str(d).lower()
        acc_ids = self._account_ids_by_domain(sorted(set(domains.values())))
        names: dict[str, str] = {}
        for e, r in merged.items():
            if r.get("company_name") and domains.get(e):
                names.setdefault(domains[e], r["company_name"])
        missing = [{"domain": d, "name": names.get(d)} for d in sorted(set(domains.values()) - set(acc_ids))]
        if missing:
            acc_ids.update(self.upsert_accounts(missing))
        existing = {} if known_new else self._leads_by_email(list(merged))
        new_rows, touched, stage_inputs = [], [], []
        for email, r in merged.items():
            lead = existing.get(email)
            if lead is None:
                created = as_utc(r["created_at"]) if isinstance(r.get("created_at"), datetime) else now
                row = {"id": new_id(), "workspace_id": self.ws.id, "email": email, "account_id": acc_ids.get(domains.get(email)),
                       "properties": dict(r.get("properties") or {}), "stage": Stage.SUBSCRIBER.value,
                       "lead_status": r.get("lead_status") or "new", "created_at": created, "updated_at": now,
                       "consent": bool(r.get("consent", False)), "unsubscribed": bool(r.get("unsubscribed", False)),
                       **{c: r.get(c) for c in LEAD_FIELDS if c not in ("consent", "unsubscribed", "lead_status")}}
                new_rows.append(row)
                touched.append(row["id"])
                if r.get("stage"):
                    stage_inputs.append((row["id"], Stage(r["stage"]), created))
            else:
                for c in LEAD_FIELDS:
                    if c in r and getattr(lead, c) != r[c]:
                        setattr(lead, c, r[c])
                if r.get("properties"):
                    lead.properties = {**(lead.properties or {}), **r["properties"]}
                if domains.get(email) and lead.account_id is None:
                    lead.account_id = acc_ids.get(domains[email])
                lead.updated_at = now
                touched.append(lead.id)
                if r.get("stage") and r["stage"] != lead.stage:
                    stage_inputs.append((lead.id, Stage(r["stage"]), now))
        again: dict[str, str] = {}
        if new_rows:  # Core insert: no ORM bookkeeping per row (the rows are complete)
            self.s.flush()
            inserted = self._insert_new(Lead.__table__, new_rows, "email")
            if len(inserted) < len(new_rows):
                # another transaction created some of these leads meanwhile (PostgreSQL: the insert waited for
                # it on the unique index): they are existing leads now, updated like any other
                lost = {r["id"]: r["email"] for r in new_rows if r["id"] not in inserted}
                new_rows = [r for r in new_rows if r["id"] in inserted]
                stage_inputs = [x for x in stage_inputs if x[0] not in lost]
                touched = [t for t in touched if t not in lost]
                again = self.upsert_leads([merged[e] for e in lost.values()], requalify=False)
                touched.extend(again.values())
        self.s.flush()
        self.publish([Signal("lead.created", r["id"], r["created_at"], {"email": r["email"]}) for r in new_rows])
        for lead_id, stage, at in stage_inputs:
            self._record_manual(lead_id, stage, at, Actor.SYSTEM, "imported with this stage", None)
        if requalify and defer_scoring:  # replayed by the queue (qualify_queued), as ingest_valid defers
            self._enqueue({}, set(touched))
        elif requalify:
            self.requalify(touched)
        out = {e: lead.id for e, lead in existing.items()}
        out.update(again)
        out.update({r["email"]: r["id"] for r in new_rows})
        return out

    def _insert_new(self, table: Any, rows: list[dict[str, Any]], key: str) -> set[str]:
        """Insert new rows of ``table``, unique on ``(workspace_id, key)``; returns the ids really inserted.

        On PostgreSQL another transaction may have created the same lead or account since this one looked
        (an import beside the HTTP writer, two server processes): ``ON CONFLICT DO NOTHING`` waits for it and
        skips the row instead of failing the whole transaction, and the caller treats that row as existing. On
        SQLite writers are serialised (a transaction that read before another's commit cannot write), so a
        plain insert."""
        if self.dialect == "sqlite":  # below SQLAlchemy's per-row processing (store/bulk.py)
            bulk.sqlite_insert(self.s.connection(), table, rows)
            return {r["id"] for r in rows}
        if self.dialect != "postgresql":
            self.s.execute(insert(table), rows)
            return {r["id"] for r in rows}
        stmt = pg_insert(table).on_conflict_do_nothing(index_elements=["workspace_id", key]).returning(table.c.id)
        return set(self.s.execute(stmt, rows).scalars())

    def _leads_by_email(self, emails: list[str]) -> dict[str, Lead]:
        out: dict[str, Lead] = {}
        for part in _chunks(emails):
            for lead in self.s.scalars(select(Lead).where(Lead.workspace_id == self.ws.id, Lead.email.in_(part))):
                out[lead.email] = lead
        return out

    def _lead_ids_by_email(self, emails: list[str]) -> dict[str, str]:
        """email -> lead id, two columns read (no entities: the event path needs only the ids)."""
        stmt = _statements(self.dialect).lead_ids_by_email
        out: dict[str, str] = {}
        for part in _chunks(emails):
            out.update(self.s.execute(stmt, {"ws": self.ws.id, "ids": list(part)}).all())
        return out

    # -------------------------------------------------------------------------------------- events
    def validate(self, raw_events: Sequence[Mapping[str, Any]], received_at: datetime | None = None
                 ) -> tuple[list[tuple[int, ValidEvent]], list[EventResult]]:
        received_at = received_at or utcnow()
        ok, bad = [], []
        for i, raw in enumerate(raw_events):
            try:
                ok.append((i, validate_event(raw, received_at=received_at, allow_custom_types=self.allow_custom_types,
                                             future_policy=self.future_policy)))
            except EventRejected as exc:
                bad.append(EventResult(i, "rejected", field=exc.field, reason=exc.reason))
        return ok, bad

    def ingest_events(self, raw_events: Sequence[Mapping[str, Any]], received_at: datetime | None = None) -> BatchReport:
        """Validate, store (dedup by message_id) and score a batch of raw events."""
        ok, bad = self.validate(raw_events, received_at)
        report = self.ingest_valid(ok)
        report.results.extend(bad)
        report.results.sort(key=lambda r: r.index)
        return report

    def ingest_valid(self, items: Sequence[tuple[int, ValidEvent]], *, defer_scoring: bool = False) -> BatchReport:
        """Store validated events (dedup by message_id) and score them.

        ``defer_scoring``: store the events and queue them for scoring (:meth:`qualify_queued`) instead of
        folding them in now; the HTTP ingest path does so, to answer as soon as the events are in the log.
        """
        report = BatchReport()
        if not items:
            return report
        # 1. people: known leads by email, new leads created, anonymous ids resolved
        emails = sorted({ev.email for _, ev in items if ev.email})
        leads = self._lead_ids_by_email(emails)
        new_emails = {e for e in emails if e not in leads}
        if new_emails:
            now = utcnow()
            first_seen = {}
            for _, ev in items:
                if ev.email in new_emails:
                    first_seen[ev.email] = min(first_seen.get(ev.email, ev.occurred_at), ev.occurred_at)
            # scored below with their events (not replayed twice in one transaction)
            ids = self.upsert_leads([{"email": e, "created_at": min(first_seen[e], now)} for e in sorted(new_emails)],
                                    requalify=False,
                                    # looked up just above (validated events carry normalised emails)
                                    known_new=all(normalize_email(e) == e for e in new_emails))
            leads.update(ids)
            report.leads_created = len(new_emails)
        anon_ids = sorted({ev.anonymous_id for _, ev in items if ev.anonymous_id})
        identities = self._identities(anon_ids)
        merges: dict[str, str] = {}  # anonymous id -> lead id, newly identified in this batch
        for _, ev in items:
            if ev.email and ev.anonymous_id and ev.anonymous_id not in identities:
                identities[ev.anonymous_id] = leads[ev.email]
                merges[ev.anonymous_id] = leads[ev.email]
        if merges:
            now = utcnow()
            self.s.execute(insert(Identity), [{"workspace_id": self.ws.id, "anonymous_id": a, "lead_id": lid,
                                               "created_at": now} for a, lid in merges.items()])
        # 2. store the events, skipping duplicates (within the batch and against the log)
        rows, seen_mid = [], set()
        ws_id = self.ws.id
        for idx, ev in items:
            if ev.message_id is not None:
                if ev.message_id in seen_mid:
                    report.results.append(EventResult(idx, "duplicate"))
                    continue
                seen_mid.add(ev.message_id)
            lead_id = leads.get(ev.email) if ev.email else identities.get(ev.anonymous_id)
            props = ev.properties  # validate_event made it a fresh dict already
            rows.append((idx, {"id": new_id(), "workspace_id": ws_id, "lead_id": lead_id,
                               "anonymous_id": ev.anonymous_id, "message_id": ev.message_id, "type": ev.type,
                               "occurred_at": ev.occurred_at, "received_at": ev.received_at,
                               "properties": props if type(props) is dict else dict(props),
                               "flags": ",".join(ev.flags) or None if ev.flags else None}))
        inserted = self._insert_events([r for _, r in rows])
        by_lead: dict[str, list[ScoredEvent]] = defaultdict(list)
        for idx, row in rows:
            if row["id"] in inserted:
                report.results.append(EventResult(idx, "accepted", id=row["id"]))
                if row["lead_id"]:
                    occ = row["occurred_at"]
                    by_lead[row["lead_id"]].append(ScoredEvent(occ.timestamp() if occ.tzinfo is UTC else epoch(occ),
                                                               row["id"], row["type"], row["properties"]))
            else:
                report.results.append(EventResult(idx, "duplicate"))
        # 3. merge anonymous history into the identified leads (those leads replay)
        replay_ids: set[str] = set()
        if merges:
            for anon, lid in merges.items():
                n = self.s.execute(update(Event).where(Event.workspace_id == self.ws.id, Event.anonymous_id == anon,
                                                       Event.lead_id.is_(None)).values(lead_id=lid)).rowcount
                if n:
                    replay_ids.add(lid)
        # 4. score and stage (a new lead all of whose events were duplicates still gets its first score state)
        replay_ids |= {leads[e] for e in new_emails if leads[e] not in by_lead}
        if defer_scoring:
            self._enqueue(by_lead, replay_ids)
        else:
            report.transitions, report.replayed_leads = self._qualify(by_lead, replay_ids)
        return report

    # ------------------------------------------------------------------------------ deferred scoring
    def _enqueue(self, new_events: Mapping[str, list[ScoredEvent]], replay_ids: set[str]) -> None:
        if not self.models:
            return
        now, ws_id = utcnow(), self.ws.id
        rows = [{"workspace_id": ws_id, "lead_id": lid, "event_id": ev.id, "enqueued_at": now}
                for lid, evs in new_events.items() for ev in evs]
        rows += [{"workspace_id": ws_id, "lead_id": lid, "event_id": None, "enqueued_at": now}
                 for lid in sorted(replay_ids)]
        if not rows:
            return
        if self.dialect == "sqlite":  # below SQLAlchemy's per-row processing (store/bulk.py)
            bulk.sqlite_insert(self.s.connection(), QualifyQueue.__table__, rows)
        else:
            self.s.execute(insert(QualifyQueue.__table__), rows)

    def qualify_queued(self, limit: int = 1000, taken: list[int] | None = None) -> int:
        """Fold up to ``limit`` queued events (the oldest first) into their leads' scores and stages, and
        take them off the queue, in this unit of work. Returns how many queue rows were handled (0: none left).
        ``taken`` (a list) receives the queue rows' ``seq`` as soon as they are taken, before folding: if the fold
        raises, the caller knows which rows it was about.

        A lead whose queued events are older than what it has folded replays from the log, as on the
        synchronous path, so the result is what scoring them on arrival would have given. On PostgreSQL the
        rows are taken with ``SKIP LOCKED`` and the leads locked (:meth:`_qualify`), so several server processes
        may drain the queue at once without folding the same lead twice in parallel.
        """
        qq = QualifyQueue.__table__
        stmt = (select(qq.c.seq, qq.c.lead_id, qq.c.event_id, Event.type, Event.occurred_at, Event.properties)
                .outerjoin(Event, Event.id == qq.c.event_id)
                .where(qq.c.workspace_id == self.ws.id, qq.c.failed_at.is_(None)).order_by(qq.c.seq).limit(limit))
        if self.dialect == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True, of=qq)
        rows = self.s.execute(stmt).all()
        if not rows:
            return 0
        if taken is not None:
            taken.extend(r[0] for r in rows)
        by_lead: dict[str, list[ScoredEvent]] = defaultdict(list)
        replay_ids: set[str] = set()
        seen: set[str] = set()
        for _seq, lid, eid, etype, occ, props in rows:
            if eid is None or etype is None:
                replay_ids.add(lid)
            elif eid not in seen:
                seen.add(eid)
                by_lead[lid].append(ScoredEvent(epoch(occ), eid, etype, props or {}))
        # a lead replayed anyway needs no separate fold of its queued events
        self._qualify({lid: evs for lid, evs in by_lead.items() if lid not in replay_ids}, replay_ids)
        seqs = [r[0] for r in rows]
        for part in _chunks(seqs):
            self.s.execute(qq.delete().where(qq.c.seq.in_(part)))
        return len(rows)

    def _identities(self, anon_ids: list[str]) -> dict[str, str]:
        stmt = _statements(self.dialect).identities
        out: dict[str, str] = {}
        for part in _chunks(anon_ids):
            out.update(self.s.execute(stmt, {"ws": self.ws.id, "ids": list(part)}).all())
        return out

    def _insert_events(self, rows: list[dict[str, Any]]) -> set[str]:
        """Insert, ignoring rows whose message_id is already in the log; returns the ids really inserted.

        Below SQLAlchemy's per-row parameter processing: properties are serialised once with ``json.dumps``
        (what the JSON type does) and, on SQLite, datetimes formatted once as the DATETIME type stores them
        (:mod:`leadflow.store.bulk`), so the stored rows are the same as a Core insert's
        (tests/services/test_ingest_speedpaths.py). On SQLite one executemany per batch (the rows a
        conflict skipped are found by id only when the change count says some were); on PostgreSQL a COPY
        into a temporary stage table and one ``INSERT ... SELECT ... ON CONFLICT DO NOTHING RETURNING id`` per
        5,000 rows.
        """
        if not rows:
            return set()
        conn = self.s.connection()
        dumps = json.dumps
        inserted: set[str] = set()
        if self.dialect == "postgresql":
            # COPY into a session-local stage table, then move its rows with one INSERT ... ON CONFLICT DO NOTHING
            # RETURNING id (the DELETE ... RETURNING leaves the stage empty, whatever happens next in this
            # transaction); measured about twice as fast as INSERT ... SELECT FROM unnest(...) of the same rows.
            conn.exec_driver_sql(_PG_STAGE_TABLE)
            raw = conn.connection.driver_connection
            ws_id = self.ws.id
            for part in _chunks(rows, 5000):
                with raw.cursor() as cur, cur.copy(_PG_COPY_STAGE) as copy:
                    write = copy.write_row
                    for r in part:
                        write((r["id"], ws_id, r["lead_id"], r["anonymous_id"], r["message_id"], r["type"],
                               r["occurred_at"], r["received_at"], dumps(r["properties"]), r["flags"]))
                inserted.update(row[0] for row in conn.exec_driver_sql(_PG_MOVE_STAGE))
            return inserted
        ws_id = self.ws.id
        changed = bulk.sqlite_insert(conn, Event.__table__, rows, conflict=("workspace_id", "message_id"))
        if changed == len(rows):
            return {r["id"] for r in rows}
        for part in _chunks([r["id"] for r in rows]):  # some rows met a message_id already in the log
            inserted.update(self.s.scalars(select(Event.id).where(Event.workspace_id == ws_id, Event.id.in_(part))))
        return inserted

    # ------------------------------------------------------------------------------------ outcomes
    def record_outcomes(self, records: Sequence[Mapping[str, Any]]) -> list[str]:
        """Record won / lost outcomes (by email); won -> customer, lost -> nurture."""
        emails = sorted({normalize_email(r["email"]) for r in records})
        leads = self._leads_by_email(emails)
        missing = [e for e in emails if e not in leads]
        if missing:
            raise LookupError(f"no lead with email {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}")
        now = utcnow()
        rows = []
        for r in records:
            result = str(r["result"]).lower()
            if result not in ("won", "lost"):
                raise ValueError(f"outcome result must be won or lost, got {r['result']!r}")
            rows.append({"id": new_id(), "workspace_id": self.ws.id, "lead_id": leads[normalize_email(r["email"])].id,
                         "result": result, "amount": r.get("amount"), "currency": r.get("currency"),
                         "closed_at": as_utc(r["closed_at"]) if r.get("closed_at") else now, "reason": r.get("reason"),
                         "created_at": now})
        self.s.execute(insert(Outcome), rows)
        self.requalify(sorted({r["lead_id"] for r in rows}))
        self.publish([Signal("outcome.recorded", r["lead_id"], r["closed_at"],
                             {"outcome_id": r["id"], "result": r["result"], "amount": r["amount"],
                              "currency": r["currency"], "reason": r["reason"]}) for r in rows])
        return [r["id"] for r in rows]

    # ------------------------------------------------------------------------------- manual changes
    def change_stage(self, lead_id: str, to: Stage, *, reason: str, actor_id: str | None,
                     actor: Actor = Actor.USER, at: datetime | None = None) -> Transition:
        """A person moves a lead. Forbidden moves raise IllegalTransition and change nothing."""
        # populate_existing: a bulk stage UPDATE earlier in this session must not leave a stale stage behind
        lead = self.s.scalar(select(Lead).where(Lead.workspace_id == self.ws.id, Lead.id == lead_id)
                             .execution_options(populate_existing=True))
        if lead is None:
            raise LookupError(f"no lead {lead_id}")
        if not reason.strip():
            raise ValueError("a manual stage change needs a reason")
        check_transition(Stage(lead.stage), to)
        self._record_manual(lead_id, to, at or utcnow(), actor, reason, actor_id)
        self.requalify([lead_id])
        row = self.s.scalars(select(StageChange).where(StageChange.lead_id == lead_id, StageChange.actor == actor.value)
                             .order_by(StageChange.recorded_at.desc(), StageChange.id.desc()).limit(1)).one()
        return _row_transition(row)

    def _record_manual(self, lead_id: str, to: Stage, at: datetime, actor: Actor, reason: str,
                       actor_id: str | None) -> None:
        cur = self.s.scalar(select(Lead.stage).where(Lead.id == lead_id))
        self.s.execute(insert(StageChange), [{
            "id": new_id(), "workspace_id": self.ws.id, "lead_id": lead_id, "from_stage": cur, "to_stage": to.value,
            "at": as_utc(at), "recorded_at": utcnow(), "actor": actor.value, "actor_id": actor_id, "reason": reason,
            "rule": None, "model_ref": None, "score": None, "cause_id": "manual"}])

    # ------------------------------------------------------------------------------- qualification
    def requalify(self, lead_ids: Sequence[str]) -> int:
        """Replay these leads from the log (after attribute, account, outcome or manual changes)."""
        if not lead_ids:
            return 0
        self.s.flush()
        transitions, _ = self._qualify({}, set(lead_ids))
        return transitions

    def _qualify(self, new_events: Mapping[str, list[ScoredEvent]], replay_ids: set[str]) -> tuple[int, int]:
        lead_ids = sorted(set(new_events) | replay_ids)
        if not lead_ids or not self.models:
            return 0, 0
        now = utcnow()
        # on PostgreSQL the leads are locked as they are read (in id order: no deadlock between two folds), before
        # their states are read, so a concurrent fold of the same lead (another server process, the queue scorer,
        # an import job) waits and then reads the state this one writes: no fold is lost
        # (tests/services/test_concurrent_inline_pg.py). FOR NO KEY UPDATE: it does not conflict with the KEY SHARE
        # locks that inserting events (foreign keys to the leads) takes, which FOR UPDATE does - two writers would
        # deadlock
        leads, accounts = self._lead_rows(lead_ids)
        states = self._states(lead_ids)
        fast: dict[str, dict[str, Qualifier]] = {}
        slow: set[str] = set(replay_ids)
        for lid in lead_ids:
            evs = sorted(new_events.get(lid, ()), key=lambda e: (e.t, e.id))
            if lid in slow or not evs:
                slow.add(lid)
                continue
            qs = {}
            for m in self.models:
                st = states.get((lid, m.key))
                q = Qualifier.from_dict(st.state if st is not None and st.model_version == m.version else None)
                # a state from another model version, or cleared by a batch rescore ({}), replays the lead
                if (st is not None and (st.model_version != m.version or not st.state)) \
                        or not q.is_in_order(input_key(evs[0])):
                    slow.add(lid)
                    break
                qs[m.key] = q
            else:
                fast[lid] = qs
        state_rows: list[dict[str, Any]] = []
        history_rows: list[dict[str, Any]] = []
        stage_updates: dict[str, str] = {}
        fits = {}
        for lid in lead_ids:
            row = leads[lid]
            attrs = _LEAD_ATTRS(row)
            acc = accounts.get(row.account_id)
            acc_attrs = None if acc is None else _ACCOUNT_ATTRS(acc)
            fits[lid] = {m.key: score_fit(m, attrs, acc_attrs) for m in self.models}
        for lid, qs in fast.items():
            evs = sorted(new_events[lid], key=lambda e: (e.t, e.id))
            for m in self.models:
                q, fit = qs[m.key], fits[lid][m.key]
                for ev in evs:
                    trs = q.on_event(m, fit, ev)
                    if m.key == self.lifecycle_key:
                        history_rows.extend(self._history_row(lid, tr, now) for tr in trs)
                state_rows.append(self._state_row(lid, m, q, fit, now))
                if m.key == self.lifecycle_key and q.stage is not None and q.stage.value != leads[lid].stage:
                    stage_updates[lid] = q.stage.value
        if slow:
            self._replay(sorted(slow), leads, fits, now, state_rows, history_rows, stage_updates)
        self._write_states(state_rows)
        if history_rows:
            # Core insert on the table: the same rows (column defaults are Core-level), without the ORM's
            # bulk-insert bookkeeping per row; the session was flushed by the ORM statements above.
            if self.dialect == "sqlite":
                bulk.sqlite_insert(self.s.connection(), StageChange.__table__, history_rows)
            else:
                self.s.execute(insert(StageChange.__table__), history_rows)
        if stage_updates:
            signals = self._stage_signals(leads, stage_updates, history_rows, now)
            moves = [{"id": lid, "stage": st, "updated_at": now} for lid, st in stage_updates.items()]
            if self.dialect == "sqlite":  # a plain update by id; entities of these leads loaded in this session
                bulk.sqlite_update_by_id(self.s.connection(), Lead.__table__, moves)  # read the new stage again
                for lid in stage_updates:
                    obj = self.s.identity_map.get(identity_key(Lead, lid))
                    if obj is not None:
                        self.s.expire(obj, ["stage", "updated_at"])
            else:
                self.s.execute(update(Lead), moves)
            self.publish(signals)
        return len(history_rows), len(slow)

    def _stage_signals(self, leads: Mapping[str, Lead], stage_updates: Mapping[str, str],
                       history_rows: list[dict[str, Any]], now: datetime) -> list[Signal]:
        last: dict[str, dict[str, Any]] = {}
        for row in history_rows:
            if row["lead_id"] in stage_updates and row["to_stage"] == stage_updates[row["lead_id"]]:
                cur = last.get(row["lead_id"])
                if cur is None or row["at"] >= cur["at"]:
                    last[row["lead_id"]] = row
        missing = [lid for lid in stage_updates if lid not in last]
        if missing:  # manual, imported or outcome moves: their row is already in the stage history
            for part in _chunks(sorted(missing)):
                for r in self.s.execute(select(StageChange.lead_id, StageChange.to_stage, StageChange.at,
                                               StageChange.actor, StageChange.actor_id, StageChange.reason,
                                               StageChange.rule).where(
                        StageChange.workspace_id == self.ws.id, StageChange.lead_id.in_(part),
                        StageChange.superseded_at.is_(None)).order_by(StageChange.at, StageChange.recorded_at)):
                    if r.to_stage == stage_updates[r.lead_id]:
                        last[r.lead_id] = {"at": r.at, "actor": r.actor, "actor_id": r.actor_id, "reason": r.reason,
                                           "rule": r.rule}
        out = []
        for lid, to in sorted(stage_updates.items()):
            row = last.get(lid)
            data = {"from": leads[lid].stage, "to": to, "actor": row["actor"] if row else None,
                    "actor_id": row.get("actor_id") if row else None,
                    "reason": row["reason"] if row else None, "rule": row["rule"] if row else None}
            at = row["at"] if row else now
            out.append(Signal("stage.changed", lid, at, data))
            if to in ("mql", "sql"):
                out.append(Signal(f"lead.{to}", lid, at, data))
        return out

    def publish(self, signals: list[Signal]) -> None:
        """Hand this unit of work's signals to the services that react (same transaction)."""
        publish(self.s, self.ws.id, signals)

    def _replay(self, lead_ids: list[str], leads: Mapping[str, Lead], fits: Mapping[str, Mapping[str, FitResult]],
                now: datetime, state_rows: list, history_rows: list, stage_updates: dict[str, str]) -> None:
        inputs: dict[str, list[Input]] = defaultdict(list)
        for part in _chunks(lead_ids):
            for eid, lid, etype, occ, props in self.s.execute(
                    select(Event.id, Event.lead_id, Event.type, Event.occurred_at, Event.properties).where(
                        Event.workspace_id == self.ws.id, Event.lead_id.in_(part))):
                inputs[lid].append(ScoredEvent(epoch(occ), eid, etype, props or {}))
            for oid, lid, result, closed, reason in self.s.execute(
                    select(Outcome.id, Outcome.lead_id, Outcome.result, Outcome.closed_at, Outcome.reason).where(
                        Outcome.workspace_id == self.ws.id, Outcome.lead_id.in_(part))):
                inputs[lid].append(OutcomeInput(epoch(closed), oid, result, reason or ""))
        existing: dict[str, list[StageChange]] = defaultdict(list)
        for part in _chunks(lead_ids):
            for row in self.s.scalars(select(StageChange).where(
                    StageChange.workspace_id == self.ws.id, StageChange.lead_id.in_(part),
                    StageChange.superseded_at.is_(None))):
                existing[row.lead_id].append(row)
                if row.actor in (Actor.USER.value, Actor.SYSTEM.value) and row.cause_id == "manual":
                    inputs[row.lead_id].append(ManualChange(epoch(row.at), row.id, Stage(row.to_stage), row.reason,
                                                            row.actor_id, Actor(row.actor)))
        for lid in lead_ids:
            for m in self.models:
                fit = fits[lid][m.key]
                q, trs = replay(m, fit, inputs[lid])
                if q.stage is None:
                    q.stage = Stage.SUBSCRIBER
                state_rows.append(self._state_row(lid, m, q, fit, now))
                if m.key != self.lifecycle_key:
                    continue
                derived = [tr for tr in trs if tr.cause_id is None or not _is_manual(tr, existing[lid])]
                have = {_row_key(r): r for r in existing[lid] if r.cause_id != "manual"}
                want = {tr.key(): tr for tr in derived}
                stale = [r.id for k, r in have.items() if k not in want]
                if stale:
                    self.s.execute(update(StageChange).where(StageChange.id.in_(stale)).values(
                        superseded_at=now, superseded_reason="replaced by a replay of the lead's log "
                                                            "(late event, merged history or changed attributes)"))
                history_rows.extend(self._history_row(lid, tr, now) for k, tr in want.items() if k not in have)
                if q.stage.value != leads[lid].stage:
                    stage_updates[lid] = q.stage.value

    def _lead_rows(self, lead_ids: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
        """The columns scoring needs, as plain rows (attribute access like the entities, no ORM loading); on
        PostgreSQL the lead rows are locked ``FOR NO KEY UPDATE`` in id order as they are read."""
        q = _statements(self.dialect)
        leads: dict[str, Any] = {}
        for part in _chunks(sorted(lead_ids)):
            for row in self.s.execute(q.lead_rows, {"ws": self.ws.id, "ids": list(part)}):
                leads[row.id] = row
        acc_ids = sorted({lead.account_id for lead in leads.values() if lead.account_id})
        accounts: dict[str, Any] = {}
        for part in _chunks(acc_ids):
            for row in self.s.execute(q.account_rows, {"ws": self.ws.id, "ids": list(part)}):
                accounts[row.id] = row
        return leads, accounts

    def _states(self, lead_ids: list[str]) -> dict[tuple[str, str], Any]:
        q = _statements(self.dialect)
        out = {}
        for part in _chunks(lead_ids):
            for st in self.s.execute(q.states, {"ws": self.ws.id, "ids": list(part)}):
                out[(st.lead_id, st.model_key)] = st
        return out

    def _state_row(self, lid: str, m: ScoringModel, q: Qualifier, fit: FitResult, now: datetime) -> dict[str, Any]:
        t = q.total.max_t
        eng = q.total.engagement_at(m, t) if t is not None else clamp(0.0, m)
        return {"lead_id": lid, "model_key": m.key, "workspace_id": self.ws.id, "model_version": m.version,
                "fit": fit.points, "grade": fit.grade, "engagement": eng,
                "scored_at": from_epoch(t) if t is not None else None,
                "last_event_at": from_epoch(t) if t is not None else None,
                "state": q.to_dict(), "updated_at": now}

    def _write_states(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        if self.dialect == "sqlite":  # below SQLAlchemy's per-row processing (store/bulk.py)
            bulk.sqlite_insert(self.s.connection(), ScoreState.__table__, rows, conflict=("lead_id", "model_key"),
                          update=_STATE_UPDATE)
            return
        stmt = _statements(self.dialect).upsert_states
        for part in _chunks(rows, 2000):
            self.s.execute(stmt, list(part))

    def _history_row(self, lid: str, tr: Transition, now: datetime) -> dict[str, Any]:
        return {"id": new_id(), "workspace_id": self.ws.id, "lead_id": lid,
                "from_stage": tr.from_stage.value if tr.from_stage else None, "to_stage": tr.to_stage.value,
                "at": from_epoch(tr.at), "recorded_at": now, "actor": tr.actor.value, "actor_id": tr.actor_id,
                "reason": tr.reason, "rule": tr.rule, "model_ref": tr.model_ref, "score": tr.score,
                "cause_id": tr.cause_id}


_STATE_UPDATE = ("model_version", "fit", "grade", "engagement", "scored_at", "last_event_at", "state", "updated_at")
_PG_STAGE_TABLE = ("CREATE TEMPORARY TABLE IF NOT EXISTS leadflow_stage_events "
                   "(LIKE events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
_PG_COPY_STAGE = ("COPY leadflow_stage_events (id, workspace_id, lead_id, anonymous_id, message_id, type, occurred_at, "
                  "received_at, properties, flags) FROM STDIN")
_PG_MOVE_STAGE = (
    "WITH staged AS (DELETE FROM leadflow_stage_events RETURNING *) "
    "INSERT INTO events (id, workspace_id, lead_id, anonymous_id, message_id, type, occurred_at, received_at, "
    "properties, flags) "
    "SELECT id, workspace_id, lead_id, anonymous_id, message_id, type, occurred_at, received_at, properties, flags "
    "FROM staged ON CONFLICT (workspace_id, message_id) DO NOTHING RETURNING id")


# the columns _statements reads for scoring, and the rule attributes (lead_attrs / account_attrs) taken from
# those rows by position: a Row's attribute access by name cost more than the fit rules themselves
_LEAD_COLS = ("id", "email", "stage", "account_id", "properties", *LEAD_FIELDS)
_ACCOUNT_COLS = ("id", "domain", "properties", *ACCOUNT_FIELDS)


def _attrs_by_position(cols: tuple[str, ...], names: tuple[str, ...]) -> Callable[[Any], dict[str, Any]]:
    pick = itemgetter(*(cols.index(n) for n in names))
    return lambda row: dict(zip(names, pick(row), strict=True))


_LEAD_ATTRS = _attrs_by_position(_LEAD_COLS, LEAD_ATTRS)  # = lead_attrs(row)
_ACCOUNT_ATTRS = _attrs_by_position(_ACCOUNT_COLS, ACCOUNT_ATTRS)  # = account_attrs(row)


@cache
def _statements(dialect: str) -> SimpleNamespace:
    """The write path's hot statements, built once per dialect (bound parameters ``ws`` and the expanding
    ``ids``): constructing a statement each call cost more than running it on small batches.

    Lookups by primary-key lists filter on the workspace as ``column || ''`` on SQLite: without planner
    statistics (no ANALYZE) a plain equality makes SQLite walk a workspace-wide index instead of the primary
    key for ``id IN (...)``; the concatenation keeps the filter but not as an index choice."""
    ws, ids = bindparam("ws"), bindparam("ids", expanding=True)

    def in_ws(column: Any) -> Any:
        return column.concat("") == ws if dialect == "sqlite" else column == ws

    # table columns, not ORM attributes: a Core select runs through the session without the ORM's
    # compile-state and row bookkeeping (a third of the cost of a small lookup)
    lead, acc, state = Lead.__table__.c, Account.__table__.c, ScoreState.__table__.c
    ident = Identity.__table__.c
    table = ScoreState.__table__  # Core statement: no ORM bulk bookkeeping per row
    ins = pg_insert(table) if dialect == "postgresql" else sqlite_insert(table)
    upsert = ins.on_conflict_do_update(
        index_elements=["lead_id", "model_key"],
        set_={c: ins.excluded[c] for c in _STATE_UPDATE})
    lead_rows = select(*(lead[c] for c in _LEAD_COLS)).where(in_ws(lead.workspace_id), lead.id.in_(ids))
    if dialect == "postgresql":  # locked as read (see Ingestor._qualify)
        lead_rows = lead_rows.order_by(lead.id).with_for_update(key_share=True)
    return SimpleNamespace(
        lead_rows=lead_rows,
        account_rows=select(*(acc[c] for c in _ACCOUNT_COLS)).where(in_ws(acc.workspace_id), acc.id.in_(ids)),
        states=select(state.lead_id, state.model_key, state.model_version, state.state)
        .where(in_ws(state.workspace_id), state.lead_id.in_(ids)),
        upsert_states=upsert,
        # lookups by the unique keys (workspace, email / domain / anonymous id): the unique index serves them
        lead_ids_by_email=select(lead.email, lead.id).where(lead.workspace_id == ws, lead.email.in_(ids)),
        account_ids_by_domain=select(acc.domain, acc.id).where(acc.workspace_id == ws, acc.domain.in_(ids)),
        identities=select(ident.anonymous_id, ident.lead_id).where(ident.workspace_id == ws,
                                                                   ident.anonymous_id.in_(ids)))


def queued_workspace(session: Session) -> str | None:
    """The workspace of the oldest queued event (see :meth:`Ingestor.qualify_queued`), or None when the
    queue is empty (rows set aside after failures do not count)."""
    qq = QualifyQueue.__table__
    return session.scalar(select(qq.c.workspace_id).where(qq.c.failed_at.is_(None)).order_by(qq.c.seq).limit(1))


def queue_depth(session: Session, workspace_id: str | None = None, *, failed: bool = False) -> int:
    """Queued events waiting to be scored (in one workspace, or in all); ``failed``: those set aside."""
    qq = QualifyQueue.__table__
    stmt = select(func.count()).select_from(qq).where(
        qq.c.failed_at.is_not(None) if failed else qq.c.failed_at.is_(None))
    if workspace_id is not None:
        stmt = stmt.where(qq.c.workspace_id == workspace_id)
    return int(session.scalar(stmt) or 0)


MAX_QUALIFY_ATTEMPTS = 3


@cache
def _workspace_stmt() -> Any:
    w = Workspace.__table__.c
    return select(w.id, w.slug, w.name, w.lifecycle_model).where(w.id == bindparam("ws"))


def workspace_row(session: Session, workspace_id: str) -> Any:
    """The workspace columns an :class:`Ingestor` reads (``id``, ``slug``, ``name``, ``lifecycle_model``), as a
    read-only row, or None: one Core select, for the write path's transactions (``Session.get`` loading the
    entity cost about a tenth of a small ingest transaction)."""
    return session.execute(_workspace_stmt(), {"ws": workspace_id}).first()


def _qualify_slice(db: Any, settings: Any, limit: int, taken: list[int] | None = None) -> int:
    with db.session() as s:
        ws_id = queued_workspace(s)
        if ws_id is None:
            return 0
        ws = workspace_row(s, ws_id)
        return Ingestor(s, ws, allow_custom_types=settings.allow_custom_event_types,
                        future_policy=settings.future_timestamps).qualify_queued(limit, taken)


class QueueDrainer:
    """Scores the queue a slice at a time, for the ingest writer and the scorer process, such that one row
    whose scoring fails cannot stall the queue.

    A slice (one transaction) that raises is rolled back and the next ``limit`` rows are taken one at a time.
    When a single row fails with an error of the scoring code (not of the database: those are retried as they
    are, the store may be busy or down), its ``attempts`` is counted in a transaction of its own, and after
    :data:`MAX_QUALIFY_ATTEMPTS` the row is set aside (``failed_at``, ``error``; logged, counted by
    ``leadflow_qualify_failed`` on ``/metrics``) and the queue moves on. Set-aside rows stay until
    ``leadflow scorer --retry-failed`` puts them back (after the fault is fixed), so nothing is lost.
    """

    def __init__(self, db: Any, settings: Any) -> None:
        self.db = db
        self.settings = settings
        self.careful = 0  # rows still to take one at a time after a failed slice
        self.last_failed = False

    def step(self, limit: int) -> int:
        """Score up to ``limit`` queued rows; returns rows scored (``last_failed`` says whether a row failed
        instead). Raises database errors (the caller waits and retries); scoring errors are absorbed as
        described above."""
        self.last_failed = False
        if self.careful > 0:
            limit = 1
        taken: list[int] = []
        try:
            done = _qualify_slice(self.db, self.settings, limit, taken)
        except DBAPIError:
            raise
        except Exception as exc:  # noqa: BLE001 - a scoring fault: isolate it
            if limit > 1:
                log.warning("scoring a slice of %d queued events failed (%s); taking them one at a time", limit, exc)
                self.careful = limit
                return self.step(1)
            self._count_failure(exc, taken[0] if taken else None)
            self.careful = max(self.careful - 1, 0)
            self.last_failed = True
            return 0
        if self.careful > 0:
            self.careful -= 1
        return done

    def _count_failure(self, exc: BaseException, seq: int | None) -> None:
        """Count a failed attempt against the row ``seq`` the failing step took (on PostgreSQL, with several
        drainers, not always the oldest pending row: ``SKIP LOCKED`` passes over rows another one holds); when the
        step failed before taking a row (``None``), against the oldest pending row, so the queue cannot stall."""
        qq = QualifyQueue.__table__
        with self.db.session() as s:
            which = qq.c.seq == seq if seq is not None else qq.c.failed_at.is_(None)
            row = s.execute(select(qq.c.seq, qq.c.attempts, qq.c.lead_id).where(which)
                            .order_by(qq.c.seq).limit(1)).first()
            if row is None:
                return
            attempts = row.attempts + 1
            values: dict[str, Any] = {"attempts": attempts, "error": f"{type(exc).__name__}: {exc}"[:2000]}
            if attempts >= MAX_QUALIFY_ATTEMPTS:
                values["failed_at"] = utcnow()
                log.error("queued event %s of lead %s set aside after %d failed scoring attempts: %s",
                          row.seq, row.lead_id, attempts, values["error"])
            s.execute(qq.update().where(qq.c.seq == row.seq).values(**values))


def retry_failed(session: Session, workspace_id: str | None = None) -> int:
    """Put the rows set aside after failures back in the queue (attempts reset); returns how many."""
    qq = QualifyQueue.__table__
    stmt = qq.update().where(qq.c.failed_at.is_not(None)).values(failed_at=None, attempts=0)
    if workspace_id is not None:
        stmt = stmt.where(qq.c.workspace_id == workspace_id)
    return int(session.execute(stmt).rowcount or 0)


def failed_rows(session: Session, limit: int = 100) -> list[dict[str, Any]]:
    """The rows set aside after failures, oldest first."""
    qq = QualifyQueue.__table__
    rows = session.execute(select(qq.c.seq, qq.c.workspace_id, qq.c.lead_id, qq.c.event_id, qq.c.attempts,
                                  qq.c.failed_at, qq.c.error).where(qq.c.failed_at.is_not(None))
                           .order_by(qq.c.seq).limit(limit)).all()
    return [dict(r._mapping) for r in rows]


def _is_manual(tr: Transition, rows: list[StageChange]) -> bool:
    return any(r.id == tr.cause_id and r.cause_id == "manual" for r in rows)


def _row_key(row: StageChange) -> tuple[Any, ...]:
    return (Stage(row.from_stage) if row.from_stage else None, Stage(row.to_stage), round(epoch(row.at), 6),
            Actor(row.actor), row.rule, row.cause_id)


def _row_transition(row: StageChange) -> Transition:
    return Transition(Stage(row.from_stage) if row.from_stage else None, Stage(row.to_stage), epoch(row.at),
                      Actor(row.actor), row.reason, row.actor_id, row.rule, row.model_ref, row.score, row.cause_id)
