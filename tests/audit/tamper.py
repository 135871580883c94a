"""Going around the audit guards, as a database owner could, to show ``verify`` still notices."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

SQLITE_TRIGGERS = (
    "audit_events_no_update",
    "audit_events_no_delete",
    "audit_events_follow_head",
    "audit_chain_head_no_delete",
    "audit_chain_head_forward_only",
)


def drop_guards(session: Session) -> None:
    """Disable every audit trigger for good (SQLite) or for these tables (PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
        session.execute(text("ALTER TABLE audit_chain_head DISABLE TRIGGER USER"))
    else:
        for name in SQLITE_TRIGGERS:
            session.execute(text(f"DROP TRIGGER {name}"))


def tamper(session_factory, *statements: tuple[str, dict]) -> None:
    """Run raw SQL against the log with the guards out of the way, in one transaction."""
    with session_factory() as session, session.begin():
        drop_guards(session)
        for sql, params in statements:
            session.execute(text(sql), params)
