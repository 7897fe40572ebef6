"""Hand-built stores for the analytics tests (helpers; fixtures in conftest.py): rows inserted as they are, with times chosen by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from leadflow.store.db import Database
from leadflow.store.migrate import upgrade
from leadflow.store.spend_tables import ChannelSpend
from leadflow.store.tables import Event, Lead, Outcome, ScoreState, StageChange, Workspace, new_id

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def day(d: float) -> datetime:
    """2026-01-01 + d days (UTC)."""
    return T0 + timedelta(days=d)


class StoreBuilder:
    def __init__(self, url: str, slug: str = "acme", workspace_id: str | None = None) -> None:
        self.url = url
        self.db = Database(url)
        upgrade(self.db)
        self.ws = workspace_id or new_id()
        if workspace_id is None:
            with self.db.session() as s:
                s.add(Workspace(id=self.ws, slug=slug, name=slug, lifecycle_model="default", created_at=T0))
        self.rows: list[tuple[type, dict[str, Any]]] = []
        self.ids: dict[str, str] = {}

    def lead(self, key: str, created: float, stage: str = "subscriber", **attrs: Any) -> str:
        lid = new_id()
        self.ids[key] = lid
        row = {"id": lid, "workspace_id": self.ws, "email": f"{key}@example.com", "consent": True,
               "unsubscribed": False, "properties": attrs.pop("properties", {}), "stage": stage,
               "lead_status": "new", "created_at": day(created), "updated_at": day(created),
               **{c: None for c in ("source", "medium", "campaign", "landing_page", "owner")}}
        row.update(attrs)
        self.rows.append((Lead, row))
        return lid

    def stage(self, key: str, to: str, at: float, frm: str | None = None, superseded: bool = False,
              score: dict | None = None, actor: str = "rule") -> None:
        self.rows.append((StageChange, {
            "id": new_id(), "workspace_id": self.ws, "lead_id": self.ids[key], "from_stage": frm, "to_stage": to,
            "at": day(at), "recorded_at": day(at), "actor": actor, "reason": "test", "score": score,
            "superseded_at": day(at) if superseded else None}))

    def outcome(self, key: str, result: str, at: float, amount: float | None = None, currency: str = "EUR") -> None:
        self.rows.append((Outcome, {"id": new_id(), "workspace_id": self.ws, "lead_id": self.ids[key],
                                    "result": result, "amount": amount, "currency": currency,
                                    "closed_at": day(at), "created_at": day(at)}))

    def event(self, key: str, etype: str, at: float, **props: Any) -> None:
        self.rows.append((Event, {"id": new_id(), "workspace_id": self.ws, "lead_id": self.ids[key],
                                  "type": etype, "occurred_at": day(at), "received_at": day(at),
                                  "properties": props}))

    def score(self, key: str, fit: float, grade: str, engagement: float = 0.0) -> None:
        self.rows.append((ScoreState, {"lead_id": self.ids[key], "model_key": "default", "workspace_id": self.ws,
                                       "model_version": 1, "fit": fit, "grade": grade, "engagement": engagement,
                                       "state": {}, "updated_at": T0}))

    def spend(self, channel: str, start: date, end: date, amount: float, currency: str = "EUR") -> None:
        self.rows.append((ChannelSpend, {"id": new_id(), "workspace_id": self.ws, "channel": channel,
                                         "period_start": start, "period_end": end, "amount": amount,
                                         "currency": currency, "origin": "csv", "created_at": T0,
                                         "updated_at": T0}))

    def row(self, table: type, **values: Any) -> None:
        """Any other row (e.g. the hand-off tables), inserted after the leads."""
        self.rows.append((table, {"id": new_id(), "workspace_id": self.ws, **values}))

    def commit(self) -> StoreBuilder:
        order = [Lead, StageChange, Outcome, Event, ScoreState, ChannelSpend]
        order += [t for t, _ in self.rows if t not in order and t is not None]
        with self.db.session() as s:
            for table in dict.fromkeys(order):
                batch = [r for t, r in self.rows if t is table]
                if batch:
                    s.execute(table.__table__.insert(), batch)
        self.rows.clear()
        return self

    def open(self):  # noqa: ANN201
        from leadflow.analytics.data import open_analytics

        return open_analytics(self.url, self.ws)

    def close(self) -> None:
        self.db.dispose()



def small_funnel(b: StoreBuilder) -> StoreBuilder:
    """Five leads, hand-traced in test_analytics_funnel.py."""
    b.lead("l1", 4, "customer", source="ads", medium="cpc", owner="ann")
    b.stage("l1", "mql", 9, "subscriber")
    b.stage("l1", "sql", 19, "mql", actor="user")
    b.outcome("l1", "won", 39, amount=1000.0)
    b.lead("l2", 14, "nurture", source="ads", medium="cpc", owner="bob")
    b.stage("l2", "mql", 15, "subscriber")
    b.stage("l2", "sal", 17, "mql", actor="user")
    b.stage("l2", "nurture", 29, "sal", actor="user")
    b.lead("l3", 31, "lead", source="seo", properties={"segment": "smb"})
    b.stage("l3", "lead", 32, "subscriber")
    b.lead("l4", 40, "subscriber")
    b.lead("l5", 50, "sql", source="seo", owner="ann")
    b.stage("l5", "mql", 51, "subscriber")
    b.stage("l5", "sql", 55, "mql", actor="user")
    b.stage("l5", "customer", 56, "sql", superseded=True)  # superseded: must not count
    return b.commit()
