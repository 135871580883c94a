"""Shared fixtures: databases (SQLite and PostgreSQL), reference data, small media."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_ADMIN_URL = os.environ.get(
    "COUNTERSIGNAL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI") == "true"


def _pg_admin_connect():
    import psycopg

    return psycopg.connect(
        PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://"),
        autocommit=True,
        connect_timeout=3,
    )


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A reachable PostgreSQL admin URL; skips locally (never in CI) when there is none."""
    try:
        _pg_admin_connect().close()
    except Exception as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL unreachable under CI: {exc}")
        pytest.skip(f"PostgreSQL unreachable ({exc}); set COUNTERSIGNAL_TEST_PG_URL")
    yield PG_ADMIN_URL


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"cs_test_{secrets.token_hex(6)}"
    with _pg_admin_connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = pg_server.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with _pg_admin_connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'countersignal.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """An empty database URL, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def migrated_db_url(db_url: str) -> str:
    """``db_url`` upgraded to the head migration."""
    from countersignal.db import migrate

    migrate(db_url)
    return db_url


@pytest.fixture
def session_factory(migrated_db_url: str):
    from countersignal.db import make_engine, session_factory

    engine = make_engine(migrated_db_url)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture(scope="session")
def refdata() -> Path:
    """The shared reference data folder; skips cleanly when absent."""
    path = Path(
        os.environ.get("COUNTERSIGNAL_REFDATA", Path(__file__).parents[1] / "../shared/data")
    )
    if not path.is_dir():
        pytest.skip(f"reference data not found at {path} (set COUNTERSIGNAL_REFDATA)")
    return path.resolve()
