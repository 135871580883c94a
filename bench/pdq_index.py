"""PDQ range-index benchmark: Countersignal's PDQIndex against python-threatexchange and faiss.

Every contender runs in its own subprocess (so peak RSS is its own) on the same seeded random
256-bit hashes; queries are half stored hashes with 0-31 bits flipped, half random (almost
never matching). Recall is measured against brute force at threshold 31.

    .venv/bin/python bench/pdq_index.py --sizes 100000,1000000 --n10m 10000000 --queries 2000

``--n 100000000`` runs the large single-index part at 100M with streamed generation.
Prints a Markdown table naming the machine; ``--docs docs/index.md`` also writes it there.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from docsection import replace_section
from host import describe

THRESHOLD = 31
CHUNK = 4_000_000
CONTENDERS = ("countersignal", "pytx_PDQIndex", "pytx_PDQIndex2", "faiss_IndexBinaryFlat")


# --- data -------------------------------------------------------------------------------------


def stored_chunks(n: int, seed: int):
    """The ``n`` stored hashes, generated in chunks so 100M never sits in memory at once."""
    rng = np.random.default_rng(seed)
    for start in range(0, n, CHUNK):
        size = min(CHUNK, n - start)
        yield start, rng.integers(0, 2**64 - 1, size=(size, 4), dtype=np.uint64, endpoint=True)


def make_queries(first_chunk: np.ndarray, count: int, seed: int) -> np.ndarray:
    """Half near-duplicates (0-31 bits flipped) of stored hashes, half random hashes."""
    rng = np.random.default_rng(seed + 1)
    near = first_chunk[rng.integers(0, len(first_chunk), count // 2)].copy()
    for row, flips in zip(near, rng.integers(0, 32, len(near)), strict=True):
        for bit in rng.choice(256, size=int(flips), replace=False):
            row[bit // 64] ^= np.uint64(1) << np.uint64(bit % 64)
    far = rng.integers(0, 2**64 - 1, size=(count - len(near), 4), dtype=np.uint64, endpoint=True)
    return np.concatenate([near, far])


def to_hex(words: np.ndarray) -> list[str]:
    raw = np.ascontiguousarray(words).astype(">u8").tobytes()
    return [raw[i : i + 32].hex() for i in range(0, len(raw), 32)]


def to_bytes(words: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(words).astype(">u8").view(np.uint8).reshape(-1, 32)


def brute_force(queries: np.ndarray, chunks) -> list[set[int]]:
    """Ground truth: stored ids within THRESHOLD of each query (linear XOR + popcount scan)."""
    from countersignal.index._kernels import search_brute

    queries = np.ascontiguousarray(queries)
    truth: list[set[int]] = [set() for _ in queries]
    capacity = 1 << 16
    for start, chunk in chunks:
        alive = np.ones(len(chunk), np.uint8)
        while True:
            rows, dist, qpos = (np.empty(capacity, np.int64) for _ in range(3))
            count = search_brute(queries, chunk, alive, THRESHOLD, rows, dist, qpos)
            if count <= capacity:
                break
            capacity = count
        for q, row in zip(qpos[:count].tolist(), (rows[:count] + start).tolist(), strict=True):
            truth[q].add(row)
    return truth


def faiss_threads(count: int) -> int:
    """Set faiss's OpenMP thread count; returns the previous one."""
    import faiss

    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(count)
    return previous


def save_truth(path: Path, n: int, n_queries: int, seed: int, step: int) -> None:
    """Brute-force answers to every ``step``-th query, in their own process (no contender
    pays for the scan's memory)."""
    first = next(stored_chunks(min(n, CHUNK), seed))[1]
    queries = make_queries(first, n_queries, seed)[::step]
    truth = brute_force(queries, stored_chunks(n, seed))
    offsets = np.cumsum([0] + [len(t) for t in truth])
    ids = np.array([i for t in truth for i in sorted(t)], dtype=np.int64)
    np.savez(path, offsets=offsets, ids=ids)


def load_truth(path: Path) -> list[set[int]]:
    data = np.load(path)
    offsets, ids = data["offsets"], data["ids"]
    return [set(ids[offsets[i] : offsets[i + 1]].tolist()) for i in range(len(offsets) - 1)]


def release_heap() -> None:
    """glibc keeps freed blocks under 32 MiB in the heap; count only what is really in use."""
    import ctypes

    ctypes.CDLL("libc.so.6").malloc_trim(0)


def _proc_mb(path: str, key: str) -> float:
    """A ``key: N kB`` line of a /proc file, in MiB (NaN when absent)."""
    try:
        with open(path) as fh:
            for line in fh:
                if line.startswith(key):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def rss_mb() -> float:
    return _proc_mb("/proc/self/status", "VmRSS:")


def huge_pages_mb() -> float:
    """Resident memory on transparent huge pages: the search's random reads are much faster
    there (fewer TLB misses), and a fragmented machine may not grant them."""
    return _proc_mb("/proc/self/smaps_rollup", "AnonHugePages:")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- contenders ---------------------------------------------------------------------------


class Countersignal:
    def __init__(self, chunks) -> None:
        from countersignal.index.pdq import PDQIndex

        self.index = PDQIndex()
        for start, chunk in chunks:
            self.index.add_words(np.arange(start, start + len(chunk)), chunk)

    def single(self, query: np.ndarray, hexed: str) -> set[int]:
        return {i for i, _ in self.index.query(hexed, THRESHOLD)}

    def batch(self, queries: np.ndarray, hexed: list[str]) -> list[set[int]]:
        return [{i for i, _ in r} for r in self.index.query_batch(hexed, THRESHOLD)]


class PytxPDQIndex:
    """python-threatexchange's PDQIndex: faiss IndexBinaryMultiHash(256, 16, 16), nflip=1."""

    def __init__(self, chunks) -> None:
        from threatexchange.signal_type.pdq.pdq_index import PDQIndex

        self.index = PDQIndex()
        for start, chunk in chunks:
            self.index.add_all(zip(to_hex(chunk), range(start, start + len(chunk)), strict=True))

    def single(self, query: np.ndarray, hexed: str) -> set[int]:
        return {m.metadata for m in self.index.query(hexed)}

    def batch(self, queries: np.ndarray, hexed: list[str]) -> list[set[int]]:
        found = self.index.index.search_with_distance_in_result(hexed, THRESHOLD)
        entries = self.index.local_id_to_entry
        return [{entries[i][1] for i, _, _ in found[h]} for h in hexed]


class PytxPDQIndex2:
    """python-threatexchange's PDQIndex2: faiss IndexFlatL2 over 256 float dimensions."""

    def __init__(self, chunks) -> None:
        from threatexchange.signal_type.pdq.pdq_index2 import PDQIndex2

        self.index = PDQIndex2()
        for start, chunk in chunks:
            self.index.add_all(zip(to_hex(chunk), range(start, start + len(chunk)), strict=True))

    def single(self, query: np.ndarray, hexed: str) -> set[int]:
        return {m.metadata for m in self.index.query(hexed)}

    def batch(self, queries: np.ndarray, hexed: list[str]) -> list[set[int]]:
        from threatexchange.signal_type.pdq.pdq_utils import convert_pdq_strings_to_ndarray

        faiss_index = self.index._index.faiss_index
        lims, _, found = faiss_index.range_search(
            convert_pdq_strings_to_ndarray(hexed), THRESHOLD + 1
        )
        entries = self.index._idx_to_entries
        return [
            {e for j in found[lims[q] : lims[q + 1]] for e in entries[j]} for q in range(len(hexed))
        ]


class FaissFlat:
    """faiss IndexBinaryFlat: exhaustive XOR + popcount (a brute-force floor)."""

    def __init__(self, chunks) -> None:
        import faiss

        self.index = faiss.IndexBinaryFlat(256)
        for _start, chunk in chunks:
            self.index.add(to_bytes(chunk))

    def single(self, query: np.ndarray, hexed: str) -> set[int]:
        _lims, _dist, found = self.index.range_search(to_bytes(query[None, :]), THRESHOLD + 1)
        return set(found.tolist())

    def batch(self, queries: np.ndarray, hexed: list[str]) -> list[set[int]]:
        lims, _dist, found = self.index.range_search(to_bytes(queries), THRESHOLD + 1)
        return [set(found[lims[q] : lims[q + 1]].tolist()) for q in range(len(queries))]


KINDS = {
    "countersignal": Countersignal,
    "pytx_PDQIndex": PytxPDQIndex,
    "pytx_PDQIndex2": PytxPDQIndex2,
    "faiss_IndexBinaryFlat": FaissFlat,
}


def recall(found: list[set[int]], truth: list[set[int]]) -> float:
    """Share of the true neighbours found (1.0 when there were none to find)."""
    expected = sum(len(t) for t in truth)
    hit = sum(len(f & t) for f, t in zip(found, truth, strict=False))
    return hit / expected if expected else 1.0


def run_contender(
    name: str, n: int, n_queries: int, seed: int, budget_s: float, truth_path: Path
) -> dict:
    """Build one contender, time single and batched queries, check recall."""
    chunks = list(stored_chunks(n, seed))
    queries = make_queries(chunks[0][1], n_queries, seed)
    hexed = to_hex(queries)
    truth = load_truth(truth_path)
    gc.collect()
    before = rss_mb()
    t0 = time.perf_counter()
    index = KINDS[name](chunks)
    build_s = time.perf_counter() - t0
    del chunks
    gc.collect()
    index_mb = rss_mb() - before
    index.single(queries[0], hexed[0])  # warm-up (JIT, caches) of both paths
    index.batch(queries[:64], hexed[:64])
    threads = faiss_threads(1)  # one query gains nothing from OpenMP; waking its team costs
    found, t0, cpu0 = [], time.perf_counter(), time.process_time()
    for query, h in zip(queries, hexed, strict=True):
        found.append(index.single(query, h))
        if time.perf_counter() - t0 > budget_s:
            break
    single_s = time.perf_counter() - t0
    single_cpu_s = time.process_time() - cpu0
    faiss_threads(threads)
    done = len(found)
    t0 = time.perf_counter()
    batched = index.batch(queries[:done], hexed[:done])
    batch_s = time.perf_counter() - t0
    return {
        "name": name,
        "n": n,
        "queries": done,
        "build_s": build_s,
        "single_qps": done / single_s,
        "single_qps_cpu": done / single_cpu_s,
        "batch_qps": done / batch_s,
        "recall": recall(found, truth[:done]),
        "batch_recall": recall(batched, truth[:done]),
        "exact": found == truth[:done] and batched == truth[:done],
        "index_mb": index_mb,
        "peak_rss_mb": peak_rss_mb(),
    }


def run_large(
    n: int, n_queries: int, seed: int, snapshot_dir: Path, truth_path: Path, step: int
) -> dict:
    """Countersignal alone at 10M (or 100M): speed, recall sample, RSS, add latency, snapshot."""
    from countersignal.index.pdq import PDQIndex

    first = next(stored_chunks(min(n, CHUNK), seed))[1]
    queries = make_queries(first, n_queries, seed)
    del first
    truth = load_truth(truth_path)
    gc.collect()
    before = rss_mb()
    index, t0 = PDQIndex(), time.perf_counter()
    for start, chunk in stored_chunks(n, seed):
        index.add_words(np.arange(start, start + len(chunk)), chunk)
        del chunk
    add_s = time.perf_counter() - t0
    # the chunks' segments are merged in the background while adds go on; queries are timed
    # on the finished index (full segments), not against a merge still running on the cores
    index.compact()
    build_s = time.perf_counter() - t0
    gc.collect()
    release_heap()  # the ids/hash chunks this script made, not the index's own memory
    resident = rss_mb()
    hexed = to_hex(queries)
    index.query(hexed[0])
    index.query_batch(hexed[:64])
    found, t0, cpu0 = [], time.perf_counter(), time.process_time()
    for h in hexed:
        found.append({i for i, _ in index.query(h, THRESHOLD)})
    single_qps = len(hexed) / (time.perf_counter() - t0)
    single_qps_cpu = len(hexed) / (time.process_time() - cpu0)
    passes = []  # one batch takes a fraction of a second: the median of three passes
    for _ in range(3):
        t0 = time.perf_counter()
        index.query_batch(hexed, THRESHOLD)
        passes.append(len(hexed) / (time.perf_counter() - t0))
    batch_qps = statistics.median(passes)
    new = np.random.default_rng(seed + 2).integers(0, 2**63, size=(1, 4), dtype=np.uint64)
    t0 = time.perf_counter()
    index.add_words([n + 1], new)
    visible = any(i == n + 1 for i, _ in index.query(to_hex(new)[0], 0))
    add_latency_ms = (time.perf_counter() - t0) * 1000
    path = snapshot_dir / "pdq.idx"
    t0 = time.perf_counter()
    index.save(path)
    save_s = time.perf_counter() - t0
    return {
        "n": n,
        "add_s": add_s,
        "build_s": build_s,
        "segments": len(index._segments),
        "rss_mb": resident,
        "huge_pages_mb": huge_pages_mb(),
        "index_mb": resident - before,
        "peak_rss_mb": peak_rss_mb(),
        "single_qps": single_qps,
        "single_qps_cpu": single_qps_cpu,
        "batch_qps": batch_qps,
        "batch_qps_passes": passes,
        "recall_sample": recall(found[::step], truth),
        "recall_queries": len(truth),
        "add_visible_ms": add_latency_ms if visible else float("nan"),
        "save_s": save_s,
        "snapshot_mb": path.stat().st_size / 2**20,
    }


def run_load(path: Path, seed: int) -> dict:
    """Fresh process: load (and checksum) a snapshot, then answer a query."""
    from countersignal.index.pdq import PDQIndex

    before = rss_mb()
    t0 = time.perf_counter()
    index = PDQIndex.load(path)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    index.load(path, verify=False)
    load_unverified_s = time.perf_counter() - t0
    query = to_hex(next(stored_chunks(1, seed))[1])[0]
    t0 = time.perf_counter()
    index.query(query)
    return {
        "load_s": load_s,
        "load_unverified_s": load_unverified_s,
        "first_query_ms": (time.perf_counter() - t0) * 1000,
        "rss_after_load_mb": rss_mb() - before,
    }


# --- driver ---------------------------------------------------------------------------------


def subprocess_json(args: list[str], timeout: float) -> dict:
    cmd = [sys.executable, __file__, *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(rows: list[dict]) -> str:
    head = (
        "| size | index | single q/s (wall) | single q/CPU-s | batched q/s | recall@31 | build s "
        "| index MiB | peak RSS MiB | vs pytx PDQIndex (q/CPU-s, peak RSS) |\n"
        "|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['n']:,} | {row['name']} | error: {row['error']} |||||||||")
            continue
        base = next(
            (r for r in rows if r.get("name") == "pytx_PDQIndex" and r["n"] == row["n"]), None
        )
        ratio = "-"
        if base and "error" not in base:
            speed = row["single_qps_cpu"] / base["single_qps_cpu"]
            ratio = f"{speed:.1f}x, {row['peak_rss_mb'] / base['peak_rss_mb']:.2f}x"
        lines.append(
            f"| {row['n']:,} | {row['name']} | {row['single_qps']:,.0f} "
            f"| {row['single_qps_cpu']:,.0f} | {row['batch_qps']:,.0f} "
            f"| {row['recall']:.3f}{'' if row['exact'] else ' (not exact)'} | {row['build_s']:.1f} "
            f"| {row['index_mb']:,.0f} | {row['peak_rss_mb']:,.0f} | {ratio} |"
        )
    return "\n".join(lines)


def large_table(big: dict, load: dict) -> str:
    return "\n".join(
        [
            "| measure | value |",
            "|---|---|",
            f"| hashes | {big['n']:,} |",
            f"| build s: add_words / with the final compact() "
            f"| {big['add_s']:.1f} / {big['build_s']:.1f} |",
            f"| segments | {big['segments']} |",
            f"| single q/s, one thread (wall / per CPU-second) "
            f"| {big['single_qps']:,.0f} / {big['single_qps_cpu']:,.0f} |",
            f"| batched q/s (median of 3 passes; all: "
            f"{', '.join(f'{q:,.0f}' for q in big.get('batch_qps_passes', []))}) "
            f"| {big['batch_qps']:,.0f} |",
            f"| recall@31 vs brute force ({big['recall_queries']} queries) "
            f"| {big['recall_sample']:.3f} |",
            f"| resident memory after build, MiB (whole process) | {big['rss_mb']:,.0f} |",
            f"| of which on transparent huge pages, MiB | {big.get('huge_pages_mb', 0):,.0f} |",
            f"| of which the index, MiB | {big['index_mb']:,.0f} |",
            f"| peak RSS while building, MiB | {big['peak_rss_mb']:,.0f} |",
            f"| add -> visible to query, ms | {big['add_visible_ms']:.2f} |",
            f"| snapshot save s / size MiB | {big['save_s']:.1f} / {big['snapshot_mb']:,.0f} |",
            f"| bytes per hash, ids included: snapshot / resident index "
            f"| {big['snapshot_mb'] * 2**20 / big['n']:.1f} / "
            f"{big['index_mb'] * 2**20 / big['n']:.1f} |",
            f"| snapshot load s (CRC-checked / unchecked) "
            f"| {load.get('load_s', float('nan')):.2f} / "
            f"{load.get('load_unverified_s', float('nan')):.3f} |",
            f"| first query after load, ms | {load.get('first_query_ms', float('nan')):.1f} |",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="comma list for the comparison")
    parser.add_argument(
        "--n10m",
        "--n",
        dest="large",
        type=int,
        default=10_000_000,
        help="size of the Countersignal-only run (0 skips it)",
    )
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--contenders", default=",".join(CONTENDERS))
    parser.add_argument(
        "--budget-s",
        type=float,
        default=20.0,
        help="per contender, stop single queries after this long",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--docs", type=Path, help="also write the results into this Markdown file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--truth", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--step", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker == "truth":
        save_truth(args.path, args.size, args.queries, args.seed, args.step)
        print("{}")
        return
    if args.worker == "large":
        big = run_large(args.size, args.queries, args.seed, args.path, args.truth, args.step)
        print(json.dumps(big))
        return
    if args.worker == "load":
        print(json.dumps(run_load(args.path, args.seed)))
        return
    if args.worker:
        row = run_contender(
            args.worker, args.size, args.queries, args.seed, args.budget_s, args.truth
        )
        print(json.dumps(row))
        return

    from countersignal.index._kernels import ISA  # the kernels' build picked for this CPU

    header = (
        f"Machine: {describe(load=True)}; Python {platform.python_version()}; "
        f"index kernels: {ISA}"
    )
    print(header, flush=True)
    rows = []
    work = Path(tempfile.mkdtemp(prefix="pdq-bench-"))
    for n in [int(s) for s in args.sizes.split(",") if s]:
        common = ["--size", str(n), "--queries", str(args.queries), "--seed", str(args.seed)]
        truth = work / f"truth-{n}.npz"
        subprocess_json(["--worker", "truth", *common, "--path", str(truth)], timeout=3600)
        for name in args.contenders.split(","):
            row = subprocess_json(
                [
                    "--worker",
                    name,
                    *common,
                    "--budget-s",
                    str(args.budget_s),
                    "--truth",
                    str(truth),
                ],
                timeout=3600,
            )
            rows.append({"name": name, "n": n, **row})
            print(json.dumps(rows[-1]), flush=True)
    comparison = table(rows)
    print(comparison)
    large = ""
    if args.large:
        common = [
            "--size",
            str(args.large),
            "--queries",
            str(args.queries),
            "--seed",
            str(args.seed),
        ]
        step = ["--step", str(max(1, args.queries // 300))]  # brute force on a 300-query sample
        truth = work / "truth-large.npz"
        subprocess_json(["--worker", "truth", *common, *step, "--path", str(truth)], timeout=7200)
        big = subprocess_json(
            ["--worker", "large", *common, *step, "--path", str(work), "--truth", str(truth)],
            timeout=7200,
        )
        print(json.dumps(big), flush=True)
        load = {}
        if "error" not in big:
            load_args = [
                "--worker",
                "load",
                "--path",
                str(work / "pdq.idx"),
                "--seed",
                str(args.seed),
            ]
            load = subprocess_json(load_args, timeout=600)
            print(json.dumps(load), flush=True)
        large = large_table(big, load) if "error" not in big else f"large run failed: {big}"
        print(large)
    shutil.rmtree(work, ignore_errors=True)
    if args.docs:
        command = "python bench/pdq_index.py " + " ".join(sys.argv[1:])
        block = f"{header}\n\nCommand: `{command}`\n\n{comparison}\n\n{large}"
        replace_section(args.docs, "pdq_index", block)


if __name__ == "__main__":
    main()
