"""channel spend for channel economics (issue 6)

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_spend",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=200), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("amount", sa.Float(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("origin", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"],
                                name=op.f("fk_channel_spend_workspace_id_workspaces")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_spend")),
        sa.UniqueConstraint("workspace_id", "channel", "period_start", "period_end",
                            name=op.f("uq_channel_spend_workspace_id")),
    )
    with op.batch_alter_table("channel_spend", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_channel_spend_workspace_id"), ["workspace_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("channel_spend", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_channel_spend_workspace_id"))
    op.drop_table("channel_spend")
