"""Overhead of ShardedPDQIndex (Ray actors) against one in-process PDQIndex on the same hashes.

    .venv/bin/python bench/sharded_index.py --n 1000000 --shards 2 --docs docs/scaling.md

Same seeded random hashes and queries (half stored hashes with 0-31 bits flipped, half random)
for both; results are checked equal query by query (so recall is the single index's, 1.000).
Prints a Markdown table naming the machine and its load; ``--docs`` writes it between the
``bench:sharded_index`` markers of that page.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from docsection import replace_section
from host import describe

THRESHOLD = 31


def make_data(n: int, queries: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    stored = rng.integers(0, 2**64 - 1, size=(n, 4), dtype=np.uint64, endpoint=True)
    near = stored[rng.integers(0, n, queries // 2)].copy()
    for row in near:
        for bit in rng.choice(256, size=int(rng.integers(0, 32)), replace=False):
            row[bit // 64] ^= np.uint64(1) << np.uint64(int(bit) % 64)
    far = rng.integers(0, 2**64 - 1, size=(queries - len(near), 4), dtype=np.uint64,
                       endpoint=True)
    return stored, np.concatenate([near, far])


def measure(index, stored: np.ndarray, queries: np.ndarray, batch: int) -> tuple[dict, list]:
    t0 = time.perf_counter()
    for start in range(0, len(stored), 1_000_000):
        index.add_words(np.arange(start, min(start + 1_000_000, len(stored))),
                        stored[start : start + 1_000_000])
    build_s = time.perf_counter() - t0
    index.query_words(queries[:2], THRESHOLD)  # load the kernels' machine code
    singles = queries[:200]
    t0 = time.perf_counter()
    for query in singles:
        index.query_words(query[None, :], THRESHOLD)
    single_qps = len(singles) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    results = []
    for start in range(0, len(queries), batch):
        results.extend(index.query_words(queries[start : start + batch], THRESHOLD))
    batch_qps = len(queries) / (time.perf_counter() - t0)
    return {"build_s": build_s, "single_qps": single_qps, "batch_qps": batch_qps}, results


def main() -> None:
    import ray

    from countersignal.index.pdq import PDQIndex
    from countersignal.index.sharded import ShardedPDQIndex

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--shards", type=int, default=2)
    parser.add_argument("--num-cpus", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--docs", type=Path)
    args = parser.parse_args()
    stored, queries = make_data(args.n, args.queries, args.seed)
    load_before = os.getloadavg()[0]

    single, expected = measure(PDQIndex(), stored, queries, args.batch)
    t0 = time.perf_counter()
    ray.init(num_cpus=args.num_cpus, include_dashboard=False, log_to_driver=False)
    sharded_index = ShardedPDQIndex(args.shards, actor_cpus=args.num_cpus / args.shards)
    start_s = time.perf_counter() - t0
    sharded, found = measure(sharded_index, stored, queries, args.batch)
    sharded_index.close()
    ray.shutdown()
    if found != expected:
        sys.exit("sharded results differ from the single index")

    rows = [("PDQIndex (one process)", single, 0.0),
            (f"ShardedPDQIndex ({args.shards} Ray actors)", sharded, start_s)]
    lines = [
        f"Machine: {describe()}, load average {load_before:.1f} at start, "
        f"{os.getloadavg()[0]:.1f} at end; Python {platform.python_version()}",
        "",
        f"Command: `python bench/sharded_index.py {' '.join(sys.argv[1:])}`",
        "",
        f"{args.n:,} random hashes, {args.queries:,} queries at threshold {THRESHOLD}, "
        f"batches of {args.batch}; sharded results equal the single index's for every query.",
        "",
        "| index | build s | single q/s | batched q/s | start s |",
        "|---|---|---|---|---|",
    ]
    for name, row, started in rows:
        lines.append(f"| {name} | {row['build_s']:.1f} | {row['single_qps']:,.0f} | "
                     f"{row['batch_qps']:,.0f} | {started:.1f} |")
    per_query_ms = 1000 / sharded["single_qps"] - 1000 / single["single_qps"]
    lines.append("")
    lines.append(f"Fan-out overhead per single query: {per_query_ms:.2f} ms "
                 f"(batched: {sharded['batch_qps'] / single['batch_qps']:.2f}x the single index)")
    block = "\n".join(lines)
    print(block)
    if args.docs:
        replace_section(args.docs, "sharded_index", block)


if __name__ == "__main__":
    main()
