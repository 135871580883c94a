"""Write the next Alembic revision for one package's tables (each package has its own branch).

Usage: python scripts/new_migration.py PACKAGE "message"

Upgrades a scratch SQLite database to all heads, compares it with the models, keeps the
differences that touch PACKAGE's tables, and writes them as a revision on PACKAGE's branch.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

from alembic.autogenerate import produce_migrations, render_python_code
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData

from countersignal.db import Base, alembic_config, import_all_models, make_engine, migrate

VERSIONS = Path(__file__).parents[1] / "src/countersignal/db/migrations/versions"


def main(package: str, message: str) -> None:
    import_all_models()
    tables = {
        t.name
        for mapper in Base.registry.mappers
        if mapper.class_.__module__ == f"countersignal.{package}.models"
        for t in mapper.tables
    }
    if not tables:
        sys.exit(f"no tables in countersignal.{package}.models")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/scratch.db"
        migrate(url)
        script = ScriptDirectory.from_config(alembic_config(url))
        heads = [r for r in script.get_revisions("heads") if package in (r.branch_labels or ())]
        metadata = MetaData(naming_convention=Base.metadata.naming_convention)
        for name in tables:
            Base.metadata.tables[name].to_metadata(metadata)
        engine = make_engine(url)
        with engine.connect() as conn:
            ctx = MigrationContext.configure(
                conn, opts={"target_metadata": metadata, "include_name": _only(tables)}
            )
            migration = produce_migrations(ctx, metadata)
            up = render_python_code(migration.upgrade_ops, migration_context=ctx)
            down = render_python_code(migration.downgrade_ops, migration_context=ctx)
        engine.dispose()
    number = len(list(VERSIONS.glob(f"{package}_*.py"))) + 1
    revision = f"{package}_{number:04d}"
    slug = re.sub(r"[^a-z0-9]+", "_", message.lower()).strip("_")[:40]
    parent = repr(heads[0].revision) if heads else "None"
    label = "None" if heads else repr((package,))

    def body(code: str) -> str:
        return "\n".join(line for line in code.splitlines() if "###" not in line) or "    pass"

    path = VERSIONS / f"{revision}_{slug}.py"
    path.write_text(
        f'''"""{package}: {message}

Revision ID: {revision}
Revises: {parent if heads else ""}
"""

import sqlalchemy as sa
from alembic import op

import countersignal.db

revision = "{revision}"
down_revision = {parent}
branch_labels = {label}
depends_on = None


def upgrade() -> None:
{body(up)}


def downgrade() -> None:
{body(down)}
'''
    )
    print(path)


def _only(tables: set[str]):
    def include(name, type_, _parent):
        return type_ != "table" or name in tables

    return include


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
