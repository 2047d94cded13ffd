"""Configuration screens: departments and members, reasons by department, pauses,
message templates, company parameters, webhooks, telephony.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21

Generated with `flask db migrate`, then: the unique (company_id, id) on reason moved first
(reason_department's composite foreign key needs it on PostgreSQL), and a data step that
gives the new screens' rights to groups that held every right before (the companies'
administrators), or they would not see the new screens after upgrading.
"""
import json

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


# Every system right that existed up to 0002, and the rights this revision adds.
RIGHTS_0002 = [f"{a}.{x}" for a in ("users", "groups", "periods", "holidays", "tags", "reasons")
               for x in ("view", "create", "edit", "delete")] + ["company.view", "company.edit",
                                                               "audit.view"]
RIGHTS_0003 = [f"{a}.{x}" for a in ("departments", "pauses", "templates", "webhooks")
               for x in ("view", "create", "edit", "delete")] + [
    "parameters.view", "parameters.edit", "telephony.view", "telephony.edit"]


def grant_new_rights_to_full_groups():
    groups = sa.table("permission_group", sa.column("id", sa.Integer), sa.column("kind", sa.String),
                      sa.column("rights", sa.JSON))
    conn = op.get_bind()
    for gid, kind, rights in conn.execute(sa.select(groups.c.id, groups.c.kind, groups.c.rights)):
        rights = json.loads(rights) if isinstance(rights, str) else list(rights or [])
        if kind == "system" and set(RIGHTS_0002) <= set(rights):
            new = rights + [r for r in RIGHTS_0003 if r not in rights]
            conn.execute(groups.update().where(groups.c.id == gid).values(rights=new))


def upgrade():
    with op.batch_alter_table('reason', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_reason_company_id', ['company_id', 'id'])

    op.create_table('company_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cpf_required_pf', sa.Boolean(), nullable=False),
    sa.Column('cnpj_required_pj', sa.Boolean(), nullable=False),
    sa.Column('support_access_allowed', sa.Boolean(), nullable=False),
    sa.Column('wallet_enabled', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_company_settings_company_id_company'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_company_settings')),
    sa.UniqueConstraint('company_id', name='uq_company_settings_company')
    )
    with op.batch_alter_table('company_settings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_company_settings_company_id'), ['company_id'], unique=False)

    op.create_table('department',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('notify_on_ticket', sa.Boolean(), nullable=False),
    sa.Column('reason_required_to_close', sa.Boolean(), nullable=False),
    sa.Column('receives_tickets', sa.Boolean(), nullable=False),
    sa.Column('observation_required_on_transfer', sa.Boolean(), nullable=False),
    sa.Column('direct_to_wallet_agent', sa.Boolean(), nullable=False),
    sa.Column('survey_enabled', sa.Boolean(), nullable=False),
    sa.Column('survey_flow', sa.Text(), nullable=True),
    sa.Column('survey_timeout_message', sa.Text(), nullable=True),
    sa.Column('survey_max_inactivity_minutes', sa.Integer(), nullable=True),
    sa.Column('close_queue_after_minutes', sa.Integer(), nullable=True),
    sa.Column('close_queue_message', sa.Text(), nullable=True),
    sa.Column('close_in_progress_after_minutes', sa.Integer(), nullable=True),
    sa.Column('close_in_progress_message', sa.Text(), nullable=True),
    sa.Column('on_start_enabled', sa.Boolean(), nullable=False),
    sa.Column('on_start_text', sa.Text(), nullable=True),
    sa.Column('on_transfer_enabled', sa.Boolean(), nullable=False),
    sa.Column('on_transfer_text', sa.Text(), nullable=True),
    sa.Column('on_close_enabled', sa.Boolean(), nullable=False),
    sa.Column('on_close_text', sa.Text(), nullable=True),
    sa.Column('overflow_enabled', sa.Boolean(), nullable=False),
    sa.Column('overflow_department_id', sa.Integer(), nullable=True),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_department_company_id_company'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['overflow_department_id'], ['department.id'], name=op.f('fk_department_overflow_department_id_department'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_department')),
    sa.UniqueConstraint('company_id', 'id', name='uq_department_company_id'),
    sa.UniqueConstraint('company_id', 'name', name='uq_department_company_name')
    )
    with op.batch_alter_table('department', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_department_company_id'), ['company_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_department_overflow_department_id'), ['overflow_department_id'], unique=False)

    op.create_table('message_template',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('shortcut', sa.String(length=40), nullable=False),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('file_key', sa.String(length=64), nullable=True),
    sa.Column('file_name', sa.String(length=255), nullable=True),
    sa.Column('file_mime', sa.String(length=100), nullable=True),
    sa.Column('file_size', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_message_template_company_id_company'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_message_template')),
    sa.UniqueConstraint('company_id', 'shortcut', name='uq_message_template_company_shortcut')
    )
    with op.batch_alter_table('message_template', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_message_template_company_id'), ['company_id'], unique=False)

    op.create_table('pause',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_pause_company_id_company'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pause')),
    sa.UniqueConstraint('company_id', 'name', name=op.f('uq_pause_company_id_name'))
    )
    with op.batch_alter_table('pause', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pause_company_id'), ['company_id'], unique=False)

    op.create_table('telephony_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pabx_host', sa.String(length=253), nullable=True),
    sa.Column('sip_port', sa.Integer(), nullable=False),
    sa.Column('sip_tls_port', sa.Integer(), nullable=False),
    sa.Column('rtp_port_start', sa.Integer(), nullable=False),
    sa.Column('rtp_port_end', sa.Integer(), nullable=False),
    sa.Column('ami_port', sa.Integer(), nullable=False),
    sa.Column('websocket_port', sa.Integer(), nullable=False),
    sa.Column('allowed_ips', sa.Text(), nullable=True),
    sa.Column('blocked_ips', sa.Text(), nullable=True),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_telephony_settings_company_id_company'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_telephony_settings')),
    sa.UniqueConstraint('company_id', name='uq_telephony_settings_company')
    )
    with op.batch_alter_table('telephony_settings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_telephony_settings_company_id'), ['company_id'], unique=False)

    op.create_table('webhook',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('url', sa.String(length=500), nullable=False),
    sa.Column('events', sa.JSON(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('secret', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_webhook_company_id_company'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook'))
    )
    with op.batch_alter_table('webhook', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_company_id'), ['company_id'], unique=False)

    op.create_table('pause_department',
    sa.Column('pause_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_pause_department_department_id_department'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['pause_id'], ['pause.id'], name=op.f('fk_pause_department_pause_id_pause'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('pause_id', 'department_id', name=op.f('pk_pause_department'))
    )
    op.create_table('pause_window',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pause_id', sa.Integer(), nullable=False),
    sa.Column('weekdays', sa.JSON(), nullable=False),
    sa.Column('start_time', sa.Time(), nullable=False),
    sa.Column('end_time', sa.Time(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_pause_window_company_id_company'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['pause_id'], ['pause.id'], name=op.f('fk_pause_window_pause_id_pause'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pause_window'))
    )
    with op.batch_alter_table('pause_window', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pause_window_company_id'), ['company_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_pause_window_pause_id'), ['pause_id'], unique=False)

    op.create_table('reason_department',
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('reason_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['company_id', 'department_id'], ['department.company_id', 'department.id'], name='fk_reason_department_department', ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['company_id', 'reason_id'], ['reason.company_id', 'reason.id'], name='fk_reason_department_reason', ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_reason_department_company_id_company'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('reason_id', 'department_id', name=op.f('pk_reason_department'))
    )
    with op.batch_alter_table('reason_department', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reason_department_company_id'), ['company_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reason_department_department_id'), ['department_id'], unique=False)

    op.create_table('department_member',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('receives_tickets', sa.Boolean(), nullable=False),
    sa.Column('responsible', sa.Boolean(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_department_member_company_id_company'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_department_member_department_id_department'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_department_member_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_department_member')),
    sa.UniqueConstraint('department_id', 'user_id', name='uq_department_member_user')
    )
    with op.batch_alter_table('department_member', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_department_member_company_id'), ['company_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_department_member_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_department_member_user_id'), ['user_id'], unique=False)

    grant_new_rights_to_full_groups()


def downgrade():
    with op.batch_alter_table('department_member', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_department_member_user_id'))
        batch_op.drop_index(batch_op.f('ix_department_member_department_id'))
        batch_op.drop_index(batch_op.f('ix_department_member_company_id'))

    op.drop_table('department_member')
    with op.batch_alter_table('reason_department', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reason_department_department_id'))
        batch_op.drop_index(batch_op.f('ix_reason_department_company_id'))

    op.drop_table('reason_department')
    with op.batch_alter_table('pause_window', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pause_window_pause_id'))
        batch_op.drop_index(batch_op.f('ix_pause_window_company_id'))

    op.drop_table('pause_window')
    op.drop_table('pause_department')
    with op.batch_alter_table('webhook', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_company_id'))

    op.drop_table('webhook')
    with op.batch_alter_table('telephony_settings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_telephony_settings_company_id'))

    op.drop_table('telephony_settings')
    with op.batch_alter_table('pause', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pause_company_id'))

    op.drop_table('pause')
    with op.batch_alter_table('message_template', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_message_template_company_id'))

    op.drop_table('message_template')
    with op.batch_alter_table('department', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_department_overflow_department_id'))
        batch_op.drop_index(batch_op.f('ix_department_company_id'))

    op.drop_table('department')
    with op.batch_alter_table('company_settings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_company_settings_company_id'))

    op.drop_table('company_settings')
    with op.batch_alter_table('reason', schema=None) as batch_op:
        batch_op.drop_constraint('uq_reason_company_id', type_='unique')
