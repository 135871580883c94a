"""PDQIndex: exact recall against brute force, incremental changes, snapshots."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from countersignal.errors import InvalidInput, InvalidSignal
from countersignal.index import pdq as pdq_module
from countersignal.index.pdq import BUFFER_ROWS, PDQIndex, as_words, word_radii
from countersignal.index.snapshot import SnapshotError
from countersignal.signals.pdq import PDQ, words_to_hex

from .conftest import brute_force, flip_bits, random_hashes, skewed_hashes

THRESHOLDS = [0, 1, 15, 31, 32, 63]


def _queries(rng, hashes, n=120):
    near = flip_bits(rng, hashes[rng.integers(0, len(hashes), n)], rng.integers(0, 70, n))
    return np.concatenate([near, random_hashes(rng, n // 4), np.zeros((1, 4), np.uint64)])


def _as_sorted(results):
    return [sorted(r) for r in results]


@pytest.mark.parametrize("threshold", THRESHOLDS)
@pytest.mark.parametrize("make", [random_hashes, skewed_hashes], ids=["uniform", "skewed"])
def test_recall_is_exact_against_brute_force(rng, make, threshold):
    hashes = make(rng, 30_000)
    ids = rng.choice(10**12, size=len(hashes), replace=False).astype(np.int64)
    index = PDQIndex()
    index.add_words(ids[:25_000], hashes[:25_000])  # one indexed segment...
    for start in range(25_000, 30_000, 700):  # ...plus small adds: a sealed segment and buffer
        index.add_words(ids[start : start + 700], hashes[start : start + 700])
    assert len(index._segments) >= 2 and index._buf_n > 0
    queries = _queries(rng, hashes)
    got = _as_sorted(index.query_words(queries, threshold))
    assert got == brute_force(queries, hashes, ids, threshold)
    assert sum(map(len, got)) > 0


def test_multi_index_path_is_the_one_tested():
    """The recall tests must exercise the tables, not fall back to brute force."""
    assert all(pdq_module._use_index(t, 20_000) for t in (0, 1, 15, 31, 32))


@pytest.mark.parametrize("threshold", range(0, 80))
def test_word_radii_satisfy_the_pigeonhole_budget(threshold):
    radii = word_radii(threshold)
    assert int((radii + 1).sum()) == threshold + 1
    assert radii.max() - radii.min() <= 1


def test_hex_api_matches_reference_compare(rng):
    hashes = random_hashes(rng, 5000)
    hexes = words_to_hex(hashes)
    index = PDQIndex()
    index.add(range(len(hexes)), hexes)
    query = words_to_hex(flip_bits(rng, hashes[:1], np.array([20])))[0]
    expected = sorted((pos, dist) for pos, dist in PDQ.compare(query, hexes, 31))
    found = index.query(query)
    assert sorted(found) == expected and found == sorted(found, key=lambda h: (h[1], h[0]))
    assert index.query_batch([query, hexes[7]], 0) == [[], [(7, 0)]]


def test_add_is_visible_to_the_next_query_and_remove_hides_it(rng):
    hashes = random_hashes(rng, 10_000)
    index = PDQIndex()
    index.add_words(np.arange(10_000), hashes)
    new = flip_bits(rng, hashes[:1], np.array([128]))
    index.add_words([99_999], new)
    assert index.query_words(new, 0)[0] == [(99_999, 0)]
    assert len(index) == 10_001
    assert index.remove([99_999, 5, 424242]) == 2
    assert index.query_words(new, 0)[0] == []
    assert index.query_words(hashes[5:6], 10)[0] == []
    assert len(index) == 9_999
    index.add_words([5], hashes[5:6])  # re-add after removal
    assert index.query_words(hashes[5:6], 0)[0] == [(5, 0)]
    assert index.remove([5]) == 1 and index.remove([5]) == 0


def test_removed_rows_are_dropped_when_segments_merge(rng):
    hashes = random_hashes(rng, 3 * BUFFER_ROWS)
    index = PDQIndex()
    for i in range(len(hashes)):  # one by one: buffer seals, segments merge
        index.add_words([i], hashes[i : i + 1])
    index.remove(list(range(0, len(hashes), 2)))
    index.compact()
    assert len(index._segments) == 1 and index._buf_n == 0
    assert len(index._segments[0].ids) == len(hashes) // 2 == len(index)
    got = _as_sorted(index.query_words(hashes[:50], 31))
    assert got == [[] if i % 2 == 0 else [(i, 0)] for i in range(50)]


def test_duplicates_values_under_many_ids_and_ids_added_twice(rng):
    value = random_hashes(rng, 1)
    index = PDQIndex()
    index.add_words([1, 2, 3], np.repeat(value, 3, axis=0))
    index.add_words([2], value)  # same id, same value: reported once
    assert index.query_words(value)[0] == [(1, 0), (2, 0), (3, 0)]
    assert index.remove([2]) == 2
    assert index.query_words(value)[0] == [(1, 0), (3, 0)]


def test_empty_index_and_bad_input():
    index = PDQIndex()
    assert len(index) == 0
    assert index.query("0" * 64) == [] and index.query_batch([]) == []
    with pytest.raises(InvalidSignal):
        index.add([1], ["xyz"])
    with pytest.raises(InvalidSignal):
        index.add([1], ["0" * 62 + " 0"])
    with pytest.raises(InvalidSignal):
        index.add([1], ["g" * 64])
    with pytest.raises(InvalidInput):
        index.add([1, 2], ["0" * 64])
    with pytest.raises(InvalidInput):
        index.query("0" * 64, threshold=-1)
    with pytest.raises(InvalidInput):
        as_words(np.zeros((2, 3), dtype=np.uint64))


def test_byte_rows_and_word_rows_are_the_same_hashes(rng):
    hashes = random_hashes(rng, 3)
    as_bytes = hashes.astype(">u8").view(np.uint8).reshape(3, 32)
    assert np.array_equal(as_words(as_bytes), hashes)
    assert np.array_equal(as_words(words_to_hex(hashes)), hashes)


def test_huge_thresholds_fall_back_to_a_scan_and_stay_exact(rng):
    hashes = random_hashes(rng, 6000)
    index = PDQIndex()
    index.add_words(np.arange(6000), hashes)
    got = _as_sorted(index.query_words(hashes[:3], 120))
    assert got == brute_force(hashes[:3], hashes, np.arange(6000), 120)
    assert len(index.query_words(hashes[:1], 256)[0]) == 6000


def test_snapshot_round_trip_keeps_every_answer(rng, tmp_path):
    hashes = skewed_hashes(rng, 12_000)
    index = PDQIndex()
    index.add_words(np.arange(10_000), hashes[:10_000])
    index.add_words(np.arange(10_000, 12_000), hashes[10_000:])
    index.remove([3, 10_001])
    path = tmp_path / "pdq.idx"
    index.save(path)
    loaded = PDQIndex.load(path)
    assert len(loaded) == len(index) == 11_998
    queries = _queries(rng, hashes, 40)
    assert _as_sorted(loaded.query_words(queries)) == _as_sorted(index.query_words(queries))
    loaded.add_words([777_777], hashes[:1])  # a loaded (memory-mapped) index stays mutable
    assert (777_777, 0) in loaded.query_words(hashes[:1])[0]
    assert loaded.remove([4]) == 1
    copied = PDQIndex.load(path, in_memory=True)  # arrays copied out of the file's pages
    seg = copied._segments[0]
    assert all(not isinstance(a, np.memmap) and a.flags.owndata for a in (seg.ids, *seg.tables))
    assert _as_sorted(copied.query_words(queries)) == _as_sorted(index.query_words(queries))
    path.unlink()  # nothing refers to the file any more
    assert copied.remove([5]) == 1
    assert all(i != 5 for i, _ in copied.query_words(hashes[5:6], 0)[0])


def test_corrupt_snapshot_gives_a_clear_error(rng, tmp_path):
    index = PDQIndex()
    index.add_words(np.arange(5000), random_hashes(rng, 5000))
    path = tmp_path / "pdq.idx"
    index.save(path)
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF
    (tmp_path / "flipped.idx").write_bytes(data)
    with pytest.raises(SnapshotError, match="checksum"):
        PDQIndex.load(tmp_path / "flipped.idx")
    (tmp_path / "cut.idx").write_bytes(path.read_bytes()[:5000])
    with pytest.raises(SnapshotError, match="truncated"):
        PDQIndex.load(tmp_path / "cut.idx")
    (tmp_path / "other.idx").write_bytes(b"not an index at all, just some text" * 3)
    with pytest.raises(SnapshotError, match="not a Countersignal"):
        PDQIndex.load(tmp_path / "other.idx")


def test_damaged_tables_with_valid_checksums_are_refused_or_contained(rng):
    """A snapshot written by a buggy or hostile peer can carry consistent checksums: the
    kernel must refuse tables that are not a partition and never read outside its arrays."""
    hashes = random_hashes(rng, 6000)
    index = PDQIndex()
    index.add_words(np.arange(6000), hashes)
    arrays = {name: np.array(a) for name, a in index.snapshot_arrays().items()}

    shuffled = dict(arrays, **{"s0.hi_off": arrays["s0.hi_off"].copy()})
    shuffled["s0.hi_off"][3, 100] = 10**9  # an offset past the end, mid-table
    with pytest.raises(SnapshotError, match="not a partition"):
        PDQIndex.from_arrays(shuffled)
    short = dict(arrays, **{"s0.lo_tail": arrays["s0.lo_tail"][:, :-1].copy()})
    with pytest.raises(SnapshotError, match="lo_tail"):
        PDQIndex.from_arrays(short)

    # links pointing far outside the segment, or to the wrong rows: the walks that follow
    # them are dropped or answer wrongly, but only ever with rows of this segment
    queries = hashes[:50]
    for fill in (0xFF, 0x00):
        wild = dict(arrays, **{"s0.hi_next": np.full_like(arrays["s0.hi_next"], fill)})
        damaged = PDQIndex.from_arrays(wild)
        for threshold in (31, 200):  # the multi-index search and the linear scan
            found = damaged.query_words(queries, threshold)
            assert all(0 <= i < 6000 for hits in found for i, _ in hits)
        assert len(damaged._segments[0].decode()) == 6000


@pytest.mark.parametrize("threshold", [0, 31, 63])
def test_batches_in_table_order_agree_with_one_query_at_a_time(rng, threshold):
    """Batches of ``SORTED_MIN`` queries or more take every probe in table order (in chunks of
    ``SORTED_PROBES`` probes: several chunks at 63); smaller ones go query by query. Both must
    give exactly the brute-force answer, each hit tagged with its own query."""
    from countersignal.index import _kernels

    hashes = skewed_hashes(rng, 40_000)
    index = PDQIndex()
    index.add_words(np.arange(len(hashes)), hashes)
    seg = index._segments[0]
    queries = np.ascontiguousarray(_queries(rng, hashes, 240)[:300])
    for size in (1, _kernels.SORTED_MIN - 1, _kernels.SORTED_MIN, len(queries)):
        batch = queries[:size]
        capacity = 1 << 20
        rows, dist, qpos = (np.empty(capacity, np.int64) for _ in range(3))
        count = seg.native.search_many(batch, threshold, rows, dist, qpos)
        assert count <= capacity
        got = [[] for _ in batch]
        for q, row, d in zip(qpos[:count], rows[:count], dist[:count], strict=True):
            got[q].append((int(seg.ids[row]), int(d)))
        expected = brute_force(batch, seg.decode(), seg.ids.astype(np.int64), threshold)
        assert [sorted(g) for g in got] == expected, size


def test_segments_keep_the_hashes_only_in_their_tables(rng):
    """A segment stores no hash rows: each row's words are its entries' buckets and tails,
    linked in a cycle. Decoding gives every row back; the per-hash arrays take 61 bytes."""
    hashes = skewed_hashes(rng, 30_000)
    hashes[:50] = hashes[0]  # the same hash many times: one long bucket in every table
    index = PDQIndex()
    index.add_words(np.arange(len(hashes)), hashes)
    (seg,) = index._segments
    decoded = seg.decode()
    assert np.array_equal(decoded, hashes[seg.ids.astype(np.int64)])
    part = np.empty((7, 4), np.uint64)
    seg.native.decode(29_990, part)
    assert np.array_equal(part, decoded[29_990:29_997])
    with pytest.raises(ValueError, match="within the segment"):
        seg.native.decode(29_995, part)
    per_row = [seg.ids, seg.alive, *(t for t in seg.tables if t.shape[-1] != 65537)]
    assert sum(a.nbytes for a in per_row) / len(hashes) == 61  # 4 + 1 + 8 x (2 + 3 + 2)


def test_snapshots_written_with_hash_rows_still_load(rng):
    """Snapshots from before the linked tables kept each segment's hashes beside its tables;
    loading one rebuilds its live rows, so an upgrade needs no replay from the database."""
    hashes = skewed_hashes(rng, 9000)
    alive = np.ones(8000, np.uint8)
    alive[[3, 70]] = 0
    legacy = {
        "s0.hashes": hashes[:8000], "s0.ids": np.arange(8000, dtype=np.uint32), "s0.alive": alive,
        "s0.hi_rows": np.zeros((7, 8000, 3), np.uint8),  # old tables: ignored
        "buffer.hashes": hashes[8000:], "buffer.ids": np.arange(8000, 9000),
    }
    index = PDQIndex.from_arrays(legacy)
    assert len(index) == 8998
    queries = _queries(rng, hashes, 60)
    expected = brute_force(queries, np.delete(hashes, [3, 70], axis=0),
                           np.delete(np.arange(9000), [3, 70]), 31)
    assert _as_sorted(index.query_words(queries)) == expected
    with pytest.raises(SnapshotError, match="shapes"):
        PDQIndex.from_arrays(dict(legacy, **{"s0.alive": alive[:10]}))


def test_kernel_refuses_wrongly_typed_buffers(rng):
    from countersignal.index import _kernels

    hashes = random_hashes(rng, 10)
    rows, dist = np.empty(8, np.int64), np.empty(8, np.int64)
    alive = np.ones(10, np.uint8)
    with pytest.raises(ValueError, match="alive"):
        _kernels.search_brute(hashes, hashes, alive[:5], 31, rows, dist)
    with pytest.raises(ValueError, match="out_dist"):
        _kernels.search_brute(hashes, hashes, alive, 31, rows, dist.astype(np.int32))
    with pytest.raises(ValueError, match="threshold"):
        _kernels.search_brute(hashes, hashes, alive, 300, rows, dist)
    with pytest.raises(ValueError, match="C-contiguous"):
        _kernels.search_brute(hashes[::2], hashes, alive, 31, rows, dist)
    assert _kernels.search_brute(hashes, hashes, alive, 0, rows, dist) == 10  # each finds itself


@pytest.mark.parametrize("threshold", [0, 31, 100])
def test_batches_agree_with_single_queries(rng, threshold):
    hashes = skewed_hashes(rng, 12_000)
    index = PDQIndex()
    index.add_words(np.arange(10_000), hashes[:10_000])
    index.add_words(np.arange(10_000, 10_100), hashes[10_000:10_100])  # buffer rows
    index.add_words([5], hashes[:1])  # an id under two values
    queries = _queries(rng, hashes, 200)
    batched = index.query_words(queries, threshold)
    assert batched == [index.query_words(q[None, :], threshold)[0] for q in queries]
    assert sum(map(len, batched)) > 0


def test_background_compaction_keeps_concurrent_changes(rng, monkeypatch):
    monkeypatch.setattr(pdq_module, "MERGE_LIMIT", 5000)  # keep small segments apart
    hashes = random_hashes(rng, 12 * BUFFER_ROWS)
    index = PDQIndex()
    for chunk in range(10):
        rows = slice(chunk * BUFFER_ROWS, (chunk + 1) * BUFFER_ROWS)
        if chunk == 8:
            index._lock.acquire()  # holds back the swap: the next steps race the merge
        index.add_words(np.arange(rows.start, rows.stop), hashes[rows])
    worker = index._compacting  # more than MAX_SEGMENTS segments started one
    assert isinstance(worker, threading.Thread) and worker.is_alive()
    assert index.remove(list(range(0, 10 * BUFFER_ROWS, 3))) > 0
    extra = slice(10 * BUFFER_ROWS, 12 * BUFFER_ROWS)
    index.add_words(np.arange(extra.start, extra.stop), hashes[extra])
    index._lock.release()
    worker.join()
    index.compact()
    assert len(index._segments) == 1 and index._compacting is None
    live = np.array([i for i in range(len(hashes)) if i >= 10 * BUFFER_ROWS or i % 3])
    assert len(index) == len(live) == len(index._segments[0].ids)
    queries = _queries(rng, hashes, 60)
    expected = brute_force(queries, hashes[live], live, 31)
    assert _as_sorted(index.query_words(queries)) == expected


@pytest.mark.parametrize("threshold", [1, 15, 31])
def test_more_hits_than_the_kernels_scratch_holds_stay_exact(rng, threshold):
    """The search collects hits in fixed scratch buffers (``CANDIDATES`` entries) and verifies
    them when full; a word shared by many more rows than that, found from either side of the
    tables, must still give every row exactly once."""
    from countersignal.index._kernels import CANDIDATES

    many = 3 * CANDIDATES + 17
    base = random_hashes(rng, 1)
    same = np.repeat(base, many, axis=0)  # every word shared, one lo-side entry per word
    shared = random_hashes(rng, many)
    shared[:, 1] = base[0, 1]  # words 2 and 3 shared, the rest random
    lo_only = random_hashes(rng, many)
    lo_only[:, 2] = base[0, 2] ^ np.uint64(0xC000_0000_0000_0000)  # word 4: hi 2 bits away
    hashes = np.concatenate([same, shared, lo_only, random_hashes(rng, 5000)])
    ids = np.arange(len(hashes), dtype=np.int64)
    index = PDQIndex()
    index.add_words(ids, hashes)
    queries = np.concatenate(
        [base, flip_bits(rng, np.repeat(base, 3, axis=0), np.array([1, 4, 9]))]
    )
    got = _as_sorted(index.query_words(queries, threshold))
    assert got == brute_force(queries, hashes, ids, threshold)
    assert len(got[0]) >= many


def test_compaction_leaves_full_clean_segments_alone(rng, monkeypatch):
    monkeypatch.setattr(pdq_module, "SEGMENT_MAX_ROWS", 5000)
    monkeypatch.setattr(pdq_module, "MERGE_LIMIT", 1000)  # below the row limit, as in use
    hashes = random_hashes(rng, 14_000)
    ids = np.arange(len(hashes))
    index = PDQIndex()
    index.add_words(ids[:12_000], hashes[:12_000])  # two full segments, one of 2,000 rows
    index.add_words(ids[12_000:], hashes[12_000:])
    full = [seg for seg in index._segments if len(seg.ids) == 5000]
    assert len(full) == 2 and len(index._segments) == 3 and index._buf_n == 2000
    assert index.remove([3]) == 1  # one full segment now has a removed row: merged again
    index.compact()
    assert [seg for seg in index._segments if any(seg is f for f in full)] == [full[1]]
    assert sorted(len(seg.ids) for seg in index._segments) == [3999, 5000, 5000]
    assert index.compact() is None and len(index._segments) == 3  # already compact: no-op
    live = ids[ids != 3]
    queries = _queries(rng, hashes, 60)
    assert _as_sorted(index.query_words(queries)) == brute_force(queries, hashes[live], live, 31)


def test_generic_kernels_agree_with_brute_force_on_any_cpu():
    """The search kernels exist twice (AVX-512 BITALG and per-CPU clones for the rest); this
    machine runs the first, so the second runs here in a child that is told to skip it."""
    import os
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(
        """
        import numpy as np
        from countersignal.index import _kernels
        from countersignal.index.pdq import PDQIndex
        from tests.index.conftest import brute_force, skewed_hashes, flip_bits
        assert _kernels.ISA.startswith("generic"), _kernels.ISA
        rng = np.random.default_rng(5)
        hashes = skewed_hashes(rng, 20_000)
        index = PDQIndex()
        index.add_words(np.arange(len(hashes)), hashes)
        index.add_words([len(hashes)], hashes[:1])  # one buffered row: the brute-force kernel
        ids = np.arange(len(hashes) + 1)
        stored = np.concatenate([hashes, hashes[:1]])
        queries = flip_bits(rng, hashes[rng.integers(0, len(hashes), 100)],
                            rng.integers(0, 40, 100))
        for threshold in (0, 31, 63):
            single = [sorted(index.query_words(q[None], threshold)[0]) for q in queries[:10]]
            batched = [sorted(r) for r in index.query_words(queries, threshold)]
            expected = brute_force(queries, stored, ids, threshold)
            assert single == expected[:10] and batched == expected, threshold
        print("ok")
        """
    )
    env = {**os.environ, "COUNTERSIGNAL_KERNELS_GENERIC": "1"}
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


@pytest.mark.parametrize("threshold", [0, 31, 63])
def test_batches_split_by_segment_stay_exact(rng, monkeypatch, threshold):
    """With several even segments, each thread searches its own segments with the whole batch
    (hits of one query then come from several threads and are merged)."""
    monkeypatch.setattr(pdq_module, "MERGE_LIMIT", 6000)  # keep four segments apart
    hashes = skewed_hashes(rng, 20_010)
    ids = rng.choice(10**9, size=len(hashes), replace=False).astype(np.int64)
    index = PDQIndex()
    for start in range(0, 20_000, 5000):
        index.add_words(ids[start : start + 5000], hashes[start : start + 5000])
    index.add_words(ids[20_000:], hashes[20_000:])  # and a buffer
    parts = [*index._segments, _buffer_of(index)]
    assert len(index._segments) == 4 and pdq_module._balanced_groups(parts, 2) is not None
    queries = _queries(rng, hashes, 100)
    got = _as_sorted(index.query_words(queries, threshold))
    assert got == brute_force(queries, hashes, ids, threshold)


def _buffer_of(index: PDQIndex):
    n = index._buf_n
    return pdq_module._Segment(
        index._buf_ids[:n], index._buf_alive[:n], hashes=index._buf_hashes[:n]
    )
