"""The auth and audit migrations: they match the models, and audit's round-trips cleanly."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from countersignal.db import Base, downgrade, import_all_models, make_engine, migrate

MY_TABLES = {"organisations", "users", "api_tokens", "audit_events", "audit_chain_head"}


def _touches_my_tables(diff) -> bool:
    """Whether one autogenerate diff entry (a tuple, or a list of tuples for column changes)
    names one of our tables, as a string or through a Table/Column/Index/constraint."""
    for item in diff if isinstance(diff, list) else [diff]:
        for part in item:
            table = getattr(part, "table", part)
            if (isinstance(part, str) and part in MY_TABLES) or getattr(
                table, "name", None
            ) in MY_TABLES:
                return True
    return False


def test_migrations_match_models_and_audit_downgrades(migrated_db_url):
    import_all_models()
    engine = make_engine(migrated_db_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        mine = [d for d in diff if _touches_my_tables(d)]
        assert mine == [], f"auth/audit models and migrations disagree: {mine}"

        downgrade(migrated_db_url, "audit@base")
        assert not {"audit_events", "audit_chain_head"} & set(inspect(engine).get_table_names())
        if engine.dialect.name == "postgresql":
            with engine.connect() as conn:
                left = conn.execute(
                    text("SELECT count(*) FROM pg_proc WHERE proname LIKE 'audit%'")
                ).scalar_one()
            assert left == 0

        migrate(migrated_db_url)  # back up: head row and guards are re-created
        with engine.begin() as conn:
            assert conn.execute(text("SELECT seq FROM audit_chain_head")).scalar_one() == 0
        with pytest.raises(DBAPIError), engine.begin() as conn:
            conn.execute(text("DELETE FROM audit_chain_head"))
    finally:
        engine.dispose()
