"""Consistent database dumps and restores: SQLite through its online backup API, PostgreSQL
through ``pg_dump``/``pg_restore`` (Debian's postgresql-client).

Both dumps are one consistent snapshot taken while the service keeps running. The row count of
every table is read from that same snapshot (PostgreSQL: an exported snapshot that ``pg_dump
--snapshot`` then uses), so a restore can prove by counting that nothing was lost.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from countersignal.errors import Conflict, CountersignalError, InvalidInput

SQLITE_PART = "database.sqlite"
POSTGRES_PART = "database.pgdump"


class BackupToolFailed(CountersignalError):
    """``pg_dump`` or ``pg_restore`` failed or is not installed."""

    title = "Backup tool failed"


def dialect(url: str) -> str:
    name = make_url(url).get_backend_name()
    if name not in ("sqlite", "postgresql"):
        raise InvalidInput(f"backups support SQLite and PostgreSQL, not {name}")
    return name


def sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise InvalidInput("an in-memory SQLite database cannot be backed up or restored")
    return Path(database)


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URI without the password (which goes in ``PGPASSWORD``, never on a command
    line that ``ps`` shows) and the environment to run a client tool with."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password is not None:
        env["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupToolFailed(f"{name} is not installed (Debian package postgresql-client)")
    return path


def _run(args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(args, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupToolFailed(f"{Path(args[0]).name} failed: {done.stderr.strip()[-2000:]}")


def _sqlite_counts(conn: sqlite3.Connection) -> dict[str, int]:
    tables = [row[0] for row in conn.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
    )]
    return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in sorted(tables)}


def _pg_counts(conn: psycopg.Connection) -> dict[str, int]:
    tables = [row[0] for row in conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
    )]
    return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in sorted(tables)}


def dump(url: str, folder: Path) -> tuple[str, dict[str, int]]:
    """Write a consistent dump of ``url`` into ``folder``: (part name, rows per table)."""
    if dialect(url) == "sqlite":
        target = folder / SQLITE_PART
        source_path = sqlite_path(url)
        if not source_path.is_file():
            raise InvalidInput(f"no SQLite database at {source_path}")
        with closing(sqlite3.connect(source_path)) as src, closing(sqlite3.connect(target)) as dst:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal
            counts = _sqlite_counts(dst)
        return SQLITE_PART, counts
    uri, env = _libpq(url)
    target = folder / POSTGRES_PART
    with psycopg.connect(uri, autocommit=False, connect_timeout=10, password=env.get(
            "PGPASSWORD")) as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        counts = _pg_counts(conn)
        # pg_dump reads the very snapshot the counts came from (held open until it is done).
        _run([_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
              f"--snapshot={snapshot}", f"--file={target}", f"--dbname={uri}"], env)
    return POSTGRES_PART, counts


def table_counts(url: str) -> dict[str, int]:
    """Rows per table now (to check a restore against the manifest)."""
    if dialect(url) == "sqlite":
        with closing(sqlite3.connect(sqlite_path(url))) as conn:
            return _sqlite_counts(conn)
    uri, env = _libpq(url)
    with psycopg.connect(uri, connect_timeout=10, password=env.get("PGPASSWORD")) as conn:
        return _pg_counts(conn)


def is_empty(url: str) -> bool:
    """No tables yet (a fresh database a restore may fill without ``force``)."""
    if dialect(url) == "sqlite":
        path = sqlite_path(url)
        return not path.exists() or not table_counts(url)
    return not table_counts(url)


def restore(url: str, part: Path, *, force: bool) -> None:
    """Replace the database at ``url`` with the dump ``part``; refuses a database that has
    tables unless ``force``."""
    if not force and not is_empty(url):
        raise Conflict(
            "the target database is not empty; restore into an empty one, or pass --force to "
            "replace its contents"
        )
    if dialect(url) == "sqlite":
        if part.name != SQLITE_PART:
            raise InvalidInput("this backup holds a PostgreSQL dump; restore it into PostgreSQL")
        path = sqlite_path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(part)) as src, closing(sqlite3.connect(path)) as dst:
            src.backup(dst)  # page-for-page, under the target's own locks
        return
    if part.name != POSTGRES_PART:
        raise InvalidInput("this backup holds a SQLite database; restore it into SQLite")
    uri, env = _libpq(url)
    args = [_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error",
            "--single-transaction", f"--dbname={uri}"]
    if force:
        args[1:1] = ["--clean", "--if-exists"]
    _run([*args, str(part)], env)
