"""PostgreSQL: two transactions creating the same new lead (and its new account) at once. The second waits for
the first on the unique index and then takes the lead as existing (its attributes merged in), instead of
failing with a unique violation (an import job beside the HTTP writer, or two server processes)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from leadflow.facade import Leadflow
from leadflow.services.ingest import Ingestor
from leadflow.store.tables import Account, Lead, Workspace

pytestmark = pytest.mark.postgres


def _upsert(lf: Leadflow, records: list[dict], *, hold: threading.Event | None = None,
            started: threading.Event | None = None) -> dict[str, str]:
    with lf.db.session() as s:
        ids = Ingestor(s, s.get(Workspace, lf.workspace_id)).upsert_leads(records, requalify=False)
        s.flush()
        if started is not None:
            started.set()
        if hold is not None:
            hold.wait(10)
        return ids


@pytest.mark.parametrize("kind", ["lead", "account"])
def test_a_lead_created_meanwhile_is_updated_not_a_unique_violation(pg_url, kind, monkeypatch):
    signals: list = []
    real_publish = Ingestor.publish

    def publish(self, sigs):  # noqa: ANN001
        signals.extend(sigs)
        return real_publish(self, sigs)

    monkeypatch.setattr(Ingestor, "publish", publish)
    lf = Leadflow(pg_url, "acme")
    try:
        email = "new@newco.io"
        first = {"email": email, "first_name": "Ann", "properties": {"a": 1}, "company_name": "NewCo"}
        second = {"email": email, "title": "CTO", "properties": {"b": 2}}
        if kind == "account":  # only the account is new to both: the leads differ
            second = {"email": "other@newco.io", "title": "CTO"}
        started, hold = threading.Event(), threading.Event()
        out: dict = {}

        def one() -> None:
            out["first"] = _upsert(lf, [first], hold=hold, started=started)

        t = threading.Thread(target=one)
        t.start()
        assert started.wait(10)  # the first transaction has inserted, not committed

        def two() -> None:
            try:
                out["second"] = _upsert(lf, [second])
            except Exception as exc:  # noqa: BLE001 - reported below
                out["error"] = exc

        t2 = threading.Thread(target=two)
        t2.start()
        t2.join(1.0)
        assert t2.is_alive(), "the second insert should wait for the first transaction"
        hold.set()
        t.join(10)
        t2.join(10)
        assert "error" not in out, out.get("error")
        with lf.db.session() as s:
            leads = s.scalars(select(Lead).where(Lead.workspace_id == lf.workspace_id)).all()
            accounts = s.scalars(select(Account).where(Account.workspace_id == lf.workspace_id)).all()
        assert len(accounts) == 1 and accounts[0].domain == "newco.io"
        if kind == "lead":
            assert len(leads) == 1
            lead = leads[0]
            assert out["first"][email] == out["second"][email] == lead.id
            assert (lead.first_name, lead.title) == ("Ann", "CTO")
            assert lead.properties == {"a": 1, "b": 2}
            assert lead.account_id == accounts[0].id
        else:
            assert len(leads) == 2 and {x.account_id for x in leads} == {accounts[0].id}
        created = sorted(sig.lead_id for sig in signals if sig.kind == "lead.created")
        assert created == sorted(x.id for x in leads)  # one lead.created per lead really created
    finally:
        lf.close()
