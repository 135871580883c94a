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
        needs = _branches_needed(package, tables, script)
        engine = make_engine(url)
        with engine.connect() as conn:
            ctx = MigrationContext.configure(
                conn, opts={"target_metadata": Base.metadata, "include_object": _only(tables)}
            )
            migration = produce_migrations(ctx, Base.metadata)
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
depends_on = {tuple(needs) if needs and not heads else None!r}


def upgrade() -> None:
{body(up)}


def downgrade() -> None:
{body(down)}
'''
    )
    print(path)


def _branches_needed(package: str, tables: set[str], script: ScriptDirectory) -> list[str]:
    """Head revisions of the other packages whose tables ours reference by foreign key."""
    owners = {
        t.name: mapper.class_.__module__.split(".")[1]
        for mapper in Base.registry.mappers
        for t in mapper.tables
    }
    needed = {
        owners[fk.column.table.name]
        for name in tables
        for fk in Base.metadata.tables[name].foreign_keys
        if owners.get(fk.column.table.name, package) != package
    }
    return sorted(
        r.revision
        for r in script.get_revisions("heads")
        if set(r.branch_labels or ()) & needed or _branch_of(r, script) & needed
    )


def _branch_of(revision, script: ScriptDirectory) -> set[str]:
    labels: set[str] = set()
    for rev in script.iterate_revisions(revision.revision, "base"):
        labels |= set(rev.branch_labels or ())
    return labels


def _only(tables: set[str]):
    def include(obj, name, type_, _reflected, _compare_to):
        table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
        return table in tables

    return include


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
