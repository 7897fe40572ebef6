"""qualify queue: events stored by the HTTP ingest path, waiting to be folded into score states (issue 3)

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "qualify_queue",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("lead_id", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=32), nullable=True),
        sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_qualify_queue")),
    )
    op.create_index("ix_qualify_queue_ws_seq", "qualify_queue", ["workspace_id", "seq"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_qualify_queue_ws_seq", table_name="qualify_queue")
    op.drop_table("qualify_queue")
