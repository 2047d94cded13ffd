"""Secrets encrypted at rest (SEC-8): connection.endpoint_secret, webhook.secret and
user.totp_secret hold Fernet tokens (backoffice.lib.crypto.EncryptedText).

The columns become Text (a token is longer than the secret), then the values already
there are encrypted in place with the app's first key (ENCRYPTION_KEYS, or
instance/encryption_key); downgrade decrypts them and narrows the columns back.
Batch alters rebuild the tables on SQLite, which env.py runs with foreign keys off.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa

from backoffice.lib import crypto


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

# table, column, type before this revision, nullable
COLUMNS = [
    ('connection', 'endpoint_secret', sa.String(length=128), True),
    ('webhook', 'secret', sa.String(length=100), False),
    ('user', 'totp_secret', sa.Text(), True),
]


def _rewrite(table: str, column: str, change) -> None:
    """Apply `change` to every non-NULL value of table.column, row by row."""
    bind = op.get_bind()
    t = sa.table(table, sa.column('id', sa.Integer()), sa.column(column, sa.Text()))
    rows = bind.execute(sa.select(t.c.id, t.c[column]).where(t.c[column].is_not(None))).all()
    for row_id, value in rows:
        bind.execute(t.update().where(t.c.id == row_id).values({column: change(value)}))


def upgrade():
    for table, column, old_type, nullable in COLUMNS:
        if isinstance(old_type, sa.Text):
            continue
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(column, existing_type=old_type, type_=sa.Text(),
                                  existing_nullable=nullable)
    for table, column, _type, _nullable in COLUMNS:
        _rewrite(table, column, crypto.encrypt)


def downgrade():
    for table, column, _type, _nullable in COLUMNS:
        _rewrite(table, column, crypto.decrypt)
    for table, column, old_type, nullable in COLUMNS:
        if isinstance(old_type, sa.Text):
            continue
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(column, existing_type=sa.Text(), type_=old_type,
                                  existing_nullable=nullable)
