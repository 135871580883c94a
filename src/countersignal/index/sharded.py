"""A PDQ index split across Ray actors, for more signals than one machine's memory holds.

Each shard is a Ray actor holding one ordinary :class:`~countersignal.index.pdq.PDQIndex`; a
query goes to every shard at once and the answers are merged, so results are exactly those of a
single ``PDQIndex`` over all the signals (tests check that hit for hit).

Shards are chosen by **signal id** (``id % shards``), not by hash range: a Hamming ball of
radius 31 crosses every range of hash prefixes, so a hash-range split would still have to ask
every shard, while an id split keeps shards equal in size and sends a remove to exactly one
shard (an id always lives in one shard, so the single index's "an id once, at its nearest"
rule holds after merging). Splitting by bank instead is the same code with bank-derived ids.

Ray schedules the actors (``SPREAD``: across nodes when the cluster has several), restarts none
of them silently: a lost shard makes queries fail loudly rather than miss matches. Snapshots
are one ``PDQIndex`` file per shard plus a manifest, in a folder every shard's node can reach.

Example::

    import ray
    ray.init(num_cpus=2)
    index = ShardedPDQIndex(shards=2)
    index.add([7, 8], ["f" * 64, "0" * 64])
    index.query("f" * 63 + "e")                 # [(7, 1)], as PDQIndex answers
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np

from countersignal.errors import InvalidInput, Unavailable
from countersignal.index.base import SignalIndex, as_id_array
from countersignal.index.pdq import PDQIndex, as_words

MANIFEST = "sharded.json"
START_TIMEOUT_S = 300.0


class PDQShard:
    """One shard's state inside its actor. Results travel as three flat arrays (query
    position, id, distance): much cheaper to serialise than lists of tuples."""

    def __init__(self, path: str | None = None) -> None:
        self.index = PDQIndex.load(Path(path)) if path else PDQIndex()

    def add_words(self, ids: np.ndarray, words: np.ndarray) -> int:
        self.index.add_words(ids, words)
        return len(self.index)

    def remove(self, ids: np.ndarray) -> int:
        return self.index.remove(ids)

    def search(self, words: np.ndarray, threshold: int | None) -> tuple[np.ndarray, ...]:
        results = self.index.query_words(words, threshold)
        counts = np.fromiter((len(r) for r in results), dtype=np.int64, count=len(results))
        qpos = np.repeat(np.arange(len(results), dtype=np.int64), counts)
        flat = [pair for result in results for pair in result]
        pairs = np.array(flat, dtype=np.int64).reshape(-1, 2)
        return qpos, pairs[:, 0], pairs[:, 1]

    def size(self) -> int:
        return len(self.index)

    def compact(self, background: bool = False) -> int:
        self.index.compact(background=background)  # background: queries go on meanwhile
        return len(self.index)

    def save(self, path: str) -> int:
        self.index.save(Path(path))
        return len(self.index)


class ShardedPDQIndex(SignalIndex):
    """``PDQIndex``'s interface over ``shards`` Ray actors (Ray must be initialised, or is
    started locally with its defaults on first use)."""

    signal_type: ClassVar[str] = "pdq"

    def __init__(
        self,
        shards: int = 2,
        *,
        actor_cpus: float = 1.0,
        paths: Sequence[str] | None = None,
        start_timeout_s: float = START_TIMEOUT_S,
        address: str | None = None,
    ) -> None:
        import ray

        if shards < 1:
            raise InvalidInput(f"need at least one shard, not {shards}")
        if paths is not None and len(paths) != shards:
            raise InvalidInput(f"{len(paths)} snapshot files for {shards} shards")
        if not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        self._ray = ray
        actor = ray.remote(num_cpus=actor_cpus, scheduling_strategy="SPREAD")(PDQShard)
        self._shards = [actor.remote(paths[i] if paths else None) for i in range(shards)]
        try:
            sizes = ray.get([s.size.remote() for s in self._shards], timeout=start_timeout_s)
        except ray.exceptions.GetTimeoutError:
            self.close()
            raise Unavailable(
                f"{shards} shard actors of {actor_cpus} CPU did not start in {start_timeout_s:.0f}"
                " s: the Ray cluster lacks free CPUs (or memory) for them"
            ) from None
        self._size = sum(sizes)

    @property
    def shard_count(self) -> int:
        return len(self._shards)

    # --- writing ---------------------------------------------------------------------------

    def add(self, ids: Sequence[int] | np.ndarray, values: Sequence[str]) -> None:
        words = as_words(values)
        self.add_words(as_id_array(ids, len(words)), words)

    def add_words(self, ids: Sequence[int] | np.ndarray, words: np.ndarray) -> None:
        """Route each row to its shard (``id % shards``); returns when every shard has it."""
        words = as_words(words)
        ids = as_id_array(ids, len(words))
        owner = ids % len(self._shards)
        calls = []
        for number, shard in enumerate(self._shards):
            mine = owner == number
            if mine.any():
                calls.append(shard.add_words.remote(ids[mine], words[mine]))
        self._ray.get(calls)
        self._size += len(ids)

    def remove(self, ids: Sequence[int]) -> int:
        ids = np.unique(as_id_array(ids, len(ids)))
        owner = ids % len(self._shards)
        calls = [
            shard.remove.remote(ids[owner == number])
            for number, shard in enumerate(self._shards)
            if (owner == number).any()
        ]
        removed = sum(self._ray.get(calls))
        self._size -= removed
        return removed

    def compact(self, *, background: bool = False) -> None:
        """Merge every shard's segments (after a bulk load), all shards in parallel;
        ``background``: each shard merges in a thread of its own and keeps answering."""
        self._ray.get([s.compact.remote(background) for s in self._shards])

    # --- reading ---------------------------------------------------------------------------

    def query(self, value: str, threshold: int | None = None) -> list[tuple[int, int]]:
        return self.query_words(as_words([value]), threshold)[0]

    def query_batch(
        self, values: Sequence[str], threshold: int | None = None
    ) -> list[list[tuple[int, int]]]:
        return self.query_words(as_words(values), threshold)

    def query_words(
        self, words: np.ndarray, threshold: int | None = None
    ) -> list[list[tuple[int, int]]]:
        """Every shard searches the whole batch at once; hits merge sorted by (distance, id)."""
        words = as_words(words)
        ref = self._ray.put(words) if len(words) > 64 else words
        parts = self._ray.get([s.search.remote(ref, threshold) for s in self._shards])
        qpos = np.concatenate([p[0] for p in parts])
        ids = np.concatenate([p[1] for p in parts])
        dist = np.concatenate([p[2] for p in parts])
        order = np.lexsort((ids, dist, qpos))
        qpos, pairs = qpos[order], zip(ids[order].tolist(), dist[order].tolist(), strict=True)
        bounds = np.searchsorted(qpos, np.arange(len(words) + 1)).tolist()
        pairs = list(pairs)
        return [pairs[bounds[q] : bounds[q + 1]] for q in range(len(words))]

    def __len__(self) -> int:
        return self._size

    # --- snapshots -------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        """One ``PDQIndex`` snapshot per shard in folder ``path``, then the manifest (last,
        atomically: a folder with a manifest always names complete shard files)."""
        path = Path(path)
        if path.is_file():  # a single index's snapshot, from before shards were configured
            path.unlink()
        path.mkdir(parents=True, exist_ok=True)
        names = [f"shard-{n:04d}.idx" for n in range(len(self._shards))]
        sizes = self._ray.get(
            [s.save.remote(str(path / name)) for s, name in zip(self._shards, names, strict=True)]
        )
        tmp = path / f".{MANIFEST}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps({"kind": "sharded-pdq", "shards": names, "sizes": sizes}))
        os.replace(tmp, path / MANIFEST)

    @classmethod
    def load(
        cls,
        path: Path,
        *,
        actor_cpus: float = 1.0,
        start_timeout_s: float = START_TIMEOUT_S,
        address: str | None = None,
    ) -> ShardedPDQIndex:
        """Start one actor per shard file named in the folder's manifest; each loads its own."""
        path = Path(path)
        try:
            manifest = json.loads((path / MANIFEST).read_text())
        except (OSError, ValueError) as exc:
            raise InvalidInput(f"{path} holds no sharded index snapshot: {exc}") from None
        names = manifest["shards"]
        return cls(len(names), actor_cpus=actor_cpus, paths=[str(path / n) for n in names],
                   start_timeout_s=start_timeout_s, address=address)

    def close(self) -> None:
        """End the shard actors (their memory goes back at once)."""
        for shard in self._shards:
            self._ray.kill(shard)
        self._shards = []


def sharded_kind(shards: int, actor_cpus: float = 1.0, address: str | None = None):
    """The matcher's ``kinds`` entry for a sharded PDQ index (``COUNTERSIGNAL_INDEX_PDQ_SHARDS``):
    how to make an empty one and how to load its snapshot folder. A snapshot written with
    another shard count still loads (its own count); a single-index file does not (replayed)."""
    from countersignal.index.matcher import IndexKind

    return IndexKind(
        new=lambda: ShardedPDQIndex(shards, actor_cpus=actor_cpus, address=address),
        load=lambda path: ShardedPDQIndex.load(path, actor_cpus=actor_cpus, address=address),
    )
