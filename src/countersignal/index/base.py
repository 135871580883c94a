"""The interface every match index implements (the matcher calls exactly this)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np


class SignalIndex(ABC):
    """A mutable, persisted index from signal values to the int64 ids they were added under.

    Adds and removes are visible to the very next query; a value may be stored under several
    ids. ``query`` returns ``(id, distance)`` pairs (some indexes add a third item, a dict of
    extras) sorted by distance, then id.
    """

    signal_type: ClassVar[str]

    @abstractmethod
    def add(self, ids: Sequence[int] | np.ndarray, values: Sequence[str]) -> None:
        """Store each value under the id at the same position."""

    @abstractmethod
    def remove(self, ids: Sequence[int]) -> int:
        """Forget every entry stored under these ids; returns how many entries went."""

    @abstractmethod
    def query(self, value: str, threshold: int | None = None) -> list[tuple]:
        """Every stored entry within ``threshold`` of ``value`` (the type's default if None)."""

    def query_batch(self, values: Sequence[str], threshold: int | None = None) -> list[list[tuple]]:
        """``query`` for each value; indexes override it when batching is faster."""
        return [self.query(value, threshold) for value in values]

    @abstractmethod
    def __len__(self) -> int:
        """How many entries are stored."""

    @abstractmethod
    def save(self, path: Path) -> None:
        """Write a snapshot atomically: the previous file stays valid if this fails."""

    def snapshot_writer(self, path: Path) -> Callable[[], None]:
        """Capture the current state for ``path``; the returned function writes it.

        The matcher calls this under its lock (the state must match the change-log position
        it records) and the writer outside it, so that a large index does not stall syncs and
        writes while its file is written. This default saves at once and returns a no-op:
        right for small indexes."""
        self.save(path)
        return lambda: None

    @classmethod
    @abstractmethod
    def load(cls, path: Path) -> SignalIndex:
        """Read a snapshot written by :meth:`save`; raises on a corrupt or foreign file."""


def as_id_array(ids: Sequence[int] | np.ndarray, expected: int) -> np.ndarray:
    """Ids as int64, checked against the number of values they label."""
    from countersignal.errors import InvalidInput

    try:
        array = np.asarray(ids, dtype=np.int64).reshape(-1)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidInput(f"ids must be int64 integers: {exc}") from None
    if array.shape[0] != expected:
        raise InvalidInput(f"{array.shape[0]} ids for {expected} values")
    return array
