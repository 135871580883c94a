"""Backfill: matches found, bad files reported, interrupted runs resume without duplicates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select

from countersignal.backfill.models import BackfillMatch
from countersignal.backfill.service import run_backfill
from countersignal.banks import service
from countersignal.banks.service import ItemInput, SignalInput
from countersignal.runtime import Runtime
from countersignal.settings import Settings
from countersignal.signals import hash_file

ORG = "org_a"


def make_archive(root: Path, count: int) -> list[Path]:
    rng = np.random.default_rng(11)
    paths = []
    for n in range(count):
        folder = root / f"part{n % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 255, size=(64, 64, 3), dtype=np.uint8)
        path = folder / f"img{n:03d}.png"
        Image.fromarray(pixels).resize((128, 128)).save(path)
        paths.append(path)
    (root / "part0" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    return paths


@pytest.fixture
def rt(db_url, tmp_path):
    runtime = Runtime(Settings(home=tmp_path / "home", database_url=db_url))
    yield runtime
    runtime.close()


def bank_known(rt: Runtime, images: list[Path]) -> None:
    with rt.sessions.begin() as s:
        bank = service.create_bank(s, organisation_id=ORG, name="known")
        for path in images:
            pdq = next(x for x in hash_file(path) if x.type == "pdq")
            service.add_item(s, bank, ItemInput(signals=[SignalInput("pdq", pdq.value)]))


def test_backfill_finds_known_and_reports_bad_files(rt, tmp_path):
    images = make_archive(tmp_path / "archive", 20)
    bank_known(rt, images[:4])
    run = run_backfill(rt, tmp_path / "archive", organisation_id=ORG, chunk_size=4)
    assert (run.status, run.total_items, run.items_done, run.errors) == ("done", 21, 21, 1)
    with rt.sessions() as s:
        paths = set(s.scalars(select(BackfillMatch.path).where(BackfillMatch.run_id == run.id)))
    assert paths == {str(p) for p in images[:4]}


def test_interrupted_run_resumes_exactly_once(rt, tmp_path):
    images = make_archive(tmp_path / "archive", 24)
    bank_known(rt, images[::3])
    calls = {"n": 0}

    def stop_after_two_chunks(progress) -> None:
        calls["n"] += 1
        if calls["n"] == 3:  # first call reports the starting point
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_backfill(
            rt,
            tmp_path / "archive",
            organisation_id=ORG,
            chunk_size=5,
            on_progress=stop_after_two_chunks,
        )
    resumed = run_backfill(rt, tmp_path / "archive", organisation_id=ORG, chunk_size=5)
    assert resumed.status == "done" and resumed.items_done == 25
    with rt.sessions() as s:
        counts = s.execute(
            select(BackfillMatch.path, func.count()).group_by(BackfillMatch.path)
        ).all()
    assert {path for path, _ in counts} == {str(p) for p in images[::3]}
    assert all(n == 1 for _, n in counts)


def test_manifest_source(rt, tmp_path):
    images = make_archive(tmp_path / "archive", 6)
    bank_known(rt, images[:1])
    manifest = tmp_path / "archive" / "list.txt"
    lines = [str(p.relative_to(manifest.parent)) for p in images]
    manifest.write_text("# archive manifest\n" + "\n".join(lines) + "\n")
    run = run_backfill(rt, manifest, organisation_id=ORG)
    assert (run.items_done, run.matches, run.errors) == (6, 1, 0)


@pytest.mark.slow
def test_ray_engine_gives_the_same_matches(sqlite_url, tmp_path):
    rt = Runtime(Settings(home=tmp_path / "home", database_url=sqlite_url))
    images = make_archive(tmp_path / "archive", 16)
    bank_known(rt, images[5:8])
    run = run_backfill(
        rt, tmp_path / "archive", organisation_id=ORG, engine="ray", num_cpus=2, chunk_size=4
    )
    assert (run.status, run.items_done, run.matches, run.errors) == ("done", 17, 3, 1)
    rt.close()
