"""Migrations: upgrade to head matches the models, and downgrade to base leaves nothing."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from countersignal.db import Base, downgrade, import_all_models, make_engine, migrate


def test_upgrade_matches_models_and_downgrade_cleans_up(db_url):
    migrate(db_url)
    import_all_models()
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == [], f"models and migrations disagree: {diff}"
        downgrade(db_url, "base")
        leftover = set(inspect(engine).get_table_names()) - {"alembic_version"}
        assert leftover == set()
        migrate(db_url)
        assert "signals" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
