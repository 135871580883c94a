/*
 * Kernels of the indexes: the PDQ range index (segment building, multi-index search, brute
 * force) and the text_near slot scan.
 *
 * Compiled ahead of time (setuptools, at install): a JIT compiler would cost every process
 * ~150 MiB of resident memory before the first hash is stored.
 *
 * Hashes are (n, 4) uint64 rows (hex order). The 256 bits are eight 32-bit *words*, each two
 * 16-bit *halves* (hi, lo). Per word a segment keeps two direct-addressed tables:
 *
 * - the hi table: rows bucketed by hi (65,536 buckets), sorted by lo inside a bucket, each
 *   entry holding its lo (the *tail*) and a 3-byte *link*: where the same row sits in the next
 *   word's hi table (word 7 links back to word 0, whose order is the segment's row order);
 * - the lo table: bucketed by lo, holding only hi tails (2 bytes an entry). A lo-side hit
 *   knows its whole word, so its entries are found by one search in the hi table (sorted by lo
 *   within a bucket: interpolation, galloping, then binary search).
 *
 * The hashes themselves are not stored: an entry's word is its bucket and its tail, and the
 * links chain a row's eight entries into a cycle, so a candidate is verified by walking its
 * cycle one word at a time (most non-matches are out of range after two words). That is 61 B
 * per hash with the id and the tombstone, where keeping the hashes and row numbers took 88 B.
 *
 * Why it is exact: with per-word radii s_w where sum(s_w + 1) == r + 1, any hash within r has
 * some word with d_w <= s_w (generalised pigeonhole, Norouzi et al.). Such a word has
 * d_hi <= a_hi or d_lo <= a_lo whenever a_hi + a_lo == s_w - 1, so probing the hi buckets
 * within a_hi and the lo buckets within a_lo (17 + 17 buckets at r = 31) and keeping tails
 * with d_hi + d_lo <= s_w finds exactly the rows with d_w <= s_w. A row is reported only by
 * the first word that finds it, so no set is needed to deduplicate.
 *
 * Every kernel releases the GIL: batched queries and builds run on several threads. Tables
 * may come from a snapshot file: their sizes and bucket offsets are checked once when they are
 * wrapped (SegmentTables) and links as they are followed, so a damaged table gives wrong
 * answers for its own rows, never a read outside its arrays.
 */
#include "../_buffers.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#define N_WORDS 8
#define N_BUCKETS 65536
#define N_OFFSETS (N_BUCKETS + 1)
#define LINE_TAILS 32                      /* 2-byte tails in a 64-byte cache line */
#define PREFETCH_TAILS (16 * LINE_TAILS)   /* a bucket's first lines fetched ahead of its scan */
#define BUCKET_AHEAD 8                     /* buckets prefetched ahead of the one scanned */
#define CHUNK_TAILS 32                     /* tails tested together, without branches */
#define CANDIDATES 1024                    /* hits collected before they are verified */
#define DECODE_ROWS 16384                  /* rows decoded at a time by the linear scan */
#define DECODE_AHEAD 32                    /* rows whose reads are in flight while decoding */
#define MAX_MASK_RADIUS 8
#define BUILD_THREADS_MIN_ROWS (1 << 18)   /* smaller segments build on the calling thread */
#define N_MASKS 39203                      /* 16-bit masks of popcount <= 8 */
#define SORTED_MIN 32                      /* batches this large take their probes in order */
#define SORTED_PROBES (1 << 20)            /* probes sorted at once: 16 MB of scratch */

/* Per-CPU clones (picked at load time by CPU features) for the kernels' generic versions, so
 * they still have popcnt and AVX2 where present; the AVX-512 BITALG versions are below. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define HOT __attribute__((target_clones("arch=x86-64-v3", "arch=x86-64-v2", "default")))
#else
#define HOT
#endif
/* Helpers are inlined into each clone, so they too get its instruction set (popcnt). */
#define INLINE static inline __attribute__((always_inline))

static uint16_t MASKS[N_MASKS];
static int64_t LEVEL_STARTS[MAX_MASK_RADIUS + 2];

static void init_masks(void) {
    int k = 0;
    for (int level = 0; level <= MAX_MASK_RADIUS; level++) {
        LEVEL_STARTS[level] = k;
        for (uint32_t m = 0; m < N_BUCKETS; m++)
            if (__builtin_popcount(m) == level) MASKS[k++] = (uint16_t)m;
    }
    LEVEL_STARTS[MAX_MASK_RADIUS + 1] = k;
}

/* Per-word radii with sum(radius + 1) == r + 1 (-1: the word is not probed). */
static void word_radii(int64_t r, int64_t radii[N_WORDS]) {
    int64_t base = (r + 1) / N_WORDS, extra = (r + 1) % N_WORDS;
    for (int w = 0; w < N_WORDS; w++) radii[w] = base - 1 + (w < extra);
}

/* How a word's radius s splits between its two tables: a_hi + a_lo == s - 1, evenly. */
INLINE int64_t hi_radius(int64_t s) {
    return s / 2; /* == ceil((s - 1) / 2) */
}

INLINE uint32_t half(const uint64_t *row, int h) {
    return (uint32_t)((row[h >> 2] >> (48 - 16 * (h & 3))) & 0xFFFF);
}

INLINE uint32_t word_of(const uint64_t *row, int w) {
    return (uint32_t)(row[w >> 1] >> (32 - 32 * (w & 1)));
}

INLINE int64_t distance(const uint64_t *row, const uint64_t *query) {
    return __builtin_popcountll(row[0] ^ query[0]) + __builtin_popcountll(row[1] ^ query[1]) +
           __builtin_popcountll(row[2] ^ query[2]) + __builtin_popcountll(row[3] ^ query[3]);
}

/* ---- a segment's arrays ------------------------------------------------------------------ */

typedef struct {
    const uint8_t *alive;    /* n, in row order (word 0's hi table order) */
    int64_t n;
    double scale;            /* N_BUCKETS / n: a position's likely hi bucket */
    const uint32_t *hi_off;  /* 8 x 65,537 */
    const uint16_t *hi_tail; /* 8 x n */
    const uint8_t *hi_next;  /* 8 x n x 3: the row's position in the next word's hi table */
    const uint32_t *lo_off;  /* 8 x 65,537 */
    const uint16_t *lo_tail; /* 8 x n */
} Tables;

typedef struct {
    int64_t *rows, *dist, *qpos; /* qpos may be NULL */
    int64_t capacity, qtag;
} Out;

INLINE void emit(Out *out, int64_t *count, int64_t row, int64_t dist, int64_t tag) {
    if (*count < out->capacity) {
        out->rows[*count] = row;
        out->dist[*count] = dist;
        if (out->qpos) out->qpos[*count] = out->qtag + tag;
    }
    (*count)++; /* counted even when it does not fit: the caller grows its buffers */
}

INLINE const uint16_t *hi_tails(const Tables *t, int w) { return t->hi_tail + (int64_t)w * t->n; }

/* Links are 3-byte little-endian positions. */
INLINE void put3(uint8_t *at, uint32_t value) {
    at[0] = value & 0xFF;
    at[1] = (value >> 8) & 0xFF;
    at[2] = (value >> 16) & 0xFF;
}

INLINE uint32_t get3(const uint8_t *at) {
    return (uint32_t)at[0] | ((uint32_t)at[1] << 8) | ((uint32_t)at[2] << 16);
}

INLINE const uint8_t *link_at(const Tables *t, int w, int64_t pos) {
    return t->hi_next + ((int64_t)w * t->n + pos) * 3;
}

/* The position a link names in the next word's table; n (out of range) when it is damaged. */
INLINE uint32_t follow(const Tables *t, int w, int64_t pos) {
    uint32_t next = get3(link_at(t, w, pos));
    return next < t->n ? next : (uint32_t)t->n;
}

/* Bucket bounds (within the segment: SegmentTables checked the offsets are a partition). */
INLINE void bucket(const uint32_t *off, int w, uint32_t b, int64_t *start, int64_t *end) {
    *start = off[(int64_t)w * N_OFFSETS + b];
    *end = off[(int64_t)w * N_OFFSETS + b + 1];
}

INLINE int64_t guess_bucket(const Tables *t, int64_t pos) {
    int64_t g = (int64_t)((double)pos * t->scale);
    return g < N_BUCKETS ? g : N_BUCKETS - 1;
}

/* The hi bucket holding position pos (< n) of word w's hi table: the last b with
 * off[b] <= pos. Guessed from the position (a line or two away on uniform data), bracketed by
 * galloping, finished by binary search (skewed data). */
INLINE uint32_t bucket_of(const Tables *t, int w, int64_t pos) {
    const uint32_t *off = t->hi_off + (int64_t)w * N_OFFSETS;
    int64_t g = guess_bucket(t, pos), lo, hi, step = 1, probe;
    if (off[g] <= pos) { /* invariant: off[lo] <= pos < off[hi] (off[N_BUCKETS] == n) */
        lo = g;
        for (probe = g + 1; probe < N_BUCKETS && off[probe] <= pos; probe = g + (step *= 2))
            lo = probe;
        hi = probe < N_BUCKETS ? probe : N_BUCKETS;
    } else {
        hi = g;
        for (probe = g - 1; probe > 0 && off[probe] > pos; probe = g - (step *= 2)) hi = probe;
        lo = probe > 0 ? probe : 0;
    }
    while (hi - lo > 1) {
        int64_t mid = (lo + hi) >> 1;
        if (off[mid] <= pos)
            lo = mid;
        else
            hi = mid;
    }
    return (uint32_t)lo;
}

/* Popcount of a 16-bit lane: the builtin where the CPU counts bits per lane (AVX-512 BITALG's
 * vpopcntw), else bit tricks (swar), which GCC vectorises for any SIMD width where the
 * builtin would stay one scalar popcnt per tail (AVX2: 16 tails per instruction). */
INLINE uint16_t popcount16(uint16_t x, int swar) {
    if (!swar) return (uint16_t)__builtin_popcount(x);
    x = (uint16_t)(x - ((x >> 1) & 0x5555));
    x = (uint16_t)((x & 0x3333) + ((x >> 2) & 0x3333));
    x = (uint16_t)((x + (x >> 4)) & 0x0F0F);
    return (uint16_t)((x + (x >> 8)) & 0x1F);
}

/* The word an entry of word w's hi table stands for: its bucket, then its tail. */
INLINE uint32_t entry_word(const Tables *t, int w, int64_t pos) {
    return (bucket_of(t, w, pos) << 16) | hi_tails(t, w)[pos];
}

/* Whether some tail has lo <= popcount(tail ^ q) <= lo + span: branch-free, so it vectorises
 * into 16-bit lanes (vpopcntw: 32 tails per AVX-512 instruction). */
INLINE int any_within(const uint16_t *tails, int64_t len, uint16_t q, uint16_t lo,
                      uint16_t span, int swar) {
    uint16_t hit = 0;
    for (int64_t j = 0; j < len; j++) {
        uint16_t pc = popcount16((uint16_t)(tails[j] ^ q), swar);
        hit |= (uint16_t)((uint16_t)(pc - lo) <= span);
    }
    return hit;
}

/* One probe of one query: a bucket of word w's hi table (side -1) or lo table (side = the lo
 * key), accepting tails with lo <= popcount(tail ^ query half) <= lo + span; the key half is
 * dk bits from the query's. */
typedef struct {
    int64_t start, end;
    int32_t w, side;
    uint16_t lo, span, dk;
    uint32_t tag; /* the query's position in the batch */
} Bucket;

INLINE void prefetch_bucket(const Tables *t, int w, int side, int64_t start, int64_t end) {
    int64_t stop = end < start + PREFETCH_TAILS ? end : start + PREFETCH_TAILS;
    const uint16_t *tails = (side >= 0 ? t->lo_tail + (int64_t)w * t->n : hi_tails(t, w));
    for (int64_t j = start; j < stop; j += LINE_TAILS) __builtin_prefetch(tails + j, 0, 3);
}

/* A candidate row on its walk round its cycle of entries. */
typedef struct {
    uint32_t pos;  /* its entry in word u's hi table */
    uint32_t tag;  /* the query */
    uint32_t row;  /* its position in word 0's table: the row (known once the walk passes it) */
    uint16_t dist; /* over the words walked so far */
    uint8_t w, u;  /* the word that found it, the word the walk is at */
} Cand;

/* Scratch of a search: hits collected in small buffers, each tagged with its query. */
typedef struct {
    const uint64_t *queries; /* the tags index these rows */
    int64_t word_r[N_WORDS];
    int64_t r;
    Cand cand[CANDIDATES];
    int64_t lo_cand[CANDIDATES]; /* d_w << 40 | word << 32 | hi << 16 | lo: a whole word */
    uint32_t lo_tag[CANDIDATES];
    int64_t lo_bounds[CANDIDATES][2]; /* their hi buckets' bounds */
    int64_t nc, nl;
} Search;

/* Walk every candidate round its cycle, one word per round for all of them at once (so the
 * random reads of a round overlap), dropping it as soon as its distance exceeds r or an
 * earlier word is within its radius (that word finds the row itself); emit the live ones that
 * come back to the word that found them. A candidate's first link was fetched when it was
 * found; a later one only once the candidate has survived the word before (most do not). */
INLINE int64_t verify(Search *s, const Tables *t, Out *out, int64_t count) {
    Cand *c = s->cand;
    int64_t n = s->nc;
    for (int hop = 1; hop < N_WORDS && n; hop++) {
        for (int64_t i = 0; i < n; i++) {
            c[i].pos = follow(t, c[i].u, c[i].pos);
            c[i].u = (c[i].u + 1) & (N_WORDS - 1);
            if (c[i].pos < t->n) {
                __builtin_prefetch(hi_tails(t, c[i].u) + c[i].pos, 0, 3);
                __builtin_prefetch(t->hi_off + c[i].u * N_OFFSETS + guess_bucket(t, c[i].pos), 0,
                                   3);
            }
        }
        int64_t kept = 0;
        for (int64_t i = 0; i < n; i++) {
            Cand e = c[i];
            if (e.pos >= t->n) continue; /* a damaged link */
            const uint64_t *q = s->queries + 4 * e.tag;
            int64_t d = __builtin_popcount(entry_word(t, e.u, e.pos) ^ word_of(q, e.u));
            e.dist = (uint16_t)(e.dist + d);
            if (e.dist > s->r || (e.u < e.w && d <= s->word_r[e.u])) continue;
            if (e.u == 0) e.row = e.pos;
            c[kept++] = e;
            if (hop + 1 < N_WORDS) __builtin_prefetch(link_at(t, e.u, e.pos), 0, 3);
        }
        n = kept;
    }
    for (int64_t i = 0; i < n; i++)
        if (t->alive[c[i].row]) emit(out, &count, c[i].row, c[i].dist, c[i].tag);
    s->nc = 0;
    return count;
}

INLINE int64_t add_candidate(Search *s, const Tables *t, Out *out, int64_t count, int w,
                             int64_t pos, int64_t d, uint32_t tag) {
    if (s->nc == CANDIDATES) count = verify(s, t, out, count);
    __builtin_prefetch(link_at(t, w, pos), 0, 3);
    s->cand[s->nc++] = (Cand){(uint32_t)pos, tag, (uint32_t)pos, (uint16_t)d, (uint8_t)w,
                              (uint8_t)w};
    return count;
}

/* Where tail `lo` would sit in a non-empty hi bucket [hs, he) of uniform tails. */
INLINE int64_t interpolate(int64_t hs, int64_t he, uint32_t lo) {
    return hs + (((int64_t)lo * (he - hs)) >> 16);
}

/* First position in [hs, he) of word w's hi table whose tail is >= lo. A hi bucket is sorted
 * by lo: guessed by interpolation, bracketed by galloping, finished by binary search. */
INLINE int64_t lower_bound(const Tables *t, int w, int64_t hs, int64_t he, uint32_t lo) {
    const uint16_t *tails = hi_tails(t, w);
    int64_t g = interpolate(hs, he, lo), left, right, step = 1;
    if (tails[g] < lo) { /* the answer is in (g, he] */
        left = g + 1;
        right = he;
        while (g + step < he) {
            if (tails[g + step] >= lo) {
                right = g + step;
                break;
            }
            left = g + step + 1;
            step *= 2;
        }
    } else { /* ... or in [hs, g] */
        left = hs;
        right = g;
        while (g - step >= hs) {
            if (tails[g - step] < lo) {
                left = g - step + 1;
                break;
            }
            right = g - step;
            step *= 2;
        }
    }
    while (left < right) {
        int64_t mid = (left + right) >> 1;
        if (tails[mid] < lo)
            left = mid + 1;
        else
            right = mid;
    }
    return left;
}

/* Turn every lo-side hit into entries of its word's hi table, verifying whenever the
 * candidate list fills up. */
INLINE int64_t flush_lo(Search *s, const Tables *t, Out *out, int64_t count) {
    for (int64_t i = 0; i < s->nl; i++) {
        int64_t e = s->lo_cand[i];
        __builtin_prefetch(t->hi_off + ((e >> 32) & 0xFF) * N_OFFSETS + ((e >> 16) & 0xFFFF), 0,
                           3);
    }
    for (int64_t i = 0; i < s->nl; i++) { /* bounds, then the interpolated guess fetched */
        int64_t e = s->lo_cand[i], hs, he;
        int w = (int)((e >> 32) & 0xFF);
        bucket(t->hi_off, w, (uint32_t)((e >> 16) & 0xFFFF), &hs, &he);
        s->lo_bounds[i][0] = hs;
        s->lo_bounds[i][1] = he;
        if (hs < he)
            __builtin_prefetch(hi_tails(t, w) + interpolate(hs, he, (uint32_t)(e & 0xFFFF)), 0, 3);
    }
    for (int64_t i = 0; i < s->nl; i++) {
        int64_t e = s->lo_cand[i], hs = s->lo_bounds[i][0], he = s->lo_bounds[i][1];
        int w = (int)((e >> 32) & 0xFF);
        uint32_t lo = (uint32_t)(e & 0xFFFF);
        if (hs == he) continue;
        const uint16_t *tails = hi_tails(t, w);
        for (int64_t pos = lower_bound(t, w, hs, he, lo); pos < he && tails[pos] == lo; pos++)
            count = add_candidate(s, t, out, count, w, pos, e >> 40, s->lo_tag[i]);
    }
    s->nl = 0;
    return count;
}

/* Scan one probe's bucket: CHUNK_TAILS tails tested at a time without branches, single tails
 * looked at only in the rare chunks that hold a hit. */
INLINE int64_t scan_bucket(Search *s, const Tables *t, Out *out, int64_t count, const Bucket *b,
                           int swar) {
    int w = b->w;
    const uint64_t *query = s->queries + 4 * b->tag;
    if (b->side < 0) {
        uint16_t q16 = (uint16_t)half(query, 2 * w + 1);
        const uint16_t *tails = hi_tails(t, w);
        for (int64_t c = b->start; c < b->end; c += CHUNK_TAILS) {
            int64_t len = b->end - c < CHUNK_TAILS ? b->end - c : CHUNK_TAILS;
            if (!any_within(tails + c, len, q16, 0, b->span, swar)) continue;
            for (int64_t j = c; j < c + len; j++) {
                uint16_t pc = (uint16_t)__builtin_popcount((uint16_t)(tails[j] ^ q16));
                if (pc > b->span) continue;
                count = add_candidate(s, t, out, count, w, j, b->dk + pc, b->tag);
            }
        }
    } else {
        const uint16_t *tails = t->lo_tail + (int64_t)w * t->n;
        uint16_t q16 = (uint16_t)half(query, 2 * w);
        for (int64_t c = b->start; c < b->end; c += CHUNK_TAILS) {
            int64_t len = b->end - c < CHUNK_TAILS ? b->end - c : CHUNK_TAILS;
            if (!any_within(tails + c, len, q16, b->lo, b->span, swar)) continue;
            for (int64_t j = c; j < c + len; j++) {
                uint16_t pc = (uint16_t)__builtin_popcount((uint16_t)(tails[j] ^ q16));
                if ((uint16_t)(pc - b->lo) > b->span) continue;
                if (j > b->start && tails[j - 1] == tails[j])
                    continue; /* same word as the previous entry: already located */
                if (s->nl == CANDIDATES) count = flush_lo(s, t, out, count);
                s->lo_tag[s->nl] = b->tag;
                s->lo_cand[s->nl++] = ((int64_t)(b->dk + pc) << 40) | ((int64_t)w << 32) |
                                      ((int64_t)tails[j] << 16) | b->side;
            }
        }
    }
    return count;
}

/* The probes of query `tag` (bounds not yet read), appended at keys; returns how many. A probe
 * key is table << 16 | bucket, table = 2 * word (+ 1 for the lo side). */
INLINE int64_t query_probes(const Search *s, uint32_t tag, uint32_t *keys) {
    const uint64_t *query = s->queries + 4 * tag;
    int64_t nb = 0;
    for (int w = 0; w < N_WORDS; w++) {
        int64_t sw = s->word_r[w];
        if (sw < 0) continue;
        int64_t a_hi = hi_radius(sw), a_lo = sw - 1 - a_hi;
        uint32_t qhi = half(query, 2 * w), qlo = half(query, 2 * w + 1);
        for (int64_t m = 0; m < LEVEL_STARTS[a_hi + 1]; m++)
            keys[nb++] = ((uint32_t)(2 * w) << 16) | (qhi ^ MASKS[m]);
        for (int64_t d = 0; d <= a_lo; d++) {
            if (sw - d < a_hi + 1) continue;
            for (int64_t m = LEVEL_STARTS[d]; m < LEVEL_STARTS[d + 1]; m++)
                keys[nb++] = ((uint32_t)(2 * w + 1) << 16) | (qlo ^ MASKS[m]);
        }
    }
    return nb;
}

/* A probe key's bucket, bounds and accepted popcount range for query `tag`. */
INLINE void probe_bucket(const Search *s, const Tables *t, uint32_t key, uint32_t tag,
                         Bucket *b) {
    const uint64_t *query = s->queries + 4 * tag;
    int w = (int)(key >> 17), lo_side = (key >> 16) & 1;
    uint32_t key_half = key & 0xFFFF;
    int64_t sw = s->word_r[w], a_hi = hi_radius(sw);
    int64_t d = __builtin_popcount(key_half ^ half(query, 2 * w + lo_side));
    b->w = w;
    b->tag = tag;
    b->dk = (uint16_t)d;
    if (lo_side) {
        bucket(t->lo_off, w, key_half, &b->start, &b->end);
        b->side = (int32_t)key_half;
        b->lo = (uint16_t)(a_hi + 1); /* lower: the hi side found it */
        b->span = (uint16_t)(sw - d - (a_hi + 1));
    } else {
        bucket(t->hi_off, w, key_half, &b->start, &b->end);
        b->side = -1;
        b->lo = 0;
        b->span = (uint16_t)(sw - d);
    }
}

/* Append every live row within r of one query. Three phases: (1) the bounds of every bucket
 * of every word, independent loads issued together; (2) one pass over the buckets' tails,
 * prefetching BUCKET_AHEAD buckets ahead; (3) verification with the random reads overlapped. */
INLINE int64_t search_segment_body(Search *s, const Tables *t, Out *out, int64_t count,
                                    Bucket *bk, uint32_t *keys, int swar) {
    int64_t nb = query_probes(s, 0, keys);
    for (int64_t i = 0; i < nb; i++) probe_bucket(s, t, keys[i], 0, &bk[i]);
    s->nc = s->nl = 0;
    for (int64_t i = 0; i < nb && i < BUCKET_AHEAD; i++)
        prefetch_bucket(t, bk[i].w, bk[i].side, bk[i].start, bk[i].end);
    for (int64_t i = 0; i < nb; i++) {
        if (i + BUCKET_AHEAD < nb) {
            const Bucket *p = &bk[i + BUCKET_AHEAD];
            prefetch_bucket(t, p->w, p->side, p->start, p->end);
        }
        count = scan_bucket(s, t, out, count, &bk[i], swar);
    }
    count = flush_lo(s, t, out, count);
    return verify(s, t, out, count);
}

/* Every live row within r of each of nq queries, the batch's probes taken in table order:
 * the tables are then read front to back once per batch (streams the hardware prefetches,
 * few TLB misses) instead of in random bucket order once per query, and a bucket probed by
 * several queries is read once. keys/tags: nq * probes-per-query entries, twice (radix sort). */
INLINE int64_t search_sorted_body(Search *s, const Tables *t, Out *out, int64_t count,
                                   int64_t nq, uint32_t *keys, uint32_t *tags, uint32_t *keys2,
                                   uint32_t *tags2, int swar) {
    int64_t np = 0;
    for (int64_t q = 0; q < nq; q++) {
        int64_t k = query_probes(s, (uint32_t)q, keys + np);
        for (int64_t i = 0; i < k; i++) tags[np + i] = (uint32_t)q;
        np += k;
    }
    /* keys are 20 bits: two stable counting passes of 10 bits */
    uint32_t counts[1025];
    for (int pass = 0; pass < 2; pass++) {
        uint32_t *src_k = pass ? keys2 : keys, *src_t = pass ? tags2 : tags;
        uint32_t *dst_k = pass ? keys : keys2, *dst_t = pass ? tags : tags2;
        int shift = 10 * pass;
        memset(counts, 0, sizeof(counts));
        for (int64_t i = 0; i < np; i++) counts[((src_k[i] >> shift) & 1023) + 1]++;
        for (int b = 0; b < 1024; b++) counts[b + 1] += counts[b];
        for (int64_t i = 0; i < np; i++) {
            uint32_t slot = counts[(src_k[i] >> shift) & 1023]++;
            dst_k[slot] = src_k[i];
            dst_t[slot] = src_t[i];
        }
    }
    s->nc = s->nl = 0;
    Bucket b, ahead;
    for (int64_t i = 0; i < np; i++) {
        if (i + BUCKET_AHEAD < np) {
            probe_bucket(s, t, keys[i + BUCKET_AHEAD], tags[i + BUCKET_AHEAD], &ahead);
            prefetch_bucket(t, ahead.w, ahead.side, ahead.start, ahead.end);
        }
        probe_bucket(s, t, keys[i], tags[i], &b);
        count = scan_bucket(s, t, out, count, &b, swar);
    }
    count = flush_lo(s, t, out, count);
    return verify(s, t, out, count);
}

/* Hashes of rows [start, start + m): each row's eight words read round its cycle (a word is
 * its hi bucket and its tail), all m rows one word at a time so the random reads overlap.
 * pos: m entries of scratch. */
INLINE void decode_rows(const Tables *t, int64_t start, int64_t m, uint64_t *out, uint32_t *pos) {
    for (int64_t i = 0; i < m; i++) {
        pos[i] = (uint32_t)(start + i);
        out[4 * i] = out[4 * i + 1] = out[4 * i + 2] = out[4 * i + 3] = 0;
    }
    for (int w = 0; w < N_WORDS; w++) {
        const uint16_t *tails = hi_tails(t, w);
        for (int64_t i = 0; i < m; i++) {
            if (i + DECODE_AHEAD < m) { /* the reads of a row DECODE_AHEAD rows on, started now */
                __builtin_prefetch(tails + pos[i + DECODE_AHEAD], 0, 3);
                __builtin_prefetch(link_at(t, w, pos[i + DECODE_AHEAD]), 0, 3);
            }
            out[4 * i + (w >> 1)] |= (uint64_t)entry_word(t, w, pos[i]) << (32 - 32 * (w & 1));
            if (w + 1 < N_WORDS) {
                uint32_t next = follow(t, w, pos[i]);
                pos[i] = next < t->n ? next : 0; /* a damaged link: some row, never outside */
            }
        }
    }
}

/* Linear XOR + popcount scan of n rows (row numbers from row0), for each of nq queries. */
INLINE int64_t scan_rows_body(const uint64_t *queries, int64_t nq, const uint64_t *hashes,
                              const uint8_t *alive, int64_t n, int64_t row0, int64_t r, Out *out,
                              int64_t count) {
    for (int64_t q = 0; q < nq; q++) {
        for (int64_t row = 0; row < n; row++) {
            int64_t dist = distance(hashes + 4 * row, queries + 4 * q);
            if (dist <= r && alive[row]) emit(out, &count, row0 + row, dist, q);
        }
    }
    return count;
}

/* The linear scan of a segment (huge thresholds): rows decoded DECODE_ROWS at a time. */
INLINE int64_t search_decoded_body(const Tables *t, const uint64_t *queries, int64_t nq,
                                    int64_t r, Out *out, int64_t count, uint64_t *block,
                                    uint32_t *pos) {
    for (int64_t start = 0; start < t->n; start += DECODE_ROWS) {
        int64_t m = t->n - start < DECODE_ROWS ? t->n - start : DECODE_ROWS;
        decode_rows(t, start, m, block, pos);
        count = scan_rows_body(queries, nq, block, t->alive + start, m, start, r, out, count);
    }
    return count;
}

/* ---- one build for every x86-64 ------------------------------------------------------------ */

/* Each search kernel is compiled twice: for CPUs with AVX-512 BITALG, where the tail filter
 * runs 32 tails per vpopcntw (a whole 16.7M-row segment searched 1.56x faster than with scalar
 * popcnt), and as per-CPU clones for the rest, which count a tail's bits with bit tricks
 * (`swar`: vectorised, 16 tails per AVX2 instruction). The pick is made once, at import, from
 * the CPU's features (not its model name: virtual machines often report a generic one). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define HAVE_AVX512_PATH 1
#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bitalg,popcnt,bmi2")))
#else
#define HAVE_AVX512_PATH 0
#define AVX512
#endif

#define KERNEL(ret, name, params, args)                                                    \
    AVX512 static ret name##_avx512 params {                                               \
        const int swar = 0;                                                                \
        (void)swar;                                                                        \
        return name##_body args;                                                           \
    }                                                                                      \
    HOT static ret name##_generic params {                                                 \
        const int swar = 1;                                                                \
        (void)swar;                                                                        \
        return name##_body args;                                                           \
    }

KERNEL(int64_t, search_segment,
       (Search *s, const Tables *t, Out *out, int64_t count, Bucket *bk, uint32_t *keys),
       (s, t, out, count, bk, keys, swar))
KERNEL(int64_t, search_sorted,
       (Search *s, const Tables *t, Out *out, int64_t count, int64_t nq, uint32_t *keys,
        uint32_t *tags, uint32_t *keys2, uint32_t *tags2),
       (s, t, out, count, nq, keys, tags, keys2, tags2, swar))
KERNEL(int64_t, scan_rows,
       (const uint64_t *queries, int64_t nq, const uint64_t *hashes, const uint8_t *alive,
        int64_t n, int64_t row0, int64_t r, Out *out, int64_t count),
       (queries, nq, hashes, alive, n, row0, r, out, count))
KERNEL(int64_t, search_decoded,
       (const Tables *t, const uint64_t *queries, int64_t nq, int64_t r, Out *out,
        int64_t count, uint64_t *block, uint32_t *pos),
       (t, queries, nq, r, out, count, block, pos))

static struct {
    const char *isa;
    int64_t (*search_segment)(Search *, const Tables *, Out *, int64_t, Bucket *, uint32_t *);
    int64_t (*search_sorted)(Search *, const Tables *, Out *, int64_t, int64_t, uint32_t *,
                             uint32_t *, uint32_t *, uint32_t *);
    int64_t (*scan_rows)(const uint64_t *, int64_t, const uint64_t *, const uint8_t *, int64_t,
                         int64_t, int64_t, Out *, int64_t);
    int64_t (*search_decoded)(const Tables *, const uint64_t *, int64_t, int64_t, Out *,
                              int64_t, uint64_t *, uint32_t *);
} K = {"generic", search_segment_generic, search_sorted_generic, scan_rows_generic,
       search_decoded_generic};

static void pick_kernels(void) {
#if HAVE_AVX512_PATH
    __builtin_cpu_init();
#if __GNUC__ >= 12 /* name the clone GCC's resolver picks by the same test (for benchmarks) */
    K.isa = __builtin_cpu_supports("x86-64-v3")   ? "generic:x86-64-v3"
            : __builtin_cpu_supports("x86-64-v2") ? "generic:x86-64-v2"
                                                  : "generic:baseline";
#endif
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bitalg") &&
        __builtin_cpu_supports("popcnt") && __builtin_cpu_supports("bmi2") &&
        !getenv("COUNTERSIGNAL_KERNELS_GENERIC")) {
        K.isa = "avx512bitalg";
        K.search_segment = search_segment_avx512;
        K.search_sorted = search_sorted_avx512;
        K.scan_rows = scan_rows_avx512;
        K.search_decoded = search_decoded_avx512;
    }
#endif
}

/* ---- building ---------------------------------------------------------------------------- */

/* Bucket bounds of 16-bit keys: offsets (65,537 entries) and a copy as write cursors. */
static void histogram(const uint16_t *keys, int64_t n, uint32_t *offsets, uint32_t *cursor) {
    memset(offsets, 0, sizeof(uint32_t) * N_OFFSETS);
    for (int64_t i = 0; i < n; i++) offsets[keys[i] + 1]++;
    for (int b = 0; b < N_BUCKETS; b++) offsets[b + 1] += offsets[b];
    memcpy(cursor, offsets, sizeof(uint32_t) * N_BUCKETS);
}

/* Scratch of one building thread: a word's halves row by row, the same after the first
 * counting pass (so the second pass reads them in order, not at random), row numbers. */
typedef struct {
    uint16_t *hi, *lo, *hi1, *lo1;
    uint32_t *rows1, *offsets, *cursor;
} BuildScratch;

static int scratch_alloc(BuildScratch *b, int64_t n) {
    size_t rows = (size_t)(n ? n : 1);
    b->hi = malloc(2 * rows);
    b->lo = malloc(2 * rows);
    b->hi1 = malloc(2 * rows);
    b->lo1 = malloc(2 * rows);
    b->rows1 = malloc(4 * rows);
    b->offsets = malloc(4 * N_OFFSETS);
    b->cursor = malloc(4 * N_BUCKETS);
    return b->hi && b->lo && b->hi1 && b->lo1 && b->rows1 && b->offsets && b->cursor;
}

static void scratch_free(BuildScratch *b) {
    free(b->hi);
    free(b->lo);
    free(b->hi1);
    free(b->lo1);
    free(b->rows1);
    free(b->offsets);
    free(b->cursor);
}

/* First of two stable counting passes: rows by `key` (the halves `key` and `other` of every
 * row, row numbers too when rows1 is wanted) into the scratch's "1" arrays. */
static void first_pass(BuildScratch *b, int64_t n, int by_lo, int with_rows) {
    const uint16_t *key = by_lo ? b->lo : b->hi;
    histogram(key, n, b->offsets, b->cursor);
    for (int64_t i = 0; i < n; i++) {
        uint32_t c = b->cursor[key[i]]++;
        b->hi1[c] = b->hi[i];
        b->lo1[c] = b->lo[i];
        if (with_rows) b->rows1[c] = (uint32_t)i;
    }
}

static void extract_word(const uint64_t *rows, int64_t n, int w, BuildScratch *b) {
    for (int64_t i = 0; i < n; i++) {
        b->hi[i] = (uint16_t)half(rows + 4 * i, 2 * w);
        b->lo[i] = (uint16_t)half(rows + 4 * i, 2 * w + 1);
    }
}

/* Row order sorted by word 0 (hi then lo): two stable counting passes. */
static int primary_order(const uint64_t *hashes, int64_t n, uint32_t *order) {
    BuildScratch b;
    int ok = scratch_alloc(&b, n);
    if (ok) {
        extract_word(hashes, n, 0, &b);
        first_pass(&b, n, 1, 1);
        histogram(b.hi, n, b.offsets, b.cursor);
        for (int64_t j = 0; j < n; j++) order[b.cursor[b.hi1[j]]++] = b.rows1[j];
    }
    scratch_free(&b);
    return ok;
}

typedef struct {
    const uint64_t *rows;
    int64_t n;
    uint32_t *hi_off, *lo_off;
    uint16_t *hi_tail, *lo_tail;
    uint8_t *hi_next;
    uint32_t *pos; /* (8 - 1) x n: where row i sits in word w's hi table (word 0: at i) */
    int first_word, step, ok;
} BuildJob;

/* Fill the hi and lo tables of words first_word, first_word + step, ...: each table is the
 * second counting pass's output, written directly. A hi entry's link first holds its row;
 * link_words turns it into the next word's position once every word is placed. */
static void *build_words(void *arg) {
    BuildJob *job = arg;
    int64_t n = job->n;
    BuildScratch b;
    job->ok = scratch_alloc(&b, n);
    for (int w = job->first_word; job->ok && w < N_WORDS; w += job->step) {
        extract_word(job->rows, n, w, &b);
        uint16_t *tails = job->hi_tail + (int64_t)w * n; /* hi table: by hi, then lo */
        uint8_t *links = job->hi_next + (int64_t)w * n * 3;
        uint32_t *pos = w ? job->pos + (int64_t)(w - 1) * n : NULL;
        first_pass(&b, n, 1, 1);
        histogram(b.hi, n, job->hi_off + (int64_t)w * N_OFFSETS, b.cursor);
        for (int64_t j = 0; j < n; j++) {
            uint32_t c = b.cursor[b.hi1[j]]++, i = b.rows1[j];
            tails[c] = b.lo1[j];
            put3(links + 3 * (int64_t)c, i);
            if (pos) pos[i] = c; /* word 0 needs none: the rows are in its order (c == i) */
        }
        tails = job->lo_tail + (int64_t)w * n; /* lo table: by lo, then hi */
        first_pass(&b, n, 0, 0);
        histogram(b.lo, n, job->lo_off + (int64_t)w * N_OFFSETS, b.cursor);
        for (int64_t j = 0; j < n; j++) tails[b.cursor[b.lo1[j]]++] = b.hi1[j];
    }
    scratch_free(&b);
    return NULL;
}

/* Links of words first_word, first_word + step, ...: row -> its position in the next word's
 * hi table (word 7's stay rows: word 0's positions are the rows). */
static void *link_words(void *arg) {
    BuildJob *job = arg;
    int64_t n = job->n;
    for (int w = job->first_word; w < N_WORDS - 1; w += job->step) {
        uint8_t *links = job->hi_next + (int64_t)w * n * 3;
        const uint32_t *next = job->pos + (int64_t)w * n; /* word w + 1's positions */
        for (int64_t c = 0; c < n; c++) {
            if (c + DECODE_AHEAD < n) __builtin_prefetch(next + get3(links + 3 * (c + DECODE_AHEAD)));
            put3(links + 3 * c, next[get3(links + 3 * c)]);
        }
    }
    job->ok = 1;
    return NULL;
}

/* Run fn on every job, on threads where they can be had (else on this one). */
static int run_jobs(void *(*fn)(void *), BuildJob *jobs, int threads) {
    pthread_t ids[N_WORDS];
    int started[N_WORDS] = {0};
    for (int k = 1; k < threads; k++) started[k] = pthread_create(&ids[k], NULL, fn, &jobs[k]) == 0;
    for (int k = 1; k < threads; k++)
        if (!started[k]) fn(&jobs[k]);
    fn(&jobs[0]);
    int ok = jobs[0].ok;
    for (int k = 1; k < threads; k++) {
        if (started[k]) pthread_join(ids[k], NULL);
        ok = ok && jobs[k].ok;
    }
    return ok;
}

/* Fill the hi and lo tables of every word; the rows must already be in primary order (word
 * 0's). Links take 3 bytes (segments hold fewer than 2**24 rows). Words are shared among
 * `threads` threads (each with 12 bytes of scratch per row) once a segment is large enough
 * to be worth it; the positions of every row in every word take 28 bytes a row meanwhile. */
static int build_tables(const uint64_t *rows, int64_t n, uint32_t *hi_off, uint16_t *hi_tail,
                        uint8_t *hi_next, uint32_t *lo_off, uint16_t *lo_tail, int threads) {
    if (threads < 1 || n < BUILD_THREADS_MIN_ROWS) threads = 1;
    if (threads > N_WORDS) threads = N_WORDS;
    uint32_t *pos = malloc(sizeof(uint32_t) * (size_t)(N_WORDS - 1) * (size_t)(n ? n : 1));
    if (!pos) return 0;
    BuildJob jobs[N_WORDS];
    for (int k = 0; k < threads; k++)
        jobs[k] = (BuildJob){rows, n, hi_off, lo_off, hi_tail, lo_tail, hi_next, pos, k, threads, 0};
    int ok = run_jobs(build_words, jobs, threads) && run_jobs(link_words, jobs, threads);
    free(pos);
    return ok;
}

/* ---- text_near ---------------------------------------------------------------------------- */

/* Rows of slots[:count] with at most max_differing slots unlike the query; a row stops being
 * counted as soon as it is out of range. */
HOT static int64_t scan_slots(const uint32_t *slots, int64_t count, int64_t width,
                              const uint32_t *query, int64_t max_differing, int64_t *out_rows,
                              int64_t *out_differing) {
    int64_t found = 0;
    for (int64_t row = 0; row < count; row++) {
        const uint32_t *slot = slots + row * width;
        int64_t differing = 0;
        for (int64_t k = 0; k < width && differing <= max_differing; k++)
            differing += slot[k] != query[k];
        if (differing <= max_differing) {
            out_rows[found] = row;
            out_differing[found] = differing;
            found++;
        }
    }
    return found;
}

/* ---- Python glue ------------------------------------------------------------------------- */

static int check_threshold(int64_t r) {
    if (r < 0 || r > 256) {
        PyErr_Format(PyExc_ValueError, "threshold %lld outside 0..256", (long long)r);
        return -1;
    }
    return 0;
}

/* Output buffers: rows, dist (and qpos) of equal length, int64. */
static int get_out(PyObject *const *args, int n_out, Py_buffer *views, Out *out) {
    static const char *names[] = {"out_rows", "out_dist", "out_query"};
    for (int i = 0; i < n_out; i++) {
        if (get_buffer(args[i], &views[i], 8, i ? views[0].len / 8 : -1, 1, names[i]) < 0) {
            release(views, i);
            return -1;
        }
    }
    out->rows = views[0].buf;
    out->dist = views[1].buf;
    out->qpos = n_out > 2 ? views[2].buf : NULL;
    out->capacity = views[0].len / 8;
    out->qtag = 0;
    return 0;
}

/* The five tables of an n-row segment (hi_off, hi_tail, hi_next, lo_off, lo_tail), each
 * checked against its size; on failure none is held. */
static int get_tables(PyObject *const *objs, int64_t n, int writable, Py_buffer *v) {
    const struct { Py_ssize_t itemsize, count; const char *name; } want[5] = {
        {4, N_WORDS * N_OFFSETS, "hi_off"}, {2, N_WORDS * n, "hi_tail"},
        {1, N_WORDS * n * 3, "hi_next"}, {4, N_WORDS * N_OFFSETS, "lo_off"},
        {2, N_WORDS * n, "lo_tail"},
    };
    for (int i = 0; i < 5; i++) {
        if (get_buffer(objs[i], &v[i], want[i].itemsize, want[i].count, writable, want[i].name) <
            0) {
            release(v, i);
            return -1;
        }
    }
    return 0;
}

typedef struct {
    PyObject_HEAD
    Py_buffer views[6];
    int ready;
    Tables t;
} SegmentTables;

static void SegmentTables_dealloc(SegmentTables *self) {
    if (self->ready) release(self->views, 6);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int SegmentTables_init(SegmentTables *self, PyObject *args, PyObject *kwds) {
    PyObject *o[6];
    if (self->ready) {
        PyErr_SetString(PyExc_RuntimeError, "SegmentTables is already initialised");
        return -1;
    }
    if (!PyArg_ParseTuple(args, "OOOOOO:SegmentTables", &o[0], &o[1], &o[2], &o[3], &o[4],
                          &o[5]))
        return -1;
    Py_buffer *v = self->views;
    if (get_buffer(o[0], &v[0], 1, -1, 0, "alive") < 0) return -1;
    int64_t n = v[0].len;
    if (n >= (1 << 24)) {
        PyErr_SetString(PyExc_ValueError, "a segment holds fewer than 2**24 rows");
        release(v, 1);
        return -1;
    }
    if (get_tables(o + 1, n, 0, v + 1) < 0) {
        release(v, 1);
        return -1;
    }
    Tables t = {v[0].buf, n, n ? (double)N_BUCKETS / (double)n : 0.0, v[1].buf, v[2].buf,
                v[3].buf, v[4].buf, v[5].buf};
    for (int w = 0; w < N_WORDS; w++) { /* offsets must rise to n: reject, do not guess */
        const uint32_t *offs[2] = {t.hi_off + w * N_OFFSETS, t.lo_off + w * N_OFFSETS};
        for (int side = 0; side < 2; side++) {
            int bad = offs[side][0] != 0 || offs[side][N_BUCKETS] != n;
            for (int b = 0; !bad && b < N_BUCKETS; b++) bad = offs[side][b] > offs[side][b + 1];
            if (bad) {
                PyErr_Format(PyExc_ValueError, "word %d: bucket offsets are not a partition", w);
                release(v, 6);
                return -1;
            }
        }
    }
    self->t = t;
    self->ready = 1;
    return 0;
}

static int check_ready(SegmentTables *self) {
    if (self->ready) return 0;
    PyErr_SetString(PyExc_RuntimeError, "SegmentTables is not initialised");
    return -1;
}

/* Probes (buckets) per query at threshold r; sets radii. -1 with an error set when a ball is
 * larger than the mask table. */
static int64_t probes_per_query(int64_t r, int64_t radii[N_WORDS]) {
    int64_t total = 0;
    word_radii(r, radii);
    for (int w = 0; w < N_WORDS; w++) {
        if (radii[w] < 0) continue;
        int64_t a_hi = hi_radius(radii[w]), a_lo = radii[w] - 1 - a_hi;
        if (a_hi > MAX_MASK_RADIUS) {
            PyErr_Format(PyExc_ValueError, "threshold %lld is too large for the index",
                         (long long)r);
            return -1;
        }
        total += LEVEL_STARTS[a_hi + 1] + (a_lo >= 0 ? LEVEL_STARTS[a_lo + 1] : 0);
    }
    return total;
}

/* The arguments of a segment search, (queries, r, out_rows, out_dist[, out_query]): views[0]
 * the queries (query_items uint64 words, -1: any number of rows), views[1..n_out] the outputs.
 * -1 with an error set and nothing held. */
static int search_args(SegmentTables *self, PyObject *const *args, Py_ssize_t nargs, int n_out,
                       Py_ssize_t query_items, Py_buffer *views, int64_t *r, Out *out) {
    if (nargs != 2 + n_out) {
        PyErr_Format(PyExc_TypeError, "expected %d arguments", 2 + n_out);
        return -1;
    }
    if (check_ready(self) < 0) return -1;
    *r = PyLong_AsLongLong(args[1]);
    if ((*r == -1 && PyErr_Occurred()) || check_threshold(*r) < 0) return -1;
    if (get_buffer(args[0], &views[0], 8, query_items, 0, "query") < 0) return -1;
    if (views[0].len % 32) {
        PyErr_SetString(PyExc_ValueError, "queries: expected (n, 4) uint64 rows");
        release(views, 1);
        return -1;
    }
    if (get_out(args + 2, n_out, views + 1, out) < 0) {
        release(views, 1);
        return -1;
    }
    return 0;
}

/* search(query, r, out_rows, out_dist) -> count;
 * search_many(queries, r, out_rows, out_dist, out_query) -> count. Batches of SORTED_MIN
 * queries or more take their probes in table order (search_sorted), at most SORTED_PROBES
 * probes at a time. */
static PyObject *segment_search(SegmentTables *self, PyObject *const *args, Py_ssize_t nargs,
                                int many) {
    int n_out = many ? 3 : 2;
    Py_buffer views[4];
    int64_t r;
    Out out;
    if (search_args(self, args, nargs, n_out, many ? -1 : 4, views, &r, &out) < 0) return NULL;
    int64_t count = 0, nq = views[0].len / 32;
    const uint64_t *queries = views[0].buf;
    Search *s = malloc(sizeof(Search));
    int64_t per_query = s ? probes_per_query(r, s->word_r) : 0;
    int sorted = nq >= SORTED_MIN && per_query > 0 && per_query * SORTED_MIN <= SORTED_PROBES;
    int64_t chunk = sorted ? SORTED_PROBES / per_query : 1;
    if (chunk > nq) chunk = nq;
    /* sorted: keys, tags and their radix-sort copies; else one query's keys and buckets */
    uint32_t *keys = NULL;
    Bucket *bk = NULL;
    if (per_query > 0) {
        keys = malloc(sizeof(uint32_t) * per_query * (sorted ? 4 * chunk : 1));
        bk = sorted ? NULL : malloc(sizeof(Bucket) * per_query);
    }
    if (!s || per_query <= 0 || !keys || (!sorted && !bk)) {
        if (!PyErr_Occurred()) PyErr_NoMemory();
        free(s);
        free(keys);
        free(bk);
        release(views, 1 + n_out);
        return NULL;
    }
    s->r = r;
    Py_BEGIN_ALLOW_THREADS
    for (int64_t q = 0; q < nq; q += chunk) {
        int64_t size = nq - q < chunk ? nq - q : chunk, stride = per_query * chunk;
        s->queries = queries + 4 * q;
        out.qtag = q;
        if (sorted)
            count = K.search_sorted(s, &self->t, &out, count, size, keys, keys + stride,
                                  keys + 2 * stride, keys + 3 * stride);
        else
            count = K.search_segment(s, &self->t, &out, count, bk, keys);
    }
    Py_END_ALLOW_THREADS
    free(bk);
    free(keys);
    free(s);
    release(views, 1 + n_out);
    return PyLong_FromLongLong(count);
}

static PyObject *SegmentTables_search(SegmentTables *self, PyObject *const *args,
                                      Py_ssize_t nargs) {
    return segment_search(self, args, nargs, 0);
}

static PyObject *SegmentTables_search_many(SegmentTables *self, PyObject *const *args,
                                           Py_ssize_t nargs) {
    return segment_search(self, args, nargs, 1);
}

/* search_brute(queries, r, out_rows, out_dist, out_query) -> count: the linear scan, rows
 * decoded a block at a time (huge thresholds, where the balls cover most buckets). */
static PyObject *SegmentTables_search_brute(SegmentTables *self, PyObject *const *args,
                                            Py_ssize_t nargs) {
    Py_buffer views[4];
    int64_t r;
    Out out;
    if (search_args(self, args, nargs, 3, -1, views, &r, &out) < 0) return NULL;
    uint64_t *block = malloc(32 * DECODE_ROWS);
    uint32_t *pos = malloc(4 * DECODE_ROWS);
    int64_t count = 0;
    if (block && pos) {
        Py_BEGIN_ALLOW_THREADS
        count = K.search_decoded(&self->t, views[0].buf, views[0].len / 32, r, &out, 0, block,
                                 pos);
        Py_END_ALLOW_THREADS
    }
    free(block);
    free(pos);
    release(views, 4);
    if (!block || !pos) return PyErr_NoMemory();
    return PyLong_FromLongLong(count);
}

/* decode(start, out): the hashes of rows [start, start + len(out)) into out ((m, 4) uint64). */
static PyObject *SegmentTables_decode(SegmentTables *self, PyObject *const *args,
                                      Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "expected 2 arguments");
        return NULL;
    }
    if (check_ready(self) < 0) return NULL;
    int64_t start = PyLong_AsLongLong(args[0]);
    if (start == -1 && PyErr_Occurred()) return NULL;
    Py_buffer view;
    if (get_buffer(args[1], &view, 8, -1, 1, "out") < 0) return NULL;
    int64_t m = view.len / 32;
    if (view.len % 32 || start < 0 || start + m > self->t.n) {
        PyErr_SetString(PyExc_ValueError, "out: expected (m, 4) uint64 rows within the segment");
        PyBuffer_Release(&view);
        return NULL;
    }
    uint32_t *pos = malloc(4 * (size_t)(m ? m : 1));
    if (pos) {
        Py_BEGIN_ALLOW_THREADS
        decode_rows(&self->t, start, m, view.buf, pos);
        Py_END_ALLOW_THREADS
    }
    free(pos);
    PyBuffer_Release(&view);
    if (!pos) return PyErr_NoMemory();
    Py_RETURN_NONE;
}

static PyMethodDef SegmentTables_methods[] = {
    {"search", (PyCFunction)(void (*)(void))SegmentTables_search, METH_FASTCALL,
     "search(query, r, out_rows, out_dist) -> count of live rows within r (may exceed the "
     "buffers: grow them and retry)"},
    {"search_many", (PyCFunction)(void (*)(void))SegmentTables_search_many, METH_FASTCALL,
     "search_many(queries, r, out_rows, out_dist, out_query) -> count, each hit tagged with "
     "its query's position"},
    {"search_brute", (PyCFunction)(void (*)(void))SegmentTables_search_brute, METH_FASTCALL,
     "search_brute(queries, r, out_rows, out_dist, out_query) -> count: the linear scan"},
    {"decode", (PyCFunction)(void (*)(void))SegmentTables_decode, METH_FASTCALL,
     "decode(start, out): the hashes of rows start .. start + len(out) into out"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject SegmentTablesType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "countersignal.index._kernels.SegmentTables",
    .tp_basicsize = sizeof(SegmentTables),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "SegmentTables(alive, hi_off, hi_tail, hi_next, lo_off, lo_tail): a "
              "segment's arrays, checked once and held for searching.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)SegmentTables_init,
    .tp_dealloc = (destructor)SegmentTables_dealloc,
    .tp_methods = SegmentTables_methods,
};

/* search_brute(queries, hashes, alive, r, out_rows, out_dist[, out_query]) -> count */
static PyObject *py_search_brute(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 6 && nargs != 7) {
        PyErr_SetString(PyExc_TypeError, "expected 6 or 7 arguments");
        return NULL;
    }
    int64_t r = PyLong_AsLongLong(args[3]);
    if ((r == -1 && PyErr_Occurred()) || check_threshold(r) < 0) return NULL;
    Py_buffer views[6];
    if (get_buffer(args[0], &views[0], 8, -1, 0, "queries") < 0) return NULL;
    if (get_buffer(args[1], &views[1], 8, -1, 0, "hashes") < 0) {
        release(views, 1);
        return NULL;
    }
    int64_t n = views[1].len / 32;
    if (views[0].len % 32 || views[1].len % 32 ||
        get_buffer(args[2], &views[2], 1, n, 0, "alive") < 0) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "expected (n, 4) uint64 rows");
        release(views, 2);
        return NULL;
    }
    Out out;
    int n_out = (int)nargs - 4;
    if (get_out(args + 4, n_out, views + 3, &out) < 0) {
        release(views, 3);
        return NULL;
    }
    int64_t count;
    Py_BEGIN_ALLOW_THREADS
    count = K.scan_rows(views[0].buf, views[0].len / 32, views[1].buf, views[2].buf, n, 0, r,
                        &out, 0);
    Py_END_ALLOW_THREADS
    release(views, 3 + n_out);
    return PyLong_FromLongLong(count);
}

/* build_segment(hashes, order, hi_off, hi_tail, hi_next, lo_off, lo_tail, threads):
 * order (uint32, n) receives the primary order (the segment's rows are the hashes in it), and
 * the tables are filled on up to `threads` threads. */
static PyObject *py_build_segment(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    Py_buffer v[7];
    if (nargs != 8) {
        PyErr_SetString(PyExc_TypeError, "expected 8 arguments");
        return NULL;
    }
    long threads = PyLong_AsLong(args[7]);
    if (threads == -1 && PyErr_Occurred()) return NULL;
    if (get_buffer(args[0], &v[0], 8, -1, 0, "hashes") < 0) return NULL;
    int64_t n = v[0].len / 32;
    if (v[0].len % 32 || n >= (1 << 24)) {
        PyErr_SetString(PyExc_ValueError, "hashes: expected (n, 4) uint64 rows, n < 2**24");
        release(v, 1);
        return NULL;
    }
    if (get_buffer(args[1], &v[1], 4, n, 1, "order") < 0) {
        release(v, 1);
        return NULL;
    }
    if (get_tables(args + 2, n, 1, v + 2) < 0) {
        release(v, 2);
        return NULL;
    }
    const uint64_t *hashes = v[0].buf;
    uint32_t *order = v[1].buf;
    uint64_t *rows = malloc(32 * (size_t)(n ? n : 1));
    int ok = rows != NULL;
    Py_BEGIN_ALLOW_THREADS
    ok = ok && primary_order(hashes, n, order);
    for (int64_t i = 0; ok && i < n; i++) memcpy(rows + 4 * i, hashes + 4 * (int64_t)order[i], 32);
    ok = ok && build_tables(rows, n, v[2].buf, v[3].buf, v[4].buf, v[5].buf, v[6].buf,
                            (int)threads);
    Py_END_ALLOW_THREADS
    free(rows);
    release(v, 7);
    if (!ok) return PyErr_NoMemory();
    Py_RETURN_NONE;
}

/* scan_slots(slots, count, query, max_differing, out_rows, out_differing) -> found */
static PyObject *py_scan_slots(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    Py_buffer v[4];
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "expected 6 arguments");
        return NULL;
    }
    int64_t count = PyLong_AsLongLong(args[1]), max_differing = PyLong_AsLongLong(args[3]);
    if (PyErr_Occurred()) return NULL;
    if (get_buffer(args[2], &v[0], 4, -1, 0, "query") < 0) return NULL;
    int64_t width = v[0].len / 4;
    if (get_buffer(args[0], &v[1], 4, -1, 0, "slots") < 0) {
        release(v, 1);
        return NULL;
    }
    if (count < 0 || width == 0 || v[1].len % (width * 4) || count > v[1].len / (width * 4)) {
        PyErr_SetString(PyExc_ValueError, "slots: expected (rows >= count, len(query)) uint32");
        release(v, 2);
        return NULL;
    }
    for (int i = 0; i < 2; i++) {
        if (get_buffer(args[4 + i], &v[2 + i], 8, -1, 1, i ? "out_differing" : "out_rows") < 0) {
            release(v, 2 + i);
            return NULL;
        }
        if (v[2 + i].len < count * 8) {
            PyErr_SetString(PyExc_ValueError, "outputs must hold count rows");
            release(v, 3 + i);
            return NULL;
        }
    }
    int64_t found;
    Py_BEGIN_ALLOW_THREADS
    found = scan_slots(v[1].buf, count, width, v[0].buf, max_differing, v[2].buf, v[3].buf);
    Py_END_ALLOW_THREADS
    release(v, 4);
    return PyLong_FromLongLong(found);
}

static PyMethodDef module_methods[] = {
    {"scan_slots", (PyCFunction)(void (*)(void))py_scan_slots, METH_FASTCALL,
     "scan_slots(slots, count, query, max_differing, out_rows, out_differing) -> found: "
     "text_near rows with at most max_differing slots unlike the query"},
    {"search_brute", (PyCFunction)(void (*)(void))py_search_brute, METH_FASTCALL,
     "search_brute(queries, hashes, alive, r, out_rows, out_dist[, out_query]) -> count: "
     "linear scan"},
    {"build_segment", (PyCFunction)(void (*)(void))py_build_segment, METH_FASTCALL,
     "build_segment(hashes, order, hi_off, hi_tail, hi_next, lo_off, lo_tail, threads): "
     "the primary order and the tables of the rows in it"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_kernels",
    "Kernels of the PDQ and text_near indexes (see the C source's header).", -1,
    module_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__kernels(void) {
    init_masks();
    pick_kernels();
    if (PyType_Ready(&SegmentTablesType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module_def);
    if (!m) return NULL;
    Py_INCREF(&SegmentTablesType);
    if (PyModule_AddObject(m, "SegmentTables", (PyObject *)&SegmentTablesType) < 0 ||
        PyModule_AddIntConstant(m, "N_WORDS", N_WORDS) < 0 ||
        PyModule_AddIntConstant(m, "N_BUCKETS", N_BUCKETS) < 0 ||
        PyModule_AddIntConstant(m, "CANDIDATES", CANDIDATES) < 0 ||
        PyModule_AddIntConstant(m, "SORTED_MIN", SORTED_MIN) < 0 ||
        PyModule_AddIntConstant(m, "SORTED_PROBES", SORTED_PROBES) < 0 ||
        PyModule_AddIntConstant(m, "MAX_MASK_RADIUS", MAX_MASK_RADIUS) < 0 ||
        PyModule_AddStringConstant(m, "ISA", K.isa) < 0) {
        Py_DECREF(&SegmentTablesType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
