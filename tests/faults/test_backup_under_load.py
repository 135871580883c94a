"""``countersignal backup`` while the server takes writes and preserves evidence, then
``countersignal restore`` elsewhere: the restore is one consistent moment — rows per table as
the manifest counted them, an audit chain that verifies, a blob for every vault entry, and
every restored signal matchable."""

from __future__ import annotations

import io
import secrets
import subprocess
import threading

import numpy as np
from PIL import Image
from sqlalchemy import select

from api.conftest import COUNTERSIGNAL, PG_ADMIN_URL, _pg_database
from countersignal.actions.models import VaultEntry
from countersignal.actions.vault import Vault
from countersignal.audit import verify
from countersignal.banks.models import Signal
from countersignal.db import make_engine, session_factory
from countersignal.index.matcher import Matcher
from countersignal.settings import Settings
from countersignal.signals import Signal as ContentSignal
from faults.conftest import Live, wait_for


def _image(variant: int) -> bytes:
    """One picture; each variant differs in one pixel (same PDQ match, different bytes)."""
    pixels = np.random.default_rng(11).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    big = np.asarray(Image.fromarray(pixels).resize((256, 256), Image.BILINEAR)).copy()
    big[variant // 256 % 256, variant % 256] ^= 0x01
    out = io.BytesIO()
    Image.fromarray(big).save(out, "PNG")
    return out.getvalue()


def test_backup_during_writes_restores_a_consistent_moment(live: Live):
    live.start()
    with live.client("curator") as curator:
        bank_id = curator.post("/v1/banks", json={"name": "known"}).json()["id"]
        pdq = next(s["value"] for s in curator.post("/v1/hash", files={
            "file": ("k.png", _image(0), "image/png")}).json()["signals"] if s["type"] == "pdq")
        curator.post(f"/v1/banks/{bank_id}/signals", json={"signals": [
            {"type": "pdq", "value": pdq}]})
    stop = threading.Event()
    done = {"signals": 0, "uploads": 0}

    def add_signals() -> None:
        with live.client("curator") as client:
            n = 0
            while not stop.is_set():
                n += 1
                assert client.post(f"/v1/banks/{bank_id}/signals", json={"signals": [
                    {"type": "md5", "value": f"{n:032x}"}]}).status_code == 201
                done["signals"] += 1

    def upload() -> None:
        with live.client("platform-client") as client:
            n = 0
            while not stop.is_set():
                n += 1
                answer = client.post("/v1/submissions", files={
                    "file": ("u.png", _image(n), "image/png")}, data={"content_id": f"p{n}"})
                assert answer.status_code == 201 and answer.json()["case"], answer.text
                done["uploads"] += 1

    threads = [threading.Thread(target=add_signals), threading.Thread(target=upload)]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: done["uploads"] >= 5 and done["signals"] >= 20, 60, "some writes")
        made = subprocess.run([COUNTERSIGNAL, "backup", str(live.tmp / "b.tar.gz"),
                               "--include-keys"], env=live.env, capture_output=True, text=True,
                              timeout=120)
        assert made.returncode == 0, made.stderr
        writes_after = dict(done)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert done["uploads"] > 0 and writes_after["signals"] > 20

    pg_name = None
    if live.database_url.startswith("postgresql"):
        pg_name = f"cs_restored_{secrets.token_hex(5)}"
        _pg_database(pg_name, create=True)
        target_url = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{pg_name}"
    else:
        target_url = f"sqlite:///{live.tmp / 'restored.db'}"
    home = live.tmp / "restored-home"
    env = {**live.env, "COUNTERSIGNAL_HOME": str(home), "COUNTERSIGNAL_DATABASE_URL": target_url}
    engine = make_engine(target_url)
    try:
        restored = subprocess.run([COUNTERSIGNAL, "restore", str(live.tmp / "b.tar.gz")],
                                  env=env, capture_output=True, text=True, timeout=120)
        assert restored.returncode == 0, restored.stderr  # includes the row-count check
        sessions = session_factory(engine)
        vault = Vault.from_settings(Settings(home=home, database_url=target_url))
        with sessions() as session:
            assert verify(session).ok
            entries = list(session.scalars(select(VaultEntry)))
            assert entries, "evidence preserved before the backup must be in it"
            for entry in entries:
                assert vault.load_blob(entry.blob_address)  # present, and opens
            values = list(session.scalars(select(Signal.value).where(Signal.type == "md5")))
        assert 20 <= len(values) <= done["signals"]
        matcher = Matcher(sessions, Settings(home=home).effective_index_dir).load()
        missing = [v for v in values if not matcher.query([ContentSignal("md5", v)])]
        assert not missing, f"{len(missing)} restored signals are not matchable"
    finally:
        engine.dispose()
        if pg_name:
            _pg_database(pg_name, create=False)
