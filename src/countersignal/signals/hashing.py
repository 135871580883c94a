"""Hash any content: detect its kind from magic bytes and compute every signal that applies.

One entry point per input shape (file path, bytes, folder batch) so the CLI, the API and
workers hash the same way. Every hostile-input limit is enforced before a decoder runs.

``purpose`` says why content is hashed (:data:`~countersignal.signals.video.HashPurpose`):
``"query"`` (the default) for everything matched against banks, ``"bank"`` only where content
is added to a bank, which hashes videos densely so that re-cuts of them still match.
"""

from __future__ import annotations

import os
import tempfile
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from countersignal.errors import (
    ContentTooLarge,
    CountersignalError,
    InvalidInput,
    NotFound,
    UnsupportedContent,
)
from countersignal.settings import Limits, get_settings
from countersignal.signals.base import Signal
from countersignal.signals.file import MD5, SHA256, VideoMD5, digest_bytes, digest_file, sniff_kind
from countersignal.signals.pdq import hash_image
from countersignal.signals.text import hash_text
from countersignal.signals.video import (
    HashPurpose,
    NoVideoStream,
    hash_video,
    seconds_per_hash_for,
)

SNIFF_BYTES = 512
TEXT_SUFFIXES = frozenset({".txt", ".text", ".md", ".csv", ".tsv", ".json", ".html", ".htm"})


@dataclass(frozen=True)
class HashResult:
    """Outcome for one file of a batch: its signals, or why it could not be hashed."""

    path: str
    signals: list[Signal] = field(default_factory=list)
    error: str | None = None


def hash_file(
    path: str | Path,
    *,
    dihedral: bool = False,
    limits: Limits | None = None,
    purpose: HashPurpose = "query",
) -> list[Signal]:
    """Every signal of a file: image -> pdq, md5, sha256; video -> video_md5, vpdq, sha256;
    UTF-8 text -> text_exact, text_near, md5, sha256; anything else -> md5, sha256.
    ``purpose="bank"`` samples vpdq frames densely (see the module docstring).
    """
    limits = limits or get_settings().limits
    seconds_per_hash = seconds_per_hash_for(purpose)
    path = Path(path)
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise InvalidInput(f"{path} is not a regular file")
        with path.open("rb") as stream:
            head = stream.read(SNIFF_BYTES)
    except FileNotFoundError:
        raise NotFound(f"no such file: {path}") from None
    except PermissionError:
        raise InvalidInput(f"cannot read {path}: permission denied") from None
    _check_size(size, limits)
    kind = sniff_kind(head)
    if kind == "video":
        try:
            vpdq = hash_video(path, limits=limits, seconds_per_hash=seconds_per_hash)
        except NoVideoStream:  # audio in a video container: hashed as plain bytes
            kind = "other"
        else:
            md5, sha256 = digest_file(path)
            return [Signal(VideoMD5.name, md5), vpdq, Signal(SHA256.name, sha256)]
    if kind == "other":
        md5, sha256 = digest_file(path)
        return [Signal(MD5.name, md5), Signal(SHA256.name, sha256)]
    cap = limits.max_image_bytes if kind == "image" else limits.max_text_bytes
    if size > cap:
        raise ContentTooLarge(f"{kind} is {size} bytes; the limit is {cap}", detail={"limit": cap})
    declared_text = path.suffix.lower() in TEXT_SUFFIXES
    return _hash_small(
        path.read_bytes(), kind, declared_text=declared_text, dihedral=dihedral, limits=limits
    )


def hash_bytes(
    data: bytes,
    *,
    filename: str | None = None,
    content_type: str | None = None,
    dihedral: bool = False,
    limits: Limits | None = None,
    purpose: HashPurpose = "query",
) -> list[Signal]:
    """Like :func:`hash_file` for content in memory.

    The kind comes from magic bytes; ``filename`` and ``content_type`` are the sender's
    claims and only sharpen errors: content declared as text that is not UTF-8 raises
    :class:`UnsupportedContent` instead of silently getting digests only.
    """
    limits = limits or get_settings().limits
    seconds_per_hash = seconds_per_hash_for(purpose)
    _check_size(len(data), limits)
    kind = sniff_kind(data[:SNIFF_BYTES])
    declared_text = (content_type or "").startswith("text/") or (
        Path(filename or "").suffix.lower() in TEXT_SUFFIXES
    )
    if kind == "other" and declared_text:
        _decode_text(data)  # raises the clear error
    if kind == "video":
        with tempfile.TemporaryDirectory(prefix="countersignal-") as folder:
            path = Path(folder) / "video"
            path.write_bytes(data)
            try:
                vpdq = hash_video(path, limits=limits, seconds_per_hash=seconds_per_hash)
            except NoVideoStream:  # audio in a video container: hashed as plain bytes
                kind = "other"
        if kind == "video":
            md5, sha256 = digest_bytes(data)
            return [Signal(VideoMD5.name, md5), vpdq, Signal(SHA256.name, sha256)]
    if kind == "other":
        md5, sha256 = digest_bytes(data)
        return [Signal(MD5.name, md5), Signal(SHA256.name, sha256)]
    return _hash_small(data, kind, declared_text=declared_text, dihedral=dihedral, limits=limits)


def _check_size(size: int, limits: Limits) -> None:
    if size == 0:
        raise UnsupportedContent("empty content")
    if size > limits.max_file_bytes:
        raise ContentTooLarge(
            f"content is {size} bytes; the limit is {limits.max_file_bytes}",
            detail={"bytes": size, "limit": limits.max_file_bytes},
        )


def _hash_small(
    data: bytes, kind: str, *, declared_text: bool, dihedral: bool, limits: Limits
) -> list[Signal]:
    """Signals of an image or text already within its byte limit.

    Content that only *looked* like text (UTF-8 in its first bytes, e.g. some PDFs) and is
    not UTF-8 throughout gets digests only, like any other binary; content declared as text
    (``.txt`` or a ``text/*`` type) raises the decoding error instead, since silently
    skipping the text signals of a text would hide why it never matches.
    """
    md5, sha256 = digest_bytes(data)
    digests = [Signal(MD5.name, md5), Signal(SHA256.name, sha256)]
    if kind == "image":
        return hash_image(data, dihedral, limits=limits) + digests
    if len(data) > limits.max_text_bytes:
        raise ContentTooLarge(f"text is {len(data)} bytes; the limit is {limits.max_text_bytes}")
    try:
        text = _decode_text(data)
    except UnsupportedContent:
        if declared_text:
            raise
        return digests
    try:
        return hash_text(text) + digests
    except InvalidInput:  # nothing left after normalisation: digests still identify the file
        return digests


def _decode_text(data: bytes) -> str:
    """Strict UTF-8 (a BOM is dropped). No guessing of legacy encodings: a wrong guess would
    give a text hash that silently never matches, which is worse than a clear error.
    """
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnsupportedContent(
            f"text is not valid UTF-8 (byte {exc.start}); re-encode it as UTF-8",
            detail={"byte": exc.start},
        ) from None


def expand_paths(paths: Iterable[str | Path]) -> Iterator[str]:
    """Files named, plus every file under folders named (sorted; symlinked folders not followed)."""
    for item in paths:
        path = Path(item)
        if path.is_dir():
            for folder, dirs, files in os.walk(path):
                dirs.sort()
                for name in sorted(files):
                    yield os.path.join(folder, name)
        else:
            yield str(path)


def _hash_one(path: str, dihedral: bool, limits: Limits, purpose: HashPurpose) -> HashResult:
    try:
        return HashResult(path, hash_file(path, dihedral=dihedral, limits=limits, purpose=purpose))
    except CountersignalError as exc:
        return HashResult(path, error=f"{type(exc).__name__}: {exc.message}")
    except Exception as exc:
        return HashResult(path, error=f"{type(exc).__name__}: {exc}")


def iter_hash_paths(
    paths: Iterable[str | Path],
    *,
    jobs: int = 1,
    dihedral: bool = False,
    limits: Limits | None = None,
    purpose: HashPurpose = "query",
) -> Iterator[HashResult]:
    """Hash files and folders (walked recursively, in sorted order), yielding results in order.

    A file that cannot be hashed yields a result with ``error`` set and the batch goes on.
    ``jobs > 1`` hashes in that many processes (the decoders are CPU-bound C code, partly
    under the GIL, so threads would not scale).
    """
    limits = limits or get_settings().limits
    seconds_per_hash_for(purpose)  # an unknown purpose fails before any file is hashed
    files = expand_paths(paths)
    if jobs <= 1:
        for path in files:
            yield _hash_one(path, dihedral, limits, purpose)
        return
    yield from _hash_parallel(files, jobs, dihedral, limits, purpose)


def _hash_parallel(
    files: Iterator[str], jobs: int, dihedral: bool, limits: Limits, purpose: HashPurpose
) -> Iterator[HashResult]:
    """Hash in a process pool with a bounded window of files in flight, in input order.

    If a worker dies (a decoder crash, the OOM killer), the pool breaks and every unfinished
    file in the window fails with it. Those are re-hashed one at a time in a fresh single
    process, so only the file that really kills its process gets an error result; the batch
    then continues in a new pool.
    """
    pool = ProcessPoolExecutor(max_workers=jobs)
    window: deque[tuple[str, Future]] = deque()
    pending = None  # taken from `files` but not yet submitted
    try:
        while True:
            try:  # a dead worker shows at submit() as well as at result()
                while len(window) < 4 * jobs:
                    if pending is None and (pending := next(files, None)) is None:
                        break
                    future = pool.submit(_hash_one, pending, dihedral, limits, purpose)
                    window.append((pending, future))
                    pending = None
                if not window:
                    return
                result = window[0][1].result()
            except BrokenProcessPool:
                pool.shutdown(cancel_futures=True)
                stranded = list(window)
                window.clear()
                for stranded_path, stranded_future in stranded:
                    yield _finished(stranded_future) or _hash_isolated(
                        stranded_path, dihedral, limits, purpose
                    )
                pool = ProcessPoolExecutor(max_workers=jobs)
                continue
            window.popleft()
            yield result
    finally:
        pool.shutdown(cancel_futures=True)


def _finished(future: Future) -> HashResult | None:
    if future.done() and not future.cancelled() and future.exception() is None:
        return future.result()
    return None


def _hash_isolated(path: str, dihedral: bool, limits: Limits, purpose: HashPurpose) -> HashResult:
    with ProcessPoolExecutor(max_workers=1) as single:
        try:
            return single.submit(_hash_one, path, dihedral, limits, purpose).result()
        except BrokenProcessPool:
            return HashResult(
                path, error="UnsupportedContent: the hashing process crashed on this file"
            )
