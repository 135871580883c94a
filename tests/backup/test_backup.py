"""Backup and restore round trips on SQLite and PostgreSQL: every table's rows, identical
match results, an audit chain that still verifies, evidence that still opens, and a change log
that keeps going after the restore."""

from __future__ import annotations

import os
import random
import secrets
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from api.conftest import COUNTERSIGNAL, PG_ADMIN_URL, _pg_database
from countersignal.actions.vault import Vault, preserve
from countersignal.audit import Target, record, verify
from countersignal.auth import Principal, create_organisation
from countersignal.backup import create_backup, restore_backup, verify_backup
from countersignal.backup.database import table_counts
from countersignal.banks.service import (
    ItemInput,
    SignalInput,
    add_item,
    create_bank,
    get_item,
    remove_item,
)
from countersignal.db import make_engine, migrate, session_factory, utcnow
from countersignal.errors import Conflict, InvalidInput
from countersignal.index.matcher import Matcher, match_signals
from countersignal.settings import Settings
from countersignal.signals import Signal as ContentSignal

SYSTEM = Principal.system("tests")


@dataclass
class Deployment:
    settings: Settings
    engines: list = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.settings.effective_database_url

    def sessions(self):
        self.engines.append(make_engine(self.url))
        return session_factory(self.engines[-1])

    def close(self) -> None:
        for engine in self.engines:
            engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def pair(request, tmp_path: Path):
    """A migrated source deployment and an empty target one, on the same kind of database."""
    created: list[str] = []
    if request.param == "sqlite":
        source_path = tmp_path / "source.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), source_path)
        urls = [f"sqlite:///{source_path}", f"sqlite:///{tmp_path / 'target.db'}"]
    else:
        template = request.getfixturevalue("pg_template")
        base = PG_ADMIN_URL.rsplit("/", 1)[0]
        urls = []
        for role in ("source", "target"):
            name = f"cs_backup_{role}_{secrets.token_hex(5)}"
            _pg_admin(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"'
                                                     if role == "source" else ""))
            created.append(name)
            urls.append(f"{base}/{name}")
    deployments = tuple(
        Deployment(Settings(home=tmp_path / role, database_url=url))
        for role, url in zip(("source", "target"), urls, strict=True)
    )
    yield deployments
    for deployment in deployments:
        deployment.close()
    for name in created:
        _pg_database(name, create=False)


def _pg_admin(sql: str) -> None:
    import psycopg

    admin = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
        conn.execute(sql)


def _pdq(rng: random.Random) -> str:
    return f"{rng.getrandbits(256):064x}"


def _near(value: str, rng: random.Random, bits: int) -> str:
    number = int(value, 16)
    for bit in rng.sample(range(256), bits):
        number ^= 1 << bit
    return f"{number:064x}"


def build_world(dep: Deployment, rng: random.Random) -> dict:
    """Banks, signals (some added after the last index snapshot, one removed), audit events and
    vault evidence; returns what the checks need."""
    sessions = dep.sessions()
    vault = Vault.from_settings(dep.settings)
    stored: list[str] = []
    with sessions.begin() as session:
        org = create_organisation(session, by=SYSTEM, name="Backup org", kind="platform",
                                  country="DE")
        bank = create_bank(session, organisation_id=org.id, name="known")
        for n in range(60):
            value = _pdq(rng)
            stored.append(value)
            item = add_item(session, bank, ItemInput(
                signals=[SignalInput("pdq", value), SignalInput("md5", f"{n:032x}")],
                external_id=f"item-{n}"))
            record(session, actor=SYSTEM.actor, action="bank.item.add",
                   target=Target("bank_item", item.id), organisation_id=org.id)
        org_id, bank_id = org.id, bank.id
    Matcher(sessions, dep.settings.effective_index_dir).load().save()  # snapshot mid-way
    evidence = {}
    with sessions.begin() as session:
        bank = session.get(type(bank), bank_id)
        for _ in range(60, 80):
            value = _pdq(rng)
            stored.append(value)
            add_item(session, bank, ItemInput(signals=[SignalInput("pdq", value)]))
        removed = stored.pop(3)
        remove_item(session, get_item(session, org_id, _item_of(session, removed)))
        for n in range(5):
            content = rng.randbytes(2000 + n)
            entry = preserve(session, vault, organisation_id=org_id, content=content,
                             metadata={"n": n}, retain_until=utcnow() + timedelta(days=180))
            evidence[entry.id] = content
    return {"org": org_id, "stored": stored, "removed": removed, "evidence": evidence}


def _item_of(session, value: str) -> str:
    from sqlalchemy import select

    from countersignal.banks.models import Signal

    return session.scalar(select(Signal.item_id).where(Signal.value == value))


def match_all(dep: Deployment, org: str, queries: list[str]) -> list[list[dict]]:
    sessions = dep.sessions()
    matcher = Matcher(sessions, dep.settings.effective_index_dir).load()
    with sessions() as session:
        return [
            [r.as_dict() for r in match_signals(session, matcher, org,
                                                [ContentSignal("pdq", q)])]
            for q in queries
        ]


def test_restore_gives_identical_matches_audit_and_evidence(pair):
    source, target = pair
    rng = random.Random(9)
    world = build_world(source, rng)
    queries = ([_near(v, rng, 12) for v in world["stored"][::4]] + [world["removed"]]
               + [_pdq(rng) for _ in range(10)])
    before = match_all(source, world["org"], queries)
    assert sum(1 for hits in before if hits) == len(world["stored"][::4])  # the world matches
    with source.sessions()() as session:
        chain = verify(session)
    assert chain.ok

    dest = source.settings.home.parent / "backup.tar.gz"
    manifest = create_backup(source.settings, dest, include_keys=True)
    assert manifest.row_counts == table_counts(source.url)
    assert manifest.row_counts["signals"] == 80 + 60 - 2  # pdq + md5, one two-signal item gone
    restored = restore_backup(target.settings, dest)

    assert table_counts(target.url) == table_counts(source.url) == restored.row_counts
    assert match_all(target, world["org"], queries) == before
    with target.sessions()() as session:
        again = verify(session)
    assert again.ok and (again.events_checked, again.last_hash) == (
        chain.events_checked, chain.last_hash)
    vault = Vault.from_settings(target.settings)
    with target.sessions()() as session:
        from countersignal.actions.models import VaultEntry

        for entry_id, content in world["evidence"].items():
            assert vault.load_blob(session.get(VaultEntry, entry_id).blob_address) == content

    # The restored change log keeps counting: a new signal is matchable after the restore.
    sessions = target.sessions()
    matcher = Matcher(sessions, target.settings.effective_index_dir).load()
    fresh = _pdq(rng)
    with sessions.begin() as session:
        from countersignal.banks.service import get_bank

        add_item(session, get_bank(session, world["org"], "known"),
                 ItemInput(signals=[SignalInput("pdq", fresh)]))
    assert matcher.sync() == 1
    assert matcher.query([ContentSignal("pdq", fresh)])


def test_keys_stay_out_unless_asked_and_damage_is_caught(pair):
    source, target = pair
    world = build_world(source, random.Random(4))
    dest = source.settings.home.parent / "backup"
    manifest = create_backup(source.settings, dest)
    assert not manifest.includes_keys and manifest.vault_key_id
    assert not [p for p in manifest.parts if Path(p).name.startswith(".")], "no lock/temp files"
    assert {"indexes/matcher.json", "indexes/pdq.idx", manifest.database_part} <= set(
        manifest.parts)
    key_text = (source.settings.home / "vault.key").read_bytes().strip()
    for path in dest.rglob("*"):
        if path.is_file():
            assert key_text not in path.read_bytes(), f"vault key found in {path}"
    with pytest.raises(Conflict):
        create_backup(source.settings, dest)  # never overwrites an earlier backup

    restored = restore_backup(target.settings, dest)
    assert any("vault key" in note for note in restored.notes)
    with pytest.raises(Conflict):
        restore_backup(target.settings, dest)  # the target now has data
    assert len(world["evidence"]) == restored.row_counts["actions_vault_entries"]

    blob = next(p for p in (dest / "vault").rglob("*") if p.is_file())
    damaged = bytearray(blob.read_bytes())
    damaged[40] ^= 1
    blob.write_bytes(bytes(damaged))
    with pytest.raises(InvalidInput, match="sha256"):
        verify_backup(dest)
    blob.unlink()
    with pytest.raises(InvalidInput, match="missing"):
        verify_backup(dest)


def test_cli_round_trip_sqlite(tmp_path: Path):
    """``countersignal backup`` / ``restore --check`` / ``restore`` on the embedded default."""
    env = {**os.environ, "COUNTERSIGNAL_HOME": str(tmp_path / "a")}
    env.pop("COUNTERSIGNAL_DATABASE_URL", None)

    def cli(*args: str, home: str = "a") -> subprocess.CompletedProcess:
        return subprocess.run([COUNTERSIGNAL, *args], capture_output=True, text=True,
                              env={**env, "COUNTERSIGNAL_HOME": str(tmp_path / home)},
                              timeout=120)

    source = Deployment(Settings(home=tmp_path / "a"))
    migrate(source.url)
    world = build_world(source, random.Random(1))
    source.close()
    made = cli("backup", str(tmp_path / "b.tar"), "--include-keys")
    assert made.returncode == 0, made.stderr
    assert cli("restore", "--check", str(tmp_path / "b.tar")).returncode == 0
    done = cli("restore", str(tmp_path / "b.tar"), home="b")
    assert done.returncode == 0, done.stderr
    again = cli("restore", str(tmp_path / "b.tar"), home="b")
    assert again.returncode == 4 and "not empty" in again.stderr
    target = Deployment(Settings(home=tmp_path / "b"))
    assert table_counts(target.url) == table_counts(source.url)
    keys = [(tmp_path / home / "vault.key").read_bytes().strip() for home in "ab"]
    assert keys[0] == keys[1]
    assert oct((tmp_path / "b" / "vault.key").stat().st_mode & 0o777) == "0o600"
    verified = cli("audit", "verify", home="b")
    assert verified.returncode == 0 and "intact" in verified.stdout
    del world
