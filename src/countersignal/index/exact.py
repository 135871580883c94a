"""Exact-match index for digest-like signals (md5, sha256, video_md5, url, url_domain, ...).

A dict from value to the ids stored under it plus the reverse map for removal; distance is
always 0. Snapshots store one row per (value, id) pair as a UTF-8 blob with offsets.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path
from typing import ClassVar

import numpy as np

from countersignal.errors import InvalidInput
from countersignal.index.base import SignalIndex, as_id_array
from countersignal.index.snapshot import SnapshotError, read_snapshot, write_snapshot

SNAPSHOT_KIND = "exact"


class ExactIndex(SignalIndex):
    """Value equality lookups; one instance per exact signal type.

    >>> index = ExactIndex()
    >>> index.add([3, 4], ["d41d8cd98f00b204e9800998ecf8427e"] * 2)
    >>> index.query("d41d8cd98f00b204e9800998ecf8427e")
    [(3, 0), (4, 0)]
    """

    signal_type: ClassVar[str] = "exact"

    def __init__(self) -> None:
        self._ids_by_value: dict[str, set[int]] = {}
        self._values_by_id: dict[int, set[str]] = {}
        self._size = 0

    def add(self, ids: Sequence[int] | np.ndarray, values: Sequence[str]) -> None:
        values = list(values)
        if not all(isinstance(v, str) for v in values):
            raise InvalidInput("exact index values must be strings")
        for signal_id, value in zip(as_id_array(ids, len(values)).tolist(), values, strict=True):
            stored = self._ids_by_value.setdefault(value, set())
            if signal_id not in stored:
                stored.add(signal_id)
                self._values_by_id.setdefault(signal_id, set()).add(value)
                self._size += 1

    def remove(self, ids: Sequence[int]) -> int:
        removed = 0
        for signal_id in as_id_array(ids, len(ids)).tolist():
            for value in self._values_by_id.pop(signal_id, ()):
                stored = self._ids_by_value[value]
                stored.discard(signal_id)
                if not stored:
                    del self._ids_by_value[value]
                removed += 1
        self._size -= removed
        return removed

    def query(self, value: str, threshold: int | None = None) -> list[tuple[int, int]]:
        """Ids stored under exactly ``value``; a threshold, if given, must be 0 or more."""
        if threshold is not None and threshold < 0:
            raise InvalidInput(f"threshold must not be negative, not {threshold}")
        return [(signal_id, 0) for signal_id in sorted(self._ids_by_value.get(value, ()))]

    def __len__(self) -> int:
        return self._size

    def save(self, path: Path) -> None:
        pairs = [(v, i) for v, ids in self._ids_by_value.items() for i in ids]
        encoded = [v.encode() for v, _ in pairs]
        lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        arrays = {
            "blob": np.frombuffer(b"".join(encoded), dtype=np.uint8),
            "offsets": np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
            "ids": np.fromiter((i for _, i in pairs), dtype=np.int64, count=len(pairs)),
        }
        write_snapshot(path, SNAPSHOT_KIND, {"signal_type": self.signal_type}, arrays)

    @classmethod
    def load(cls, path: Path) -> ExactIndex:
        _meta, arrays = read_snapshot(path, SNAPSHOT_KIND)
        blob, offsets, ids = bytes(arrays["blob"]), arrays["offsets"].tolist(), arrays["ids"]
        if len(offsets) != len(ids) + 1 or (offsets and offsets[-1] != len(blob)):
            raise SnapshotError(f"{path}: exact index arrays are inconsistent")
        index = cls()
        try:
            values = [blob[a:b].decode() for a, b in pairwise(offsets)]
        except UnicodeDecodeError as exc:
            raise SnapshotError(f"{path}: exact index values are not UTF-8: {exc}") from None
        index.add(ids, values)
        return index
