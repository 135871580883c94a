"""cases: policies, submissions, matches, findings, cases, decisions, removal orders,
escalations, appeals, notices and statements of reasons.

Revision ID: cases_0001
Revises:
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

import countersignal.db

revision = "cases_0001"
down_revision = None
branch_labels = ("cases",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cases_policies",
        sa.Column("organisation_id", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("updated_at", countersignal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("organisation_id", name=op.f("pk_cases_policies")),
    )
    op.create_table(
        "cases_removal_orders",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("organisation_id", sa.String(length=40), nullable=False),
        sa.Column("authority", sa.String(length=300), nullable=False),
        sa.Column("authority_country", sa.String(length=2), nullable=False),
        sa.Column("authority_reference", sa.String(length=300), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("content_reference", sa.Text(), nullable=False),
        sa.Column("content_id", sa.String(length=500), nullable=True),
        sa.Column("received_at", countersignal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deadline", countersignal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("notify_provider", sa.Boolean(), nullable=False),
        sa.Column("withhold_reason", sa.Text(), nullable=False),
        sa.Column("withhold_until", countersignal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("responded_at", countersignal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("response_reason", sa.String(length=40), nullable=True),
        sa.Column("response_explanation", sa.Text(), nullable=False),
        sa.Column("responded_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases_removal_orders")),
    )
    op.create_index(
        op.f("ix_cases_removal_orders_deadline"), "cases_removal_orders", ["deadline"], unique=False
    )
    op.create_index(
        op.f("ix_cases_removal_orders_organisation_id"),
        "cases_removal_orders",
        ["organisation_id"],
        unique=False,
    )
    op.create_table(
        "cases_submissions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("organisation_id", sa.String(length=40), nullable=False),
        sa.Column("content_id", sa.String(length=500), nullable=False),
        sa.Column("uploader_id", sa.String(length=500), nullable=True),
        sa.Column("territory", sa.String(length=8), nullable=True),
        sa.Column("content_type", sa.String(length=200), nullable=False),
        sa.Column("signals", sa.JSON(), nullable=False),
        sa.Column("created_at", countersignal.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases_submissions")),
    )
    op.create_index(
        op.f("ix_cases_submissions_organisation_id"),
        "cases_submissions",
        ["organisation_id"],
        unique=False,
    )
    op.create_table(
        "cases",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("organisation_id", sa.String(length=40), nullable=False),
        sa.Column("submission_id", sa.String(length=40), nullable=True),
        sa.Column("removal_order_id", sa.String(length=40), nullable=True),
        sa.Column("vault_entry_id", sa.String(length=40), nullable=True),
        sa.Column("content_id", sa.String(length=500), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("tier", sa.String(length=32), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("opened_at", countersignal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sla_due_at", countersignal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", countersignal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["removal_order_id"],
            ["cases_removal_orders.id"],
            name=op.f("fk_cases_removal_order_id_cases_removal_orders"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["cases_submissions.id"],
            name=op.f("fk_cases_submission_id_cases_submissions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
    )
    op.create_index(op.f("ix_cases_organisation_id"), "cases", ["organisation_id"], unique=False)
    op.create_index(
        "ix_cases_queue",
        "cases",
        ["organisation_id", "status", "priority", "opened_at"],
        unique=False,
    )
    op.create_index(op.f("ix_cases_removal_order_id"), "cases", ["removal_order_id"], unique=False)
    op.create_index(op.f("ix_cases_submission_id"), "cases", ["submission_id"], unique=False)
    op.create_table(
        "cases_findings",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("submission_id", sa.String(length=40), nullable=False),
        sa.Column("classifier", sa.String(length=200), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("reason", sa.JSON(), nullable=False),
        sa.Column("rule", sa.String(length=200), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["cases_submissions.id"],
            name=op.f("fk_cases_findings_submission_id_cases_submissions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases_findings")),
    )
    op.create_index(
        op.f("ix_cases_findings_submission_id"), "cases_findings", ["submission_id"], unique=False
    )
    op.create_table(
        "cases_matches",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("submission_id", sa.String(length=40), nullable=False),
        sa.Column("signal_id", sa.BigInteger(), nullable=False),
        sa.Column("signal_type", sa.String(length=32), nullable=False),
        sa.Column("signal_value", sa.Text(), nullable=False),
        sa.Column("distance", sa.Float(), nullable=False),
        sa.Column("bank_id", sa.String(length=40), nullable=False),
        sa.Column("bank_name", sa.String(length=200), nullable=False),
        sa.Column("bank_trusted", sa.Boolean(), nullable=False),
        sa.Column("item_id", sa.String(length=40), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("disputed", sa.Boolean(), nullable=False),
        sa.Column("rule", sa.String(length=200), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["cases_submissions.id"],
            name=op.f("fk_cases_matches_submission_id_cases_submissions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases_matches")),
    )
    op.create_index(
        op.f("ix_cases_matches_signal_id"), "cases_matches", ["signal_id"], unique=False
    )
    op.create_index(
        op.f("ix_cases_matches_submission_id"), "cases_matches", ["submission_id"], unique=False
    )
    op.create_table(
        "cases_order_escalations",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("minutes_left", sa.Integer(), nullable=False),
        sa.Column("fired_at", countersignal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["cases_removal_orders.id"],
            name=op.f("fk_cases_order_escalations_order_id_cases_removal_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases_order_escalations")),
        sa.UniqueConstraint(
            "order_id", "minutes_left", name=op.f("uq_cases_order_escalations_order_id")
        ),
    )
    op.create_index(
        op.f("ix_cases_order_escalations_order_id"),
        "cases_order_escalations",
        ["order_id"],
        unique=False,
    )
    op.create_table(
        "cases_decisions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("organisation_id", sa.String(length=40), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("territories", sa.JSON(), nullable=False),
        sa.Column("ground_type", sa.String(length=24), nullable=False),
        sa.Column("ground", sa.Text(), nullable=False),
        sa.Column("ground_reference_url", sa.String(length=500), nullable=True),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("automated", sa.Boolean(), nullable=False),
        sa.Column("automated_detection", sa.Boolean(), nullable=False),
        sa.Column("rule", sa.String(length=200), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requires_confirmation", sa.Boolean(), nullable=False),
        sa.Column("confirmed_by", sa.String(length=200), nullable=True),
        sa.Column("confirmed_at", countersignal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", countersignal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("effective_at", countersignal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reversed_at", countersignal.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_cases_decisions_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases_decisions")),
    )
    op.create_index(
        op.f("ix_cases_decisions_case_id"), "cases_decisions", ["case_id"], unique=False
    )
    op.create_index(
        op.f("ix_cases_decisions_organisation_id"),
        "cases_decisions",
        ["organisation_id"],
        unique=False,
    )
    op.create_table(
        "cases_notices",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("organisation_id", sa.String(length=40), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("decision_id", sa.String(length=40), nullable=False),
        sa.Column("recipient_ref", sa.String(length=500), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("withheld_reason", sa.Text(), nullable=False),
        sa.Column("withheld_until", countersignal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", countersignal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", countersignal.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_cases_notices_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases_notices")),
    )
    op.create_index(op.f("ix_cases_notices_case_id"), "cases_notices", ["case_id"], unique=False)
    op.create_index(
        op.f("ix_cases_notices_decision_id"), "cases_notices", ["decision_id"], unique=False
    )
    op.create_index(
        op.f("ix_cases_notices_organisation_id"), "cases_notices", ["organisation_id"], unique=False
    )
    op.create_table(
        "cases_appeals",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("organisation_id", sa.String(length=40), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("decision_id", sa.String(length=40), nullable=False),
        sa.Column("appellant_ref", sa.String(length=500), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("filed_at", countersignal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", countersignal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", countersignal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_cases_appeals_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["cases_decisions.id"],
            name=op.f("fk_cases_appeals_decision_id_cases_decisions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases_appeals")),
    )
    op.create_index(op.f("ix_cases_appeals_case_id"), "cases_appeals", ["case_id"], unique=False)
    op.create_index(
        op.f("ix_cases_appeals_decision_id"), "cases_appeals", ["decision_id"], unique=False
    )
    op.create_index(
        op.f("ix_cases_appeals_organisation_id"), "cases_appeals", ["organisation_id"], unique=False
    )
    op.create_table(
        "cases_statements",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("organisation_id", sa.String(length=40), nullable=False),
        sa.Column("decision_id", sa.String(length=40), nullable=False),
        sa.Column("puid", sa.String(length=500), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("created_at", countersignal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("exported_at", countersignal.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["cases_decisions.id"],
            name=op.f("fk_cases_statements_decision_id_cases_decisions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases_statements")),
        sa.UniqueConstraint("decision_id", name=op.f("uq_cases_statements_decision_id")),
    )
    op.create_index(
        op.f("ix_cases_statements_created_at"), "cases_statements", ["created_at"], unique=False
    )
    op.create_index(
        op.f("ix_cases_statements_organisation_id"),
        "cases_statements",
        ["organisation_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_cases_statements_organisation_id"), table_name="cases_statements")
    op.drop_index(op.f("ix_cases_statements_created_at"), table_name="cases_statements")
    op.drop_table("cases_statements")
    op.drop_index(op.f("ix_cases_appeals_organisation_id"), table_name="cases_appeals")
    op.drop_index(op.f("ix_cases_appeals_decision_id"), table_name="cases_appeals")
    op.drop_index(op.f("ix_cases_appeals_case_id"), table_name="cases_appeals")
    op.drop_table("cases_appeals")
    op.drop_index(op.f("ix_cases_notices_organisation_id"), table_name="cases_notices")
    op.drop_index(op.f("ix_cases_notices_decision_id"), table_name="cases_notices")
    op.drop_index(op.f("ix_cases_notices_case_id"), table_name="cases_notices")
    op.drop_table("cases_notices")
    op.drop_index(op.f("ix_cases_decisions_organisation_id"), table_name="cases_decisions")
    op.drop_index(op.f("ix_cases_decisions_case_id"), table_name="cases_decisions")
    op.drop_table("cases_decisions")
    op.drop_index(op.f("ix_cases_order_escalations_order_id"), table_name="cases_order_escalations")
    op.drop_table("cases_order_escalations")
    op.drop_index(op.f("ix_cases_matches_submission_id"), table_name="cases_matches")
    op.drop_index(op.f("ix_cases_matches_signal_id"), table_name="cases_matches")
    op.drop_table("cases_matches")
    op.drop_index(op.f("ix_cases_findings_submission_id"), table_name="cases_findings")
    op.drop_table("cases_findings")
    op.drop_index(op.f("ix_cases_submission_id"), table_name="cases")
    op.drop_index(op.f("ix_cases_removal_order_id"), table_name="cases")
    op.drop_index("ix_cases_queue", table_name="cases")
    op.drop_index(op.f("ix_cases_organisation_id"), table_name="cases")
    op.drop_table("cases")
    op.drop_index(op.f("ix_cases_submissions_organisation_id"), table_name="cases_submissions")
    op.drop_table("cases_submissions")
    op.drop_index(
        op.f("ix_cases_removal_orders_organisation_id"), table_name="cases_removal_orders"
    )
    op.drop_index(op.f("ix_cases_removal_orders_deadline"), table_name="cases_removal_orders")
    op.drop_table("cases_removal_orders")
    op.drop_table("cases_policies")
