"""Shared fixtures: databases (SQLite and PostgreSQL), reference data, small media."""

from __future__ import annotations

import os
import secrets
import shutil
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


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per run; tests get copies."""
    from countersignal.db import migrate

    path = tmp_path_factory.mktemp("template") / "migrated.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_template(pg_server: str) -> Iterator[str]:
    """A PostgreSQL database migrated to head once per run; tests are cloned from it."""
    from countersignal.db import migrate

    name = f"cs_template_{secrets.token_hex(6)}"
    with _pg_admin_connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    migrate(f"{pg_server.rsplit('/', 1)[0]}/{name}")
    yield name
    with _pg_admin_connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def migrated_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database at the head migration, once on SQLite and once on PostgreSQL: a copy of a
    template migrated once per run (migrating per test dominated the suite's time)."""
    if request.param == "sqlite":
        path = tmp_path / "countersignal.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    template = request.getfixturevalue("pg_template")
    server = request.getfixturevalue("pg_server")
    name = f"cs_test_{secrets.token_hex(6)}"
    with _pg_admin_connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield f"{server.rsplit('/', 1)[0]}/{name}"
    with _pg_admin_connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def session_factory(migrated_db_url: str):
    from countersignal.db import make_engine, session_factory

    engine = make_engine(migrated_db_url)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture
def cli(migrated_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """``cli("bank", "list", input=None)``: the ``countersignal`` app run in-process (Typer's
    CliRunner) against this test's database and a fresh home."""
    from typer.testing import CliRunner

    from countersignal.cli.main import app
    from countersignal.settings import get_settings

    monkeypatch.setenv("COUNTERSIGNAL_DATABASE_URL", migrated_db_url)
    monkeypatch.setenv("COUNTERSIGNAL_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(app, list(args), input=input)

    yield invoke
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def refdata() -> Path:
    """The shared reference data folder; skips cleanly when absent."""
    path = Path(
        os.environ.get("COUNTERSIGNAL_REFDATA", Path(__file__).parents[1] / "../shared/data")
    )
    if not path.is_dir():
        pytest.skip(f"reference data not found at {path} (set COUNTERSIGNAL_REFDATA)")
    return path.resolve()
