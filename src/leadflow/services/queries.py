"""Read queries shared by the faces (export, lists)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import select

from leadflow.core.scoring.spec import ScoringModel
from leadflow.core.timeutil import epoch, utcnow
from leadflow.services.scoring import engagement_from_state
from leadflow.store.db import Database
from leadflow.store.tables import Account, Lead, ScoreState

EXPORT_COLUMNS = ["email", "first_name", "last_name", "title", "seniority", "department", "phone", "country",
                  "company_domain", "source", "medium", "campaign", "landing_page", "owner", "stage", "lead_status",
                  "fit", "grade", "engagement", "band", "last_event_at", "created_at"]


def export_rows(db: Database, workspace_id: str, model: ScoringModel) -> tuple[list[str], Iterator[dict[str, Any]]]:
    """Leads with their scores decayed to now, streamed in primary-key order."""
    now = epoch(utcnow())

    def gen() -> Iterator[dict[str, Any]]:
        with db.session() as s:
            q = (select(Lead, Account.domain, ScoreState)
                 .outerjoin(Account, Account.id == Lead.account_id)
                 .outerjoin(ScoreState, (ScoreState.lead_id == Lead.id) & (ScoreState.model_key == model.key))
                 .where(Lead.workspace_id == workspace_id).order_by(Lead.id)
                 .execution_options(yield_per=2000))
            for lead, domain, st in s.execute(q):
                eng = None
                if st is not None:
                    eng = round(engagement_from_state(model, st.state, now, st.engagement), 4)
                row = {c: getattr(lead, c) for c in EXPORT_COLUMNS if hasattr(Lead, c)}
                row.update({"company_domain": domain, "fit": st.fit if st else None, "grade": st.grade if st else None,
                            "engagement": eng, "band": model.band(eng) if eng is not None else None,
                            "last_event_at": st.last_event_at if st else None})
                yield row

    return EXPORT_COLUMNS, gen()
