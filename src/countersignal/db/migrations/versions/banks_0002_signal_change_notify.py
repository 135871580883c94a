"""banks: NOTIFY listeners when the signal change log grows (PostgreSQL only).

A statement-level trigger on ``signal_changes`` calls ``pg_notify`` inside the writing
transaction, so PostgreSQL delivers the wake-up exactly when the change commits (never before,
never for a rollback) and folds many rows of one transaction into one notification. API
replicas ``LISTEN`` on the channel and sync at once instead of waiting for their next poll.
SQLite has no NOTIFY: nothing to do there, replicas poll.

Revision ID: banks_0002
Revises: banks_0001
Create Date: 2026-11-29
"""

from alembic import op

revision = "banks_0002"
down_revision = "banks_0001"
branch_labels = None
depends_on = None

CHANNEL = "countersignal_signal_changes"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"""
        CREATE FUNCTION countersignal_notify_signal_changes() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{CHANNEL}', '');
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER signal_changes_notify AFTER INSERT ON signal_changes "
        "FOR EACH STATEMENT EXECUTE FUNCTION countersignal_notify_signal_changes()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS signal_changes_notify ON signal_changes")
    op.execute("DROP FUNCTION IF EXISTS countersignal_notify_signal_changes()")
