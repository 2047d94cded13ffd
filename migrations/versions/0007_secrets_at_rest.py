"""Placeholder for SEC-8 (secrets encrypted at rest); filled in by that work.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
