"""``countersignal org|user|token``: the operator's commands, end to end on a real database."""

from __future__ import annotations

import json

from countersignal.auth import authenticate_token, verify_password
from countersignal.db import make_engine, session_factory
from countersignal.errors import NotFound


def test_org_user_token_lifecycle(cli, migrated_db_url):
    result = cli("org", "create", "Acme Video", "--kind", "platform", "--country", "de")
    assert result.exit_code == 0, result.output
    listed = json.loads(cli("org", "list", "-f", "json").stdout)
    assert (listed["name"], listed["country"]) == ("Acme Video", "DE")

    result = cli(
        "user",
        "create",
        "mod@acme.example",
        "--org",
        "Acme Video",
        "-r",
        "reviewer",
        "--name",
        "Mod",
    )
    assert result.exit_code == 0, result.output
    assert "mod@acme.example" in result.stdout

    result = cli(
        "token",
        "issue",
        "--org",
        listed["id"],
        "--name",
        "uploader",
        "-r",
        "platform-client",
        "-s",
        "match",
        "--expires-days",
        "30",
    )
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip()
    assert secret.startswith("cs_") and "\n" not in secret
    assert "not shown again" in result.stderr

    tokens = [json.loads(line) for line in cli("token", "list", "-f", "json").stdout.splitlines()]
    assert [(t["name"], t["state"], t["scopes"]) for t in tokens] == [
        ("uploader", "active", ["match"])
    ]
    assert secret not in cli("token", "list", "-f", "json").stdout

    engine = make_engine(migrated_db_url)
    try:
        with session_factory(engine).begin() as session:
            assert authenticate_token(session, secret).permissions == {"match"}
        assert cli("token", "revoke", tokens[0]["id"]).exit_code == 0
        assert cli("token", "list", "-f", "json").stdout == ""
        listed_all = cli("token", "list", "--all", "-f", "json").stdout
        assert json.loads(listed_all)["state"] == "revoked"
    finally:
        engine.dispose()

    actions = [
        json.loads(line)["action"]
        for line in cli("audit", "list", "-f", "json").stdout.splitlines()
    ]
    assert actions == ["token.revoke", "token.issue", "user.create", "organisation.create"]


def test_cli_errors_are_countersignal_errors(cli):
    result = cli("token", "issue", "--org", "Nope", "--name", "x", "-r", "admin")
    assert isinstance(result.exception, NotFound)
    result = cli("org", "create", "X", "--kind", "bogus", "--country", "DE")
    assert result.exception.exit_code == 2


def test_user_create_prompts_for_a_password(cli, migrated_db_url):
    assert cli("org", "create", "Desk", "--kind", "newsroom", "--country", "GB").exit_code == 0
    password = "long enough passphrase"
    result = cli(
        "user",
        "create",
        "ed@desk.example",
        "--org",
        "Desk",
        "-r",
        "reviewer",
        "--password",
        input=f"{password}\n{password}\n",
    )
    assert result.exit_code == 0, result.output
    assert password not in result.stdout
    engine = make_engine(migrated_db_url)
    try:
        with session_factory(engine).begin() as session:
            user = verify_password(session, email="ed@desk.example", password=password)
            assert user.roles == ["reviewer"]
    finally:
        engine.dispose()
