"""Website visitors' messages stored once per client id (issue 17, point 4): a partial
unique index on message (ticket_id, external_id) for the widget's ids only ("wc:..."),
so rows stored before it (provider ids) cannot make the upgrade fail.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05

Generated with `flask db migrate`.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.create_index('uq_message_webchat_client_id', ['ticket_id', 'external_id'], unique=True, postgresql_where=sa.text("direction = 'in' AND substr(external_id, 1, 3) = 'wc:'"), sqlite_where=sa.text("direction = 'in' AND substr(external_id, 1, 3) = 'wc:'"))


def downgrade():
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_index('uq_message_webchat_client_id', postgresql_where=sa.text("direction = 'in' AND substr(external_id, 1, 3) = 'wc:'"), sqlite_where=sa.text("direction = 'in' AND substr(external_id, 1, 3) = 'wc:'"))
