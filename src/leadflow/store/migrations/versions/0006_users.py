"""users of the web app (issue 6), and the web app's lead-list indexes

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

INDEXES = [
    ("leads", "ix_leads_ws_source", ["workspace_id", "source"]),
    ("leads", "ix_leads_ws_last_name", ["workspace_id", "last_name"]),
    ("score_states", "ix_score_states_ws_model_grade_eng", ["workspace_id", "model_key", "grade", "engagement", "lead_id"]),
    ("leads", "ix_leads_list_cover", ["id", "workspace_id", "stage", "lead_status", "owner", "source", "last_name"]),
]


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("rep_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], name=op.f("fk_users_workspace_id_workspaces")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("workspace_id", "email", name=op.f("uq_users_workspace_id")),
    )
    for table, name, cols in INDEXES:
        op.create_index(name, table, cols, unique=False)


def downgrade() -> None:
    for table, name, _cols in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    op.drop_table("users")
