"""predictive model registry and lead predictions (issue 5)

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "predictive_models",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=1000), nullable=False),
        sa.Column("algorithm", sa.String(length=40), nullable=False),
        sa.Column("target", sa.String(length=40), nullable=False),
        sa.Column("horizon_days", sa.Integer(), nullable=True),
        sa.Column("checksum", sa.String(length=64), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.Column("metrics", JSON, nullable=False),
        sa.Column("meta", JSON, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"],
                                name=op.f("fk_predictive_models_workspace_id_workspaces")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_predictive_models")),
        sa.UniqueConstraint("workspace_id", "name", "version", name=op.f("uq_predictive_models_workspace_id")),
    )
    op.create_table(
        "lead_predictions",
        sa.Column("lead_id", sa.String(length=32), nullable=False),
        sa.Column("model_name", sa.String(length=64), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("factors", JSON, nullable=False),
        sa.Column("scored_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"], name=op.f("fk_lead_predictions_lead_id_leads")),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"],
                                name=op.f("fk_lead_predictions_workspace_id_workspaces")),
        sa.PrimaryKeyConstraint("lead_id", "model_name", name=op.f("pk_lead_predictions")),
    )
    with op.batch_alter_table("lead_predictions", schema=None) as batch_op:
        batch_op.create_index("ix_lead_predictions_ws_model_p", ["workspace_id", "model_name", "probability"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("lead_predictions", schema=None) as batch_op:
        batch_op.drop_index("ix_lead_predictions_ws_model_p")
    op.drop_table("lead_predictions")
    op.drop_table("predictive_models")
