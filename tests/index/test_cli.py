"""``countersignal index status|snapshot|prune-log`` on a real database."""

from __future__ import annotations

import json
import random

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from countersignal.banks.models import SignalChange
from countersignal.banks.service import SignalInput
from countersignal.cli.main import app
from countersignal.errors import InvalidInput
from countersignal.settings import get_settings

from .test_matcher import _add, random_pdq


@pytest.fixture
def cli(migrated_db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("COUNTERSIGNAL_DATABASE_URL", migrated_db_url)
    monkeypatch.setenv("COUNTERSIGNAL_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    runner = CliRunner()
    yield lambda *args: runner.invoke(app, list(args))
    get_settings.cache_clear()


def test_prune_log_removes_only_what_the_snapshot_no_longer_needs(cli, session_factory):
    rng = random.Random(3)
    for _ in range(5):
        _add(session_factory, "cli", [SignalInput("pdq", random_pdq(rng))])

    refused = cli("index", "prune-log")
    assert isinstance(refused.exception, InvalidInput) and "no snapshot" in str(refused.exception)

    assert cli("index", "snapshot").exit_code == 0
    _add(session_factory, "cli", [SignalInput("pdq", random_pdq(rng))])
    result = cli("index", "prune-log")
    assert result.exit_code == 0, result.output
    assert "removed 5 change-log entries" in result.output
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(SignalChange)) == 1
    status = json.loads(cli("index", "status").stdout)
    assert status["indexes"]["pdq"] == 6
