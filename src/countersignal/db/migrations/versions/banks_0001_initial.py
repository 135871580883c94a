"""banks: banks, items, labels, signals, opinions and the signal change log.

Revision ID: banks_0001
Revises:
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

import countersignal.db

revision = "banks_0001"
down_revision = None
branch_labels = ("banks",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "banks",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("organisation_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("tlp", sa.String(length=16), nullable=False),
        sa.Column("trusted", sa.Boolean(), nullable=False),
        sa.Column("local_only", sa.Boolean(), nullable=False),
        sa.Column("matching_enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", countersignal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", countersignal.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_banks")),
        sa.UniqueConstraint("organisation_id", "name", name=op.f("uq_banks_organisation_id")),
    )
    op.create_index(op.f("ix_banks_organisation_id"), "banks", ["organisation_id"], unique=False)
    op.create_table(
        "signal_changes",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("signal_id", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("op", sa.String(length=8), nullable=False),
        sa.Column("at", countersignal.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_signal_changes")),
    )
    op.create_index(
        op.f("ix_signal_changes_signal_id"), "signal_changes", ["signal_id"], unique=False
    )
    op.create_table(
        "bank_items",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("bank_id", sa.String(length=40), nullable=False),
        sa.Column("external_id", sa.String(length=300), nullable=True),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("source_ref", sa.String(length=500), nullable=True),
        sa.Column("source_organisation_id", sa.String(length=40), nullable=True),
        sa.Column("tlp", sa.String(length=16), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("revoked_at", countersignal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", countersignal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", countersignal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["bank_id"], ["banks.id"], name=op.f("fk_bank_items_bank_id_banks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_items")),
    )
    op.create_index(
        "ix_bank_items_bank_external", "bank_items", ["bank_id", "external_id"], unique=False
    )
    op.create_index(op.f("ix_bank_items_bank_id"), "bank_items", ["bank_id"], unique=False)
    op.create_table(
        "bank_item_labels",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("item_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=300), nullable=False),
        sa.Column("reference", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["bank_items.id"],
            name=op.f("fk_bank_item_labels_item_id_bank_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_item_labels")),
    )
    op.create_index(
        op.f("ix_bank_item_labels_item_id"), "bank_item_labels", ["item_id"], unique=False
    )
    op.create_table(
        "signals",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("item_id", sa.String(length=40), nullable=False),
        sa.Column("bank_id", sa.String(length=40), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("quality", sa.Integer(), nullable=True),
        sa.Column("created_at", countersignal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["bank_items.id"],
            name=op.f("fk_signals_item_id_bank_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signals")),
        sa.UniqueConstraint("item_id", "type", "value", name=op.f("uq_signals_item_id")),
    )
    op.create_index(op.f("ix_signals_bank_id"), "signals", ["bank_id"], unique=False)
    op.create_index(op.f("ix_signals_item_id"), "signals", ["item_id"], unique=False)
    op.create_index("ix_signals_type_value", "signals", ["type", "value"], unique=False)
    op.create_table(
        "opinions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "signal_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("organisation_id", sa.String(length=40), nullable=False),
        sa.Column("opinion", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", countersignal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", countersignal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["signal_id"],
            ["signals.id"],
            name=op.f("fk_opinions_signal_id_signals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opinions")),
        sa.UniqueConstraint("signal_id", "organisation_id", name=op.f("uq_opinions_signal_id")),
    )
    op.create_index(
        op.f("ix_opinions_organisation_id"), "opinions", ["organisation_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_opinions_organisation_id"), table_name="opinions")
    op.drop_table("opinions")
    op.drop_index("ix_signals_type_value", table_name="signals")
    op.drop_index(op.f("ix_signals_item_id"), table_name="signals")
    op.drop_index(op.f("ix_signals_bank_id"), table_name="signals")
    op.drop_table("signals")
    op.drop_index(op.f("ix_bank_item_labels_item_id"), table_name="bank_item_labels")
    op.drop_table("bank_item_labels")
    op.drop_index(op.f("ix_bank_items_bank_id"), table_name="bank_items")
    op.drop_index("ix_bank_items_bank_external", table_name="bank_items")
    op.drop_table("bank_items")
    op.drop_index(op.f("ix_signal_changes_signal_id"), table_name="signal_changes")
    op.drop_table("signal_changes")
    op.drop_index(op.f("ix_banks_organisation_id"), table_name="banks")
    op.drop_table("banks")
