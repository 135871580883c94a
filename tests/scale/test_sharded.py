"""ShardedPDQIndex on local Ray actors answers exactly what one PDQIndex answers."""

from __future__ import annotations

import numpy as np
import pytest

from countersignal.index.pdq import PDQIndex, as_words

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray():
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    if started:
        ray.shutdown()


def random_words(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 2**64 - 1, size=(n, 4), dtype=np.uint64, endpoint=True)


def flipped(rng: np.random.Generator, words: np.ndarray, max_bits: int) -> np.ndarray:
    out = words.copy()
    for row in out:
        for bit in rng.choice(256, size=int(rng.integers(0, max_bits + 1)), replace=False):
            row[bit // 64] ^= np.uint64(1) << np.uint64(int(bit) % 64)
    return out


def hexes(words: np.ndarray) -> list[str]:
    raw = np.ascontiguousarray(words).astype(">u8").tobytes()
    return [raw[i : i + 32].hex() for i in range(0, len(raw), 32)]


@pytest.mark.slow
def test_sharded_index_agrees_with_one_index(local_ray, tmp_path):
    from countersignal.index.sharded import ShardedPDQIndex

    rng = np.random.default_rng(21)
    # Near-duplicate clusters (many hits per query), uniform hashes, ids past uint32, and one
    # value stored under several ids (so merging must keep every id).
    centres = random_words(rng, 20)
    stored = np.concatenate(
        [flipped(rng, centres[rng.integers(0, 20, 1500)], 20), random_words(rng, 4500)]
    )
    stored[100] = stored[101] = stored[102]
    ids = rng.permutation(len(stored)).astype(np.int64) * 7 + (1 << 33)
    single, sharded = PDQIndex(), ShardedPDQIndex(shards=3, actor_cpus=0.5)
    try:
        for start in range(0, len(stored), 4500):  # a bulk segment, then buffered rows
            single.add_words(ids[start : start + 4500], stored[start : start + 4500])
            sharded.add_words(ids[start : start + 4500], stored[start : start + 4500])
        single.add(ids[:5] + 1, hexes(stored[:5]))  # small adds through hex
        sharded.add(ids[:5] + 1, hexes(stored[:5]))
        gone = ids[rng.choice(len(ids), 300, replace=False)]
        assert sharded.remove(gone) == single.remove(gone) == 300
        assert len(sharded) == len(single)

        queries = np.concatenate([flipped(rng, stored[:80], 35), random_words(rng, 20)])
        for threshold in (0, 31, 45):
            expected = single.query_words(queries, threshold)
            assert sharded.query_words(queries, threshold) == expected
            if threshold >= 31:  # the clusters really are hit, many rows per query
                assert any(len(hits) > 3 for hits in expected)
        values = hexes(queries[:20])
        assert [sharded.query(v) for v in values] == [single.query(v) for v in values]
        assert sharded.query_batch(values, 31) == single.query_batch(values, 31)

        sharded.compact()
        sharded.save(tmp_path / "sharded")
        sharded.close()  # frees its CPUs for the restored shards
        restored = ShardedPDQIndex.load(tmp_path / "sharded", actor_cpus=0.5)
        try:
            assert len(restored) == len(single)
            assert restored.query_words(queries, 31) == single.query_words(queries, 31)
        finally:
            restored.close()
    finally:
        sharded.close()


def test_sharded_index_rejects_bad_input(local_ray, tmp_path):
    from countersignal.errors import InvalidInput, InvalidSignal, Unavailable
    from countersignal.index.sharded import ShardedPDQIndex

    with pytest.raises(InvalidInput):
        ShardedPDQIndex(shards=0)
    with pytest.raises(InvalidInput):
        ShardedPDQIndex.load(tmp_path / "nothing-here")
    with pytest.raises(Unavailable):  # more CPUs than the cluster has: fails, not hangs
        ShardedPDQIndex(shards=3, actor_cpus=1.0, start_timeout_s=5)
    index = ShardedPDQIndex(shards=2, actor_cpus=0.5)
    try:
        with pytest.raises(InvalidSignal):
            index.add([1], ["not a hash"])
        with pytest.raises(InvalidInput):
            index.add([1, 2], ["0" * 64])
        assert len(index) == 0 and index.query("0" * 64) == []
        assert as_words(["0" * 64]).shape == (1, 4)
    finally:
        index.close()


@pytest.mark.slow
def test_matcher_serves_from_shards_and_switches_snapshots(local_ray, session_factory, tmp_path):
    """COUNTERSIGNAL_INDEX_PDQ_SHARDS: the matcher keeps a sharded PDQ index current from the
    log like any other, snapshots it (one file per shard) and restarts from it; a snapshot
    written for the other layout is not loaded but replayed, in both directions."""
    from countersignal.banks import service
    from countersignal.banks.service import ItemInput, SignalInput
    from countersignal.index.matcher import Matcher, match_signals
    from countersignal.index.sharded import ShardedPDQIndex, sharded_kind
    from countersignal.signals import Signal

    rng = np.random.default_rng(5)
    values = hexes(random_words(rng, 40))
    with session_factory.begin() as s:
        bank = service.create_bank(s, organisation_id="org_s", name="sharded")
        for value in values[:30]:
            service.add_item(s, bank, ItemInput(signals=[SignalInput("pdq", value)]))
    folder = tmp_path / "idx"
    kinds = {"pdq": sharded_kind(2, actor_cpus=0.5)}

    def matches(matcher, value):
        with session_factory() as s:
            found = match_signals(s, matcher, "org_s", [Signal("pdq", value)])
        return [m.signal_value for m in found]

    single = Matcher(session_factory, folder).load()
    single.save()
    sharded = Matcher(session_factory, folder, kinds=kinds).load()  # single file: replayed
    assert isinstance(sharded._indexes["pdq"], ShardedPDQIndex)
    assert sharded.status()["indexes"]["pdq"] == 30
    with session_factory.begin() as s:
        bank = service.get_bank(s, "org_s", "sharded")
        for value in values[30:]:
            service.add_item(s, bank, ItemInput(signals=[SignalInput("pdq", value)]))
    assert sharded.sync() == 10
    assert all(matches(sharded, v) == [v] for v in values)
    sharded.save()
    sharded._indexes["pdq"].close()

    restarted = Matcher(session_factory, folder, kinds=kinds).load()  # from the shard files
    assert restarted.status()["indexes"]["pdq"] == 40 and matches(restarted, values[35]) == [
        values[35]
    ]
    restarted._indexes["pdq"].close()
    back = Matcher(session_factory, folder).load()  # shards switched off: folder replayed
    assert back.status()["indexes"]["pdq"] == 40
    back.save()
    assert (folder / "pdq.idx").is_file()
