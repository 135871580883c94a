"""A small, real world for case tests: two organisations, people with roles, banks with PDQ
signals, a matcher over the test database, an evidence vault in a temp folder, and a real
HTTP receiver on loopback for webhooks. Shared by tests/cases, tests/actions, tests/reports."""

from __future__ import annotations

import json
import secrets
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from countersignal.actions.crypto import Keyring
from countersignal.actions.vault import Vault
from countersignal.actions.webhooks import register_endpoint
from countersignal.auth.principal import Principal
from countersignal.banks.service import ItemInput, LabelInput, SignalInput, add_item, create_bank
from countersignal.cases import service
from countersignal.cases.policy import set_policy
from countersignal.db import transaction
from countersignal.index.matcher import Matcher
from loopback import QuietHandler, serve_http

# What a test package's conftest.py takes with `from cases.world import *`: the fixtures
# (pytest finds them by name there). sqlite_template comes from tests/conftest.py.
__all__ = ["db_url", "migrated_db_url", "pg_baseline", "receiver", "world"]

ORG = "org_alpha"
OTHER_ORG = "org_beta"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def person(user_id: str, *roles: str, org: str = ORG) -> Principal:
    return Principal(org, user_id, None, frozenset(roles))


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)


class Receiver:
    """A real HTTP server on 127.0.0.1 that records every request and answers with the next
    planned status (200 once the plan is used up), acknowledging with a JSON reference."""

    def __init__(self, plan: list[int] | None = None) -> None:
        self.plan = list(plan or [])
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    receiver.requests.append(Received(self.path, dict(self.headers), body))
                    status = receiver.plan.pop(0) if receiver.plan else 200
                    number = len(receiver.requests)
                self.reply(status, json.dumps({"reference": f"ack-{number}"}).encode())

        self._serving = serve_http(Handler)

    @property
    def url(self) -> str:
        return f"{self.server.url}/hooks"

    def __enter__(self) -> Receiver:
        self.server = self._serving.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._serving.__exit__(*exc)

    def events(self, event: str) -> list[Received]:
        return [r for r in self.requests if r.headers.get("Countersignal-Event") == event]


@dataclass
class World:
    factory: sessionmaker[Session]
    vault: Vault
    matcher: Matcher
    platform: Principal = field(default_factory=lambda: person("usr_platform", "platform-client"))
    alice: Principal = field(default_factory=lambda: person("usr_alice", "reviewer"))
    bob: Principal = field(default_factory=lambda: person("usr_bob", "reviewer"))
    carol: Principal = field(default_factory=lambda: person("usr_carol", "reviewer"))
    admin: Principal = field(default_factory=lambda: person("usr_admin", "admin"))
    auditor: Principal = field(default_factory=lambda: person("usr_auditor", "auditor"))
    outsider: Principal = field(
        default_factory=lambda: person("usr_out", "reviewer", "platform-client", org=OTHER_ORG)
    )

    @contextmanager
    def tx(self) -> Iterator[Session]:
        with transaction(self.factory) as session:
            yield session

    def banked(self, *, trusted: bool, labels: tuple[str, ...] = (), bank: str | None = None,
               org: str = ORG) -> tuple[str, int]:
        """A new bank item with one random PDQ signal; returns (value, signal id)."""
        value = secrets.token_hex(32)
        with self.tx() as s:
            from sqlalchemy import select

            from countersignal.banks.models import Bank

            name = bank or ("trusted" if trusted else "untrusted")
            row = s.scalar(select(Bank).where(Bank.organisation_id == org, Bank.name == name))
            if row is None:
                row = create_bank(s, organisation_id=org, name=name, trusted=trusted)
            item = add_item(s, row, ItemInput(
                signals=[SignalInput("pdq", value)],
                labels=[LabelInput.parse(label) for label in labels], source="test"))
            signal_id = item.signals[0].id
        self.matcher.sync()
        return value, signal_id

    def bank_id(self, name: str, org: str = ORG) -> str:
        from sqlalchemy import select

        from countersignal.banks.models import Bank

        with self.tx() as s:
            return s.scalar(select(Bank.id).where(Bank.organisation_id == org, Bank.name == name))

    def submit(self, *values: str, principal: Principal | None = None, now: datetime = T0,
               **kwargs) -> service.SubmissionResult:
        kwargs.setdefault("content_id", f"post-{secrets.token_hex(4)}")
        kwargs.setdefault("uploader_id", "user-42")
        if values:
            kwargs["signals"] = [{"type": "pdq", "value": v} for v in values]
        with self.tx() as s:
            return service.submit(s, principal or self.platform, self.matcher, vault=self.vault,
                                  now=now, **kwargs)

    def set_policy(self, document: dict) -> None:
        with self.tx() as s:
            set_policy(s, self.admin, document)

    def endpoint(self, url: str, events: list[str] | None = None) -> str:
        with self.tx() as s:
            _, secret = register_endpoint(s, Principal.system("test"), url=url,
                                          keyring=self.vault.keyring, events=events,
                                          allow_private=True, organisation_id=ORG)
        return secret

    def decide(self, case_id: str, action: str = "remove", *, by: Principal | None = None,
               now: datetime = T0, **kwargs):
        kwargs.setdefault("ground_type", "legal")
        kwargs.setdefault("ground", "Regulation (EU) 2021/784 Art. 2(7)")
        kwargs.setdefault("explanation", "Propaganda video of a designated group's attack.")
        with self.tx() as s:
            return service.decide(s, by or self.alice, case_id, action=action, vault=self.vault,
                                  now=now, **kwargs)


def png_bytes(seed: int = 0) -> bytes:
    """A real 64x64 PNG of noise (hashes as an image: pdq, md5, sha256)."""
    import io

    import numpy as np
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


AUTO_REMOVE_RULE = {
    "name": "trusted designated-entity matches",
    "when": {"source": "bank", "labels": ["designated_entity:ISIL"]},
    "outcome": "auto_action",
    "action": "remove",
    "ground_type": "legal",
    "ground": "Regulation (EU) 2021/784 Art. 2(7); Art. 5 specific measures",
    "explanation": "Exact copy of known terrorist content from a trusted hash bank.",
}


@pytest.fixture
def world(session_factory, tmp_path) -> World:
    matcher = Matcher(session_factory, None).load()
    return World(session_factory, Vault(Keyring.generate(), tmp_path / "vault"), matcher)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as server:
        yield server


# --- fast fresh databases: migrate once per session, copy per test ---------------------------


def _pg_admin(url: str):
    import psycopg

    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"),
                           autocommit=True, connect_timeout=3)


@dataclass
class PgBaseline:
    """A PostgreSQL database migrated once per session, and what migrations put in it: the
    rows they seed (as COPY text) and every sequence's position."""

    url: str
    seeded: dict[str, bytes]
    sequences: dict[str, tuple[int, bool]]

    def reset(self) -> None:
        """Back to just-migrated: TRUNCATE every table, then restore seeded rows and sequences.

        ``session_replication_role = replica`` switches off triggers for this connection only
        (the audit log's append-only guards among them): a test fixture's reset, never product
        code. Dropping and re-creating a database per test costs seconds (checkpoints); this
        costs milliseconds."""
        import psycopg

        with psycopg.connect(self.url.replace("+psycopg", ""), connect_timeout=5) as conn:
            conn.execute("SET lock_timeout = '20s'")
            conn.execute("SET session_replication_role = replica")
            tables = _pg_tables(conn)
            used = conn.execute(" UNION ALL ".join(
                f"SELECT '{t}' WHERE EXISTS (SELECT 1 FROM \"{t}\")" for t in tables)).fetchall()
            # only tables with rows: truncating an empty table still costs file operations
            if used:
                conn.execute("TRUNCATE " + ", ".join(f'"{t}"' for (t,) in used) + " CASCADE")
            with conn.cursor() as cur:
                for table, data in self.seeded.items():
                    with cur.copy(f'COPY "{table}" FROM STDIN') as copy:
                        copy.write(data)
                for sequence, (value, called) in self.sequences.items():
                    cur.execute("SELECT setval(%s, %s, %s)", (sequence, value, called))


def _pg_tables(conn) -> list[str]:
    return [row[0] for row in conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
        "AND tablename <> 'alembic_version' ORDER BY tablename")]


@pytest.fixture(scope="session")
def pg_baseline(pg_server: str) -> Iterator[PgBaseline]:
    import psycopg

    from countersignal.db import migrate

    name = f"cs_cases_{secrets.token_hex(6)}"
    with _pg_admin(pg_server) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{pg_server.rsplit('/', 1)[0]}/{name}"
    migrate(url)
    seeded, sequences = {}, {}
    with psycopg.connect(url.replace("+psycopg", "")) as conn, conn.cursor() as cur:
        for table in _pg_tables(conn):
            if conn.execute(f'SELECT EXISTS (SELECT 1 FROM "{table}")').fetchone()[0]:
                with cur.copy(f'COPY "{table}" TO STDOUT') as copy:
                    seeded[table] = b"".join(bytes(chunk) for chunk in copy)
        for (sequence,) in conn.execute(
                "SELECT quote_ident(sequencename) FROM pg_sequences WHERE schemaname = 'public'"):
            value, called = conn.execute(
                f"SELECT last_value, is_called FROM {sequence}").fetchone()
            sequences[sequence] = (value, called)
    yield PgBaseline(url, seeded, sequences)
    with _pg_admin(pg_server) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Overrides the suite-wide fixture: a database at head, once on SQLite and once on
    PostgreSQL. SQLite: a copy of a file migrated once per session. PostgreSQL: one database
    migrated once per session, reset to its just-migrated state before each test."""
    if request.param == "sqlite":
        path = tmp_path / "countersignal.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    baseline = request.getfixturevalue("pg_baseline")
    baseline.reset()
    return baseline.url


@pytest.fixture
def migrated_db_url(db_url: str) -> str:
    """``db_url`` is already at head here."""
    return db_url
