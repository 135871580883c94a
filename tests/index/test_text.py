"""TextNearIndex agrees with the brute-force TextNear.compare through adds, removes, reloads."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from countersignal.errors import InvalidSignal
from countersignal.index.snapshot import SnapshotError
from countersignal.index.text import TextNearIndex
from countersignal.signals import hash_text
from countersignal.signals.text import TextNear

WORDS = [
    "attack",
    "video",
    "statement",
    "brothers",
    "join",
    "fight",
    "state",
    "call",
    "share",
    "channel",
    "group",
    "release",
    "leader",
    "martyr",
    "operation",
    "city",
    "night",
    "media",
    "official",
    "message",
    "army",
]


def _corpus(count: int, seed: int) -> list[str]:
    """Families of texts: a base text and light edits of it, so distances spread 0..1."""
    rng = random.Random(seed)
    texts = []
    while len(texts) < count:
        base = [rng.choice(WORDS) for _ in range(rng.randint(4, 30))]
        texts.append(" ".join(base))
        for _ in range(rng.randint(0, 3)):
            edited = list(base)
            for _ in range(rng.randint(1, 4)):
                edited[rng.randrange(len(edited))] = rng.choice(WORDS)
            texts.append(" ".join(edited))
    return [hash_text(t)[1].value for t in texts[:count]]


def _expected(values: dict[int, list[str]], query: str, threshold: float) -> list[tuple]:
    ids = [i for i, vs in values.items() for _ in vs]
    flat = [v for vs in values.values() for v in vs]
    found = [(ids[pos], d) for pos, d in TextNear.compare(query, flat, threshold)]
    return sorted(found, key=lambda pair: (pair[1], pair[0]))


@pytest.mark.parametrize("threshold", [0.0, 0.3, TextNear.default_threshold, 0.9])
def test_query_equals_brute_force(threshold: float) -> None:
    values = _corpus(300, seed=1)
    index = TextNearIndex()
    index.add(list(range(len(values))), values)
    stored = {i: [v] for i, v in enumerate(values)}
    for query in values[:40] + _corpus(10, seed=2):
        assert index.query(query, threshold) == _expected(stored, query, threshold)
    assert len(index) == 300


def test_adds_and_removes_stay_consistent(tmp_path: Path) -> None:
    rng = random.Random(3)
    values = _corpus(400, seed=3)
    index = TextNearIndex()
    stored: dict[int, list[str]] = {}
    next_value = 0
    for step in range(30):
        batch = rng.randint(1, 25)
        ids = [rng.randrange(200) for _ in range(batch)]  # some ids get several values
        chunk = values[next_value : next_value + batch]
        next_value = (next_value + batch) % (len(values) - 30)
        index.add(ids, chunk)
        for signal_id, value in zip(ids, chunk, strict=True):
            stored.setdefault(signal_id, []).append(value)
        gone = rng.sample(sorted(stored), k=min(len(stored), rng.randint(0, 8)))
        assert index.remove(gone) == sum(len(stored[g]) for g in gone)
        for g in gone:
            del stored[g]
        assert len(index) == sum(map(len, stored.values()))
        if step % 10 == 9:
            index.save(tmp_path / "text.idx")
            index = TextNearIndex.load(tmp_path / "text.idx")
        for query in rng.sample(values, 5):
            assert index.query(query) == _expected(stored, query, TextNear.default_threshold)


def test_query_batch_equals_single_queries() -> None:
    values = _corpus(100, seed=4)
    index = TextNearIndex()
    index.add(np.arange(100), values)
    assert index.query_batch(values[:7], 0.5) == [index.query(v, 0.5) for v in values[:7]]


def test_remove_unknown_and_empty() -> None:
    index = TextNearIndex()
    assert index.remove([1, 2]) == 0
    assert index.query(_corpus(1, seed=5)[0]) == []
    index.add([], [])
    assert len(index) == 0


def test_invalid_values_and_thresholds() -> None:
    index = TextNearIndex()
    with pytest.raises(InvalidSignal):
        index.add([1], ["not a minhash"])
    with pytest.raises(InvalidSignal):
        index.query(_corpus(1, seed=6)[0], 1.5)


def test_save_is_atomic_and_load_rejects_corruption(tmp_path: Path) -> None:
    values = _corpus(50, seed=7)
    index = TextNearIndex()
    index.add(range(50), values)
    path = tmp_path / "text.idx"
    index.save(path)
    before = path.read_bytes()
    with pytest.raises(OSError):  # target folder vanished: the old snapshot is untouched
        index.save(tmp_path / "missing" / "text.idx")
    assert path.read_bytes() == before
    loaded = TextNearIndex.load(path)
    assert loaded.query(values[0]) == index.query(values[0])
    loaded.add([99], [values[1]])  # a loaded index stays writable
    assert (99, 0.0) in loaded.query(values[1])
    corrupt = bytearray(before)
    corrupt[-10] ^= 0xFF
    path.write_bytes(bytes(corrupt))
    with pytest.raises(SnapshotError):
        TextNearIndex.load(path)
