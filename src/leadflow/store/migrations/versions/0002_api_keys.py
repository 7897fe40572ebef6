"""API keys, background jobs, lead-list indexes (issue 3: HTTP service)

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("prefix", sa.String(length=32), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], name=op.f("fk_api_keys_workspace_id_workspaces")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_index(op.f("ix_api_keys_workspace_id"), "api_keys", ["workspace_id"], unique=False)
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=True),
        sa.Column("params", JSON, nullable=False),
        sa.Column("result", JSON, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], name=op.f("fk_jobs_workspace_id_workspaces")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index("ix_jobs_ws_created", "jobs", ["workspace_id", "created_at"], unique=False)
    # lead list: keyset pagination on (sort key, id) per workspace, and filters
    op.create_index("ix_leads_ws_created_id", "leads", ["workspace_id", "created_at", "id"], unique=False)
    op.create_index("ix_leads_ws_updated_id", "leads", ["workspace_id", "updated_at", "id"], unique=False)
    op.create_index("ix_leads_ws_status", "leads", ["workspace_id", "lead_status"], unique=False)
    op.create_index("ix_score_states_ws_model_eng_lead", "score_states",
                    ["workspace_id", "model_key", "engagement", "lead_id"], unique=False)
    op.create_index("ix_score_states_ws_model_fit_lead", "score_states",
                    ["workspace_id", "model_key", "fit", "lead_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_score_states_ws_model_fit_lead", table_name="score_states")
    op.drop_index("ix_score_states_ws_model_eng_lead", table_name="score_states")
    op.drop_index("ix_leads_ws_status", table_name="leads")
    op.drop_index("ix_leads_ws_updated_id", table_name="leads")
    op.drop_index("ix_leads_ws_created_id", table_name="leads")
    op.drop_index("ix_jobs_ws_created", table_name="jobs")
    op.drop_table("jobs")
    op.drop_index(op.f("ix_api_keys_workspace_id"), table_name="api_keys")
    op.drop_table("api_keys")
