"""Exchange fixtures: migrated databases (SQLite and PostgreSQL) and a two-partner world."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from countersignal.banks import service
from countersignal.exchange import policy
from countersignal.exchange.settings import get_exchange_settings

from .helpers import ORG, PARTNER_ORG, THIRD_ORG


@pytest.fixture(autouse=True)
def no_settle(monkeypatch):
    """Serve objects at once (the settle delay is tested on its own)."""
    monkeypatch.setenv("COUNTERSIGNAL_EXCHANGE_SETTLE_SECONDS", "0")
    get_exchange_settings.cache_clear()
    yield
    get_exchange_settings.cache_clear()


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory) -> Path:
    """One migrated SQLite file per run; each test gets a copy (migrating takes ~0.5 s)."""
    from countersignal.db import migrate

    path = tmp_path_factory.mktemp("template") / "exchange.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def migrated_pg(pg_server) -> Iterator[str]:
    """One migrated PostgreSQL database per run, emptied before each test (far cheaper than a
    database per test). The append-only audit tables are left alone: these tests write no
    audit events."""
    from countersignal.db import migrate

    name = f"cs_exchange_{secrets.token_hex(4)}"
    _pg(pg_server, f'CREATE DATABASE "{name}"')
    url = f"{pg_server.rsplit('/', 1)[0]}/{name}"
    migrate(url)
    yield url
    _pg(pg_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _pg(admin_url: str, statement: str) -> None:
    import psycopg

    admin = admin_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
        conn.execute(statement)


def _emptied(url: str) -> None:
    """Delete every row (FK triggers off for the session; tables are tiny, so DELETE is much
    faster than TRUNCATE)."""
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version' AND tablename NOT LIKE 'audit%'"
            )
        ]
        conn.execute("SET session_replication_role = replica")
        for table in tables:
            conn.execute(f'DELETE FROM "{table}"')


@pytest.fixture
def sqlite_db(tmp_path, migrated_sqlite_template):
    """A migrated SQLite database only (for tests of client behaviour, not of SQL)."""
    from countersignal.db import make_engine, session_factory

    path = tmp_path / "countersignal.db"
    shutil.copyfile(migrated_sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request, tmp_path):
    """A migrated database (a fresh copy of a template), on SQLite and on PostgreSQL."""
    from countersignal.db import make_engine, session_factory

    if request.param == "sqlite":
        path = tmp_path / "countersignal.db"
        shutil.copyfile(request.getfixturevalue("migrated_sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("migrated_pg")
        _emptied(url)
    engine = make_engine(url)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture
def world(db):
    """Home org with a shared bank, an import bank, a partner abroad and a third partner."""
    with db.begin() as s:
        shared = service.create_bank(s, organisation_id=ORG, name="shared", tlp="GREEN")
        inbox = service.create_bank(s, organisation_id=ORG, name="inbox", tlp="AMBER")
        group = policy.create_sharing_group(s, organisation_id=ORG, name="gifct-like")
        abroad = policy.create_partner(
            s,
            organisation_id=ORG,
            partner_organisation_id=PARTNER_ORG,
            name="abroad",
            import_bank_id=inbox.id,
            trusted=True,
        )
        third = policy.create_partner(
            s, organisation_id=ORG, partner_organisation_id=THIRD_ORG, name="third"
        )
        policy.add_member(s, group, abroad, can_read=True, can_write=True)
        policy.add_member(s, group, third, can_read=True)
        policy.share_bank(s, shared, group, confidence=80, valid_days=365)
        policy.share_bank(s, inbox, group)
        ids = {
            "shared": shared.id,
            "inbox": inbox.id,
            "group": group.id,
            "abroad": abroad.id,
            "third": third.id,
        }
    return ids
