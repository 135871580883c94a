"""Numba kernels of the PDQ range index: segment building, multi-index search, brute force.

Hashes are ``(n, 4)`` uint64 rows (hex order). The 256 bits are eight 32-bit *words*, each two
16-bit *halves* (``hi``, ``lo``). Per word a segment keeps two direct-addressed tables:

* the **hi table**: rows bucketed by ``hi`` (65,536 buckets), sorted by ``lo`` inside a bucket,
  each entry holding its ``lo`` (the *tail*) and its row number (word 0 needs no row numbers:
  the segment's rows are sorted by word 0, so the hi table of word 0 is the row order itself);
* the **lo table**: bucketed by ``lo``, holding only ``hi`` tails (2 bytes an entry). A lo-side
  hit knows its whole word, so its rows are found by one binary search in the hi table.

Why it is exact: with per-word radii ``s_w`` where ``sum(s_w + 1) == r + 1``, any hash within
``r`` has some word with ``d_w <= s_w`` (generalised pigeonhole, Norouzi et al.). Such a word has
``d_hi <= a_hi`` or ``d_lo <= a_lo`` whenever ``a_hi + a_lo == s_w - 1``, so probing the hi
buckets within ``a_hi`` and the lo buckets within ``a_lo`` (17 + 17 buckets at ``r = 31``) and
keeping tails with ``d_hi + d_lo <= s_w`` finds exactly the rows with ``d_w <= s_w``. A row is
reported only by the first word that finds it, so no set is needed to deduplicate.

Every kernel is ``nogil``: batched queries and builds run on several threads.
"""

from __future__ import annotations

import numpy as np
from numba import njit

N_WORDS = 8
N_BUCKETS = 1 << 16


@njit(cache=True, nogil=True, inline="always")
def _popcount64(x):
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return np.int64((x * np.uint64(0x0101010101010101)) >> np.uint64(56))


@njit(cache=True, nogil=True, inline="always")
def _half(row, h):
    """Half ``h`` (0..15, hex order) of a 4 x uint64 hash row."""
    return np.int64((row[h >> 2] >> np.uint64(48 - 16 * (h & 3))) & np.uint64(0xFFFF))


@njit(cache=True, nogil=True, inline="always")
def _word_distance(row, query, w):
    diff = (row[w >> 1] ^ query[w >> 1]) >> np.uint64(32 - 32 * (w & 1))
    return _popcount64(diff & np.uint64(0xFFFFFFFF))


@njit(cache=True, nogil=True)
def primary_order(hashes):
    """Row order sorted by word 0 (hi then lo): two stable counting-sort passes."""
    n = hashes.shape[0]
    counts = np.zeros(N_BUCKETS + 1, dtype=np.int64)
    tmp = np.empty(n, dtype=np.int64)
    order = np.empty(n, dtype=np.int64)
    for i in range(n):
        counts[_half(hashes[i], 1) + 1] += 1
    for b in range(N_BUCKETS):
        counts[b + 1] += counts[b]
    for i in range(n):
        key = _half(hashes[i], 1)
        tmp[counts[key]] = i
        counts[key] += 1
    counts[:] = 0
    for i in range(n):
        counts[_half(hashes[i], 0) + 1] += 1
    for b in range(N_BUCKETS):
        counts[b + 1] += counts[b]
    for j in range(n):
        i = tmp[j]
        key = _half(hashes[i], 0)
        order[counts[key]] = i
        counts[key] += 1
    return order


@njit(cache=True, nogil=True)
def _bucket_by(hashes, key_half, tail_half, first, offsets, tails, rows, t):
    """Stable counting sort of ``first`` (an order sorted by the tail) into table ``t``."""
    n = hashes.shape[0]
    for i in range(n):
        offsets[t, _half(hashes[i], key_half) + 1] += 1
    for b in range(N_BUCKETS):
        offsets[t, b + 1] += offsets[t, b]
    cursor = offsets[t, :N_BUCKETS].copy()
    for j in range(n):
        i = first[j]
        key = _half(hashes[i], key_half)
        pos = cursor[key]
        tails[t, pos] = _half(hashes[i], tail_half)
        if rows.shape[0] > 0 and t > 0:
            rows[t - 1, pos] = i
        cursor[key] = pos + 1


@njit(cache=True, nogil=True)
def build_tables(hashes):
    """Hi and lo tables of every word; ``hashes`` must already be in :func:`primary_order`."""
    n = hashes.shape[0]
    hi_off = np.zeros((N_WORDS, N_BUCKETS + 1), dtype=np.uint32)
    hi_tail = np.empty((N_WORDS, n), dtype=np.uint16)
    hi_rows = np.empty((N_WORDS - 1, n), dtype=np.uint32)
    lo_off = np.zeros((N_WORDS, N_BUCKETS + 1), dtype=np.uint32)
    lo_tail = np.empty((N_WORDS, n), dtype=np.uint16)
    no_rows = np.empty((0, 0), dtype=np.uint32)
    by_tail = np.empty(n, dtype=np.int64)
    counts = np.zeros(N_BUCKETS + 1, dtype=np.int64)
    for w in range(N_WORDS):
        hi, lo = 2 * w, 2 * w + 1
        for side in range(2):
            key_half, tail_half = (hi, lo) if side == 0 else (lo, hi)
            counts[:] = 0
            for i in range(n):
                counts[_half(hashes[i], tail_half) + 1] += 1
            for b in range(N_BUCKETS):
                counts[b + 1] += counts[b]
            for i in range(n):
                key = _half(hashes[i], tail_half)
                by_tail[counts[key]] = i
                counts[key] += 1
            if side == 0:
                _bucket_by(hashes, key_half, tail_half, by_tail, hi_off, hi_tail, hi_rows, w)
            else:
                _bucket_by(hashes, key_half, tail_half, by_tail, lo_off, lo_tail, no_rows, w)
    return hi_off, hi_tail, hi_rows, lo_off, lo_tail


@njit(cache=True, nogil=True, inline="always")
def _emit(row, w, query, hashes, alive, word_r, r, out_rows, out_dist, count):
    """Verify one candidate row; returns the new count."""
    if not alive[row]:
        return count
    h = hashes[row]
    for u in range(w):  # an earlier word finds every row with d_u <= s_u: it reported it
        if word_r[u] >= 0 and _word_distance(h, query, u) <= word_r[u]:
            return count
    dist = 0
    for i in range(4):
        dist += _popcount64(h[i] ^ query[i])
    if dist <= r:
        if count < out_rows.shape[0]:
            out_rows[count] = row
            out_dist[count] = dist
        count += 1
    return count


@njit(cache=True, nogil=True)
def search_segment(
    query, hashes, alive, hi_off, hi_tail, hi_rows, lo_off, lo_tail, word_r, r, masks,
    level_starts, out_rows, out_dist, count,
):
    """Append every live row within ``r`` of ``query``; returns the new count.

    Writes past the output arrays are skipped but still counted, so the caller can grow the
    buffers and retry.
    """
    for w in range(N_WORDS):
        s = word_r[w]
        if s < 0:
            continue
        a_hi = s // 2  # == ceil((s - 1) / 2)
        a_lo = s - 1 - a_hi
        qhi = _half(query, 2 * w)
        qlo = _half(query, 2 * w + 1)
        for d in range(a_hi + 1):
            for m in range(level_starts[d], level_starts[d + 1]):
                b = qhi ^ masks[m]
                for j in range(hi_off[w, b], hi_off[w, b + 1]):
                    if d + _popcount64(np.uint64(hi_tail[w, j] ^ qlo)) > s:
                        continue
                    row = j if w == 0 else hi_rows[w - 1, j]
                    count = _emit(row, w, query, hashes, alive, word_r, r, out_rows, out_dist,
                                  count)
        for d in range(a_lo + 1):
            for m in range(level_starts[d], level_starts[d + 1]):
                b = qlo ^ masks[m]
                start = lo_off[w, b]
                for j in range(start, lo_off[w, b + 1]):
                    tail = np.int64(lo_tail[w, j])
                    d_hi = _popcount64(np.uint64(tail ^ qhi))
                    if d_hi <= a_hi or d + d_hi > s:  # found on the hi side, or too far
                        continue
                    if j > start and lo_tail[w, j - 1] == lo_tail[w, j]:
                        continue  # same word as the previous entry: already located
                    lo, hi = np.int64(hi_off[w, tail]), np.int64(hi_off[w, tail + 1])
                    while lo < hi:  # hi bucket is sorted by lo: find the word's rows
                        mid = (lo + hi) >> 1
                        if hi_tail[w, mid] < b:
                            lo = mid + 1
                        else:
                            hi = mid
                    end = hi_off[w, tail + 1]
                    while lo < end and hi_tail[w, lo] == b:
                        row = lo if w == 0 else hi_rows[w - 1, lo]
                        count = _emit(row, w, query, hashes, alive, word_r, r, out_rows,
                                      out_dist, count)
                        lo += 1
    return count


@njit(cache=True, nogil=True)
def search_brute(query, hashes, alive, n, r, out_rows, out_dist, count):
    """Linear XOR+popcount scan of the first ``n`` rows: small buffers and huge thresholds."""
    for row in range(n):
        dist = 0
        for i in range(4):
            dist += _popcount64(hashes[row, i] ^ query[i])
        if dist <= r and alive[row]:
            if count < out_rows.shape[0]:
                out_rows[count] = row
                out_dist[count] = dist
            count += 1
    return count
