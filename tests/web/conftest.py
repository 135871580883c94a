"""A real server, a real worker process, a real webhook receiver and a real Chromium.

Chromium is Debian's (``/usr/bin/chromium``, installed by scripts/bootstrap.sh), driven by
Playwright; screenshots go to ``test-artifacts/`` for people to look at.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from api.conftest import COUNTERSIGNAL, make_org, start_server, stop_server
from loopback import LoopbackServer, QuietHandler, serve_http

ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PASSWORD = "correct horse battery staple"


@dataclass
class Received:
    headers: dict
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)

    @property
    def signature(self) -> str:
        return next(v for k, v in self.headers.items() if k.lower() == "countersignal-signature")


@dataclass
class Receiver:
    """The platform's webhook endpoint: records every delivery and acknowledges it."""

    url: str
    received: list[Received] = field(default_factory=list)
    server: LoopbackServer | None = None

    def events(self, name: str) -> list[Received]:
        return [r for r in self.received if r.json.get("event") == name]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    box: list[Received] = []

    class Handler(QuietHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            box.append(Received(dict(self.headers), self.rfile.read(length)))
            self.reply(200, json.dumps({"reference": f"takedown-{len(box)}"}).encode())

    with serve_http(Handler) as server:
        yield Receiver(f"{server.url}/hooks", box, server)


@dataclass
class Stack:
    url: str
    database_url: str
    env: dict
    org_id: str
    tokens: dict
    users: dict  # name -> email
    home: Path

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [COUNTERSIGNAL, *args], env=self.env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """Server + worker over SQLite, one platform organisation with two reviewers."""
    from countersignal.auth import Principal, create_user
    from countersignal.db import make_engine, session_factory

    env_extra = {"COUNTERSIGNAL_WEB_SECURE_COOKIES": "true"}
    process, url, _log, _token = start_server(tmp_path, env_extra, [])
    database_url = f"sqlite:///{(tmp_path / 'home' / 'countersignal.db').resolve()}"
    org = make_org(database_url, "Platform P")
    engine = make_engine(database_url)
    users = {}
    with session_factory(engine).begin() as session:
        for name in ("alice", "bob"):
            user = create_user(
                session,
                by=Principal.system("tests"),
                organisation_id=org.id,
                email=f"{name}@platform.test",
                display_name=name.title(),
                roles=["reviewer"],
                password=PASSWORD,
            )
            users[name] = user.email
    engine.dispose()
    env = {
        **os.environ,
        "COUNTERSIGNAL_HOME": str(tmp_path / "home"),
        "COUNTERSIGNAL_ORGANISATION": org.id,
        "COLUMNS": "250",
    }
    worker_log = (tmp_path / "worker.log").open("w")
    # Deliveries also run in the server (embedded default); a separate worker must coexist.
    worker = subprocess.Popen(
        [COUNTERSIGNAL, "worker", "--interval", "0.3"],
        env=env,
        cwd=tmp_path,
        stdout=worker_log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield Stack(url, database_url, env, org.id, org.tokens, users, tmp_path / "home")
    finally:
        stop_server(worker)
        stop_server(process)


@pytest.fixture
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (scripts/bootstrap.sh installs it)")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            yield chromium
        finally:
            chromium.close()
