"""Index snapshot files: a checked header plus raw, 64-byte-aligned numpy arrays.

Layout: ``MAGIC`` (8 bytes), format version and header length (two little-endian uint32), the
header (JSON: index kind, its metadata, each array's dtype, shape, offset and CRC-32), the
header's CRC-32, then the arrays. Loading memory-maps the file, so a 10M-hash index opens in
the time it takes to checksum it, and no pickle is ever read.

Writes go to a temporary file in the same directory, are fsynced, then ``os.replace``d over
the target: a crash or error mid-write leaves the previous snapshot intact.
"""

from __future__ import annotations

import json
import mmap
import os
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np

from countersignal.errors import InvalidInput

MAGIC = b"CSIDXv1\x00"
FORMAT_VERSION = 1
_PREFIX = struct.Struct("<8sII")
_ALIGN = 64


class SnapshotError(InvalidInput):
    """A snapshot file that is truncated, corrupt, of another kind or another version."""

    title = "Corrupt index snapshot"


def _bytes(array: np.ndarray) -> memoryview:
    return memoryview(np.ascontiguousarray(array).reshape(-1).view(np.uint8))


def _crc(array: np.ndarray) -> int:
    data = _bytes(array)
    crc = 0
    for start in range(0, len(data), 1 << 26):  # bounded chunks keep peak memory flat
        crc = zlib.crc32(data[start : start + (1 << 26)], crc)
    return crc


def _aligned(offset: int) -> int:
    return -(-offset // _ALIGN) * _ALIGN


def _write_array(fh, array: np.ndarray) -> None:
    fh.write(_bytes(array))


def write_snapshot(path: Path, kind: str, meta: dict, arrays: dict[str, np.ndarray]) -> None:
    """Atomically write ``arrays`` and ``meta`` (JSON-serialisable) as a ``kind`` snapshot."""
    path = Path(path)
    entries, offset = [], 0
    for name, array in arrays.items():
        array = np.ascontiguousarray(array)
        entries.append(
            {
                "name": name,
                "dtype": array.dtype.str,
                "shape": list(array.shape),
                "offset": offset,
                "nbytes": array.nbytes,
                "crc32": _crc(array),
            }
        )
        offset = _aligned(offset + array.nbytes)
    header = json.dumps({"kind": kind, "meta": meta, "arrays": entries}).encode()
    data_start = _aligned(_PREFIX.size + len(header) + 4)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(_PREFIX.pack(MAGIC, FORMAT_VERSION, len(header)))
            fh.write(header)
            fh.write(struct.pack("<I", zlib.crc32(header)))
            for entry, array in zip(entries, arrays.values(), strict=True):
                fh.seek(data_start + entry["offset"])
                _write_array(fh, array)
            fh.truncate(data_start + offset)
            fh.flush()
            os.fsync(fh.fileno())
        if path.is_dir():  # a sharded index's folder, from before the shards were switched off
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_snapshot(
    path: Path, kind: str, *, verify: bool = True
) -> tuple[dict, dict[str, np.ndarray]]:
    """``(meta, arrays)`` of a ``kind`` snapshot: copy-on-write views of a memory map."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size < _PREFIX.size + 4:
                raise SnapshotError(f"{path} is not an index snapshot: too short")
            buf = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_COPY)
    except OSError as exc:
        raise SnapshotError(f"cannot read index snapshot {path}: {exc}") from None
    magic, version, header_len = _PREFIX.unpack_from(buf, 0)
    if magic != MAGIC:
        raise SnapshotError(f"{path} is not a Countersignal index snapshot (bad magic)")
    if version != FORMAT_VERSION:
        raise SnapshotError(f"{path} has snapshot format {version}; expected {FORMAT_VERSION}")
    header_end = _PREFIX.size + header_len
    if header_end + 4 > size:
        raise SnapshotError(f"{path} is truncated inside its header")
    header = bytes(buf[_PREFIX.size : header_end])
    (header_crc,) = struct.unpack_from("<I", buf, header_end)
    if zlib.crc32(header) != header_crc:
        raise SnapshotError(f"{path} has a corrupt header (checksum mismatch)")
    info = json.loads(header)
    if info["kind"] != kind:
        raise SnapshotError(f"{path} holds a {info['kind']!r} index, not {kind!r}")
    data_start = _aligned(header_end + 4)
    arrays = {}
    for entry in info["arrays"]:
        start = data_start + entry["offset"]
        if start + entry["nbytes"] > size:
            raise SnapshotError(f"{path} is truncated (array {entry['name']!r} is cut off)")
        dtype = np.dtype(entry["dtype"])
        if entry["nbytes"] == 0:
            arrays[entry["name"]] = np.empty(entry["shape"], dtype=dtype)
            continue
        count = entry["nbytes"] // dtype.itemsize
        array = np.frombuffer(buf, dtype=dtype, count=count, offset=start)
        array = array.reshape(entry["shape"])
        if verify and _crc(array) != entry["crc32"]:
            raise SnapshotError(f"{path} is corrupt (array {entry['name']!r} checksum mismatch)")
        arrays[entry["name"]] = array
    return info["meta"], arrays
