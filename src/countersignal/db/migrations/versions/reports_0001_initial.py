"""reports: published (frozen) transparency reports.

Revision ID: reports_0001
Revises:
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

import countersignal.db

revision = "reports_0001"
down_revision = None
branch_labels = ("reports",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reports_published",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("organisation_id", sa.String(length=40), nullable=False),
        sa.Column("period_start", countersignal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("period_end", countersignal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("published_at", countersignal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports_published")),
    )
    op.create_index(
        op.f("ix_reports_published_organisation_id"),
        "reports_published",
        ["organisation_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_reports_published_organisation_id"), table_name="reports_published")
    op.drop_table("reports_published")
