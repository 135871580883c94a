"""Hash generators for the index tests: uniform, skewed, and near-duplicate queries."""

from __future__ import annotations

import numpy as np
import pytest


def flip_bits(rng: np.random.Generator, hashes: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Copies of ``hashes`` with ``counts[i]`` distinct random bits flipped in row ``i``."""
    out = hashes.copy()
    for i, count in enumerate(counts.tolist()):
        for bit in rng.choice(256, size=count, replace=False).tolist():
            out[i, bit // 64] ^= np.uint64(1) << np.uint64(bit % 64)
    return out


def brute_force(queries: np.ndarray, hashes: np.ndarray, ids: np.ndarray, threshold: int):
    """Reference answer: sorted ``(id, distance)`` per query by XOR + popcount of every pair."""
    out = []
    for query in queries:
        dist = np.bitwise_count(hashes ^ query).sum(axis=1)
        hit = np.nonzero(dist <= threshold)[0]
        out.append(sorted(zip(ids[hit].tolist(), dist[hit].tolist(), strict=True)))
    return out


def random_hashes(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 2**64 - 1, size=(n, 4), dtype=np.uint64, endpoint=True)


def skewed_hashes(rng: np.random.Generator, n: int) -> np.ndarray:
    """Real-PDQ-like trouble: near-duplicate clusters, a zero hash, shared words, sparse bits."""
    base = random_hashes(rng, 8)
    clusters = flip_bits(rng, base[rng.integers(0, 8, n // 2)], rng.integers(0, 12, n // 2))
    shared = random_hashes(rng, n // 4)
    shared[:, 0] = base[0, 0]  # every row shares words 0 and 1
    sparse = np.zeros((n - n // 2 - n // 4, 4), dtype=np.uint64)
    sparse = flip_bits(rng, sparse, rng.integers(0, 40, len(sparse)))
    return np.concatenate([clusters, shared, sparse])


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240531)
