"""Exact PDQ range index: every stored hash within a Hamming threshold, fast, incremental.

Structure (see ``_kernels.c`` for why it is exact): an append *buffer* searched by brute force
(at most ``BUFFER_ROWS`` rows) plus a few immutable *segments*, each with the two-sided
16-bit multi-index tables, which also hold the hashes (a row's entries are linked in a
cycle). A full buffer becomes a segment; small segments merge log-structured style while the
merge stays under ``MERGE_LIMIT`` rows, so an ``add`` never stalls for a large rebuild. Beyond
``MAX_SEGMENTS`` segments a background thread merges them all (:meth:`PDQIndex.compact`, also
callable after a bulk load) while queries continue.
Removes are tombstones (a per-row ``alive`` flag) dropped at the next merge.

Memory per hash: 4 B id (8 B when an id does not fit in uint32) + 1 B alive + 16 x 2 B tails +
8 x 3 B links = 61 B, plus 4 MiB of bucket offsets per segment (segments hold at most
``SEGMENT_MAX_ROWS`` rows: 0.25 B a hash when full).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache, lru_cache
from math import comb
from pathlib import Path
from typing import ClassVar

import numpy as np

from countersignal.errors import InvalidInput, InvalidSignal
from countersignal.index import _kernels as kernels
from countersignal.index.base import SignalIndex, as_id_array
from countersignal.index.snapshot import SnapshotError, read_snapshot, write_snapshot

DEFAULT_THRESHOLD = 31
MAX_THRESHOLD = 256
BUFFER_ROWS = 4096
MERGE_LIMIT = 1_000_000
SEGMENT_MAX_ROWS = (1 << 24) - 1  # links in the tables take 3 bytes
MAX_SEGMENTS = 8  # beyond this, adds start a background compaction
SNAPSHOT_KIND = "pdq"
BATCH_MIN = 16  # smaller batches go query by query (lowest latency)
_WORKERS = max(1, min(os.cpu_count() or 1, 8))
_BUILD_THREADS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else _WORKERS


def as_words(values: Sequence[str] | np.ndarray) -> np.ndarray:
    """PDQ hashes as a contiguous ``(n, 4)`` uint64 array from hex strings or arrays.

    Accepts hex strings, ``(n, 4)`` uint64 words or ``(n, 32)`` uint8 bytes (hex order).
    """
    if isinstance(values, np.ndarray):
        if values.ndim == 2 and values.shape[1] == 4 and values.dtype == np.uint64:
            return np.ascontiguousarray(values)
        if values.ndim == 2 and values.shape[1] == 32 and values.dtype == np.uint8:
            raw = np.ascontiguousarray(values).view(">u8")
            return raw.astype(np.uint64).reshape(-1, 4)
        if values.dtype.kind not in "US":
            raise InvalidInput(
                "PDQ array must be (n, 4) uint64 or (n, 32) uint8, "
                f"not {values.shape} {values.dtype}"
            )
        values = values.tolist()
    return _hex_to_words(values)


def _hex_to_words(values: Sequence[str]) -> np.ndarray:
    """One ``bytes.fromhex`` over the joined strings.

    Same result as ``countersignal.signals.pdq.hex_to_words``, kept here so the index imports
    without the imaging and settings stack (about 25 MB of resident memory per process).
    """
    values = list(values)
    if not all(isinstance(v, str) and len(v) == 64 for v in values):
        bad = next(v for v in values if not isinstance(v, str) or len(v) != 64)
        raise InvalidSignal(f"{str(bad)[:80]!r} is not a pdq hash: expected 64 hex digits")
    try:
        raw = bytes.fromhex("".join(values))
    except ValueError as exc:
        raise InvalidSignal(f"not a list of pdq hashes: {exc}") from None
    if len(raw) != 32 * len(values):  # fromhex skips whitespace
        raise InvalidSignal("not a list of pdq hashes: whitespace inside a hash")
    return np.frombuffer(raw, dtype=">u8").astype(np.uint64).reshape(len(values), 4)


@cache
def word_radii(threshold: int) -> np.ndarray:
    """Per-word search radii with ``sum(radius + 1) == threshold + 1`` (-1: word not probed)."""
    base, extra = divmod(threshold + 1, kernels.N_WORDS)
    radii = np.array([base - 1 + (w < extra) for w in range(kernels.N_WORDS)], dtype=np.int64)
    radii.flags.writeable = False
    return radii


def _ball(radius: int) -> int:
    """16-bit masks within ``radius`` bits: the buckets one side of a word probes."""
    return sum(comb(16, d) for d in range(radius + 1))


@cache
def _probe_cost(threshold: int) -> int | None:
    """Buckets probed per segment at ``threshold``; None when a ball exceeds the kernel's
    mask table."""
    cost = 0
    for s in word_radii(threshold).tolist():
        a_hi = s // 2  # as hi_radius() in _kernels.c
        a_lo = s - 1 - a_hi
        if a_hi > kernels.MAX_MASK_RADIUS:
            return None
        cost += _ball(a_hi) if s >= 0 else 0
        cost += _ball(a_lo) if a_lo >= 0 else 0
    return cost


@cache
def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def _return_freed_memory() -> None:
    """Give freed build temporaries back to the OS.

    glibc keeps freed blocks below its (self-raising, up to 32 MiB) mmap threshold in the heap,
    so a 10M-hash build otherwise leaves ~100 MB of dead temporaries resident for good.
    """
    libc = _libc()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)


@lru_cache(maxsize=4096)
def _use_index(threshold: int, n: int) -> bool:
    """Multi-index probing beats a linear scan unless the balls are huge for this size."""
    probes = _probe_cost(threshold)
    return probes is not None and probes * (n / 65536 + 4) < n / 2


def _empty_tables(n: int) -> tuple[np.ndarray, ...]:
    """Uninitialised tables for ``n`` rows, for the kernel to fill.

    Allocated by numpy, which asks the kernel for transparent huge pages on large arrays: the
    search's random bucket reads measured ~1.4x faster at 100M rows with them (fewer TLB
    misses)."""
    words, offsets = kernels.N_WORDS, kernels.N_BUCKETS + 1
    return (
        np.empty((words, offsets), dtype=np.uint32),
        np.empty((words, n), dtype=np.uint16),
        np.empty((words, n, 3), dtype=np.uint8),
        np.empty((words, offsets), dtype=np.uint32),
        np.empty((words, n), dtype=np.uint16),
    )


TABLE_NAMES = ("hi_off", "hi_tail", "hi_next", "lo_off", "lo_tail")


@dataclass
class _Segment:
    """Immutable rows (sorted by word 0) held as their tables, or the buffer's plain hashes;
    only ``alive`` ever changes."""

    ids: np.ndarray
    alive: np.ndarray
    tables: tuple[np.ndarray, ...] = ()  # TABLE_NAMES
    hashes: np.ndarray | None = None  # the buffer's rows (a segment's are in its tables)
    native: kernels.SegmentTables | None = None  # the kernel's checked view of the tables

    def __post_init__(self) -> None:
        if self.tables and self.native is None:
            # raises ValueError on inconsistent arrays (e.g. a damaged snapshot)
            self.native = kernels.SegmentTables(self.alive, *self.tables)

    @classmethod
    def build(cls, hashes: np.ndarray, ids: np.ndarray) -> _Segment:
        order = np.empty(len(hashes), dtype=np.uint32)
        tables = _empty_tables(len(ids))
        kernels.build_segment(np.ascontiguousarray(hashes), order, *tables, _BUILD_THREADS)
        small = len(ids) == 0 or (ids.min() >= 0 and ids.max() <= np.iinfo(np.uint32).max)
        ids = np.ascontiguousarray(ids[order], dtype=np.uint32 if small else np.int64)
        return cls(ids, np.ones(len(ids), dtype=np.uint8), tables)

    @classmethod
    def build_all(cls, hashes: np.ndarray, ids: np.ndarray) -> list[_Segment]:
        """Segments of at most ``SEGMENT_MAX_ROWS`` rows."""
        segments = [
            cls.build(
                hashes[start : start + SEGMENT_MAX_ROWS], ids[start : start + SEGMENT_MAX_ROWS]
            )
            for start in range(0, len(ids), SEGMENT_MAX_ROWS)
        ]
        if len(ids) >= 1 << 18:
            _return_freed_memory()
        return segments

    def decode(self) -> np.ndarray:
        """The rows' hashes, ``(n, 4)`` uint64 in row order, read back from the tables."""
        if self.native is None:
            return self.hashes
        hashes = np.empty((len(self.ids), 4), dtype=np.uint64)
        self.native.decode(0, hashes)
        return hashes

    @property
    def live(self) -> int:
        return int(np.count_nonzero(self.alive))

    def search(self, query: np.ndarray, threshold: int, out: _Out) -> tuple[np.ndarray, ...]:
        """``(rows, distances)`` of one query's hits (views of ``out``'s buffers)."""
        if self.native is not None and not _use_index(threshold, len(self.ids)):
            return self.search_many(query.reshape(1, 4), threshold)[:2]
        while True:
            if self.native is not None:
                count = self.native.search(query, threshold, out.rows, out.dist)
            else:
                count = kernels.search_brute(
                    query, self.hashes, self.alive, threshold, out.rows, out.dist
                )
            if count <= len(out.rows):
                return out.rows[:count], out.dist[:count]
            out.grow(count)

    def search_many(self, queries: np.ndarray, threshold: int) -> tuple[np.ndarray, ...]:
        """``(rows, distances, query positions)`` of every hit of every query."""
        capacity = max(1024, 4 * len(queries))
        while True:
            rows, dist, qpos = (np.empty(capacity, dtype=np.int64) for _ in range(3))
            if self.native is None:
                count = kernels.search_brute(
                    queries, self.hashes, self.alive, threshold, rows, dist, qpos
                )
            elif _use_index(threshold, len(self.ids)):
                count = self.native.search_many(queries, threshold, rows, dist, qpos)
            else:  # balls covering most buckets: a linear scan of the decoded rows
                count = self.native.search_brute(queries, threshold, rows, dist, qpos)
            if count <= capacity:
                return rows[:count], dist[:count], qpos[:count]
            capacity = 2 * count


class _Out:
    """Reusable result buffers for the kernels (grown when a query overflows them)."""

    def __init__(self, capacity: int = 1024) -> None:
        self.rows = np.empty(capacity, dtype=np.int64)
        self.dist = np.empty(capacity, dtype=np.int64)

    def grow(self, needed: int) -> None:
        self.rows = np.empty(needed * 2, dtype=np.int64)
        self.dist = np.empty(needed * 2, dtype=np.int64)


class PDQIndex(SignalIndex):
    """Exact Hamming range search over 256-bit PDQ hashes (recall 1.0 at every threshold).

    >>> index = PDQIndex()
    >>> index.add([7], ["f" * 64])
    >>> index.query("f" * 63 + "e")
    [(7, 1)]
    """

    signal_type: ClassVar[str] = "pdq"

    def __init__(self) -> None:
        self._segments: list[_Segment] = []
        self._buf_hashes = np.empty((BUFFER_ROWS, 4), dtype=np.uint64)
        self._buf_ids = np.empty(BUFFER_ROWS, dtype=np.int64)
        self._buf_alive = np.zeros(BUFFER_ROWS, dtype=np.uint8)
        self._buf_n = 0
        self._size = 0
        self._lock = threading.RLock()
        self._local = threading.local()
        self._compacting: threading.Thread | None = None
        self._removed_while_compacting: list[np.ndarray] = []

    # --- writing ---------------------------------------------------------------------------

    def add(self, ids: Sequence[int] | np.ndarray, values: Sequence[str]) -> None:
        """Store hex hashes under ids; matchable by the very next query."""
        words = as_words(values)
        self.add_words(as_id_array(ids, len(words)), words)

    def add_words(self, ids: Sequence[int] | np.ndarray, words: np.ndarray) -> None:
        """Store ``(n, 4)`` uint64 (or ``(n, 32)`` uint8) hashes: the bulk path, no hex."""
        words = as_words(words)
        ids = as_id_array(ids, len(words))
        with self._lock:
            if len(words) >= BUFFER_ROWS:
                for segment in _Segment.build_all(words, ids):
                    self._add_segment(segment)
            elif len(words):
                self._append_buffer(words, ids)
            self._size += len(ids)

    def _append_buffer(self, words: np.ndarray, ids: np.ndarray) -> None:
        take = min(len(words), BUFFER_ROWS - self._buf_n)
        end = self._buf_n + take
        self._buf_hashes[self._buf_n : end] = words[:take]
        self._buf_ids[self._buf_n : end] = ids[:take]
        self._buf_alive[self._buf_n : end] = 1
        self._buf_n = end
        if self._buf_n == BUFFER_ROWS:
            self._seal_buffer()
        if take < len(words):
            self._append_buffer(words[take:], ids[take:])

    def _seal_buffer(self) -> None:
        keep = self._buf_alive[: self._buf_n].astype(bool)
        if keep.any():
            hashes = self._buf_hashes[: self._buf_n][keep]
            self._add_segment(_Segment.build(hashes, self._buf_ids[: self._buf_n][keep]))
        # fresh arrays: a query that took the old ones before this seal keeps a stable view
        self._buf_hashes = np.empty((BUFFER_ROWS, 4), dtype=np.uint64)
        self._buf_ids = np.empty(BUFFER_ROWS, dtype=np.int64)
        self._buf_alive = np.zeros(BUFFER_ROWS, dtype=np.uint8)
        self._buf_n = 0

    def _add_segment(self, segment: _Segment) -> None:
        """Append, then merge the tail while it is lopsided and the result stays small."""
        segments = [*self._segments, segment]
        while len(segments) >= 2 and self._compacting is None:  # never merge a source away
            last, prev = segments[-1], segments[-2]
            merged_size = last.live + prev.live
            if prev.live > 4 * last.live or merged_size > MERGE_LIMIT:
                break
            segments[-2:] = _merge([prev, last])
        segments.sort(key=lambda seg: -len(seg.ids))
        self._segments = segments
        if len(segments) > MAX_SEGMENTS and self._compacting is None:
            self.compact(background=True)

    def remove(self, ids: Sequence[int]) -> int:
        """Tombstone every entry under these ids; returns how many entries were removed."""
        targets = np.unique(as_id_array(ids, len(ids)))
        removed = 0
        with self._lock:
            for seg_ids, alive in self._parts():
                hit = np.isin(seg_ids, targets, assume_unique=False) & (alive == 1)
                removed += int(np.count_nonzero(hit))
                alive[hit] = 0
            self._size -= removed
            if self._compacting is not None:  # replayed onto the merged segments
                self._removed_while_compacting.append(targets)
        return removed

    def _parts(self) -> list[tuple[np.ndarray, np.ndarray]]:
        parts = [(seg.ids, seg.alive) for seg in self._segments]
        parts.append((self._buf_ids[: self._buf_n], self._buf_alive[: self._buf_n]))
        return parts

    def compact(self, *, background: bool = False) -> threading.Thread | None:
        """Merge the buffer and every segment into as few segments as possible, dropping
        removed rows. Full segments without removed rows are left as they are (merging them
        would rebuild them unchanged), so compacting a compact index costs nothing.

        With ``background`` the merge runs in a thread (the kernels release the GIL) while
        queries, adds and removes go on against the old segments; the swap is atomic and
        removes made meanwhile are replayed. Returns that thread (None when run inline).
        """
        while True:
            with self._lock:
                running = self._compacting
                if running is None:
                    self._compacting = threading.current_thread()  # no tail merges meanwhile
                    break
            if background:
                return running
            running.join()
        with self._lock:
            try:
                if self._buf_n:
                    self._seal_buffer()
                sources = [seg for seg in self._segments if not _is_full(seg)]
                if len(sources) <= 1 and all(seg.live == len(seg.ids) for seg in sources):
                    self._compacting = None
                    return None
                self._removed_while_compacting = []
                if not background:
                    self._merge_and_swap(sources)
                    return None
                thread = threading.Thread(
                    target=self._merge_and_swap, args=(sources,), name="pdq-compact", daemon=True
                )
                self._compacting = thread
                thread.start()  # under the lock: a joiner never sees an unstarted thread
            except BaseException:
                self._compacting = None
                raise
        return thread

    def _merge_and_swap(self, sources: list[_Segment]) -> None:
        try:
            merged = _merge(sources)
        except BaseException:
            with self._lock:
                self._compacting = None
            raise
        self._swap_in(sources, merged)

    def _swap_in(self, sources: list[_Segment], merged: list[_Segment]) -> None:
        with self._lock:
            for targets in self._removed_while_compacting:
                for seg in merged:
                    seg.alive[np.isin(seg.ids, targets)] = 0
            kept = [seg for seg in self._segments if all(seg is not src for src in sources)]
            self._segments = sorted(kept + merged, key=lambda seg: -len(seg.ids))
            self._removed_while_compacting = []
            self._compacting = None

    # --- reading ---------------------------------------------------------------------------

    def _out(self) -> _Out:
        out = getattr(self._local, "out", None)
        if out is None:
            out = self._local.out = _Out()
        return out

    def query(self, value: str, threshold: int | None = None) -> list[tuple[int, int]]:
        """``(id, distance)`` of every stored hash within ``threshold`` (default 31)."""
        return self.query_words(as_words([value]), threshold)[0]

    def query_batch(
        self, values: Sequence[str], threshold: int | None = None
    ) -> list[list[tuple[int, int]]]:
        return self.query_words(as_words(values), threshold)

    def query_words(
        self, words: np.ndarray, threshold: int | None = None
    ) -> list[list[tuple[int, int]]]:
        """Range search for each row of ``(n, 4)`` uint64 hashes (batches use every core)."""
        threshold = _check_threshold(threshold)
        words = as_words(words)
        with self._lock:
            segments, buf_n = self._segments, self._buf_n
            buf = _Segment(
                self._buf_ids[:buf_n], self._buf_alive[:buf_n], hashes=self._buf_hashes[:buf_n]
            )
        parts = [*segments, buf] if len(buf.ids) else list(segments)
        if len(words) < BATCH_MIN:
            return [self._query_one(q, threshold, parts) for q in words]
        workers = min(_WORKERS, -(-len(words) // BATCH_MIN))
        groups = _balanced_groups(parts, workers)
        if groups is not None:  # each thread sweeps its own segments with the whole batch
            found = list(_executor().map(lambda g: _batch_hits(words, threshold, g), groups))
            ids, dist, qpos = ([part for f in found for part in f[i]] for i in range(3))
            return _ranked_many(len(words), ids, dist, qpos)
        chunks = np.array_split(words, workers)  # else each thread takes a share of the queries
        ranked = _executor().map(
            lambda c: _ranked_many(len(c), *_batch_hits(c, threshold, parts)), chunks
        )
        return [result for part in ranked for result in part]

    def _query_one(self, query, threshold, parts) -> list[tuple[int, int]]:
        out = self._out()
        found_ids, found_dist = [], []
        for seg in parts:
            rows, dist = seg.search(query, threshold, out)
            if len(rows):
                found_ids.append(seg.ids[rows])
                found_dist.append(dist.copy())
        return _ranked(found_ids, found_dist)

    def __len__(self) -> int:
        return self._size

    # --- snapshots -------------------------------------------------------------------------

    def snapshot_arrays(self) -> dict[str, np.ndarray]:
        """Every array the index needs, by name (buffer included, as-is)."""
        arrays: dict[str, np.ndarray] = {}
        with self._lock:
            for i, seg in enumerate(self._segments):
                arrays.update({f"s{i}.ids": seg.ids, f"s{i}.alive": seg.alive})
                arrays.update(
                    {f"s{i}.{n}": t for n, t in zip(TABLE_NAMES, seg.tables, strict=True)}
                )
            keep = self._buf_alive[: self._buf_n].astype(bool)
            arrays["buffer.hashes"] = self._buf_hashes[: self._buf_n][keep]
            arrays["buffer.ids"] = self._buf_ids[: self._buf_n][keep]
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> PDQIndex:
        """Inverse of :meth:`snapshot_arrays` (arrays may be read-only memory maps)."""
        index = cls()
        i = 0
        while f"s{i}.ids" in arrays:
            if f"s{i}.hashes" in arrays:
                segments = _legacy_segments(arrays, i)
            else:
                try:  # the kernel checks the tables' sizes and offsets
                    seg = _Segment(
                        arrays[f"s{i}.ids"],
                        arrays[f"s{i}.alive"].copy(),
                        tuple(arrays[f"s{i}.{n}"] for n in TABLE_NAMES),
                    )
                except ValueError as exc:
                    raise SnapshotError(f"PDQ snapshot arrays are inconsistent: {exc}") from None
                _check_segment(seg)
                segments = [seg]
            index._segments.extend(segments)
            index._size += sum(seg.live for seg in segments)
            i += 1
        buf_hashes, buf_ids = arrays["buffer.hashes"], arrays["buffer.ids"]
        if len(buf_hashes):
            index._append_buffer(np.asarray(buf_hashes), np.asarray(buf_ids))
            index._size += len(buf_ids)
        return index

    def save(self, path: Path) -> None:
        write_snapshot(path, SNAPSHOT_KIND, {"size": len(self)}, self.snapshot_arrays())

    def snapshot_writer(self, path: Path):
        """Cheap capture (segments are immutable; only tombstones and the buffer are copied),
        so the matcher's lock is held for milliseconds, not for the whole file write."""
        with self._lock:
            arrays = {
                name: array.copy() if name.endswith(".alive") else array
                for name, array in self.snapshot_arrays().items()
            }
            size = len(self)
        return lambda: write_snapshot(path, SNAPSHOT_KIND, {"size": size}, arrays)

    @classmethod
    def load(cls, path: Path, *, verify: bool = True, in_memory: bool = False) -> PDQIndex:
        """Memory-map a snapshot; ``verify`` checks every array's CRC-32 first.

        ``in_memory`` copies the arrays out of the file's pages into process memory (one more
        pass over the file): numpy gives the copies transparent huge pages, which makes the
        search of a large index faster (1.4x measured at 100M rows: fewer TLB misses on the
        random bucket reads), at the cost of the copy and of memory no longer shared with the
        page cache.
        """
        _meta, arrays = read_snapshot(path, SNAPSHOT_KIND, verify=verify)
        if in_memory:
            arrays = {name: np.array(array) for name, array in arrays.items()}
        return cls.from_arrays(arrays)


def _check_threshold(threshold: int | None) -> int:
    if threshold is None:
        return DEFAULT_THRESHOLD
    if isinstance(threshold, bool) or int(threshold) != threshold:
        raise InvalidInput(f"PDQ threshold must be an integer, not {threshold!r}")
    if not 0 <= threshold <= MAX_THRESHOLD:
        raise InvalidInput(f"PDQ threshold {threshold} must be between 0 and {MAX_THRESHOLD}")
    return int(threshold)


def _check_segment(seg: _Segment) -> None:
    """Shape checks (the ids and the arrays' dimensions, which the kernel does not see) so a
    consistent-checksum but malformed snapshot fails loudly."""
    n = len(seg.ids)
    hi_off, hi_tail, hi_next, lo_off, lo_tail = seg.tables
    ok = (
        seg.ids.shape == seg.alive.shape == (n,)
        and hi_off.shape == lo_off.shape == (kernels.N_WORDS, kernels.N_BUCKETS + 1)
        and hi_tail.shape == lo_tail.shape == (kernels.N_WORDS, n)
        and hi_next.shape == (kernels.N_WORDS, n, 3)
    )  # sizes in bytes and the bucket offsets: checked by the kernel (SegmentTables)
    if not ok:
        raise SnapshotError("PDQ snapshot arrays have inconsistent shapes")


def _legacy_segments(arrays: dict[str, np.ndarray], i: int) -> list[_Segment]:
    """Segment ``i`` of a snapshot written before the tables held the hashes (it kept them
    beside the tables: 88 B a hash), rebuilt from its live rows."""
    hashes, ids, alive = (np.asarray(arrays[f"s{i}.{n}"]) for n in ("hashes", "ids", "alive"))
    if hashes.shape != (len(ids), 4) or alive.shape != ids.shape or ids.ndim != 1:
        raise SnapshotError("PDQ snapshot arrays have inconsistent shapes")
    live = alive.astype(bool)
    return _Segment.build_all(hashes[live], ids[live].astype(np.int64))


def _is_full(seg: _Segment) -> bool:
    """A segment at the row limit with no removed rows: nothing a merge could improve."""
    return len(seg.ids) == SEGMENT_MAX_ROWS and seg.live == len(seg.ids)


def _merge(segments: list[_Segment]) -> list[_Segment]:
    """The live rows of ``segments`` rebuilt as as few segments as the row limit allows."""
    keep = [seg.alive.astype(bool) for seg in segments]
    hashes = np.concatenate([seg.decode()[k] for seg, k in zip(segments, keep, strict=True)])
    ids = np.concatenate(
        [seg.ids[k].astype(np.int64) for seg, k in zip(segments, keep, strict=True)]
    )
    return _Segment.build_all(hashes, ids)


@cache
def _executor() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="pdq-query")


def _batch_hits(queries, threshold, segments: list[_Segment]) -> tuple[list, list, list]:
    """Every segment's hits for a batch: ids, distances and query positions, per segment."""
    ids, dist, qpos = [], [], []
    for seg in segments:
        rows, d, q = seg.search_many(queries, threshold)
        ids.append(seg.ids[rows].astype(np.int64))
        dist.append(d)
        qpos.append(q)
    return ids, dist, qpos


def _balanced_groups(parts: list[_Segment], workers: int) -> list[list[_Segment]] | None:
    """Segments shared among ``workers`` threads by rows, when the shares come out even
    (within 25%); None otherwise. A thread that takes whole segments searches each with the
    whole batch: twice the probes per sweep of its tables, more bucket reads shared between
    queries, than when the threads split the queries (measured at 100M: docs/scaling.md)."""
    if workers < 2 or len(parts) < workers:
        return None
    groups: list[list[_Segment]] = [[] for _ in range(workers)]
    rows = [0] * workers
    for seg in sorted(parts, key=lambda seg: -len(seg.ids)):
        least = rows.index(min(rows))
        groups[least].append(seg)
        rows[least] += len(seg.ids)
    return groups if max(rows) <= 1.25 * sum(rows) / workers else None


def _ranked_many(n_queries: int, ids, dist, qpos) -> list[list[tuple[int, int]]]:
    """Per query: sorted by (distance, id), an id at most once (at its nearest)."""
    ids = np.concatenate(ids) if ids else np.zeros(0, np.int64)
    dist = np.concatenate(dist) if dist else np.zeros(0, np.int64)
    qpos = np.concatenate(qpos) if qpos else np.zeros(0, np.int64)
    order = np.lexsort((dist, ids, qpos))
    ids, dist, qpos = ids[order], dist[order], qpos[order]
    first = np.ones(len(ids), dtype=bool)
    first[1:] = (qpos[1:] != qpos[:-1]) | (ids[1:] != ids[:-1])
    ids, dist, qpos = ids[first], dist[first], qpos[first]
    order = np.lexsort((ids, dist, qpos))
    ids, dist, qpos = ids[order].tolist(), dist[order].tolist(), qpos[order]
    bounds = np.searchsorted(qpos, np.arange(n_queries + 1)).tolist()
    pairs = list(zip(ids, dist, strict=True))
    return [pairs[bounds[q] : bounds[q + 1]] for q in range(n_queries)]


def _ranked(found_ids: list[np.ndarray], found_dist: list[np.ndarray]) -> list[tuple[int, int]]:
    """Sort by (distance, id); an id stored twice is reported once, at its nearest."""
    if not found_ids:
        return []
    ids = np.concatenate(found_ids)
    dist = np.concatenate(found_dist)
    if len(ids) > 1:
        order = np.lexsort((ids, dist))
        ids, dist = ids[order], dist[order]
        _, first = np.unique(ids, return_index=True)
        if len(first) < len(ids):
            first.sort()
            ids, dist = ids[first], dist[first]
    return list(zip(ids.tolist(), dist.tolist(), strict=True))
