"""SEC-6: user.totp_last_step, the time step of the last accepted code from the
authenticator app, so that a code is accepted once (RFC 6238, section 5.2). Existing users
start without one: their next code is accepted.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06

Generated with `flask db migrate`.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('totp_last_step', sa.BigInteger(), nullable=True))


def downgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('totp_last_step')
