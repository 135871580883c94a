"""Numba kernels of the PDQ range index: segment building, multi-index search, brute force.

Hashes are ``(n, 4)`` uint64 rows (hex order). The 256 bits are eight 32-bit *words*, each two
16-bit *halves* (``hi``, ``lo``). Per word a segment keeps two direct-addressed tables:

* the **hi table**: rows bucketed by ``hi`` (65,536 buckets), sorted by ``lo`` inside a bucket,
  each entry holding its ``lo`` (the *tail*) and its 3-byte row number (word 0 needs neither:
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
    tmp = np.empty(n, dtype=np.uint32)  # segments hold < 2**24 rows: halves build memory
    order = np.empty(n, dtype=np.uint32)
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
def _counting_sort(hashes, key_half, first, offsets, t):
    """Stable counting sort of the order ``first`` by ``key_half``; fills ``offsets[t]``."""
    n = hashes.shape[0]
    for i in range(n):
        offsets[t, _half(hashes[i], key_half) + 1] += 1
    for b in range(N_BUCKETS):
        offsets[t, b + 1] += offsets[t, b]
    cursor = offsets[t, :N_BUCKETS].astype(np.int64)
    order = np.empty(n, dtype=np.uint32)
    for j in range(n):
        i = first[j]
        key = _half(hashes[i], key_half)
        order[cursor[key]] = i
        cursor[key] += 1
    return order


@njit(cache=True, nogil=True)
def build_tables(hashes):
    """Hi and lo tables of every word; ``hashes`` must already be in :func:`primary_order`.

    Word 0's hi table is the row order itself, so it stores neither tails nor rows; row
    numbers take 3 bytes (segments hold fewer than 2**24 rows).
    """
    n = hashes.shape[0]
    hi_off = np.zeros((N_WORDS, N_BUCKETS + 1), dtype=np.uint32)
    hi_tail = np.empty((N_WORDS - 1, n), dtype=np.uint16)
    hi_rows = np.empty((N_WORDS - 1, n, 3), dtype=np.uint8)
    lo_off = np.zeros((N_WORDS, N_BUCKETS + 1), dtype=np.uint32)
    lo_tail = np.empty((N_WORDS, n), dtype=np.uint16)
    identity = np.arange(n, dtype=np.uint32)
    for w in range(N_WORDS):
        hi, lo = 2 * w, 2 * w + 1
        by_lo = _counting_sort(hashes, lo, identity, lo_off, w)  # lo_off is scratch here
        lo_off[w, :] = 0
        order = _counting_sort(hashes, hi, by_lo, hi_off, w)
        if w > 0:
            for pos in range(n):
                i = order[pos]
                hi_tail[w - 1, pos] = _half(hashes[i], lo)
                hi_rows[w - 1, pos, 0] = i & 0xFF
                hi_rows[w - 1, pos, 1] = (i >> 8) & 0xFF
                hi_rows[w - 1, pos, 2] = (i >> 16) & 0xFF
        by_hi = _counting_sort(hashes, hi, identity, lo_off, w)
        lo_off[w, :] = 0
        order = _counting_sort(hashes, lo, by_hi, lo_off, w)
        for pos in range(n):
            lo_tail[w, pos] = _half(hashes[order[pos]], hi)
    return hi_off, hi_tail, hi_rows, lo_off, lo_tail


@njit(cache=True, nogil=True, inline="always")
def _hi_tail_at(hashes, hi_tail, w, j):
    return _half(hashes[j], 1) if w == 0 else np.int64(hi_tail[w - 1, j])


@njit(cache=True, nogil=True, inline="always")
def _hi_row_at(hi_rows, w, j):
    if w == 0:
        return np.int64(j)
    r = hi_rows[w - 1, j]
    return np.int64(r[0]) | (np.int64(r[1]) << 8) | (np.int64(r[2]) << 16)


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
    query,
    hashes,
    alive,
    hi_off,
    hi_tail,
    hi_rows,
    lo_off,
    lo_tail,
    word_r,
    r,
    masks,
    level_starts,
    out_rows,
    out_dist,
    count,
):
    """Append every live row within ``r`` of ``query``; returns the new count.

    Writes past the output arrays are skipped but still counted, so the caller can grow the
    buffers and retry.
    """
    widest = 0  # hi-side radius of the widest word (the lo side is never wider)
    for w in range(N_WORDS):
        widest = max(widest, word_r[w] // 2)
    bounds = np.empty((2 * level_starts[widest + 1], 2), dtype=np.int64)
    for w in range(N_WORDS):
        s = word_r[w]
        if s < 0:
            continue
        a_hi = s // 2  # == ceil((s - 1) / 2)
        a_lo = s - 1 - a_hi
        qhi = _half(query, 2 * w)
        qlo = _half(query, 2 * w + 1)
        n_hi = level_starts[a_hi + 1]
        for m in range(n_hi):  # independent loads first: the memory system overlaps them
            b = qhi ^ masks[m]
            bounds[m, 0] = hi_off[w, b]
            bounds[m, 1] = hi_off[w, b + 1]
        if a_lo >= 0:
            for m in range(level_starts[a_lo + 1]):
                b = qlo ^ masks[m]
                bounds[n_hi + m, 0] = lo_off[w, b]
                bounds[n_hi + m, 1] = lo_off[w, b + 1]
        for d in range(a_hi + 1):
            for m in range(level_starts[d], level_starts[d + 1]):
                for j in range(bounds[m, 0], bounds[m, 1]):
                    if d + _popcount64(np.uint64(_hi_tail_at(hashes, hi_tail, w, j) ^ qlo)) > s:
                        continue
                    row = _hi_row_at(hi_rows, w, j)
                    count = _emit(
                        row, w, query, hashes, alive, word_r, r, out_rows, out_dist, count
                    )
        for d in range(a_lo + 1):
            for m in range(level_starts[d], level_starts[d + 1]):
                b = qlo ^ masks[m]
                start = bounds[n_hi + m, 0]
                for j in range(start, bounds[n_hi + m, 1]):
                    tail = np.int64(lo_tail[w, j])
                    d_hi = _popcount64(np.uint64(tail ^ qhi))
                    if d_hi <= a_hi or d + d_hi > s:  # found on the hi side, or too far
                        continue
                    if j > start and lo_tail[w, j - 1] == lo_tail[w, j]:
                        continue  # same word as the previous entry: already located
                    lo, hi = np.int64(hi_off[w, tail]), np.int64(hi_off[w, tail + 1])
                    while lo < hi:  # hi bucket is sorted by lo: find the word's rows
                        mid = (lo + hi) >> 1
                        if _hi_tail_at(hashes, hi_tail, w, mid) < b:
                            lo = mid + 1
                        else:
                            hi = mid
                    end = hi_off[w, tail + 1]
                    while lo < end and _hi_tail_at(hashes, hi_tail, w, lo) == b:
                        row = _hi_row_at(hi_rows, w, lo)
                        count = _emit(
                            row, w, query, hashes, alive, word_r, r, out_rows, out_dist, count
                        )
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


@njit(cache=True, nogil=True)
def search_segment_many(
    queries,
    hashes,
    alive,
    hi_off,
    hi_tail,
    hi_rows,
    lo_off,
    lo_tail,
    word_r,
    r,
    masks,
    level_starts,
    out_rows,
    out_dist,
    out_query,
):
    """:func:`search_segment` for each query row, tagging results with the query's position."""
    count = 0
    for q in range(queries.shape[0]):
        start = count
        count = search_segment(
            queries[q],
            hashes,
            alive,
            hi_off,
            hi_tail,
            hi_rows,
            lo_off,
            lo_tail,
            word_r,
            r,
            masks,
            level_starts,
            out_rows,
            out_dist,
            count,
        )
        out_query[start : min(count, out_query.shape[0])] = q
    return count


@njit(cache=True, nogil=True)
def search_brute_many(queries, hashes, alive, n, r, out_rows, out_dist, out_query):
    """:func:`search_brute` for each query row, tagging results with the query's position."""
    count = 0
    for q in range(queries.shape[0]):
        start = count
        count = search_brute(queries[q], hashes, alive, n, r, out_rows, out_dist, count)
        out_query[start : min(count, out_query.shape[0])] = q
    return count
