"""The disk fills while an index snapshot is written: the write fails loudly, the previous
snapshot stays valid (temporary file + fsync + atomic replace) and a restart loads it and
replays the change log to the same answers. A real full filesystem (a tmpfs shrunk to its
contents, when we may mount one) and a real file-size limit (RLIMIT_FSIZE in a subprocess),
not a mock."""

from __future__ import annotations

import errno
import random
import subprocess
import sys
from pathlib import Path

import pytest

from countersignal.auth import Principal, create_organisation
from countersignal.banks.service import ItemInput, SignalInput, add_item, create_bank
from countersignal.db import make_engine, session_factory, transaction
from countersignal.index.matcher import MANIFEST, Matcher
from countersignal.index.snapshot import read_snapshot
from countersignal.signals import Signal as ContentSignal

SAVE = """
import resource, signal, sys
from pathlib import Path
limit = int(sys.argv[3])
if limit:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG from write(), not a core dump
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
from countersignal.db import make_engine, session_factory
from countersignal.index.matcher import Matcher
matcher = Matcher(session_factory(make_engine(sys.argv[1])), Path(sys.argv[2])).load()
try:
    matcher.save()
except OSError as exc:
    print("errno", exc.errno)
    sys.exit(3)
"""
OLD, NEW = 2_000, 8_000


def _add_pdq(factory, bank_id: str, rng: random.Random, count: int) -> list[str]:
    from countersignal.banks.models import Bank

    values = [f"{rng.getrandbits(256):064x}" for _ in range(count)]
    with transaction(factory) as session:
        bank = session.get(Bank, bank_id)
        for start in range(0, count, 1000):
            add_item(session, bank, ItemInput(
                signals=[SignalInput("pdq", v) for v in values[start:start + 1000]]))
    return values


def _save(url: str, folder: Path, limit: int) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", SAVE, url, str(folder), str(limit)],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(params=["tmpfs", "rlimit"])
def constrained(request, tmp_path: Path):
    """(snapshot folder, kind, errno expected): a tmpfs that ``fill`` shrinks to what the
    first snapshot uses, or a file-size limit the size of the first snapshot."""
    folder = tmp_path / "indexes"
    folder.mkdir()
    if request.param == "rlimit":
        yield folder, "rlimit", errno.EFBIG
        return
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield folder, "tmpfs", errno.ENOSPC
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_snapshot_survives_a_full_disk(constrained, sqlite_template, tmp_path: Path):
    folder, kind, expected_errno = constrained
    database = tmp_path / "db.sqlite"
    database.write_bytes(sqlite_template.read_bytes())
    url = f"sqlite:///{database}"
    factory = session_factory(make_engine(url))
    rng = random.Random(5)
    with transaction(factory) as session:
        org = create_organisation(session, by=Principal.system("tests"), name="Disk",
                                  kind="platform", country="DE")
        bank_id = create_bank(session, organisation_id=org.id, name="b").id
    old = _add_pdq(factory, bank_id, rng, OLD)
    first = _save(url, folder, 0)
    assert first.returncode == 0, first.stderr
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    old_seq = Matcher(factory, folder).load().applied_seq

    used = sum(p.stat().st_size for p in folder.iterdir())
    limit = 0
    if kind == "tmpfs":  # the disk is now full but for 64 KiB
        size = -(-(used + 64 * 1024) // 4096) * 4096
        subprocess.run(["mount", "-o", f"remount,size={size}", str(folder)], check=True)
    else:
        limit = (folder / "pdq.idx").stat().st_size
    new = _add_pdq(factory, bank_id, rng, NEW)
    failed = _save(url, folder, limit)
    assert failed.returncode == 3, failed.stdout + failed.stderr
    assert f"errno {expected_errno}" in failed.stdout

    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before, (
        "the old snapshot must be untouched and no temporary file left behind")
    read_snapshot(folder / "pdq.idx", "pdq")  # checksums verify
    assert (folder / MANIFEST).is_file()
    reloaded = Matcher(factory, folder)
    reloaded.load()
    assert reloaded.applied_seq == old_seq + NEW  # old snapshot, then the log tail replayed
    for value in old[::200] + new[::800]:
        hits = reloaded.query([ContentSignal("pdq", value)])
        assert any(h.distance == 0 for h in hits), f"{value} not matchable after the failure"
