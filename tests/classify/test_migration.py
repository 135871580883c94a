"""The classify migration creates exactly the tables the models describe, and goes down."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from countersignal.db import Base, downgrade, import_all_models, make_engine

MY_TABLES = {"classify_lists", "classify_list_versions", "classify_designations",
             "classify_aliases", "classify_org_lists", "classify_org_settings",
             "classify_text_models"}


def _mine(diff) -> bool:
    return any(name in repr(diff) for name in MY_TABLES)


def test_migration_matches_models_and_downgrades(migrated_db_url):
    import_all_models()
    engine = make_engine(migrated_db_url)
    try:
        assert set(inspect(engine).get_table_names()) >= MY_TABLES
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert [d for d in diff if _mine(d)] == []
        downgrade(migrated_db_url, "classify@base")
        assert not MY_TABLES & set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
