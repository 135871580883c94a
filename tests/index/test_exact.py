"""ExactIndex: equality lookups, removal by id, snapshots."""

from __future__ import annotations

import pytest

from countersignal.errors import InvalidInput
from countersignal.index.exact import ExactIndex


def test_add_query_remove_and_duplicates():
    index = ExactIndex()
    index.add([1, 2, 3], ["a", "a", "b"])
    index.add([1], ["a"])  # the same pair again changes nothing
    index.add([1], ["c"])  # one id under two values
    assert len(index) == 4
    assert index.query("a") == [(1, 0), (2, 0)]
    assert index.query("missing") == []
    assert index.remove([1, 99]) == 2
    assert index.query("a") == [(2, 0)] and index.query("c") == []
    index.add([1], ["a"])
    assert index.query("a") == [(1, 0), (2, 0)]
    with pytest.raises(InvalidInput):
        index.add([1, 2], ["only one"])
    with pytest.raises(InvalidInput):
        index.query("a", threshold=-1)


def test_snapshot_round_trip_with_unicode_and_empty(tmp_path):
    index = ExactIndex()
    index.save(tmp_path / "empty.idx")
    assert len(ExactIndex.load(tmp_path / "empty.idx")) == 0
    index.add([5, 6, 7], ["https://example.org/ü", "مرحبا", ""])
    index.save(tmp_path / "e.idx")
    loaded = ExactIndex.load(tmp_path / "e.idx")
    assert len(loaded) == 3
    assert loaded.query("مرحبا") == [(6, 0)] and loaded.query("") == [(7, 0)]
