"""classify: designation lists, versions, designations, aliases, organisation lists and
settings, text-model registry.

Revision ID: classify_0001
Revises:
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

import countersignal.db

revision = "classify_0001"
down_revision = None
branch_labels = ("classify",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "classify_lists",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("format", sa.String(20), nullable=False),
        sa.Column("source_url", sa.String(2000), nullable=True),
        sa.Column("created_at", countersignal.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_classify_lists")),
        sa.UniqueConstraint("name", name=op.f("uq_classify_lists_name")),
    )
    op.create_table(
        "classify_list_versions",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("list_id", sa.String(40), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(2000), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("generated_at", sa.String(64), nullable=True),
        sa.Column("loaded_at", countersignal.db.UTCDateTime(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("delisted", sa.Integer(), nullable=False),
        sa.Column("diff", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["classify_lists.id"],
            name=op.f("fk_classify_list_versions_list_id_classify_lists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_classify_list_versions")),
        sa.UniqueConstraint(
            "list_id", "sequence", name=op.f("uq_classify_list_versions_list_id")
        ),
    )
    op.create_table(
        "classify_designations",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("list_id", sa.String(40), nullable=False),
        sa.Column("reference", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("original_script_name", sa.String(500), nullable=True),
        sa.Column("list_type", sa.String(100), nullable=True),
        sa.Column("listed_on", sa.Date(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("first_version_id", sa.String(40), nullable=False),
        sa.Column("changed_version_id", sa.String(40), nullable=False),
        sa.Column("delisted_version_id", sa.String(40), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["classify_lists.id"],
            name=op.f("fk_classify_designations_list_id_classify_lists"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["first_version_id"],
            ["classify_list_versions.id"],
            name=op.f("fk_classify_designations_first_version_id_classify_list_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["changed_version_id"],
            ["classify_list_versions.id"],
            name=op.f("fk_classify_designations_changed_version_id_classify_list_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["delisted_version_id"],
            ["classify_list_versions.id"],
            name=op.f("fk_classify_designations_delisted_version_id_classify_list_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_classify_designations")),
        sa.UniqueConstraint(
            "list_id", "reference", name=op.f("uq_classify_designations_list_id")
        ),
    )
    op.create_index(
        op.f("ix_classify_designations_list_id"), "classify_designations", ["list_id"]
    )
    op.create_table(
        "classify_aliases",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("designation_id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("quality", sa.String(20), nullable=False),
        sa.ForeignKeyConstraint(
            ["designation_id"],
            ["classify_designations.id"],
            name=op.f("fk_classify_aliases_designation_id_classify_designations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_classify_aliases")),
    )
    op.create_index(
        op.f("ix_classify_aliases_designation_id"), "classify_aliases", ["designation_id"]
    )
    op.create_table(
        "classify_org_lists",
        sa.Column("organisation_id", sa.String(64), nullable=False),
        sa.Column("list_id", sa.String(40), nullable=False),
        sa.Column("enabled_at", countersignal.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["classify_lists.id"],
            name=op.f("fk_classify_org_lists_list_id_classify_lists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("organisation_id", "list_id", name=op.f("pk_classify_org_lists")),
    )
    op.create_table(
        "classify_org_settings",
        sa.Column("organisation_id", sa.String(64), nullable=False),
        sa.Column("ocr_enabled", sa.Boolean(), nullable=False),
        sa.Column("ocr_languages", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("organisation_id", name=op.f("pk_classify_org_settings")),
    )
    op.create_table(
        "classify_text_models",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("organisation_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("positive_label", sa.String(200), nullable=False),
        sa.Column("training_sha256", sa.String(64), nullable=False),
        sa.Column("target_precision", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("artifact_path", sa.Text(), nullable=False),
        sa.Column("artifact_sha256", sa.String(64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", countersignal.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_classify_text_models")),
        sa.UniqueConstraint(
            "organisation_id", "name", "version",
            name=op.f("uq_classify_text_models_organisation_id"),
        ),
    )
    op.create_index(
        op.f("ix_classify_text_models_organisation_id"),
        "classify_text_models",
        ["organisation_id"],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_classify_text_models_organisation_id"), "classify_text_models")
    op.drop_table("classify_text_models")
    op.drop_table("classify_org_settings")
    op.drop_table("classify_org_lists")
    op.drop_index(op.f("ix_classify_aliases_designation_id"), "classify_aliases")
    op.drop_table("classify_aliases")
    op.drop_index(op.f("ix_classify_designations_list_id"), "classify_designations")
    op.drop_table("classify_designations")
    op.drop_table("classify_list_versions")
    op.drop_table("classify_lists")
