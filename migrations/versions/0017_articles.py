"""Help articles (issue 18, ART-1): categories, articles (Markdown, draft/published,
public/portal only, order, views and "Isso resolveu?" counters) and each answer given, with
the Portuguese full-text search: on PostgreSQL a GIN index on
to_tsvector('portuguese', search_text) (no extension needed: accents are taken out of
search_text in Python); on SQLite the FTS5 table article_fts, which the articles service
fills (FTS5 has no Portuguese stemmer: it stores snowball stems).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05

Generated with `flask db migrate`; the search index and table (one backend each) by hand.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

# as backoffice/models/articles.py declares them (a migration never imports the models)
PG_INDEX = ("CREATE INDEX ix_article_search ON article "
            "USING gin (to_tsvector('portuguese'::regconfig, search_text))")
FTS_CREATE = ("CREATE VIRTUAL TABLE IF NOT EXISTS article_fts USING fts5("
              "title, body, tokenize = 'unicode61 remove_diacritics 2')")


def search_index_up():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(PG_INDEX)
    elif dialect == "sqlite":
        op.execute(FTS_CREATE)


def search_index_down():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_article_search")
    elif dialect == "sqlite":
        op.execute("DROP TABLE IF EXISTS article_fts")


def upgrade():
    op.create_table('article_category',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_article_category_company_id_company'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_article_category')),
    sa.UniqueConstraint('company_id', 'name', name='uq_article_category_name')
    )
    with op.batch_alter_table('article_category', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_article_category_company_id'), ['company_id'], unique=False)

    op.create_table('article',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=160), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('audience', sa.String(length=10), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('search_text', sa.Text(), nullable=False),
    sa.Column('views', sa.Integer(), server_default='0', nullable=False),
    sa.Column('solved_yes', sa.Integer(), server_default='0', nullable=False),
    sa.Column('solved_no', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['article_category.id'], name=op.f('fk_article_category_id_article_category'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_article_company_id_company'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_article'))
    )
    with op.batch_alter_table('article', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_article_category_id'), ['category_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_article_company_id'), ['company_id'], unique=False)
    search_index_up()

    op.create_table('article_feedback',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.Column('solved', sa.Boolean(), nullable=False),
    sa.Column('source', sa.String(length=12), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['article.id'], name=op.f('fk_article_feedback_article_id_article'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_article_feedback_company_id_company'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_article_feedback'))
    )
    with op.batch_alter_table('article_feedback', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_article_feedback_article_id'), ['article_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_article_feedback_company_id'), ['company_id'], unique=False)



def downgrade():
    with op.batch_alter_table('article_feedback', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_article_feedback_company_id'))
        batch_op.drop_index(batch_op.f('ix_article_feedback_article_id'))

    op.drop_table('article_feedback')
    with op.batch_alter_table('article', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_article_company_id'))
        batch_op.drop_index(batch_op.f('ix_article_category_id'))

    search_index_down()
    op.drop_table('article')
    with op.batch_alter_table('article_category', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_article_category_company_id'))

    op.drop_table('article_category')
