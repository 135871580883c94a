"""Numba kernels of the PDQ range index: segment building, multi-index search, brute force.

Hashes are ``(n, 4)`` uint64 rows (hex order). The 256 bits are eight 32-bit *words*, each two
16-bit *halves* (``hi``, ``lo``). Per word a segment keeps two direct-addressed tables:

* the **hi table**: rows bucketed by ``hi`` (65,536 buckets), sorted by ``lo`` inside a bucket,
  each entry holding its ``lo`` (the *tail*) and its 3-byte row number (word 0 needs neither:
  the segment's rows are sorted by word 0, so the hi table of word 0 is the row order itself);
* the **lo table**: bucketed by ``lo``, holding only ``hi`` tails (2 bytes an entry). A lo-side
  hit knows its whole word, so its rows are found by one search in the hi table (sorted by
  ``lo`` within a bucket: interpolation, galloping, then binary search).

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
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

N_WORDS = 8
N_BUCKETS = 1 << 16
LINE_TAILS = 32  # 2-byte tails in a 64-byte cache line
PREFETCH_TAILS = 16 * LINE_TAILS  # a bucket's first lines prefetched ahead of its scan
BUCKET_AHEAD = 8  # buckets prefetched ahead of the one being scanned
CHUNK_TAILS = 32  # tails tested together, without branches, before looking at any one
CANDIDATES = 1024  # hits collected before they are verified
VERIFY_AHEAD = 8  # candidates whose hash rows are prefetched ahead of their verification


@intrinsic
def _ctpop(typingctx, x):
    """Population count in ``x``'s own width: one ``popcnt`` (``vpopcnt{w,q}`` when a loop over
    it is vectorised; LLVM lowers it to bit tricks on CPUs without the instruction)."""
    if not isinstance(x, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])

    return x(x), codegen


@intrinsic
def _prefetch(typingctx, arr, idx):
    """Ask for the cache line of ``arr[idx]`` (first element of row ``idx`` for 2-D arrays).

    A hint only: it never faults and returns nothing; callers keep ``idx`` in bounds anyway.
    """
    if not (isinstance(arr, types.Array) and isinstance(idx, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        zero = context.get_constant(types.intp, 0)
        index = [builder.sext(args[1], zero.type) if args[1].type != zero.type else args[1]]
        ptr = cgutils.get_item_pointer(
            context, builder, aryty, ary, index + [zero] * (aryty.ndim - 1), wraparound=False
        )
        ptr = builder.bitcast(ptr, ir.IntType(8).as_pointer())
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [ptr.type, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        builder.call(fn, [ptr, i32(0), i32(3), i32(1)])  # read, keep in all levels, data
        return context.get_dummy_value()

    return types.none(arr, idx), codegen


@njit(cache=True, nogil=True, inline="always")
def _popcount64(x):
    return np.int64(_ctpop(np.uint64(x)))


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


def empty_tables(n):
    """Uninitialised tables for ``n`` rows, for :func:`build_tables` to fill.

    Allocated by numpy, not inside a kernel: numpy asks the kernel for transparent huge pages
    on large arrays (numba's allocator does not), and the search's random bucket reads
    measured ~1.4x faster at 100M rows with them (fewer TLB misses)."""
    return (
        np.empty((N_WORDS, N_BUCKETS + 1), dtype=np.uint32),
        np.empty((N_WORDS - 1, n), dtype=np.uint16),
        np.empty((N_WORDS - 1, n, 3), dtype=np.uint8),
        np.empty((N_WORDS, N_BUCKETS + 1), dtype=np.uint32),
        np.empty((N_WORDS, n), dtype=np.uint16),
    )


@njit(cache=True, nogil=True)
def build_tables(hashes, hi_off, hi_tail, hi_rows, lo_off, lo_tail):
    """Fill the hi and lo tables of every word (from :func:`empty_tables`); ``hashes`` must
    already be in :func:`primary_order`. Returns the tables.

    Word 0's hi table is the row order itself, so it stores neither tails nor rows; row
    numbers take 3 bytes (segments hold fewer than 2**24 rows).
    """
    n = hashes.shape[0]
    hi_off[:] = 0
    lo_off[:] = 0
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
def _distance(row, query):
    return np.int64(
        _ctpop(row[0] ^ query[0])
        + _ctpop(row[1] ^ query[1])
        + _ctpop(row[2] ^ query[2])
        + _ctpop(row[3] ^ query[3])
    )


@njit(cache=True, nogil=True, inline="always")
def _hi_tail_at(hashes, hi_tail, w, j):
    return _half(hashes[j], 1) if w == 0 else np.int64(hi_tail[w - 1, j])


@njit(cache=True, nogil=True, inline="always")
def _any_within(tails, start, end, q16, lo16, span16):
    """Whether some ``tails[start:end]`` has ``lo <= popcount(tail ^ q) <= lo + span``.

    Branch-free over unsigned indices (no wraparound code), so LLVM vectorises it in 16-bit
    lanes: 32 tails per AVX-512 instruction (``vpopcntw``), 16 with AVX2.
    """
    hit = np.uint16(0)
    for j in range(np.uint64(start), np.uint64(end)):
        pc = np.uint16(_ctpop(np.uint16(tails[j] ^ q16)))
        hit |= np.uint16(np.uint16(pc - lo16) <= span16)
    return hit


@njit(cache=True, nogil=True, inline="always")
def _any_within_word0(hashes, start, end, q16, span16):
    """:func:`_any_within` for word 0, whose hi table is the row order: tails are half 1."""
    hit = np.uint16(0)
    for j in range(np.uint64(start), np.uint64(end)):
        tail = np.uint16(hashes[j, 0] >> np.uint64(32))
        hit |= np.uint16(np.uint16(_ctpop(np.uint16(tail ^ q16))) <= span16)
    return hit


@njit(cache=True, nogil=True, inline="always")
def _prefetch_bucket(hashes, hi_tail, lo_tail, w, side, start, end):
    """Start fetching a bucket's first cache lines (the hardware streams the rest)."""
    stop = min(end, start + PREFETCH_TAILS)
    if side >= 0:
        tails = lo_tail[w]
        for j in range(start, stop, LINE_TAILS):
            _prefetch(tails, j)
    elif w > 0:
        tails = hi_tail[w - 1]
        for j in range(start, stop, LINE_TAILS):
            _prefetch(tails, j)
    else:
        for j in range(start, min(end, start + PREFETCH_TAILS), 2):
            _prefetch(hashes, j)  # two 32-byte rows a line


@njit(cache=True, nogil=True)
def _verify(cand, n, query, hashes, alive, hi_rows, word_r, r, rows, out_rows, out_dist, count):
    """Emit the candidates ``cand[:n]`` (``word << 32 | position`` in that word's hi table)
    that are live, within ``r`` and not found by an earlier word; returns the new count.

    Row numbers are decoded in one pass and the hashes fetched a few candidates ahead, so the
    random reads overlap instead of waiting one after another."""
    for i in range(n):
        w = cand[i] >> 32
        j = cand[i] & 0xFFFFFFFF
        if w == 0:
            rows[i] = j
        else:
            b = hi_rows[w - 1, j]
            rows[i] = np.int64(b[0]) | (np.int64(b[1]) << 8) | (np.int64(b[2]) << 16)
    for i in range(min(n, VERIFY_AHEAD)):
        _prefetch(hashes, rows[i])
    for i in range(n):
        if i + VERIFY_AHEAD < n:
            _prefetch(hashes, rows[i + VERIFY_AHEAD])
        row = rows[i]
        h = hashes[row]
        dist = _distance(h, query)
        if dist > r:
            continue
        w = cand[i] >> 32
        seen = False
        for u in range(w):  # an earlier word finds every row with d_u <= s_u: it reported it
            if word_r[u] >= 0 and _word_distance(h, query, u) <= word_r[u]:
                seen = True
                break
        if seen or not alive[row]:
            continue
        if count < out_rows.shape[0]:
            out_rows[count] = row
            out_dist[count] = dist
        count += 1
    return count


@njit(cache=True, nogil=True, inline="always")
def _lower_bound(hashes, hi_tail, w, hs, he, lo):
    """First position in ``[hs, he)`` of word ``w``'s hi table whose tail is ``>= lo``.

    A hi bucket is sorted by lo: guessed by interpolation, bracketed by galloping, finished by
    binary search (one or two cache lines on uniform data, O(log n) in skewed buckets)."""
    g = hs + ((lo * (he - hs)) >> 16)
    if _hi_tail_at(hashes, hi_tail, w, g) < lo:  # the answer is in (g, he]
        left, right, step = g + 1, he, 1
        while g + step < he:
            if _hi_tail_at(hashes, hi_tail, w, g + step) >= lo:
                right = g + step
                break
            left = g + step + 1
            step *= 2
    else:  # ... or in [hs, g]
        left, right, step = hs, g, 1
        while g - step >= hs:
            if _hi_tail_at(hashes, hi_tail, w, g - step) < lo:
                left = g - step + 1
                break
            right = g - step
            step *= 2
    while left < right:
        mid = (left + right) >> 1
        if _hi_tail_at(hashes, hi_tail, w, mid) < lo:
            left = mid + 1
        else:
            right = mid
    return left


@njit(cache=True, nogil=True)
def _resolve_lo(lo_cand, n, resume, hashes, hi_off, hi_tail, cand, nc):
    """Turn lo-side hits (``word << 32 | hi << 16 | lo``: a whole word) into positions in that
    word's hi table, appended to ``cand`` from ``nc``.

    Returns ``(consumed, nc, resume)``: when ``cand`` fills up, entry ``consumed`` is not
    finished and continues at position ``resume`` on the next call (``-1``: from its start).
    """
    for i in range(n):
        e = lo_cand[i]
        _prefetch(hi_off[e >> 32], (e >> 16) & 0xFFFF)
    for i in range(n):
        e = lo_cand[i]
        w, hi, lo = e >> 32, (e >> 16) & 0xFFFF, e & 0xFFFF
        hs, he = np.int64(hi_off[w, hi]), np.int64(hi_off[w, hi + 1])
        if i == 0 and resume >= 0:
            pos = resume
        elif hs == he:
            continue
        else:
            pos = _lower_bound(hashes, hi_tail, w, hs, he, lo)
        while pos < he and _hi_tail_at(hashes, hi_tail, w, pos) == lo:
            if nc == cand.shape[0]:
                return i, nc, pos
            cand[nc] = (w << 32) | pos
            nc += 1
            pos += 1
    return n, nc, -1


@njit(cache=True, nogil=True)
def _flush_lo(lo_cand, nl, query, hashes, alive, hi_off, hi_tail, hi_rows, word_r, r, cand, nc,
              rows, out_rows, out_dist, count):  # fmt: skip
    """Resolve every lo-side hit into ``cand``, verifying whenever it fills; returns the new
    ``(nc, count)``."""
    done, resume = 0, -1
    while done < nl:
        k, nc, resume = _resolve_lo(
            lo_cand[done:], nl - done, resume, hashes, hi_off, hi_tail, cand, nc
        )
        done += k
        if done < nl:  # cand is full
            count = _verify(
                cand, nc, query, hashes, alive, hi_rows, word_r, r, rows, out_rows, out_dist, count
            )
            nc = 0
    return nc, count


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

    Three phases: (1) the bounds of every bucket of every word, independent loads issued
    together; (2) one pass over the buckets' tails, prefetching ``BUCKET_AHEAD`` buckets
    ahead, testing ``CHUNK_TAILS`` tails at a time without branches and collecting the few
    hits; (3) verification of the hits with their random reads overlapped.
    """
    n_buckets = 0
    for w in range(N_WORDS):
        s = word_r[w]
        if s >= 0:
            n_buckets += level_starts[s // 2 + 1]
            if s - 1 - s // 2 >= 0:
                n_buckets += level_starts[s - s // 2]
    # per bucket: start, end, word, side (-1: hi table; else the lo key), lowest and highest
    # popcount of tail ^ query half accepted
    bk = np.empty((n_buckets, 6), dtype=np.int64)
    nb = 0
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
                bk[nb, 0] = hi_off[w, b]
                bk[nb, 1] = hi_off[w, b + 1]
                bk[nb, 2] = w
                bk[nb, 3] = -1
                bk[nb, 4] = 0
                bk[nb, 5] = s - d
                nb += 1
        for d in range(a_lo + 1):
            if s - d < a_hi + 1:
                continue
            for m in range(level_starts[d], level_starts[d + 1]):
                b = qlo ^ masks[m]
                bk[nb, 0] = lo_off[w, b]
                bk[nb, 1] = lo_off[w, b + 1]
                bk[nb, 2] = w
                bk[nb, 3] = b
                bk[nb, 4] = a_hi + 1  # lower: the hi side found it
                bk[nb, 5] = s - d
                nb += 1
    cand = np.empty(CANDIDATES, dtype=np.int64)
    rows = np.empty(CANDIDATES, dtype=np.int64)
    lo_cand = np.empty(CANDIDATES, dtype=np.int64)
    nc = 0
    nl = 0
    for i in range(min(nb, BUCKET_AHEAD)):
        _prefetch_bucket(hashes, hi_tail, lo_tail, bk[i, 2], bk[i, 3], bk[i, 0], bk[i, 1])
    for i in range(nb):
        if i + BUCKET_AHEAD < nb:
            p = i + BUCKET_AHEAD
            _prefetch_bucket(hashes, hi_tail, lo_tail, bk[p, 2], bk[p, 3], bk[p, 0], bk[p, 1])
        start, end, w, side = bk[i, 0], bk[i, 1], bk[i, 2], bk[i, 3]
        lo16, span16 = np.uint16(bk[i, 4]), np.uint16(bk[i, 5] - bk[i, 4])
        if side < 0:
            q16 = np.uint16(_half(query, 2 * w + 1))
            for c in range(start, end, CHUNK_TAILS):
                ce = min(c + CHUNK_TAILS, end)
                if w == 0:
                    if not _any_within_word0(hashes, c, ce, q16, span16):
                        continue
                elif not _any_within(hi_tail[w - 1], c, ce, q16, lo16, span16):
                    continue
                for j in range(c, ce):
                    tail = np.uint16(_hi_tail_at(hashes, hi_tail, w, j))
                    if np.uint16(_ctpop(np.uint16(tail ^ q16))) > span16:
                        continue
                    if nc == CANDIDATES:
                        count = _verify(
                            cand, nc, query, hashes, alive, hi_rows, word_r, r, rows,
                            out_rows, out_dist, count,
                        )  # fmt: skip
                        nc = 0
                    cand[nc] = (w << 32) | j
                    nc += 1
        else:
            tails = lo_tail[w]
            q16 = np.uint16(_half(query, 2 * w))
            for c in range(start, end, CHUNK_TAILS):
                ce = min(c + CHUNK_TAILS, end)
                if not _any_within(tails, c, ce, q16, lo16, span16):
                    continue
                for j in range(c, ce):
                    pc = np.uint16(_ctpop(np.uint16(tails[j] ^ q16)))
                    if np.uint16(pc - lo16) > span16:
                        continue
                    if j > start and tails[j - 1] == tails[j]:
                        continue  # same word as the previous entry: already located
                    if nl == CANDIDATES:
                        nc, count = _flush_lo(
                            lo_cand, nl, query, hashes, alive, hi_off, hi_tail, hi_rows, word_r,
                            r, cand, nc, rows, out_rows, out_dist, count,
                        )  # fmt: skip
                        nl = 0
                    lo_cand[nl] = (w << 32) | (np.int64(tails[j]) << 16) | side
                    nl += 1
    nc, count = _flush_lo(
        lo_cand, nl, query, hashes, alive, hi_off, hi_tail, hi_rows, word_r, r, cand, nc, rows,
        out_rows, out_dist, count,
    )  # fmt: skip
    return _verify(
        cand, nc, query, hashes, alive, hi_rows, word_r, r, rows, out_rows, out_dist, count
    )


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
