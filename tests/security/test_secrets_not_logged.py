"""Secrets never logged: a server at debug log level sees logins (right and wrong passwords),
every token in use (Bearer and TAXII Basic, valid and not), a webhook registration and a
partner pull with stored credentials; then neither the server log, the CLI's output, the
audit log nor any other table holds any of those secrets (partner credentials excepted in the
exchange_partners table, where docs/exchange.md says they are kept)."""

from __future__ import annotations

import base64
import os
import secrets
import sqlite3
import subprocess
import time

import httpx

from api.conftest import COUNTERSIGNAL, make_org
from loopback import QuietHandler, serve_http

from .conftest import post_login


def _partner_handler() -> tuple[type[QuietHandler], list[str]]:
    """A partner's TAXII server's handler that records the credentials it is sent and answers
    404, and the list it records them in."""
    seen: list[str] = []

    class Handler(QuietHandler):
        def do_GET(self):
            seen.append(self.headers.get("Authorization", ""))
            self.reply(404, content_type=None)

    return Handler, seen


def test_no_secret_reaches_a_log_or_the_audit_table(stack, tmp_path) -> None:
    wrong_password = "Wrong-" + secrets.token_urlsafe(12)
    near_token = stack.org.tokens["admin"][:-6] + secrets.token_urlsafe(4)[:6]
    partner_token, partner_password = "ptok-" + secrets.token_urlsafe(16), \
        "ppw-" + secrets.token_urlsafe(16)

    ui = stack.login()
    with httpx.Client(base_url=stack.url, timeout=30) as anonymous:
        failed = post_login(anonymous, {"email": stack.email, "password": wrong_password})
        assert failed.status_code == 401
        assert wrong_password not in failed.text
        assert anonymous.get("/v1/me", headers={"Authorization": f"Bearer {near_token}"}
                             ).status_code == 401
        for role, token in stack.org.tokens.items():
            assert anonymous.get("/v1/me", headers={"Authorization": f"Bearer {token}"}
                                 ).status_code == 200, role
        basic = base64.b64encode(f"partner:{stack.org.tokens['partner']}".encode()).decode()
        assert anonymous.get("/taxii2/", headers={"Authorization": f"Basic {basic}"}
                             ).status_code == 200
    with stack.api("admin") as admin:
        created = admin.post("/v1/webhooks", json={"url": "https://8.8.8.8/countersignal"})
        assert created.status_code == 201, created.text
        webhook_secret = created.json()["secret"]
        assert webhook_secret.startswith("whsec_")
        assert webhook_secret not in admin.get("/v1/webhooks").text

    env = {**os.environ, "COUNTERSIGNAL_HOME": str(stack.log.parent / "home"),
           "COUNTERSIGNAL_ORGANISATION": stack.org.id, "COUNTERSIGNAL_LOG_LEVEL": "DEBUG"}
    peer = make_org(stack.database_url, f"Peer {secrets.token_hex(3)}", roles=("partner",)).id
    handler, seen = _partner_handler()
    with serve_http(handler) as server:
        root = f"{server.url}/taxii2/api/"
        cli = [
            [COUNTERSIGNAL, "exchange", "partner", "add", "peer-with-token", "--partner-org",
             peer, "--api-root", root, "--collection", "c1", "--token", partner_token,
             "--allow-private-network"],
            [COUNTERSIGNAL, "exchange", "partner", "add", "peer-with-basic", "--partner-org",
             peer, "--api-root", root, "--collection", "c2", "--username", "us",
             "--password", partner_password, "--allow-private-network"],
            [COUNTERSIGNAL, "exchange", "pull"],
            [COUNTERSIGNAL, "exchange", "partner", "list"],
        ]
        cli_output = ""
        for command in cli:
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
            cli_output += done.stdout + done.stderr
    basic_sent = base64.b64encode(f"us:{partner_password}".encode()).decode()
    assert f"Bearer {partner_token}" in seen and f"Basic {basic_sent}" in seen, cli_output
    time.sleep(1.0)  # let the server's worker try the webhook (and log its failure)

    log = stack.log.read_text()
    assert "Uvicorn running" in log  # this server's own log (access log off by design)
    everywhere = {
        "the reviewer's password": stack.password, "a wrong password": wrong_password,
        "the session cookie": ui.cookie, "a near-miss token": near_token,
        "the webhook signing secret": webhook_secret,
        **{f"the {role} token": token for role, token in stack.org.tokens.items()},
    }
    partner_secrets = {"a partner token": partner_token, "a partner password": partner_password}
    database = _tables(stack.database_url)
    for what, secret in {**everywhere, **partner_secrets}.items():
        assert secret not in log, f"{what} is in the server log"
        assert secret not in cli_output, f"{what} is in the CLI's output"
        assert secret not in database["audit_events"], f"{what} is in the audit log"
    # Partner credentials are sealed (AES-GCM under a sub-key of the master key): stored in
    # clear nowhere, not even in exchange_partners; the pull above authenticated with them.
    for what, secret in {**everywhere, **partner_secrets}.items():
        holders = [table for table, dump in database.items() if secret in dump]
        assert not holders, f"{what} is stored in {holders}"
    with sqlite3.connect(stack.database_url.removeprefix("sqlite:///")) as conn:
        sealed = dict(conn.execute(
            "SELECT name, coalesce(auth_token_sealed, password_sealed) FROM exchange_partners "
            "WHERE name LIKE 'peer-with-%'").fetchall())
    assert set(sealed) == {"peer-with-token", "peer-with-basic"} and all(sealed.values())
    ui.client.close()


def _tables(database_url: str) -> dict[str, str]:
    """Every table's rows as one text each."""
    path = database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        names = [row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {name: "\n".join(repr(row) for row in conn.execute(f'SELECT * FROM "{name}"'))
                for name in names}
