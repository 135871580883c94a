"""Backfill throughput: the same generated archive hashed and matched by the local engine and by
Ray, in this process, over a fresh SQLite database each time.

    .venv/bin/python bench/backfill.py --images 2000 --num-cpus 2 --docs docs/scaling.md

Images are 512 x 512 RGB JPEGs made with numpy (smooth random fields, so PDQ quality is real),
one in 50 also banked so matching does real work. Prints a Markdown table naming the machine
and its load; ``--docs`` writes it between the ``bench:backfill`` markers of that page.
Throughput per core divides by the cores the engine may use (local: 1; Ray: ``--num-cpus``);
Ray's start-up is timed apart, since a long-lived cluster pays it once. Ray starts its workers
at niceness 15; the benchmark sets ``RAY_worker_niceness=0`` (unless already set) so both
engines compete for the CPUs on equal terms on a machine shared with other work.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from docsection import replace_section
from host import describe
from PIL import Image

RAY_NICENESS = "RAY_worker_niceness"  # read by Ray's raylet when it starts workers


def make_archive(root: Path, count: int, seed: int = 5) -> list[Path]:
    """``count`` smooth random 512x512 images in folders of 100."""
    rng = np.random.default_rng(seed)
    paths = []
    for n in range(count):
        folder = root / f"part{n // 100:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        small = rng.integers(0, 255, size=(16, 16, 3), dtype=np.uint8)
        path = folder / f"img{n:05d}.jpg"
        Image.fromarray(small).resize((512, 512), Image.BILINEAR).save(path, quality=90)
        paths.append(path)
    return paths


def bank_some(runtime, organisation: str, paths: list[Path]) -> None:
    from countersignal.banks import service
    from countersignal.banks.service import ItemInput, SignalInput
    from countersignal.signals import hash_file

    with runtime.sessions.begin() as session:
        bank = service.create_bank(session, organisation_id=organisation, name="known")
        for path in paths:
            pdq = next(s for s in hash_file(path) if s.type == "pdq")
            service.add_item(session, bank, ItemInput(signals=[SignalInput("pdq", pdq.value)]))


def run_engine(archive: Path, known: list[Path], engine: str, num_cpus: int, work: Path) -> dict:
    from countersignal.backfill.service import run_backfill
    from countersignal.runtime import Runtime
    from countersignal.settings import Settings

    home = work / f"home-{engine}"
    runtime = Runtime(Settings(home=home, database_url=f"sqlite:///{home}/cs.db"))
    home.mkdir(parents=True, exist_ok=True)
    bank_some(runtime, "org_bench", known)
    startup_s = 0.0
    if engine == "ray":
        import ray

        os.environ.setdefault(RAY_NICENESS, "0")
        t0 = time.perf_counter()
        ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
        startup_s = time.perf_counter() - t0
    cpu0, t0 = os.times(), time.perf_counter()
    run = run_backfill(runtime, archive, organisation_id="org_bench", engine=engine,
                       num_cpus=num_cpus, chunk_size=32)
    wall = time.perf_counter() - t0
    cpu1 = os.times()
    if engine == "ray":
        import ray

        ray.shutdown()
    runtime.close()
    return {
        "engine": engine,
        "cores": 1 if engine == "local" else num_cpus,
        "items": run.items_done,
        "matches": run.matches,
        "errors": run.errors,
        "wall_s": wall,
        "driver_cpu_s": (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system),
        "startup_s": startup_s,
    }


def table(rows: list[dict]) -> str:
    local = next(r for r in rows if r["engine"] == "local")
    lines = [
        "| engine | cores | items | matches | wall s | items/s | items/s per core | speed-up "
        "| engine start s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        rate = row["items"] / row["wall_s"]
        lines.append(
            f"| {row['engine']} | {row['cores']} | {row['items']:,} | {row['matches']} | "
            f"{row['wall_s']:.1f} | {rate:.1f} | {rate / row['cores']:.1f} | "
            f"{local['wall_s'] / row['wall_s']:.2f}x | {row['startup_s']:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--num-cpus", type=int, default=2)
    parser.add_argument("--engines", default="local,ray")
    parser.add_argument("--docs", type=Path)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="backfill-bench-"))
    try:
        t0 = time.perf_counter()
        paths = make_archive(work / "archive", args.images)
        made_s = time.perf_counter() - t0
        known = paths[::50]
        rows = []
        for engine in args.engines.split(","):
            rows.append(run_engine(work / "archive", known, engine, args.num_cpus, work))
            print(rows[-1], flush=True)
        niceness = os.environ.get(RAY_NICENESS, "15 (Ray's default)")
        header = (f"Machine: {describe(load=True)} (at the end of the run); Ray worker niceness "
                  f"{niceness}; Python "
                  f"{platform.python_version()}; {args.images:,} generated 512x512 JPEGs "
                  f"(made in {made_s:.0f} s), {len(known)} banked")
        block = (f"{header}\n\nCommand: `python bench/backfill.py {' '.join(sys.argv[1:])}`"
                 f"\n\n{table(rows)}")
        print(block)
        if args.docs:
            replace_section(args.docs, "backfill", block)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
