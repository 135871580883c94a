"""audit: append-only hash-chained event log, its chain head, and the guards that keep it so.

Triggers (PostgreSQL and SQLite alike):
- ``audit_events`` refuses UPDATE and DELETE (and TRUNCATE on PostgreSQL);
- an inserted event must carry the sequence number just claimed on the chain head and the head's
  current hash as ``prev_hash``: nothing can be slipped into the middle or hang off a stale tip;
- the chain head refuses DELETE and only moves forward: seq + 1 with the hash unchanged (claim),
  or the hash set to that of the event with the head's seq (commit of the claim).
A database owner can still drop the triggers; ``countersignal audit verify`` catches that.

Revision ID: audit_0001
Revises:
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

import countersignal.db

revision = "audit_0001"
down_revision = None
branch_labels = ("audit",)
depends_on = None

GENESIS_HASH = "0" * 64
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

POSTGRES_GUARDS = [
    """
    CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
            USING ERRCODE = 'integrity_constraint_violation';
    END $$
    """,
    """
    CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()
    """,
    """
    CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()
    """,
    """
    CREATE FUNCTION audit_events_follow_head() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        head record;
    BEGIN
        SELECT seq, last_hash INTO head FROM audit_chain_head WHERE id = 1;
        IF head IS NULL OR NEW.seq IS DISTINCT FROM head.seq
           OR NEW.prev_hash IS DISTINCT FROM head.last_hash THEN
            RAISE EXCEPTION 'audit event % does not extend the chain head', NEW.seq
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER audit_events_follow_head BEFORE INSERT ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_follow_head()
    """,
    """
    CREATE FUNCTION audit_chain_head_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE' AND NEW.id = OLD.id AND (
            (NEW.seq = OLD.seq + 1 AND NEW.last_hash = OLD.last_hash)
            OR (NEW.seq = OLD.seq AND NEW.last_hash IS NOT DISTINCT FROM
                (SELECT hash FROM audit_events WHERE seq = NEW.seq))
        ) THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'audit chain head only moves forward: % refused', TG_OP
            USING ERRCODE = 'integrity_constraint_violation';
    END $$
    """,
    """
    CREATE TRIGGER audit_chain_head_forward_only BEFORE UPDATE OR DELETE ON audit_chain_head
    FOR EACH ROW EXECUTE FUNCTION audit_chain_head_forward_only()
    """,
    """
    CREATE TRIGGER audit_chain_head_no_truncate BEFORE TRUNCATE ON audit_chain_head
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()
    """,
]

SQLITE_GUARDS = [
    """
    CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
    BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: UPDATE refused'); END
    """,
    """
    CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
    BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: DELETE refused'); END
    """,
    """
    CREATE TRIGGER audit_events_follow_head BEFORE INSERT ON audit_events
    WHEN NEW.seq IS NOT (SELECT seq FROM audit_chain_head WHERE id = 1)
      OR NEW.prev_hash IS NOT (SELECT last_hash FROM audit_chain_head WHERE id = 1)
    BEGIN SELECT RAISE(ABORT, 'audit event does not extend the chain head'); END
    """,
    """
    CREATE TRIGGER audit_chain_head_no_delete BEFORE DELETE ON audit_chain_head
    BEGIN SELECT RAISE(ABORT, 'audit chain head only moves forward: DELETE refused'); END
    """,
    """
    CREATE TRIGGER audit_chain_head_forward_only BEFORE UPDATE ON audit_chain_head
    WHEN NOT (NEW.id = OLD.id AND (
        (NEW.seq = OLD.seq + 1 AND NEW.last_hash = OLD.last_hash)
        OR (NEW.seq = OLD.seq AND NEW.last_hash IS
            (SELECT hash FROM audit_events WHERE seq = NEW.seq))))
    BEGIN SELECT RAISE(ABORT, 'audit chain head only moves forward: UPDATE refused'); END
    """,
]


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("seq", SEQ, autoincrement=False, nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("at", countersignal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("organisation_id", sa.String(length=40), nullable=True),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.String(length=100), nullable=False),
        sa.Column("actor_token_id", sa.String(length=40), nullable=True),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("target_type", sa.String(length=64), nullable=True),
        sa.Column("target_id", sa.String(length=200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_events")),
        sa.UniqueConstraint("id", name=op.f("uq_audit_events_id")),
    )
    op.create_index(op.f("ix_audit_events_at"), "audit_events", ["at"])
    op.create_index(op.f("ix_audit_events_organisation_id"), "audit_events", ["organisation_id"])
    op.create_index(op.f("ix_audit_events_actor_id"), "audit_events", ["actor_id"])
    op.create_index(op.f("ix_audit_events_action"), "audit_events", ["action"])
    op.create_index("ix_audit_events_target", "audit_events", ["target_type", "target_id"])
    head = op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", SEQ, nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_chain_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "last_hash": GENESIS_HASH}])
    guards = POSTGRES_GUARDS if op.get_bind().dialect.name == "postgresql" else SQLITE_GUARDS
    for statement in guards:
        op.execute(statement)


def downgrade() -> None:
    is_postgres = op.get_bind().dialect.name == "postgresql"
    op.drop_table("audit_chain_head")
    op.drop_table("audit_events")
    if is_postgres:
        for function in (
            "audit_chain_head_forward_only",
            "audit_events_follow_head",
            "audit_refuse_change",
        ):
            op.execute(f"DROP FUNCTION {function}()")
