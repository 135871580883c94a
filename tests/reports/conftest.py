from __future__ import annotations

import pytest

from cases.world import (  # noqa: F401 - fixtures
    Receiver,
    World,
    db_url,
    make_world,
    migrated_db_url,
    pg_baseline,
    sqlite_template,
)


@pytest.fixture
def world(session_factory, tmp_path) -> World:
    return make_world(session_factory, tmp_path)


@pytest.fixture
def receiver():
    with Receiver() as server:
        yield server
