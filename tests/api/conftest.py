"""A real server for the API tests: ``countersignal serve`` in a subprocess on a free loopback
port, once over SQLite (the embedded default, demo seeded) and once over PostgreSQL.

Tests talk to it over HTTP with httpx. Extra organisations and tokens are made directly in the
same database through the auth service, as an operator would with the CLI.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from loopback import wait_http

COUNTERSIGNAL = str(Path(sys.executable).parent / "countersignal")
START_TIMEOUT_S = 90
PG_ADMIN_URL = os.environ.get(
    "COUNTERSIGNAL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Org:
    id: str
    tokens: dict[str, str] = field(default_factory=dict)  # role -> secret

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


@dataclass
class Server:
    url: str
    database_url: str
    process: subprocess.Popen
    log: Path
    demo_token: str
    orgs: dict[str, Org] = field(default_factory=dict)

    def client(self, org: str | None = None, role: str = "admin", *,
               token: str | None = None) -> httpx.Client:
        """A client for ``org``'s ``role`` token, for ``token``, or anonymous."""
        headers = self.orgs[org].headers(role) if org else {}
        if token:
            headers = {"Authorization": f"Bearer {token}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def sessions(self):
        from countersignal.db import make_engine, session_factory

        return session_factory(make_engine(self.database_url))


ALL_ROLES = ("admin", "curator", "reviewer", "auditor", "platform-client", "partner")


def make_org(database_url: str, name: str, roles=ALL_ROLES) -> Org:
    """An organisation with one service token per role (each token holds just that role)."""
    from countersignal.auth import Principal, create_organisation, issue_token
    from countersignal.db import make_engine, session_factory

    engine = make_engine(database_url)
    operator = Principal.system("tests")
    try:
        with session_factory(engine).begin() as session:
            org = create_organisation(session, by=operator, name=name, kind="platform",
                                      country="DE")
            result = Org(org.id)
            for role in roles:
                _, secret = issue_token(session, by=operator, organisation_id=org.id,
                                        name=f"{role} token", roles=[role])
                result.tokens[role] = secret
    finally:
        engine.dispose()
    return result


def start_server(tmp: Path, env_extra: dict[str, str], args: list[str]) -> tuple:
    port = free_port()
    env = {
        **os.environ,
        "COUNTERSIGNAL_HOME": str(tmp / "home"),
        "COUNTERSIGNAL_API_RATE_LIMIT_PER_S": "10000",
        "COUNTERSIGNAL_API_RATE_LIMIT_BURST": "10000",
        "COUNTERSIGNAL_API_AUTH_FAILURES_PER_MINUTE": "100000",
        "COUNTERSIGNAL_API_AUTH_CACHE_S": "0.5",
        "COUNTERSIGNAL_API_MATCHER_POLL_S": "0.2",
        **env_extra,
    }
    log = tmp / "server.log"
    process = subprocess.Popen(
        [COUNTERSIGNAL, "serve", "--port", str(port), "--log-level", "warning", *args],
        env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, cwd=tmp,
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(
        f"{url}/readyz",
        ready=lambda status: status == 200,
        timeout=START_TIMEOUT_S,
        proc=process,
        log=log,
        interval=0.2,
    )
    token_file = Path(env["COUNTERSIGNAL_HOME"]) / "demo-token"  # never in the log
    token = token_file.read_text().strip() if token_file.is_file() else ""
    return process, url, log, token


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _pg_database(name: str, create: bool) -> None:
    import psycopg

    admin = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
        if create:
            conn.execute(f'CREATE DATABASE "{name}"')
        else:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(
    scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def server(request, tmp_path_factory) -> Iterator[Server]:
    """The API over SQLite (embedded default: no database URL, demo seeded by ``serve``) or
    over PostgreSQL (by URL, ``--demo``), with organisations ``a`` and ``b`` added."""
    tmp = tmp_path_factory.mktemp(f"api-{request.param}")
    env: dict[str, str] = {}
    args: list[str] = []
    pg_name = None
    if request.param == "postgres":
        request.getfixturevalue("pg_server")
        pg_name = f"cs_api_{secrets.token_hex(6)}"
        _pg_database(pg_name, create=True)
        database_url = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{pg_name}"
        env["COUNTERSIGNAL_DATABASE_URL"] = database_url
        args.append("--demo")
    else:
        database_url = f"sqlite:///{(tmp / 'home' / 'countersignal.db').resolve()}"
    process, url, log, token = start_server(tmp, env, args)
    try:
        srv = Server(url, database_url, process, log, token)
        srv.orgs["a"] = make_org(database_url, f"Org A {request.param}")
        srv.orgs["b"] = make_org(database_url, f"Org B {request.param}")
        yield srv
    finally:
        stop_server(process)
        if pg_name:
            _pg_database(pg_name, create=False)


@pytest.fixture
def a(server: Server) -> Iterator[httpx.Client]:
    """Organisation A's curator (banks, signals, matching)."""
    with server.client("a", "curator") as client:
        yield client


@pytest.fixture
def b(server: Server) -> Iterator[httpx.Client]:
    with server.client("b", "curator") as client:
        yield client

