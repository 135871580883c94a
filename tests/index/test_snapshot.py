"""Snapshot files: atomic replacement, header and kind checks."""

from __future__ import annotations

import numpy as np
import pytest

from countersignal.index import snapshot
from countersignal.index.exact import ExactIndex
from countersignal.index.snapshot import SnapshotError, read_snapshot, write_snapshot


def test_round_trip_of_every_dtype_and_empty_arrays(tmp_path):
    arrays = {
        "u64": np.arange(12, dtype=np.uint64).reshape(3, 4),
        "u16": np.array([1, 2, 65535], dtype=np.uint16),
        "empty": np.zeros((0, 4), dtype=np.uint64),
        "i64": np.array([-5, 2**62], dtype=np.int64),
    }
    write_snapshot(tmp_path / "a.idx", "test", {"x": 1}, arrays)
    meta, loaded = read_snapshot(tmp_path / "a.idx", "test")
    assert meta == {"x": 1}
    for name, array in arrays.items():
        assert loaded[name].dtype == array.dtype and np.array_equal(loaded[name], array)
        assert loaded[name].ctypes.data % 64 == 0 or array.size == 0


def test_failure_mid_write_leaves_the_old_snapshot_intact(tmp_path, monkeypatch):
    path = tmp_path / "exact.idx"
    old = ExactIndex()
    old.add([1], ["old-value"])
    old.save(path)
    before = path.read_bytes()

    calls = []

    def fail_on_second_array(fh, array):
        calls.append(array)
        if len(calls) == 2:
            fh.write(b"partial")
            raise OSError("disk full")
        fh.write(np.ascontiguousarray(array).reshape(-1).view(np.uint8))

    monkeypatch.setattr(snapshot, "_write_array", fail_on_second_array)
    new = ExactIndex()
    new.add([2], ["new-value"])
    with pytest.raises(OSError, match="disk full"):
        new.save(path)
    assert path.read_bytes() == before
    assert ExactIndex.load(path).query("old-value") == [(1, 0)]
    assert [p.name for p in tmp_path.iterdir()] == ["exact.idx"]  # no temp file left behind


def test_wrong_kind_version_and_header_corruption_are_refused(tmp_path):
    path = tmp_path / "a.idx"
    write_snapshot(path, "pdq", {}, {"a": np.arange(3)})
    with pytest.raises(SnapshotError, match="holds a 'pdq' index"):
        read_snapshot(path, "exact")
    data = bytearray(path.read_bytes())
    data[8] = 99  # format version
    (tmp_path / "v.idx").write_bytes(data)
    with pytest.raises(SnapshotError, match="format 99"):
        read_snapshot(tmp_path / "v.idx", "pdq")
    data = bytearray(path.read_bytes())
    data[20] ^= 0x01  # inside the JSON header
    (tmp_path / "h.idx").write_bytes(data)
    with pytest.raises(SnapshotError, match="corrupt header"):
        read_snapshot(tmp_path / "h.idx", "pdq")
    with pytest.raises(SnapshotError, match="cannot read"):
        read_snapshot(tmp_path / "missing.idx", "pdq")
