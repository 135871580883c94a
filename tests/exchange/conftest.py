"""Exchange fixtures: a migrated SQLite database and small helpers for two organisations."""

from __future__ import annotations

import shutil
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


@pytest.fixture
def db(tmp_path, migrated_sqlite_template):
    from countersignal.db import make_engine, session_factory

    path = tmp_path / "countersignal.db"
    shutil.copyfile(migrated_sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
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
