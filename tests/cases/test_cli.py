"""The operator's commands run the same service functions against the configured database."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cases.world import T0
from countersignal.auth import Principal, create_organisation
from countersignal.cases import orders
from countersignal.db import transaction
from countersignal.settings import get_settings


@pytest.fixture
def cli_env(migrated_db_url, session_factory, tmp_path, monkeypatch):
    with transaction(session_factory) as s:
        org = create_organisation(s, by=Principal.system("tests"), name="CLI Platform",
                                  kind="platform", country="FR").id
    monkeypatch.setenv("COUNTERSIGNAL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COUNTERSIGNAL_DATABASE_URL", migrated_db_url)
    monkeypatch.setenv("COUNTERSIGNAL_ORGANISATION", org)
    get_settings.cache_clear()
    yield org
    get_settings.cache_clear()


def test_operator_commands(cli_env, session_factory, tmp_path):
    from countersignal.cli.main import app

    org = cli_env
    with transaction(session_factory) as s:
        order = orders.receive_order(
            s, Principal.system("tests"), organisation_id=org, authority="Pharos",
            authority_country="FR", authority_reference="PH-1", legal_basis="TCO Art. 3",
            content_reference="https://platform.example/p/1", received_at=T0, now=T0)
    runner = CliRunner()
    added = runner.invoke(app, ["webhooks", "add", "http://127.0.0.1:9/hook", "--allow-private"])
    assert added.exit_code == 0, added.output
    assert "whsec_" in added.output
    listed = runner.invoke(app, ["orders", "list", "-f", "json"])
    [row] = [json.loads(line) for line in listed.output.splitlines()]
    assert (row["id"], row["overdue"]) == (order.id, True)
    queue = runner.invoke(app, ["cases", "queue", "-f", "json"])
    assert [json.loads(line)["tier"] for line in queue.output.splitlines()] == ["removal_order"]
    once = runner.invoke(app, ["worker", "--once"])
    assert once.exit_code == 0, once.output
    assert "escalations 3" in once.output  # 15, 5 and 0 minutes: all passed long ago
    # three escalation webhooks (the order arrived before the endpoint existed); nothing
    # listens on port 9, so each is scheduled for a retry
    assert "delivered 0, retrying 3" in once.output
    report = runner.invoke(app, ["report", "--start", "2026-01-01T00:00:00+00:00",
                                 "--end", "2027-01-01T00:00:00+00:00", "-f", "csv"])
    assert "tco.removal_orders.unanswered,1" in report.output
    out = tmp_path / "sor"
    exported = runner.invoke(app, ["statements", "export", "--out", str(out)])
    assert exported.exit_code == 0 and list(out.iterdir()) == []
