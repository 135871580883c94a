"""Real peer processes on loopback for interoperability tests (no mocks)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import httpx

from loopback import wait_http

TAXII = "application/taxii+json;version=2.1"
STIX = "application/stix+json;version=2.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Medallion:
    """OASIS medallion (memory backend) as a separate process."""

    USER, PASSWORD = "partner", "s3cret-partner"

    def __init__(self, workdir: Path, objects: list[dict] | None = None) -> None:
        self.port = free_port()
        self.collection_id = str(uuid.uuid4())
        base = f"http://127.0.0.1:{self.port}"
        self.api_root = f"{base}/api1/"
        data = {
            "/discovery": {
                "title": "medallion peer",
                "default": self.api_root,
                "api_roots": [self.api_root],
            },
            "api1": {
                "information": {
                    "title": "peer api root",
                    "versions": [TAXII],
                    "max_content_length": 10_000_000,
                },
                "status": [],
                "collections": [
                    {
                        "id": self.collection_id,
                        "title": "shared",
                        "can_read": True,
                        "can_write": True,
                        "media_types": [STIX],
                        "objects": [],
                        "manifest": [],
                    }
                ],
            },
        }
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "data.json").write_text(json.dumps(data))
        config = {
            "backend": {
                "module_class": "MemoryBackend",
                "module": "medallion.backends.memory_backend",
                "filename": str(workdir / "data.json"),
            },
            "users": {self.USER: self.PASSWORD},
            "taxii": {"max_page_size": 100},
        }
        self.config_path = workdir / "config.json"
        self.config_path.write_text(json.dumps(config))
        self.log = (workdir / "medallion.log").open("w")
        self.proc: subprocess.Popen | None = None
        self.start()
        if objects:
            self.post(objects)

    def start(self) -> None:
        medallion = Path(sys.executable).with_name("medallion")
        self.proc = subprocess.Popen(
            [
                str(medallion),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                str(self.config_path),
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_http(
            self.api_root,
            auth=(self.USER, self.PASSWORD),
            headers={"Accept": TAXII},
            proc=self.proc,
            log=Path(self.log.name),
        )

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def objects_url(self) -> str:
        return f"{self.api_root}collections/{self.collection_id}/objects/"

    def post(self, objects: list[dict]) -> dict:
        resp = httpx.post(
            self.objects_url(),
            auth=(self.USER, self.PASSWORD),
            headers={"Accept": TAXII, "Content-Type": TAXII},
            content=json.dumps({"objects": objects}),
        )
        resp.raise_for_status()
        return resp.json()

    def all_objects(self) -> list[dict]:
        resp = httpx.get(
            self.objects_url(), auth=(self.USER, self.PASSWORD), headers={"Accept": TAXII}
        )
        resp.raise_for_status()
        return (resp.json() or {}).get("objects", [])


COUNTERSIGNAL = str(Path(sys.executable).with_name("countersignal"))


class Countersignal:
    """``countersignal serve`` as a real process over one database (SQLite or PostgreSQL)."""

    def __init__(self, workdir: Path, database_url: str, env: dict[str, str] | None = None):
        import os

        from countersignal.db import migrate

        self.workdir, self.database_url = workdir, database_url
        workdir.mkdir(parents=True, exist_ok=True)
        migrate(database_url)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "COUNTERSIGNAL_HOME": str(workdir / "home"),
            "COUNTERSIGNAL_DATABASE_URL": database_url,
            "COUNTERSIGNAL_API_RATE_LIMIT_PER_S": "10000",
            "COUNTERSIGNAL_API_RATE_LIMIT_BURST": "10000",
            "COUNTERSIGNAL_API_MATCHER_POLL_S": "0.2",
            "COUNTERSIGNAL_EXCHANGE_SETTLE_SECONDS": "0",
            **(env or {}),
        }
        self.log_path = workdir / "server.log"
        self.proc = subprocess.Popen(
            [COUNTERSIGNAL, "serve", "--port", str(self.port), "--log-level", "warning"],
            env=self.env,
            stdout=self.log_path.open("w"),
            stderr=subprocess.STDOUT,
            cwd=workdir,
        )
        wait_http(f"{self.url}/readyz", timeout=90, proc=self.proc, log=self.log_path)

    @property
    def keyring(self):
        """This deployment's master key (its home's vault.key), as its processes load it."""
        from countersignal.actions.crypto import Keyring
        from countersignal.settings import Settings

        return Keyring.from_settings(Settings(home=self.workdir / "home",
                                              database_url=self.database_url))

    @property
    def taxii_root(self) -> str:
        return f"{self.url}/taxii2/api/"

    def sessions(self):
        from countersignal.db import make_engine, session_factory

        return session_factory(make_engine(self.database_url))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def make_org(sessions, name: str, country: str, roles: tuple[str, ...]) -> tuple[str, dict]:
    """An organisation and one token per role, as an operator would make them."""
    from countersignal.auth import Principal, create_organisation, issue_token

    operator = Principal.system("tests")
    with sessions.begin() as session:
        org = create_organisation(session, by=operator, name=name, kind="platform", country=country)
        tokens = {}
        for role in roles:
            _, secret = issue_token(
                session, by=operator, organisation_id=org.id, name=role, roles=[role]
            )
            tokens[role] = secret
        return org.id, tokens
