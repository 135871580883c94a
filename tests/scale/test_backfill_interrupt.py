"""Ctrl-C on a real ``countersignal backfill`` process, then a rerun: the run resumes where it
stopped and every match is recorded exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select

from countersignal.backfill.models import BackfillChunk, BackfillMatch, BackfillRun
from countersignal.banks import service
from countersignal.banks.service import ItemInput, SignalInput
from countersignal.cli.common import organisation_id
from countersignal.runtime import Runtime
from countersignal.settings import Settings
from countersignal.signals import hash_file

COUNTERSIGNAL = str(Path(sys.executable).parent / "countersignal")


def make_images(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(3)
    paths = []
    for n in range(count):
        pixels = rng.integers(0, 255, size=(24, 24, 3), dtype=np.uint8)
        path = folder / f"img{n:03d}.png"
        Image.fromarray(pixels).resize((96, 96)).save(path)
        paths.append(path)
    return paths


@pytest.mark.slow
def test_sigint_then_rerun_resumes_without_duplicates(tmp_path):
    images = make_images(tmp_path / "archive", 48)
    known = images[::4]
    env = {**os.environ, "COUNTERSIGNAL_HOME": str(tmp_path / "home")}
    runtime = Runtime(Settings(home=tmp_path / "home"))
    org = organisation_id(runtime)  # the embedded default's demo organisation, as the CLI uses
    with runtime.sessions.begin() as session:
        bank = service.create_bank(session, organisation_id=org, name="known")
        for path in known:
            pdq = next(s for s in hash_file(path) if s.type == "pdq")
            service.add_item(session, bank, ItemInput(signals=[SignalInput("pdq", pdq.value)]))

    def finished_chunks() -> int:
        with runtime.sessions() as session:
            return session.scalar(select(func.count()).select_from(BackfillChunk))

    command = [COUNTERSIGNAL, "backfill", str(tmp_path / "archive"), "--chunk-size", "2"]
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while finished_chunks() < 3:
        assert first.poll() is None, first.stdout.read().decode()[-2000:]
        assert time.monotonic() < deadline, "no chunk finished in time"
        time.sleep(0.05)
    first.send_signal(signal.SIGINT)
    first.wait(timeout=60)
    assert first.returncode != 0  # interrupted, not finished
    interrupted_at = finished_chunks()
    assert interrupted_at < 24, "the run finished before the interrupt landed"
    with runtime.sessions() as session:
        assert session.scalar(select(BackfillRun.status)) != "done"

    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    with runtime.sessions() as session:
        runs = list(session.scalars(select(BackfillRun)))
        assert [(r.status, r.items_done, r.matches) for r in runs] == [("done", 48, len(known))]
        chunks = session.scalars(select(BackfillChunk.chunk)).all()
        assert sorted(chunks) == list(range(24))  # every chunk once: none redone twice
        matched = session.execute(
            select(BackfillMatch.path, func.count()).group_by(BackfillMatch.path)
        ).all()
    assert {path for path, _ in matched} == {str(p) for p in known}
    assert all(count == 1 for _, count in matched)
    runtime.close()
