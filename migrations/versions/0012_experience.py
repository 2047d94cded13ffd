"""Agent and admin experience (issue 14): the user's sound switch and availability
(Disponível / Ausente), uploaded avatars and company logos.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05

Generated with `flask db migrate`.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('company', schema=None) as batch_op:
        batch_op.add_column(sa.Column('logo_key', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('logo_mime', sa.String(length=40), nullable=True))

    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sound_enabled', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('available', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('avatar_key', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('avatar_mime', sa.String(length=40), nullable=True))


def downgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('avatar_mime')
        batch_op.drop_column('avatar_key')
        batch_op.drop_column('available')
        batch_op.drop_column('sound_enabled')

    with op.batch_alter_table('company', schema=None) as batch_op:
        batch_op.drop_column('logo_mime')
        batch_op.drop_column('logo_key')
