"""team, routing, SLA clocks, BANT, nurture, opportunities (issue 4)

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('handoff_config',
    sa.Column('workspace_id', sa.String(length=32), nullable=False),
    sa.Column('config', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_handoff_config_workspace_id_workspaces')),
    sa.PrimaryKeyConstraint('workspace_id', name=op.f('pk_handoff_config'))
    )
    op.create_table('handoff_reps',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('workspace_id', sa.String(length=32), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('role', sa.String(length=10), nullable=False),
    sa.Column('weight', sa.Integer(), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('work_days', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('work_start', sa.String(length=5), nullable=False),
    sa.Column('work_end', sa.String(length=5), nullable=False),
    sa.Column('country', sa.String(length=100), nullable=True),
    sa.Column('territories', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('named_accounts', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('team_lead', sa.String(length=200), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_handoff_reps_workspace_id_workspaces')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_handoff_reps')),
    sa.UniqueConstraint('workspace_id', 'key', name=op.f('uq_handoff_reps_workspace_id'))
    )
    op.create_table('handoff_rotation',
    sa.Column('workspace_id', sa.String(length=32), nullable=False),
    sa.Column('pool', sa.String(length=100), nullable=False),
    sa.Column('rep_key', sa.String(length=64), nullable=False),
    sa.Column('lag', sa.Float(), nullable=False),
    sa.Column('assigned', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_handoff_rotation_workspace_id_workspaces')),
    sa.PrimaryKeyConstraint('workspace_id', 'pool', 'rep_key', name=op.f('pk_handoff_rotation'))
    )
    op.create_table('handoff_territories',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('workspace_id', sa.String(length=32), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('countries', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('segments', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('min_employees', sa.Integer(), nullable=True),
    sa.Column('max_employees', sa.Integer(), nullable=True),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_handoff_territories_workspace_id_workspaces')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_handoff_territories')),
    sa.UniqueConstraint('workspace_id', 'key', name=op.f('uq_handoff_territories_workspace_id'))
    )
    op.create_table('handoff_rep_away',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('workspace_id', sa.String(length=32), nullable=False),
    sa.Column('rep_id', sa.String(length=32), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['rep_id'], ['handoff_reps.id'], name=op.f('fk_handoff_rep_away_rep_id_handoff_reps')),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_handoff_rep_away_workspace_id_workspaces')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_handoff_rep_away'))
    )
    op.create_index('ix_handoff_rep_away_rep', 'handoff_rep_away', ['workspace_id', 'rep_id', 'ends_at'], unique=False)
    op.create_table('handoff_alerts',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('workspace_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('lead_id', sa.String(length=32), nullable=True),
    sa.Column('rep_key', sa.String(length=64), nullable=True),
    sa.Column('recipient', sa.String(length=200), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['lead_id'], ['leads.id'], name=op.f('fk_handoff_alerts_lead_id_leads')),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_handoff_alerts_workspace_id_workspaces')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_handoff_alerts'))
    )
    op.create_index('ix_handoff_alerts_ws', 'handoff_alerts', ['workspace_id', 'resolved_at', 'at'], unique=False)
    op.create_table('handoff_assignments',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('workspace_id', sa.String(length=32), nullable=False),
    sa.Column('lead_id', sa.String(length=32), nullable=False),
    sa.Column('open_lead_id', sa.String(length=32), nullable=True),
    sa.Column('rep_key', sa.String(length=64), nullable=True),
    sa.Column('role', sa.String(length=10), nullable=False),
    sa.Column('stage', sa.String(length=20), nullable=False),
    sa.Column('method', sa.String(length=20), nullable=False),
    sa.Column('pool', sa.String(length=100), nullable=True),
    sa.Column('territory', sa.String(length=64), nullable=True),
    sa.Column('segment', sa.String(length=30), nullable=True),
    sa.Column('explanation', sa.Text(), nullable=False),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('recycled', sa.Boolean(), nullable=False),
    sa.Column('qualified_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('first_touch_due', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_due', sa.DateTime(timezone=True), nullable=True),
    sa.Column('first_touch_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision', sa.String(length=20), nullable=True),
    sa.Column('first_touch_breached_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_breached_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_reason', sa.String(length=200), nullable=True),
    sa.Column('assigned_by', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['lead_id'], ['leads.id'], name=op.f('fk_handoff_assignments_lead_id_leads')),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_handoff_assignments_workspace_id_workspaces')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_handoff_assignments')),
    sa.UniqueConstraint('workspace_id', 'open_lead_id', name=op.f('uq_handoff_assignments_workspace_id'))
    )
    op.create_index('ix_handoff_assignments_lead', 'handoff_assignments', ['workspace_id', 'lead_id', 'assigned_at'], unique=False)
    op.create_index('ix_handoff_assignments_rep_open', 'handoff_assignments', ['workspace_id', 'rep_key', 'closed_at'], unique=False)
    op.create_table('handoff_bant',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('workspace_id', sa.String(length=32), nullable=False),
    sa.Column('lead_id', sa.String(length=32), nullable=False),
    sa.Column('criterion', sa.String(length=20), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('recorded_by', sa.String(length=200), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['lead_id'], ['leads.id'], name=op.f('fk_handoff_bant_lead_id_leads')),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_handoff_bant_workspace_id_workspaces')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_handoff_bant'))
    )
    op.create_index('ix_handoff_bant_lead', 'handoff_bant', ['workspace_id', 'lead_id', 'criterion', 'recorded_at'], unique=False)
    op.create_table('handoff_bant_evaluations',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('workspace_id', sa.String(length=32), nullable=False),
    sa.Column('lead_id', sa.String(length=32), nullable=False),
    sa.Column('rule', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('passed', sa.Boolean(), nullable=False),
    sa.Column('explanation', sa.Text(), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('rep_key', sa.String(length=64), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['lead_id'], ['leads.id'], name=op.f('fk_handoff_bant_evaluations_lead_id_leads')),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_handoff_bant_evaluations_workspace_id_workspaces')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_handoff_bant_evaluations'))
    )
    op.create_index('ix_handoff_bant_evaluations_lead', 'handoff_bant_evaluations', ['workspace_id', 'lead_id', 'at'], unique=False)
    op.create_table('handoff_nurture',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('workspace_id', sa.String(length=32), nullable=False),
    sa.Column('lead_id', sa.String(length=32), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('reason_code', sa.String(length=30), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('entered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reengage_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_reason', sa.String(length=40), nullable=True),
    sa.ForeignKeyConstraint(['lead_id'], ['leads.id'], name=op.f('fk_handoff_nurture_lead_id_leads')),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_handoff_nurture_workspace_id_workspaces')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_handoff_nurture'))
    )
    op.create_index('ix_handoff_nurture_lead', 'handoff_nurture', ['workspace_id', 'lead_id', 'entered_at'], unique=False)
    op.create_index('ix_handoff_nurture_reengage', 'handoff_nurture', ['workspace_id', 'ended_at', 'reengage_at'], unique=False)
    op.create_table('handoff_opportunities',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('workspace_id', sa.String(length=32), nullable=False),
    sa.Column('lead_id', sa.String(length=32), nullable=False),
    sa.Column('rep_key', sa.String(length=64), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('amount', sa.Float(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('expected_close', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lost_reason', sa.Text(), nullable=True),
    sa.Column('outcome_id', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['lead_id'], ['leads.id'], name=op.f('fk_handoff_opportunities_lead_id_leads')),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_handoff_opportunities_workspace_id_workspaces')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_handoff_opportunities'))
    )
    op.create_index('ix_handoff_opportunities_lead', 'handoff_opportunities', ['workspace_id', 'lead_id'], unique=False)
    op.create_index('ix_handoff_opportunities_status', 'handoff_opportunities', ['workspace_id', 'status'], unique=False)
    op.create_table('handoff_status_history',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('workspace_id', sa.String(length=32), nullable=False),
    sa.Column('lead_id', sa.String(length=32), nullable=False),
    sa.Column('from_status', sa.String(length=30), nullable=True),
    sa.Column('to_status', sa.String(length=30), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.String(length=200), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['lead_id'], ['leads.id'], name=op.f('fk_handoff_status_history_lead_id_leads')),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_handoff_status_history_workspace_id_workspaces')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_handoff_status_history'))
    )
    op.create_index('ix_handoff_status_history_lead', 'handoff_status_history', ['workspace_id', 'lead_id', 'at'], unique=False)
    op.create_table('handoff_decisions',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('workspace_id', sa.String(length=32), nullable=False),
    sa.Column('lead_id', sa.String(length=32), nullable=False),
    sa.Column('assignment_id', sa.String(length=32), nullable=True),
    sa.Column('rep_key', sa.String(length=64), nullable=True),
    sa.Column('role', sa.String(length=10), nullable=False),
    sa.Column('decision', sa.String(length=20), nullable=False),
    sa.Column('reason_code', sa.String(length=30), nullable=True),
    sa.Column('disposition', sa.String(length=20), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('recycled', sa.Boolean(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assignment_id'], ['handoff_assignments.id'], name=op.f('fk_handoff_decisions_assignment_id_handoff_assignments')),
    sa.ForeignKeyConstraint(['lead_id'], ['leads.id'], name=op.f('fk_handoff_decisions_lead_id_leads')),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_handoff_decisions_workspace_id_workspaces')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_handoff_decisions'))
    )
    op.create_index('ix_handoff_decisions_ws', 'handoff_decisions', ['workspace_id', 'decision', 'at'], unique=False)
    op.create_table('handoff_touches',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('workspace_id', sa.String(length=32), nullable=False),
    sa.Column('lead_id', sa.String(length=32), nullable=False),
    sa.Column('assignment_id', sa.String(length=32), nullable=True),
    sa.Column('rep_key', sa.String(length=64), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assignment_id'], ['handoff_assignments.id'], name=op.f('fk_handoff_touches_assignment_id_handoff_assignments')),
    sa.ForeignKeyConstraint(['lead_id'], ['leads.id'], name=op.f('fk_handoff_touches_lead_id_leads')),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_handoff_touches_workspace_id_workspaces')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_handoff_touches'))
    )
    op.create_index('ix_handoff_touches_lead', 'handoff_touches', ['workspace_id', 'lead_id', 'at'], unique=False)
    # ### end Alembic commands ###


def downgrade() -> None:
    op.drop_index('ix_handoff_touches_lead', table_name='handoff_touches')
    op.drop_table('handoff_touches')
    op.drop_index('ix_handoff_decisions_ws', table_name='handoff_decisions')
    op.drop_table('handoff_decisions')
    op.drop_index('ix_handoff_status_history_lead', table_name='handoff_status_history')
    op.drop_table('handoff_status_history')
    op.drop_index('ix_handoff_opportunities_status', table_name='handoff_opportunities')
    op.drop_index('ix_handoff_opportunities_lead', table_name='handoff_opportunities')
    op.drop_table('handoff_opportunities')
    op.drop_index('ix_handoff_nurture_reengage', table_name='handoff_nurture')
    op.drop_index('ix_handoff_nurture_lead', table_name='handoff_nurture')
    op.drop_table('handoff_nurture')
    op.drop_index('ix_handoff_bant_evaluations_lead', table_name='handoff_bant_evaluations')
    op.drop_table('handoff_bant_evaluations')
    op.drop_index('ix_handoff_bant_lead', table_name='handoff_bant')
    op.drop_table('handoff_bant')
    op.drop_index('ix_handoff_assignments_rep_open', table_name='handoff_assignments')
    op.drop_index('ix_handoff_assignments_lead', table_name='handoff_assignments')
    op.drop_table('handoff_assignments')
    op.drop_index('ix_handoff_alerts_ws', table_name='handoff_alerts')
    op.drop_table('handoff_alerts')
    op.drop_index('ix_handoff_rep_away_rep', table_name='handoff_rep_away')
    op.drop_table('handoff_rep_away')
    op.drop_table('handoff_territories')
    op.drop_table('handoff_rotation')
    op.drop_table('handoff_reps')
    op.drop_table('handoff_config')
