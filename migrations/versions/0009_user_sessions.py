"""Server-side sessions (SEC-4): one row per login, and the open sockets of each, so
logout, password change, deactivation, group change and company disable end exactly the
sessions concerned and disconnect their sockets.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04

Generated with `flask db migrate`.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('user_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(), nullable=False),
    sa.Column('user_agent', sa.String(length=255), nullable=True),
    sa.Column('ip', sa.String(length=45), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_user_session_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_session')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_user_session_token_hash'))
    )
    with op.batch_alter_table('user_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_session_user_id'), ['user_id'], unique=False)

    op.create_table('session_socket',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('sid', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['user_session.id'], name=op.f('fk_session_socket_session_id_user_session'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_session_socket'))
    )
    with op.batch_alter_table('session_socket', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_session_socket_session_id'), ['session_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_session_socket_sid'), ['sid'], unique=False)


def downgrade():
    with op.batch_alter_table('session_socket', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_session_socket_sid'))
        batch_op.drop_index(batch_op.f('ix_session_socket_session_id'))

    op.drop_table('session_socket')
    with op.batch_alter_table('user_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_session_user_id'))

    op.drop_table('user_session')
