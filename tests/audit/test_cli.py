"""``countersignal audit verify|list`` on a real database, before and after tampering."""

from __future__ import annotations

import json

from countersignal.audit import Actor, Target, record
from countersignal.errors import InvalidInput

from .tamper import tamper


def seed(session_factory) -> None:
    with session_factory() as session, session.begin():
        for org, action in (
            ("org_a", "bank.create"),
            ("org_b", "token.issue"),
            ("org_a", "token.revoke"),
        ):
            record(
                session,
                actor=Actor("user", f"usr_{org}"),
                action=action,
                target=Target("thing", action),
                organisation_id=org,
                details={"org": org},
            )


def test_verify_exit_codes(cli, session_factory):
    seed(session_factory)
    result = cli("audit", "verify")
    assert result.exit_code == 0, result.output
    assert "intact: 3 events" in result.stdout
    anchor = result.stdout.split("anchor: ")[1].split()[0]
    assert cli("audit", "verify", "--anchor", anchor).exit_code == 0
    wrong = anchor[:-1] + ("0" if anchor[-1] != "0" else "1")
    assert cli("audit", "verify", "--anchor", wrong).exit_code == 8
    assert isinstance(cli("audit", "verify", "--anchor", "3").exception, InvalidInput)
    tamper(session_factory, ("UPDATE audit_events SET organisation_id = 'org_c' WHERE seq = 2", {}))
    result = cli("audit", "verify")
    assert result.exit_code == 8
    assert "NOT intact" in result.stderr and "seq 2" in result.stderr


def test_list_filters(cli, session_factory):
    seed(session_factory)

    def seqs(*args: str) -> list[int]:
        result = cli("audit", "list", "-f", "json", *args)
        assert result.exit_code == 0, result.output
        return [json.loads(line)["seq"] for line in result.stdout.splitlines()]

    assert seqs() == [3, 2, 1]
    assert seqs("--org", "org_a") == [3, 1]
    assert seqs("--action", "token.") == [3, 2]
    assert seqs("--actor", "usr_org_b") == [2]
    assert seqs("--target-type", "thing", "--target-id", "bank.create") == [1]
    assert seqs("--limit", "1", "--before-seq", "3") == [2]
    assert seqs("--since", "2000-01-01T00:00:00Z") == [3, 2, 1]
    assert seqs("--until", "2000-01-01T00:00:00+00:00") == []
    result = cli("audit", "list", "--since", "2000-01-01")
    assert isinstance(result.exception, InvalidInput)
