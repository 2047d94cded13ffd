"""Automation engine (issue 13): chatbot flows and versions, flow runs, automation rules,
scheduled messages, survey answers; periods, out-of-hours answers and entry flows on
connections and departments; the ticket's automation timers (due_at, indexed).

flow.published_version_id and flow_version.flow_id point at each other: the first
foreign key is added once both tables exist.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04

Generated with `flask db migrate`.
"""
import json

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


# The screens of this revision (Fluxos de chatbot, Automações, Agendamentos) go to the
# groups that already manage the company's configuration (every right on departments and
# connections), so existing administrators see them after the upgrade.
ADMIN_MARK = [f"{area}.{action}" for area in ("departments", "connections")
              for action in ("view", "create", "edit", "delete")]
RIGHTS_0011 = [f"{area}.{action}" for area in ("flows", "automations", "scheduled")
               for action in ("view", "create", "edit", "delete")]


def grant_new_rights():
    groups = sa.table("permission_group", sa.column("id", sa.Integer), sa.column("kind", sa.String),
                      sa.column("rights", sa.JSON))
    conn = op.get_bind()
    rows = conn.execute(sa.select(groups.c.id, groups.c.kind, groups.c.rights))
    for gid, kind, rights in list(rows):
        rights = json.loads(rights) if isinstance(rights, str) else list(rights or [])
        if kind == "system" and set(ADMIN_MARK) <= set(rights):
            new = rights + [r for r in RIGHTS_0011 if r not in rights]
            conn.execute(groups.update().where(groups.c.id == gid).values(rights=new))


def upgrade():
    op.create_table('automation_rule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('trigger', sa.String(length=30), nullable=False),
    sa.Column('idle_minutes', sa.Integer(), nullable=True),
    sa.Column('match', sa.String(length=3), nullable=False),
    sa.Column('conditions', sa.JSON(), nullable=False),
    sa.Column('actions', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_automation_rule_company_id_company'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_automation_rule')),
    sa.UniqueConstraint('company_id', 'name', name='uq_automation_rule_company_name')
    )
    with op.batch_alter_table('automation_rule', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_automation_rule_company_id'), ['company_id'], unique=False)
        batch_op.create_index('ix_automation_rule_trigger', ['company_id', 'trigger', 'active', 'position'], unique=False)

    op.create_table('flow',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('draft', sa.JSON(), nullable=False),
    sa.Column('handover_keywords', sa.String(length=255), nullable=False),
    sa.Column('timeout_minutes', sa.Integer(), nullable=False),
    sa.Column('timeout_message', sa.Text(), nullable=True),
    sa.Column('published_version_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_flow_company_id_company'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_flow')),
    sa.UniqueConstraint('company_id', 'name', name='uq_flow_company_name')
    )
    with op.batch_alter_table('flow', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_flow_company_id'), ['company_id'], unique=False)

    op.create_table('flow_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('flow_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('graph', sa.JSON(), nullable=False),
    sa.Column('published_at', sa.DateTime(), nullable=False),
    sa.Column('published_by_id', sa.Integer(), nullable=True),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_flow_version_company_id_company'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['flow_id'], ['flow.id'], name=op.f('fk_flow_version_flow_id_flow'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['published_by_id'], ['user.id'], name=op.f('fk_flow_version_published_by_id_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_flow_version')),
    sa.UniqueConstraint('flow_id', 'number', name='uq_flow_version_number')
    )
    with op.batch_alter_table('flow_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_flow_version_company_id'), ['company_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_flow_version_flow_id'), ['flow_id'], unique=False)
    with op.batch_alter_table('flow', schema=None) as batch_op:
        batch_op.create_foreign_key('fk_flow_published_version', 'flow_version',
                                    ['published_version_id'], ['id'], ondelete='SET NULL')

    op.create_table('flow_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('flow_version_id', sa.Integer(), nullable=False),
    sa.Column('node_id', sa.String(length=40), nullable=True),
    sa.Column('variables', sa.JSON(), nullable=False),
    sa.Column('tries', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('waiting_for', sa.String(length=10), nullable=True),
    sa.Column('resume_at', sa.DateTime(), nullable=True),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_flow_run_company_id_company'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['flow_version_id'], ['flow_version.id'], name=op.f('fk_flow_run_flow_version_id_flow_version'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], name=op.f('fk_flow_run_ticket_id_ticket'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_flow_run'))
    )
    with op.batch_alter_table('flow_run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_flow_run_company_id'), ['company_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_flow_run_flow_version_id'), ['flow_version_id'], unique=False)
        batch_op.create_index('ix_flow_run_ticket_status', ['ticket_id', 'status'], unique=False)

    op.create_table('survey_answer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('scale', sa.String(length=4), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('score', sa.Integer(), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('asked_at', sa.DateTime(), nullable=False),
    sa.Column('answered_at', sa.DateTime(), nullable=True),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['user.id'], name=op.f('fk_survey_answer_agent_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_survey_answer_company_id_company'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_survey_answer_department_id_department'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], name=op.f('fk_survey_answer_ticket_id_ticket'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_answer')),
    sa.UniqueConstraint('ticket_id', name='uq_survey_answer_ticket')
    )
    with op.batch_alter_table('survey_answer', schema=None) as batch_op:
        batch_op.create_index('ix_survey_answer_agent', ['company_id', 'agent_id', 'answered_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_survey_answer_company_id'), ['company_id'], unique=False)

    op.create_table('scheduled_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('connection_id', sa.Integer(), nullable=True),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('provider_template_id', sa.Integer(), nullable=True),
    sa.Column('template_id', sa.Integer(), nullable=True),
    sa.Column('send_at', sa.DateTime(), nullable=False),
    sa.Column('repeat', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('claimed_at', sa.DateTime(), nullable=True),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('sent_count', sa.Integer(), nullable=False),
    sa.Column('last_sent_at', sa.DateTime(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_scheduled_message_company_id_company'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['connection_id'], ['connection.id'], name=op.f('fk_scheduled_message_connection_id_connection'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['contact_id'], ['contact.id'], name=op.f('fk_scheduled_message_contact_id_contact'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_scheduled_message_created_by_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['message_id'], ['message.id'], name=op.f('fk_scheduled_message_message_id_message'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['provider_template_id'], ['provider_template.id'], name=op.f('fk_scheduled_message_provider_template_id_provider_template'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['template_id'], ['message_template.id'], name=op.f('fk_scheduled_message_template_id_message_template'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], name=op.f('fk_scheduled_message_ticket_id_ticket'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scheduled_message'))
    )
    with op.batch_alter_table('scheduled_message', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scheduled_message_company_id'), ['company_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_scheduled_message_connection_id'), ['connection_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_scheduled_message_contact_id'), ['contact_id'], unique=False)
        batch_op.create_index('ix_scheduled_message_due', ['status', 'send_at'], unique=False)

    with op.batch_alter_table('connection', schema=None) as batch_op:
        batch_op.add_column(sa.Column('period_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('out_of_hours_message', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('flow_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_connection_flow_id_flow'), 'flow', ['flow_id'], ['id'], ondelete='SET NULL')
        batch_op.create_foreign_key(batch_op.f('fk_connection_period_id_period'), 'period', ['period_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('department', schema=None) as batch_op:
        batch_op.add_column(sa.Column('survey_scale', sa.String(length=4), server_default='csat', nullable=False))
        batch_op.add_column(sa.Column('period_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('out_of_hours_message', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('flow_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_department_flow_id_flow'), 'flow', ['flow_id'], ['id'], ondelete='SET NULL')
        batch_op.create_foreign_key(batch_op.f('fk_department_period_id_period'), 'period', ['period_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_customer_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('due_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('out_of_hours_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('automation_marks', sa.JSON(none_as_null=True), nullable=True))
        batch_op.create_index('ix_ticket_due', ['due_at'], unique=False, postgresql_where=sa.text('due_at IS NOT NULL'), sqlite_where=sa.text('due_at IS NOT NULL'))

    grant_new_rights()

def downgrade():
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_index('ix_ticket_due', postgresql_where=sa.text('due_at IS NOT NULL'), sqlite_where=sa.text('due_at IS NOT NULL'))
        batch_op.drop_column('automation_marks')
        batch_op.drop_column('out_of_hours_at')
        batch_op.drop_column('due_at')
        batch_op.drop_column('last_customer_at')

    with op.batch_alter_table('department', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_department_period_id_period'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_department_flow_id_flow'), type_='foreignkey')
        batch_op.drop_column('flow_id')
        batch_op.drop_column('out_of_hours_message')
        batch_op.drop_column('period_id')
        batch_op.drop_column('survey_scale')

    with op.batch_alter_table('connection', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_connection_period_id_period'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_connection_flow_id_flow'), type_='foreignkey')
        batch_op.drop_column('flow_id')
        batch_op.drop_column('out_of_hours_message')
        batch_op.drop_column('period_id')

    with op.batch_alter_table('scheduled_message', schema=None) as batch_op:
        batch_op.drop_index('ix_scheduled_message_due')
        batch_op.drop_index(batch_op.f('ix_scheduled_message_contact_id'))
        batch_op.drop_index(batch_op.f('ix_scheduled_message_connection_id'))
        batch_op.drop_index(batch_op.f('ix_scheduled_message_company_id'))

    op.drop_table('scheduled_message')
    with op.batch_alter_table('survey_answer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_survey_answer_company_id'))
        batch_op.drop_index('ix_survey_answer_agent')

    op.drop_table('survey_answer')
    with op.batch_alter_table('flow_run', schema=None) as batch_op:
        batch_op.drop_index('ix_flow_run_ticket_status')
        batch_op.drop_index(batch_op.f('ix_flow_run_flow_version_id'))
        batch_op.drop_index(batch_op.f('ix_flow_run_company_id'))

    op.drop_table('flow_run')
    with op.batch_alter_table('flow', schema=None) as batch_op:
        batch_op.drop_constraint('fk_flow_published_version', type_='foreignkey')
    with op.batch_alter_table('flow_version', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_flow_version_flow_id'))
        batch_op.drop_index(batch_op.f('ix_flow_version_company_id'))

    op.drop_table('flow_version')
    with op.batch_alter_table('flow', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_flow_company_id'))

    op.drop_table('flow')
    with op.batch_alter_table('automation_rule', schema=None) as batch_op:
        batch_op.drop_index('ix_automation_rule_trigger')
        batch_op.drop_index(batch_op.f('ix_automation_rule_company_id'))

    op.drop_table('automation_rule')
