"""actions: webhook endpoints, the delivery outbox, evidence vault entries.

Revision ID: actions_0001
Revises:
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

import countersignal.db

revision = "actions_0001"
down_revision = None
branch_labels = ("actions",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "actions_vault_entries",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("organisation_id", sa.String(length=40), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=True),
        sa.Column("submission_id", sa.String(length=40), nullable=True),
        sa.Column("blob_address", sa.String(length=64), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(length=200), nullable=False),
        sa.Column("metadata_ciphertext", sa.Text(), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("retain_until", countersignal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("extension_reason", sa.Text(), nullable=False),
        sa.Column("created_at", countersignal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("purged_at", countersignal.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_actions_vault_entries")),
    )
    op.create_index(
        op.f("ix_actions_vault_entries_blob_address"),
        "actions_vault_entries",
        ["blob_address"],
        unique=False,
    )
    op.create_index(
        op.f("ix_actions_vault_entries_case_id"), "actions_vault_entries", ["case_id"], unique=False
    )
    op.create_index(
        op.f("ix_actions_vault_entries_organisation_id"),
        "actions_vault_entries",
        ["organisation_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_actions_vault_entries_retain_until"),
        "actions_vault_entries",
        ["retain_until"],
        unique=False,
    )
    op.create_index(
        op.f("ix_actions_vault_entries_submission_id"),
        "actions_vault_entries",
        ["submission_id"],
        unique=False,
    )
    op.create_table(
        "actions_webhook_endpoints",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("organisation_id", sa.String(length=40), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("secret_ciphertext", sa.Text(), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("allow_private", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", countersignal.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_actions_webhook_endpoints")),
    )
    op.create_index(
        op.f("ix_actions_webhook_endpoints_organisation_id"),
        "actions_webhook_endpoints",
        ["organisation_id"],
        unique=False,
    )
    op.create_table(
        "actions_outbox",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("organisation_id", sa.String(length=40), nullable=False),
        sa.Column("endpoint_id", sa.String(length=40), nullable=False),
        sa.Column("event", sa.String(length=100), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", countersignal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("lease_until", countersignal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_at", countersignal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", countersignal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("acknowledgement", sa.JSON(), nullable=True),
        sa.Column("acknowledged_at", countersignal.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["actions_webhook_endpoints.id"],
            name=op.f("fk_actions_outbox_endpoint_id_actions_webhook_endpoints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_actions_outbox")),
        sa.UniqueConstraint(
            "endpoint_id", "idempotency_key", name=op.f("uq_actions_outbox_endpoint_id")
        ),
    )
    op.create_index(
        "ix_actions_outbox_due", "actions_outbox", ["status", "next_attempt_at"], unique=False
    )
    op.create_index(
        op.f("ix_actions_outbox_endpoint_id"), "actions_outbox", ["endpoint_id"], unique=False
    )
    op.create_index(
        op.f("ix_actions_outbox_organisation_id"),
        "actions_outbox",
        ["organisation_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_actions_outbox_organisation_id"), table_name="actions_outbox")
    op.drop_index(op.f("ix_actions_outbox_endpoint_id"), table_name="actions_outbox")
    op.drop_index("ix_actions_outbox_due", table_name="actions_outbox")
    op.drop_table("actions_outbox")
    op.drop_index(
        op.f("ix_actions_webhook_endpoints_organisation_id"), table_name="actions_webhook_endpoints"
    )
    op.drop_table("actions_webhook_endpoints")
    op.drop_index(
        op.f("ix_actions_vault_entries_submission_id"), table_name="actions_vault_entries"
    )
    op.drop_index(op.f("ix_actions_vault_entries_retain_until"), table_name="actions_vault_entries")
    op.drop_index(
        op.f("ix_actions_vault_entries_organisation_id"), table_name="actions_vault_entries"
    )
    op.drop_index(op.f("ix_actions_vault_entries_case_id"), table_name="actions_vault_entries")
    op.drop_index(op.f("ix_actions_vault_entries_blob_address"), table_name="actions_vault_entries")
    op.drop_table("actions_vault_entries")
