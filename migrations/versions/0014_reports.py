"""Reports, the managers' dashboard and the TV panel (issue 16): the per-ticket facts the
reports aggregate (ticket_report), the TV panel's links (panel_key), the company's
first-response target (company_settings.sla_minutes) and the departments' waiting alert
(department.wait_alert_minutes).

Existing tickets get their facts from `flask reports rebuild` (run by `make run`), which
needs the app's time-zone and business-hours rules; this revision only makes the tables.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05

Generated with `flask db migrate`.
"""
import json

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


# The screens of this revision: Relatórios to the groups that supervise the inbox (the
# managers), and both Relatórios and Painel TV to the groups that manage departments (the
# company's administrators), so they see them after the upgrade.
GRANTS_0014 = [
    (["inbox.supervise"], ["reports.view"]),
    (["departments.edit"], ["reports.view", "panel.view", "panel.create", "panel.delete"]),
]


def grant_new_rights():
    groups = sa.table("permission_group", sa.column("id", sa.Integer), sa.column("kind", sa.String),
                      sa.column("rights", sa.JSON))
    conn = op.get_bind()
    rows = conn.execute(sa.select(groups.c.id, groups.c.kind, groups.c.rights))
    for gid, kind, rights in list(rows):
        rights = json.loads(rights) if isinstance(rights, str) else list(rights or [])
        if kind != "system":
            continue
        new = list(rights)
        for mark, granted in GRANTS_0014:
            if set(mark) <= set(rights):
                new += [r for r in granted if r not in new]
        if new != rights:
            conn.execute(groups.update().where(groups.c.id == gid).values(rights=new))


def upgrade():
    op.create_table('panel_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('department_ids', sa.JSON(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_used_at', sa.DateTime(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_panel_key_company_id_company'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_panel_key_created_by_id_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_panel_key')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_panel_key_key_hash'))
    )
    with op.batch_alter_table('panel_key', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_panel_key_company_id'), ['company_id'], unique=False)

    op.create_table('ticket_report',
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('hour', sa.SmallInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('connection_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=20), nullable=True),
    sa.Column('reason_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('closed_day', sa.Date(), nullable=True),
    sa.Column('wait_s', sa.Integer(), nullable=True),
    sa.Column('wait_bh', sa.Integer(), nullable=True),
    sa.Column('first_response_s', sa.Integer(), nullable=True),
    sa.Column('first_response_bh', sa.Integer(), nullable=True),
    sa.Column('resolution_s', sa.Integer(), nullable=True),
    sa.Column('resolution_bh', sa.Integer(), nullable=True),
    sa.Column('handle_s', sa.Integer(), nullable=True),
    sa.Column('transfers', sa.SmallInteger(), nullable=False),
    sa.Column('reopens', sa.SmallInteger(), nullable=False),
    sa.Column('survey_scale', sa.String(length=4), nullable=True),
    sa.Column('survey_score', sa.SmallInteger(), nullable=True),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['user.id'], name=op.f('fk_ticket_report_agent_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_ticket_report_company_id_company'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['connection_id'], ['connection.id'], name=op.f('fk_ticket_report_connection_id_connection'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_ticket_report_department_id_department'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reason_id'], ['reason.id'], name=op.f('fk_ticket_report_reason_id_reason'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], name=op.f('fk_ticket_report_ticket_id_ticket'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('ticket_id', name=op.f('pk_ticket_report'))
    )
    with op.batch_alter_table('ticket_report', schema=None) as batch_op:
        batch_op.create_index('ix_ticket_report_closed_day', ['company_id', 'closed_day'], unique=False)
        batch_op.create_index(batch_op.f('ix_ticket_report_company_id'), ['company_id'], unique=False)
        batch_op.create_index('ix_ticket_report_day', ['company_id', 'day'], unique=False)

    with op.batch_alter_table('company_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sla_minutes', sa.Integer(), server_default='15', nullable=False))

    with op.batch_alter_table('department', schema=None) as batch_op:
        batch_op.add_column(sa.Column('wait_alert_minutes', sa.Integer(), nullable=True))

    grant_new_rights()


def downgrade():
    with op.batch_alter_table('department', schema=None) as batch_op:
        batch_op.drop_column('wait_alert_minutes')

    with op.batch_alter_table('company_settings', schema=None) as batch_op:
        batch_op.drop_column('sla_minutes')

    with op.batch_alter_table('ticket_report', schema=None) as batch_op:
        batch_op.drop_index('ix_ticket_report_day')
        batch_op.drop_index(batch_op.f('ix_ticket_report_company_id'))
        batch_op.drop_index('ix_ticket_report_closed_day')

    op.drop_table('ticket_report')
    with op.batch_alter_table('panel_key', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_panel_key_company_id'))

    op.drop_table('panel_key')
