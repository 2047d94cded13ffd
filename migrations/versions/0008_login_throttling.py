"""Placeholder for SEC-5 (login throttling); filled in by that work.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
