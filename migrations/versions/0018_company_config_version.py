"""SCL-3 (issue 17 point 3): company.config_version, the token of the company's automation
configuration (rules, webhooks, published flows) that each web process checks before using
what it keeps of it in memory (backoffice.services.company_config). Existing companies
start at 0; the next change of their configuration gives them a random value.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05

Generated with `flask db migrate`.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('company', schema=None) as batch_op:
        batch_op.add_column(sa.Column('config_version', sa.BigInteger(), server_default='0',
                                      nullable=False))


def downgrade():
    with op.batch_alter_table('company', schema=None) as batch_op:
        batch_op.drop_column('config_version')
