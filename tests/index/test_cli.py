"""``countersignal index status|snapshot|prune-log`` on a real database."""

from __future__ import annotations

import json
import random

from sqlalchemy import func, select

from countersignal.banks.models import SignalChange
from countersignal.banks.service import SignalInput
from countersignal.errors import InvalidInput

from .test_matcher import _add, random_pdq


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
