"""Real processes over real databases, killed with SIGKILL at awkward moments.

``Live`` is one deployment (a home folder and a database) whose ``countersignal serve``
process can be killed and started again; checks then count rows in the database itself.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from api.conftest import COUNTERSIGNAL, PG_ADMIN_URL, Org, _pg_database, make_org, start_server
from loopback import QuietHandler, serve_http


@dataclass
class Live:
    tmp: Path
    database_url: str
    env_extra: dict[str, str]
    process: subprocess.Popen | None = None
    url: str = ""
    org: Org | None = None
    _engines: list = field(default_factory=list)

    def start(self) -> None:
        self.process, self.url, _log, _ = start_server(self.tmp, self.env_extra, [])
        if self.org is None:
            self.org = make_org(self.database_url, f"Faults {self.tmp.name}")

    def prepare(self) -> None:
        """Migrated database and an organisation, without a server (for CLI and worker runs)."""
        from countersignal.db import migrate

        migrate(self.database_url)
        if self.org is None:
            self.org = make_org(self.database_url, f"Faults {self.tmp.name}")

    def spawn(self, *args: str, log: str) -> subprocess.Popen:
        """A ``countersignal`` command (or ``python -c``) of this deployment, in the background."""
        command = [COUNTERSIGNAL, *args] if args[0] != "-c" else [sys.executable, *args]
        env = {**self.env, "COUNTERSIGNAL_ORGANISATION": self.org.id if self.org else ""}
        return subprocess.Popen(command, env=env, cwd=self.tmp, stdout=(self.tmp / log).open("w"),
                                stderr=subprocess.STDOUT)

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers, no flush, like a power cut to the process."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def client(self, role: str = "admin", timeout: float = 30) -> httpx.Client:
        assert self.org is not None
        return httpx.Client(base_url=self.url, headers=self.org.headers(role), timeout=timeout)

    def sessions(self):
        from countersignal.db import make_engine, session_factory

        self._engines.append(make_engine(self.database_url))
        return session_factory(self._engines[-1])

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "COUNTERSIGNAL_HOME": str(self.tmp / "home"), **self.env_extra}

    @property
    def settings(self):
        from countersignal.settings import Settings

        return Settings(home=self.tmp / "home", database_url=self.database_url)

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill()  # the checks are done; a graceful stop would only cost time
        for engine in self._engines:
            engine.dispose()


def _live(tmp: Path, kind: str, env_extra: dict[str, str]) -> Iterator[Live]:
    pg_name = None
    if kind == "postgres":
        pg_name = f"cs_faults_{secrets.token_hex(6)}"
        _pg_database(pg_name, create=True)
        url = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{pg_name}"
    else:
        url = f"sqlite:///{tmp / 'faults.db'}"
    live = Live(tmp, url, {"COUNTERSIGNAL_DATABASE_URL": url,
                           "COUNTERSIGNAL_WORKER_IN_PROCESS": "false",
                           "COUNTERSIGNAL_API_RUN_WORKER": "false", **env_extra})
    try:
        yield live
    finally:
        live.close()
        if pg_name:
            _pg_database(pg_name, create=False)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def live(request, tmp_path: Path) -> Iterator[Live]:
    """A deployment on SQLite or PostgreSQL (server started by the test), no in-process worker."""
    if request.param == "postgres":
        request.getfixturevalue("pg_server")
    yield from _live(tmp_path, request.param, {})


@pytest.fixture
def live_pg(request, tmp_path: Path) -> Iterator[Live]:
    request.getfixturevalue("pg_server")
    yield from _live(tmp_path, "postgres", {})


@dataclass
class Delivery:
    key: str
    body: bytes


@dataclass
class SlowReceiver:
    """A platform's webhook endpoint on loopback that takes ``delay_s`` per request, so a kill
    lands between a post and its recording; it records every delivery it acknowledged."""

    url: str
    deliveries: list[Delivery]

    def keys(self) -> list[str]:
        return [d.key for d in self.deliveries]


@pytest.fixture
def slow_receiver() -> Iterator[SlowReceiver]:
    box: list[Delivery] = []
    lock = threading.Lock()

    class Handler(QuietHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            time.sleep(0.15)
            with lock:
                box.append(Delivery(self.headers.get("Idempotency-Key", ""), body))
            self.reply(200, json.dumps({"reference": f"ack-{len(box)}"}).encode())

    with serve_http(Handler) as server:
        yield SlowReceiver(f"{server.url}/hooks", box)


def wait_for(predicate, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def pytest_collection_modifyitems(items):
    """The PostgreSQL restart goes last: other suites share the server."""
    items.sort(key=lambda item: "test_postgres_restart" in item.nodeid)
