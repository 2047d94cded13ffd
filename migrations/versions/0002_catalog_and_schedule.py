"""Catalogues and opening hours: tags, reasons, periods, their schedules, holidays.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21

Generated with `flask db migrate` and tidied by hand.
tag has two uniqueness rules: (company, owner, name) for personal tags, and a partial
unique index on (company, name) WHERE owner_id IS NULL for company tags, since NULL never
equals NULL in a unique constraint. SQLite (>= 3.8) and PostgreSQL both support it.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "tag",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("color", sa.String(length=7), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["company_id"], ["company.id"],
                                name=op.f("fk_tag_company_id_company"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["owner_id"], ["user.id"],
                                name=op.f("fk_tag_owner_id_user"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tag")),
        sa.UniqueConstraint("company_id", "owner_id", "name", name="uq_tag_company_owner_name"),
    )
    op.create_index(op.f("ix_tag_company_id"), "tag", ["company_id"])
    op.create_index(op.f("ix_tag_owner_id"), "tag", ["owner_id"])
    op.create_index("uq_tag_company_name_shared", "tag", ["company_id", "name"], unique=True,
                    sqlite_where=sa.text("owner_id IS NULL"),
                    postgresql_where=sa.text("owner_id IS NULL"))

    op.create_table(
        "reason",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["company_id"], ["company.id"],
                                name=op.f("fk_reason_company_id_company"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reason")),
        sa.UniqueConstraint("company_id", "name", name="uq_reason_company_name"),
    )
    op.create_index(op.f("ix_reason_company_id"), "reason", ["company_id"])

    op.create_table(
        "period",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["company_id"], ["company.id"],
                                name=op.f("fk_period_company_id_company"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_period")),
        sa.UniqueConstraint("company_id", "name", name=op.f("uq_period_company_id_name")),
    )
    op.create_index(op.f("ix_period_company_id"), "period", ["company_id"])

    op.create_table(
        "period_schedule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("weekdays", sa.JSON(), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=False),
        sa.Column("end_time", sa.Time(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["company_id"], ["company.id"],
                                name=op.f("fk_period_schedule_company_id_company"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["period_id"], ["period.id"],
                                name=op.f("fk_period_schedule_period_id_period"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_period_schedule")),
    )
    op.create_index(op.f("ix_period_schedule_company_id"), "period_schedule", ["company_id"])
    op.create_index(op.f("ix_period_schedule_period_id"), "period_schedule", ["period_id"])

    op.create_table(
        "holiday",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("every_year", sa.Boolean(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["company_id"], ["company.id"],
                                name=op.f("fk_holiday_company_id_company"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holiday")),
    )
    op.create_index(op.f("ix_holiday_company_id"), "holiday", ["company_id"])


def downgrade():
    # Dropping a table drops its indexes with it.
    op.drop_table("holiday")
    op.drop_table("period_schedule")
    op.drop_table("period")
    op.drop_table("reason")
    op.drop_table("tag")
