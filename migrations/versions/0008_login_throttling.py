"""Login throttling (SEC-5): failed logins are counted in Redis with growing delays, so
the per-user counter and hard lock (`user.failed_logins`, `user.locked_until`) go.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04

Plain ALTER TABLE, not batch: a batch rebuild of `user` on SQLite drops the table, and
with foreign keys on that cascades to the rows that point at users.
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_column('user', 'locked_until')
    op.drop_column('user', 'failed_logins')


def downgrade():
    op.add_column('user', sa.Column('failed_logins', sa.Integer(), nullable=False,
                                    server_default='0'))
    op.add_column('user', sa.Column('locked_until', sa.DateTime(), nullable=True))
