"""The Python API: ``from leadflow import Leadflow``.

A thin face over the services, as the CLI is. Each write call is one unit of work (one transaction):
it is stored whole or not at all.

>>> lf = Leadflow("sqlite:///var/leadflow.db")          # doctest: +SKIP
>>> lf.ingest([{"type": "page_view", "email": "ana@acme.io", "timestamp": "2026-05-01T10:00:00Z",
...             "properties": {"url": "/pricing"}}])     # doctest: +SKIP
>>> print("\\n".join(lf.explain_text("ana@acme.io")))     # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from leadflow.core.events import normalize_email
from leadflow.core.lifecycle import Actor, Stage, Transition
from leadflow.core.scoring.spec import ScoringModel
from leadflow.core.timeutil import epoch, utcnow
from leadflow.services import rescore as rescore_svc
from leadflow.services import scoring as scoring_svc
from leadflow.services import workspaces as ws_svc
from leadflow.services.ingest import BatchReport, Ingestor
from leadflow.settings import Settings, get_settings
from leadflow.store.db import Database
from leadflow.store.migrate import upgrade
from leadflow.store.tables import Lead, ScoreState, Workspace


class Leadflow:
    def __init__(self, database_url: str | None = None, workspace: str | None = None,
                 settings: Settings | None = None, *, migrate: bool = True) -> None:
        self.settings = settings or get_settings()
        self.db = Database(database_url or self.settings.database_url, echo=self.settings.echo_sql)
        if migrate:
            upgrade(self.db)
        with self.db.session() as s:
            ws = ws_svc.get_or_create_workspace(s, workspace or self.settings.workspace)
            self.workspace_id, self.workspace_slug = ws.id, ws.slug

    def close(self) -> None:
        self.db.dispose()

    def __enter__(self) -> Leadflow:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writes ------------------------------------------------------------------------------------
    def _ingestor(self, s) -> Ingestor:  # noqa: ANN001
        ws = s.get(Workspace, self.workspace_id)
        return Ingestor(s, ws, allow_custom_types=self.settings.allow_custom_event_types,
                        future_policy=self.settings.future_timestamps)

    def ingest(self, events: Sequence[Mapping[str, Any]], received_at: datetime | None = None) -> BatchReport:
        """Validate, store and score events; invalid ones are reported, valid ones stored."""
        with self.db.session() as s:
            return self._ingestor(s).ingest_events(events, received_at)

    def upsert_leads(self, records: Sequence[Mapping[str, Any]]) -> dict[str, str]:
        with self.db.session() as s:
            return self._ingestor(s).upsert_leads(records)

    def upsert_accounts(self, records: Sequence[Mapping[str, Any]]) -> dict[str, str]:
        with self.db.session() as s:
            return self._ingestor(s).upsert_accounts(records)

    def record_outcomes(self, records: Sequence[Mapping[str, Any]]) -> list[str]:
        with self.db.session() as s:
            return self._ingestor(s).record_outcomes(records)

    def change_stage(self, email: str, stage: str, *, reason: str, actor_id: str | None = None) -> Transition:
        with self.db.session() as s:
            lead = self._lead(s, email)
            return self._ingestor(s).change_stage(lead.id, Stage(stage), reason=reason, actor_id=actor_id,
                                                  actor=Actor.USER)

    def install_model(self, text: str, *, source: str = "<upload>", activate: bool = False,
                      progress: rescore_svc.ProgressFn | None = None) -> tuple[str, int]:
        """Store a validated model version; ``activate`` switches to it and rescores every lead."""
        with self.db.session() as s:
            row = ws_svc.install_model(s, self.workspace_id, text, source=source, activate=activate)
            key, version = row.key, row.version
        if activate:
            self.rescore(model_key=key, progress=progress)
        return key, version

    def rescore(self, *, model_key: str | None = None, stages: bool = True,
                progress: rescore_svc.ProgressFn | None = None) -> rescore_svc.RescoreReport:
        """Recompute every lead's scores on the batch engine and (lifecycle model) its stage by replay."""
        return rescore_svc.rescore_workspace(self.db, self.workspace_id, model_key=model_key, stages=stages,
                                             progress=progress)

    # -- reads -------------------------------------------------------------------------------------
    def _lead(self, s, email: str) -> Lead:  # noqa: ANN001
        lead = s.scalar(select(Lead).where(Lead.workspace_id == self.workspace_id,
                                           Lead.email == normalize_email(email)))
        if lead is None:
            raise LookupError(f"no lead with email {email!r} in workspace {self.workspace_slug!r}")
        return lead

    def model(self, key: str | None = None) -> ScoringModel:
        with self.db.session() as s:
            models = ws_svc.active_models(s, self.workspace_id)
            key = key or s.get(Workspace, self.workspace_id).lifecycle_model
        for m in models:
            if m.key == key:
                return m
        raise LookupError(f"no active model {key!r}")

    def explain(self, email: str, at: datetime | None = None, model_key: str | None = None
                ) -> scoring_svc.LeadExplanation:
        model = self.model(model_key)
        with self.db.session() as s:
            return scoring_svc.explain_lead(s, self.workspace_id, self._lead(s, email), model, at)

    def explain_text(self, email: str, at: datetime | None = None) -> list[str]:
        return scoring_svc.render_explanation(self.explain(email, at))

    def lead(self, email: str) -> dict[str, Any]:
        with self.db.session() as s:
            lead = self._lead(s, email)
            states = s.scalars(select(ScoreState).where(ScoreState.lead_id == lead.id)).all()
            out = {c.name: getattr(lead, c.name) for c in Lead.__table__.columns}
            out["scores"] = {st.model_key: {"fit": st.fit, "grade": st.grade, "engagement": st.engagement,
                                            "as_of": st.scored_at} for st in states}
            return out

    def funnel(self) -> dict[str, int]:
        with self.db.session() as s:
            rows = s.execute(select(Lead.stage, func.count()).where(Lead.workspace_id == self.workspace_id)
                             .group_by(Lead.stage)).all()
        counts = {st.value: 0 for st in Stage}
        counts.update({k: v for k, v in rows})
        return counts

    def top_leads(self, n: int = 10, model_key: str | None = None, at: datetime | None = None) -> list[dict[str, Any]]:
        """The n most engaged leads as of ``at`` (default now): stored states decayed to that time."""
        model = self.model(model_key)
        t = epoch(at or utcnow())
        rows = []
        with self.db.session() as s:
            for email, stage, grade, fit, state, stored in s.execute(
                    select(Lead.email, Lead.stage, ScoreState.grade, ScoreState.fit, ScoreState.state,
                           ScoreState.engagement)
                    .join(ScoreState, ScoreState.lead_id == Lead.id)
                    .where(Lead.workspace_id == self.workspace_id, ScoreState.model_key == model.key)):
                eng = scoring_svc.engagement_from_state(model, state, t, stored)
                rows.append({"email": email, "stage": stage, "grade": grade, "fit": fit, "engagement": eng})
        rows.sort(key=lambda r: (-r["engagement"], -r["fit"], r["email"]))
        return rows[:n]
