"""exchange: partners, sharing groups, sync state, STIX ids, sightings, disputes, TAXII status.

Revision ID: exchange_0001
Revises:
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

import countersignal.db

revision = "exchange_0001"
down_revision = None
branch_labels = ("exchange",)
depends_on = ("banks_0001",)


def upgrade() -> None:
    op.create_table(
        "exchange_partners",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("organisation_id", sa.String(length=40), nullable=False),
        sa.Column("partner_organisation_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("api_root_url", sa.String(length=2000), nullable=True),
        sa.Column("collection_id", sa.String(length=200), nullable=True),
        sa.Column("auth_token", sa.Text(), nullable=True),
        sa.Column("username", sa.String(length=200), nullable=True),
        sa.Column("password", sa.Text(), nullable=True),
        sa.Column("allow_private_network", sa.Boolean(), nullable=False),
        sa.Column("trusted", sa.Boolean(), nullable=False),
        sa.Column("share_sightings", sa.Boolean(), nullable=False),
        sa.Column("import_bank_id", sa.String(length=40), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("pull_enabled", sa.Boolean(), nullable=False),
        sa.Column("push_enabled", sa.Boolean(), nullable=False),
        sa.Column("poll_seconds", sa.Float(), nullable=True),
        sa.Column("created_at", countersignal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["import_bank_id"],
            ["banks.id"],
            name=op.f("fk_exchange_partners_import_bank_id_banks"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_partners")),
        sa.UniqueConstraint(
            "organisation_id", "name", name=op.f("uq_exchange_partners_organisation_id")
        ),
    )
    op.create_index(
        op.f("ix_exchange_partners_organisation_id"),
        "exchange_partners",
        ["organisation_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_exchange_partners_partner_organisation_id"),
        "exchange_partners",
        ["partner_organisation_id"],
        unique=False,
    )
    op.create_table(
        "exchange_sync_state",
        sa.Column("partner_id", sa.String(length=40), nullable=False),
        sa.Column("pull_added_after", sa.String(length=64), nullable=True),
        sa.Column("pull_next", sa.JSON(), nullable=True),
        sa.Column("page_limit", sa.Integer(), nullable=True),
        sa.Column("push_positions", sa.JSON(), nullable=False),
        sa.Column("last_attempt_at", countersignal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", countersignal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", countersignal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lease_until", countersignal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("objects_received", sa.BigInteger(), nullable=False),
        sa.Column("objects_sent", sa.BigInteger(), nullable=False),
        sa.Column("objects_rejected", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["exchange_partners.id"],
            name=op.f("fk_exchange_sync_state_partner_id_exchange_partners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("partner_id", name=op.f("pk_exchange_sync_state")),
    )
    op.create_table(
        "exchange_sharing_groups",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("organisation_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("collection_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", countersignal.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_sharing_groups")),
        sa.UniqueConstraint("collection_id", name=op.f("uq_exchange_sharing_groups_collection_id")),
        sa.UniqueConstraint(
            "organisation_id", "name", name=op.f("uq_exchange_sharing_groups_organisation_id")
        ),
    )
    op.create_index(
        op.f("ix_exchange_sharing_groups_organisation_id"),
        "exchange_sharing_groups",
        ["organisation_id"],
        unique=False,
    )
    op.create_table(
        "exchange_group_members",
        sa.Column("group_id", sa.String(length=40), nullable=False),
        sa.Column("partner_id", sa.String(length=40), nullable=False),
        sa.Column("can_read", sa.Boolean(), nullable=False),
        sa.Column("can_write", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["exchange_sharing_groups.id"],
            name=op.f("fk_exchange_group_members_group_id_exchange_sharing_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["exchange_partners.id"],
            name=op.f("fk_exchange_group_members_partner_id_exchange_partners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", "partner_id", name=op.f("pk_exchange_group_members")),
    )
    op.create_table(
        "exchange_bank_shares",
        sa.Column("bank_id", sa.String(length=40), nullable=False),
        sa.Column("group_id", sa.String(length=40), nullable=False),
        sa.Column("confidence", sa.Integer(), nullable=True),
        sa.Column("valid_days", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["bank_id"],
            ["banks.id"],
            name=op.f("fk_exchange_bank_shares_bank_id_banks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["exchange_sharing_groups.id"],
            name=op.f("fk_exchange_bank_shares_group_id_exchange_sharing_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("bank_id", "group_id", name=op.f("pk_exchange_bank_shares")),
    )
    op.create_table(
        "exchange_local_only_labels",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("organisation_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=300), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_local_only_labels")),
        sa.UniqueConstraint(
            "organisation_id",
            "kind",
            "value",
            name=op.f("uq_exchange_local_only_labels_organisation_id"),
        ),
    )
    op.create_index(
        op.f("ix_exchange_local_only_labels_organisation_id"),
        "exchange_local_only_labels",
        ["organisation_id"],
        unique=False,
    )
    op.create_table(
        "exchange_item_refs",
        sa.Column("item_id", sa.String(length=40), nullable=False),
        sa.Column("organisation_id", sa.String(length=40), nullable=False),
        sa.Column("stix_id", sa.String(length=100), nullable=False),
        sa.Column("partner_id", sa.String(length=40), nullable=True),
        sa.Column("created_by_ref", sa.String(length=100), nullable=True),
        sa.Column("pattern", sa.Text(), nullable=True),
        sa.Column("stix_created", countersignal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("stix_modified", countersignal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("stix_revoked", sa.Boolean(), nullable=False),
        sa.Column("confidence", sa.Integer(), nullable=True),
        sa.Column("valid_until", countersignal.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["bank_items.id"],
            name=op.f("fk_exchange_item_refs_item_id_bank_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["exchange_partners.id"],
            name=op.f("fk_exchange_item_refs_partner_id_exchange_partners"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_exchange_item_refs")),
        sa.UniqueConstraint(
            "organisation_id", "stix_id", name=op.f("uq_exchange_item_refs_organisation_id")
        ),
    )
    op.create_index(
        op.f("ix_exchange_item_refs_partner_id"), "exchange_item_refs", ["partner_id"], unique=False
    )
    op.create_table(
        "exchange_sightings",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("organisation_id", sa.String(length=40), nullable=False),
        sa.Column("item_id", sa.String(length=40), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("first_seen", countersignal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen", countersignal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", countersignal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["bank_items.id"],
            name=op.f("fk_exchange_sightings_item_id_bank_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_sightings")),
        sa.UniqueConstraint(
            "organisation_id", "item_id", name=op.f("uq_exchange_sightings_organisation_id")
        ),
    )
    op.create_index(
        op.f("ix_exchange_sightings_organisation_id"),
        "exchange_sightings",
        ["organisation_id"],
        unique=False,
    )
    op.create_table(
        "exchange_disputes",
        sa.Column(
            "signal_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("disputed", sa.Boolean(), nullable=False),
        sa.Column("disputes", sa.Integer(), nullable=False),
        sa.Column("updated_at", countersignal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["signal_id"],
            ["signals.id"],
            name=op.f("fk_exchange_disputes_signal_id_signals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("signal_id", name=op.f("pk_exchange_disputes")),
    )
    # ### end Alembic commands ###
    op.create_table(
        "exchange_taxii_status",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("organisation_id", sa.String(length=40), nullable=False),
        sa.Column("collection_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("request_timestamp", countersignal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("total_count", sa.Integer(), nullable=False),
        sa.Column("success_count", sa.Integer(), nullable=False),
        sa.Column("failure_count", sa.Integer(), nullable=False),
        sa.Column("pending_count", sa.Integer(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_taxii_status")),
    )
    op.create_index(
        op.f("ix_exchange_taxii_status_organisation_id"),
        "exchange_taxii_status",
        ["organisation_id"],
        unique=False,
    )
    op.create_table(
        "exchange_feed_checkpoints",
        sa.Column("bank_id", sa.String(length=40), nullable=False),
        sa.Column("feed", sa.String(length=200), nullable=False),
        sa.Column("checkpoint", sa.String(length=200), nullable=False),
        sa.Column("updated_at", countersignal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["bank_id"],
            ["banks.id"],
            name=op.f("fk_exchange_feed_checkpoints_bank_id_banks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("bank_id", "feed", name=op.f("pk_exchange_feed_checkpoints")),
    )
    # Feeds page bank items by update time.
    op.create_index("ix_exchange_bank_items_updated", "bank_items", ["bank_id", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_exchange_bank_items_updated", table_name="bank_items")
    op.drop_table("exchange_feed_checkpoints")
    op.drop_table("exchange_taxii_status")
    op.drop_table("exchange_disputes")
    op.drop_table("exchange_sightings")
    op.drop_table("exchange_item_refs")
    op.drop_table("exchange_local_only_labels")
    op.drop_table("exchange_bank_shares")
    op.drop_table("exchange_group_members")
    op.drop_table("exchange_sharing_groups")
    op.drop_table("exchange_sync_state")
    op.drop_table("exchange_partners")
