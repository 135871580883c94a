"""Near-duplicate text index for ``text_near`` (MinHash) signals.

Stored as one ``(n, 128)`` uint32 matrix plus an int64 id per row. A query counts differing
slots against every row in a compiled kernel that stops counting a row as soon as it is out of
range: exact (it returns what ``TextNear.compare`` returns, which the tests check), with no
tuning knob and no recall loss. Banding (LSH) can only prune exactly when fewer bands than
differing slots are allowed, i.e. below about 0.12; the useful thresholds (0.5-0.7, see
docs/evaluation.md) are far above that, so it would cost recall or exactness.

Removal swaps the last row into the hole, so memory stays dense without a rebuild.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np

from countersignal.index._kernels import scan_slots
from countersignal.index.base import SignalIndex, as_id_array
from countersignal.index.snapshot import SnapshotError, read_snapshot, write_snapshot
from countersignal.signals.text import NUM_PERM, TextNear, to_slots


class TextNearIndex(SignalIndex):
    signal_type: ClassVar[str] = TextNear.name

    def __init__(self) -> None:
        self._slots = np.zeros((0, NUM_PERM), dtype=np.uint32)
        self._ids = np.zeros(0, dtype=np.int64)
        self._count = 0
        self._rows_of: dict[int, list[int]] = {}

    def __len__(self) -> int:
        return self._count

    def _reserve(self, extra: int) -> None:
        needed = self._count + extra
        if needed <= len(self._ids):
            return
        capacity = max(needed, 2 * len(self._ids), 1024)
        slots = np.zeros((capacity, NUM_PERM), dtype=np.uint32)
        ids = np.zeros(capacity, dtype=np.int64)
        slots[: self._count] = self._slots[: self._count]
        ids[: self._count] = self._ids[: self._count]
        self._slots, self._ids = slots, ids

    def add(self, ids: Sequence[int] | np.ndarray, values: Sequence[str]) -> None:
        id_array = as_id_array(ids, len(values))
        rows = np.stack([to_slots(TextNear.validate(v)) for v in values]) if values else None
        if rows is None:
            return
        self._reserve(len(values))
        start = self._count
        self._slots[start : start + len(values)] = rows
        self._ids[start : start + len(values)] = id_array
        for offset, signal_id in enumerate(id_array.tolist()):
            self._rows_of.setdefault(signal_id, []).append(start + offset)
        self._count += len(values)

    def remove(self, ids: Sequence[int]) -> int:
        removed = 0
        for signal_id in as_id_array(ids, len(ids)).tolist():
            for row in sorted(self._rows_of.pop(signal_id, []), reverse=True):
                self._drop_row(row)
                removed += 1
        return removed

    def _drop_row(self, row: int) -> None:
        last = self._count - 1
        if row != last:
            moved_id = int(self._ids[last])
            self._slots[row] = self._slots[last]
            self._ids[row] = moved_id
            rows = self._rows_of[moved_id]
            rows[rows.index(last)] = row
        self._count -= 1

    def query(self, value: str, threshold: float | None = None) -> list[tuple[int, float]]:
        return self.query_batch([value], threshold)[0]

    def query_batch(
        self, values: Sequence[str], threshold: float | None = None
    ) -> list[list[tuple[int, float]]]:
        """Every stored ``(id, distance)`` within ``threshold``, sorted by distance then id."""
        limit = TextNear.check_threshold(threshold)
        # Largest whole number of differing slots whose distance (k / 128) is within limit:
        # the same float comparison TextNear.compare makes.
        max_differing = max(k for k in range(NUM_PERM + 1) if k / NUM_PERM <= limit)
        out_rows = np.empty(self._count, dtype=np.int64)
        out_differing = np.empty(self._count, dtype=np.int64)
        results = []
        for value in values:
            query = to_slots(TextNear.validate(value))
            found = scan_slots(
                self._slots, self._count, query, max_differing, out_rows, out_differing
            )
            pairs = zip(
                self._ids[out_rows[:found]].tolist(),
                (out_differing[:found] / NUM_PERM).tolist(),
                strict=True,
            )
            results.append(sorted(pairs, key=lambda pair: (pair[1], pair[0])))
        return results

    def save(self, path: Path) -> None:
        write_snapshot(
            path,
            self.signal_type,
            {"num_perm": NUM_PERM},
            {"ids": self._ids[: self._count], "slots": self._slots[: self._count]},
        )

    @classmethod
    def load(cls, path: Path) -> TextNearIndex:
        meta, arrays = read_snapshot(path, cls.signal_type)
        slots, ids = arrays.get("slots"), arrays.get("ids")
        if (
            meta.get("num_perm") != NUM_PERM
            or slots is None
            or ids is None
            or slots.shape != (len(ids), NUM_PERM)
        ):
            raise SnapshotError(f"{path} is not a text_near index of {NUM_PERM} slots")
        index = cls()
        index._slots = np.array(slots, dtype=np.uint32)  # writable copy of the memory map
        index._ids = np.array(ids, dtype=np.int64)
        index._count = len(ids)
        for row, signal_id in enumerate(index._ids.tolist()):
            index._rows_of.setdefault(signal_id, []).append(row)
        return index
