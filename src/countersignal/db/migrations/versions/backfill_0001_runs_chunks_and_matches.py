"""backfill: runs, chunks and matches

Revision ID: backfill_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

import countersignal.db

revision = "backfill_0001"
down_revision = None
branch_labels = ("backfill",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "backfill_runs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("organisation_id", sa.String(length=40), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("manifest_sha256", sa.String(length=64), nullable=False),
        sa.Column("total_items", sa.Integer(), nullable=False),
        sa.Column("chunk_size", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("items_done", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("matches", sa.Integer(), nullable=False),
        sa.Column("created_at", countersignal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", countersignal.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backfill_runs")),
    )
    op.create_index(
        op.f("ix_backfill_runs_organisation_id"), "backfill_runs", ["organisation_id"], unique=False
    )
    op.create_table(
        "backfill_chunks",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("chunk", sa.Integer(), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("finished_at", countersignal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["backfill_runs.id"],
            name=op.f("fk_backfill_chunks_run_id_backfill_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backfill_chunks")),
        sa.UniqueConstraint("run_id", "chunk", name=op.f("uq_backfill_chunks_run_id")),
    )
    op.create_table(
        "backfill_matches",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("signal_type", sa.String(length=32), nullable=False),
        sa.Column("signal_id", sa.BigInteger(), nullable=False),
        sa.Column("item_id", sa.String(length=40), nullable=False),
        sa.Column("bank_id", sa.String(length=40), nullable=False),
        sa.Column("distance", sa.Integer(), nullable=False),
        sa.Column("created_at", countersignal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["backfill_runs.id"],
            name=op.f("fk_backfill_matches_run_id_backfill_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backfill_matches")),
    )
    op.create_index(
        op.f("ix_backfill_matches_run_id"), "backfill_matches", ["run_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_backfill_matches_run_id"), table_name="backfill_matches")
    op.drop_table("backfill_matches")
    op.drop_table("backfill_chunks")
    op.drop_index(op.f("ix_backfill_runs_organisation_id"), table_name="backfill_runs")
    op.drop_table("backfill_runs")
