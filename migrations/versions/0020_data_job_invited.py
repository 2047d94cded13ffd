"""POR-1: data_job.invited, the portal representatives a contact import created (and
invited), shown in the import's summary beside the contacts. Jobs run before it count 0.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06

Generated with `flask db migrate`, with the server default for the existing rows.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('data_job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('invited', sa.Integer(), server_default='0',
                                      nullable=False))


def downgrade():
    with op.batch_alter_table('data_job', schema=None) as batch_op:
        batch_op.drop_column('invited')
