"""Video signals: ``vpdq`` (per-frame PDQ, via Meta's ``vpdq`` package) and probing limits.

Value format of ``vpdq`` (the one python-threatexchange and HMA store, so banks exchange
without conversion): a JSON array with one string per hashed frame,
``"<64 hex pdq>,<quality 0..100>,<timestamp seconds>"``, in frame order, e.g.
``["f8f8...9b22,100,0.000", "f8f8...9b22,98,1.000"]``. Frames are sampled at a fixed rate in
time that depends on the *purpose* of the hash (see :data:`HashPurpose`): one per second for
anything matched against banks, every 1/30 s for videos added to a bank.
The canonical form writes timestamps with three decimals (pytx writes three *significant*
digits, which it and we both parse). The format has no frame number: ``parse_vpdq`` numbers
frames by position.

Matching follows vpdq's reference brute-force matcher: drop frames with a duplicate hash,
drop frames of quality < 50, then a query frame matches when some candidate frame is within
PDQ distance 31. ``distance(query, candidate) = 100 - query match percentage``, so the
default threshold 20 means "at least 80% of the query's frames are found in the candidate".
It is asymmetric on purpose: a short clip of a long video matches it, not the other way.

Asymmetric sampling: a re-cut (a copy trimmed by a fraction of a second) samples its frames
at other instants than the original, and in fast scenes even one frame (1/30 s) of offset
costs 30-70 PDQ bits. So a banked video is hashed densely (:data:`BANK_SECONDS_PER_HASH`) and
a query at one frame per second then always finds a bank frame within half a source frame of
each of its own. Only the query's percentage decides a match, so the bank side may hold as
many frames as it likes; its ``compared_percent`` then counts the share of *its* frames hit
and is low by design (a 1 fps query hits about one bank frame in 30).
"""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, ClassVar, Literal, NamedTuple, get_args

import numpy as np
import pdqhash

from countersignal.errors import ContentTooLarge, InvalidInput, InvalidSignal, UnsupportedContent
from countersignal.settings import Limits, get_settings
from countersignal.signals.base import Signal, SignalType
from countersignal.signals.pdq import PDQ, hex_to_words

FRAME_DISTANCE_THRESHOLD = 31
FRAME_QUALITY_THRESHOLD = 50
SECONDS_PER_HASH = 1.0  # queries: submissions, matching, backfill
BANK_SECONDS_PER_HASH = 1 / 30  # banked videos: every frame of a 30 fps source
PROBE_TIMEOUT_S = 30

HashPurpose = Literal["query", "bank"]
"""Why content is hashed: ``"query"`` to match it against banks (videos at one frame per
second), ``"bank"`` to add it to a bank (videos densely, so re-cuts of it still match; see the
module docstring). Only videos differ; every other signal is the same for both purposes."""


def seconds_per_hash_for(purpose: HashPurpose) -> float:
    """The vPDQ sampling interval for a purpose; :class:`InvalidInput` for an unknown one."""
    if purpose == "bank":
        return BANK_SECONDS_PER_HASH
    if purpose == "query":
        return SECONDS_PER_HASH
    raise InvalidInput(f"hash purpose must be one of {get_args(HashPurpose)}, not {purpose!r}")


class NoVideoStream(UnsupportedContent):
    """A media container without a video track (e.g. audio in MP4): not a video to hash."""


class VpdqFrame(NamedTuple):
    pdq_hex: str
    quality: int
    frame_number: int
    timestamp: float


class VpdqMatch(NamedTuple):
    query_percent: float  # share of the query's usable frames found in the candidate
    compared_percent: float  # share of the candidate's usable frames found in the query


@dataclass(frozen=True)
class VideoInfo:
    duration: float
    width: int
    height: int


def parse_vpdq(value: str) -> list[VpdqFrame]:
    """Frames of a ``vpdq`` value; raises :class:`InvalidSignal` on any malformed part."""
    if not isinstance(value, str):
        raise InvalidSignal(f"vpdq value must be a string, not {type(value).__name__}")
    try:
        items = json.loads(value)
    except ValueError as exc:
        raise InvalidSignal(f"vpdq value is not JSON: {exc}") from None
    if not isinstance(items, list) or not items:
        raise InvalidSignal("vpdq value must be a non-empty JSON array of frame strings")
    frames = []
    for number, item in enumerate(items):
        parts = item.split(",") if isinstance(item, str) else ()
        if len(parts) != 3:
            raise InvalidSignal(f"vpdq frame {number} is not 'hex,quality,timestamp': {item!r:.80}")
        try:
            quality, timestamp = int(parts[1]), float(parts[2])
        except ValueError:
            raise InvalidSignal(
                f"vpdq frame {number} has a bad quality or time: {item!r:.80}"
            ) from None
        if not 0 <= quality <= 100 or not math.isfinite(timestamp) or timestamp < 0:
            raise InvalidSignal(f"vpdq frame {number} quality/time out of range: {item!r:.80}")
        frames.append(VpdqFrame(PDQ.validate(parts[0]), quality, number, timestamp))
    return frames


def format_vpdq(frames: list[VpdqFrame]) -> str:
    """Canonical ``vpdq`` value of frames (inverse of :func:`parse_vpdq`)."""
    return json.dumps([f"{f.pdq_hex},{f.quality},{f.timestamp:.3f}" for f in frames])


def _usable(frames: list[VpdqFrame], quality_threshold: int) -> list[str]:
    seen: set[str] = set()
    kept = []
    for frame in frames:  # dedup first, then filter, as vpdq's brute matcher does
        if frame.pdq_hex not in seen:
            seen.add(frame.pdq_hex)
            if frame.quality >= quality_threshold:
                kept.append(frame.pdq_hex)
    return kept


def vpdq_match(
    query: str | list[VpdqFrame],
    candidate: str | list[VpdqFrame],
    *,
    frame_threshold: int = FRAME_DISTANCE_THRESHOLD,
    quality_threshold: int = FRAME_QUALITY_THRESHOLD,
) -> VpdqMatch:
    """Both match percentages of vpdq's reference brute-force matcher (0 when no usable frame)."""
    query_hexes = _usable(parse_vpdq(query) if isinstance(query, str) else query, quality_threshold)
    cand_hexes = _usable(
        parse_vpdq(candidate) if isinstance(candidate, str) else candidate, quality_threshold
    )
    if not query_hexes or not cand_hexes:
        return VpdqMatch(0.0, 0.0)
    q, c = hex_to_words(query_hexes), hex_to_words(cand_hexes)
    distances = np.bitwise_count(q[:, None, :] ^ c[None, :, :]).sum(axis=2, dtype=np.int32)
    close = distances <= frame_threshold
    return VpdqMatch(
        float(close.any(axis=1).sum()) * 100 / len(query_hexes),
        float(close.any(axis=0).sum()) * 100 / len(cand_hexes),
    )


class VPDQ(SignalType):
    """vPDQ video hash; distance is 100 minus the query-frame match percentage."""

    name: ClassVar[str] = "vpdq"
    default_threshold: ClassVar[float] = 20.0
    max_threshold: ClassVar[float] = 100.0
    symmetric: ClassVar[bool] = False

    @classmethod
    def validate(cls, value: str) -> str:
        return format_vpdq(parse_vpdq(value))

    @classmethod
    def distance(cls, a: str, b: str) -> float:
        if a == b:  # identical lists, even ones with no frame of usable quality
            return 0.0
        return 100.0 - vpdq_match(a, b).query_percent


def probe_video(path: str | Path, *, limits: Limits | None = None) -> VideoInfo:
    """Check a video against the limits with ``ffprobe`` (under a timeout) before decoding."""
    limits = limits or get_settings().limits
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise UnsupportedContent(f"cannot read video {path}: {exc.strerror}") from None
    if size == 0:
        raise UnsupportedContent("empty video")
    if size > limits.max_video_bytes:
        raise ContentTooLarge(
            f"video is {size} bytes; the limit is {limits.max_video_bytes}",
            detail={"bytes": size, "limit": limits.max_video_bytes},
        )
    command = [
        "ffprobe", "-v", "error", "-of", "json",
        "-show_entries", "format=duration:stream=codec_type,width,height,duration",
        str(path),
    ]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, timeout=PROBE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise UnsupportedContent(f"ffprobe timed out after {PROBE_TIMEOUT_S} s") from None
    except FileNotFoundError:
        raise UnsupportedContent("ffprobe is not installed; cannot hash video") from None
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["unknown"]
        raise UnsupportedContent(f"not a readable video: {reason[0][:200]}")
    info = json.loads(done.stdout or b"{}")
    video = [s for s in info.get("streams", []) if s.get("codec_type") == "video"]
    if not video:
        raise NoVideoStream("no video stream in the file")
    width, height = int(video[0].get("width") or 0), int(video[0].get("height") or 0)
    duration = _float(info.get("format", {}).get("duration")) or _float(video[0].get("duration"))
    if width * height > limits.max_image_pixels:
        raise ContentTooLarge(f"video frames are {width}x{height}: over the pixel limit")
    if duration > limits.max_video_seconds:
        raise ContentTooLarge(
            f"video is {duration:.0f} s long; the limit is {limits.max_video_seconds} s",
            detail={"seconds": duration, "limit": limits.max_video_seconds},
        )
    return VideoInfo(duration, width, height)


def _float(text: object) -> float:
    try:
        value = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0
    return value if math.isfinite(value) else 0.0


HASH_FRAME_SIZE = 512  # frames are scaled to a square first: PDQ reduces them to 64x64 anyway
BAR_LUMA_LIMIT = 24  # a row or column is a bar when its mean luma is at most this (0..255) ...
BAR_LUMA_PEAK = 64  # ... and no pixel in it is brighter than this (subtitles, logos: content)
CROP_WINDOW_FRAMES = 30  # sampled frames that decide the crop, buffered before hashing
MIN_KEPT_FRACTION = 0.25  # a crop that would keep less of either side is not a letterbox
_LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # PDQ's own luma


class Bars(NamedTuple):
    """Rows or columns to cut off each edge of a working frame."""

    top: int
    bottom: int
    left: int
    right: int


NO_BARS = Bars(0, 0, 0, 0)


def _edge_run(dark: np.ndarray) -> int:
    """Length of the run of True values at the start of ``dark``."""
    return len(dark) if dark.all() else int(np.argmin(dark))


def frame_bars(frame: np.ndarray) -> Bars | None:
    """Letterbox/pillarbox bars of one RGB frame; ``None`` for a frame that is dark all over.

    A line is a bar when it is dark on average and has no bright pixel, so subtitles or a
    logo drawn on a bar keep their line (the median over frames in :func:`choose_bars` then
    decides).
    """
    luma = frame.astype(np.float32) @ _LUMA_WEIGHTS
    dark_rows = (luma.mean(axis=1) <= BAR_LUMA_LIMIT) & (luma.max(axis=1) <= BAR_LUMA_PEAK)
    if dark_rows.all():
        return None
    dark_cols = (luma.mean(axis=0) <= BAR_LUMA_LIMIT) & (luma.max(axis=0) <= BAR_LUMA_PEAK)
    return Bars(
        _edge_run(dark_rows),
        _edge_run(dark_rows[::-1]),
        _edge_run(dark_cols),
        _edge_run(dark_cols[::-1]),
    )


def choose_bars(per_frame: list[Bars | None], height: int, width: int) -> Bars:
    """The video's bars: per edge, the median over its non-blank frames.

    A median, not a minimum or maximum, because fades, title cards on black and dark scenes
    show no content at the edges in a few frames, and burnt-in subtitles cover a bar in some.
    A crop that would keep less than :data:`MIN_KEPT_FRACTION` of a side is refused: that is
    a dark video, not a letterbox.
    """
    seen = np.array([b for b in per_frame if b is not None], dtype=np.int64)
    if not len(seen):
        return NO_BARS
    bars = Bars(*(int(v) for v in np.median(seen, axis=0)))
    kept_height, kept_width = height - bars.top - bars.bottom, width - bars.left - bars.right
    if kept_height < MIN_KEPT_FRACTION * height or kept_width < MIN_KEPT_FRACTION * width:
        return NO_BARS
    return bars


def _pdq_frame(frame: np.ndarray, bars: Bars, number: int, timestamp: float) -> VpdqFrame:
    height, width = frame.shape[:2]
    cropped = frame[bars.top : height - bars.bottom, bars.left : width - bars.right]
    vector, quality = pdqhash.compute(np.ascontiguousarray(cropped))
    hex_ = np.packbits(vector.astype(np.uint8)).tobytes().hex()
    return VpdqFrame(hex_, int(quality), number, round(timestamp, 3))


def _read_frames(stream: IO[bytes], size: int) -> Iterator[np.ndarray]:
    frame_bytes = size * size * 3
    while len(data := stream.read(frame_bytes)) == frame_bytes:
        yield np.frombuffer(data, dtype=np.uint8).reshape(size, size, 3)


def _hash_timeout(info: VideoInfo, limits: Limits) -> float:
    return limits.video_hash_timeout_s + limits.video_hash_timeout_per_video_s * info.duration


@contextmanager
def _decoded(
    path: Path, seconds_per_hash: float, timeout: float, first_seconds: float | None = None
) -> Iterator[Iterator[np.ndarray]]:
    """Frames sampled by ffmpeg at ``seconds_per_hash``, square :data:`HASH_FRAME_SIZE` RGB.

    The caller must read every frame. ffmpeg is killed after ``timeout`` seconds; its failure
    or the timeout raises :class:`UnsupportedContent` when the block ends.
    """
    size = HASH_FRAME_SIZE
    command = [
        "ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:v:0",
        *(["-t", str(first_seconds)] if first_seconds is not None else []),
        "-vf", f"fps=fps={1 / seconds_per_hash}:round=up,scale={size}:{size}:flags=area,"
               "format=rgb24",
        "-f", "rawvideo", "pipe:1",
    ]  # fmt: skip
    killed = threading.Event()

    def kill() -> None:
        killed.set()
        process.kill()

    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors)
        watchdog = threading.Timer(timeout, kill)
        watchdog.start()
        try:
            assert process.stdout is not None
            yield _read_frames(process.stdout, size)
            returncode = process.wait()
        finally:
            watchdog.cancel()
            process.kill()
            process.wait()
        if killed.is_set():
            raise UnsupportedContent(f"video hashing timed out after {timeout:.0f} s")
        if returncode != 0:
            errors.seek(0)
            lines = errors.read().decode(errors="replace").strip().splitlines()
            reason = (lines or ["unknown error"])[-1][:200]
            raise UnsupportedContent(f"ffmpeg could not decode the video: {reason}")


def _bars_of(window: list[np.ndarray]) -> Bars:
    return choose_bars([frame_bars(f) for f in window], HASH_FRAME_SIZE, HASH_FRAME_SIZE)


def hash_video(
    path: str | Path,
    *,
    limits: Limits | None = None,
    seconds_per_hash: float = SECONDS_PER_HASH,
    crop_bars: bool = True,
) -> Signal:
    """The ``vpdq`` signal of a video file: probe, decode with ffmpeg, crop bars, PDQ per frame.

    ``seconds_per_hash`` is the sampling interval: :data:`SECONDS_PER_HASH` for queries,
    :data:`BANK_SECONDS_PER_HASH` for banked videos (:func:`seconds_per_hash_for`), widened
    for banked videos longer than ``limits.max_bank_video_frames`` allows (``meta`` records
    the interval used).

    Why not ``vpdq.computeHash``: it hashes whole frames, so a letterboxed copy shares no
    frame with the original, and it picks every n-th *frame*, so copies at 25 and 29.97 fps
    drift apart. Here ffmpeg samples at a fixed rate in time (``fps`` filter, nearest frame)
    and scales each frame to 512x512; the bars are found on the frames at the first
    :data:`CROP_WINDOW_FRAMES` whole seconds (:func:`choose_bars`) and cut off before PDQ.
    Those are the instants a one-per-second query samples, so a dense bank hash and a query
    hash of one file crop alike: at one frame per second the window is buffered from the
    single decoding pass; a denser hash decodes that window in a short first pass instead
    (buffering 30 s of every frame would take 700 MB). The value format is vpdq's (HMA
    exchanges it unchanged); on a video without bars the frame hashes stay within a few bits
    of vpdq's.

    ffmpeg runs as a child process, so a decoder crash is an error, not ours; it is killed
    after ``limits.video_hash_timeout_s`` plus ``video_hash_timeout_per_video_s`` per second
    of probed duration (decoding runs far faster than real time, so only a decoder stuck on
    hostile input reaches it). Frames stream through a pipe: memory stays bounded.
    """
    limits = limits or get_settings().limits
    path = Path(path)
    info = probe_video(path, limits=limits)
    timeout = _hash_timeout(info, limits)
    bars, window = NO_BARS, []
    dense = seconds_per_hash < SECONDS_PER_HASH
    if dense:  # long banked videos: at most max_bank_video_frames, never sparser than queries
        capped = info.duration / max(1, limits.max_bank_video_frames)
        seconds_per_hash = min(max(seconds_per_hash, capped), SECONDS_PER_HASH)
    if crop_bars and dense:
        window_seconds = CROP_WINDOW_FRAMES * SECONDS_PER_HASH
        with _decoded(path, SECONDS_PER_HASH, timeout, first_seconds=window_seconds) as sampled:
            bars = _bars_of(list(sampled))
    with _decoded(path, seconds_per_hash, timeout) as decoded:
        if crop_bars and not dense:
            window = list(itertools.islice(decoded, CROP_WINDOW_FRAMES))
            bars = _bars_of(window)
        frames = [
            _pdq_frame(frame, bars, number, number * seconds_per_hash)
            for number, frame in enumerate(itertools.chain(window, decoded))
        ]
    if not frames:
        raise UnsupportedContent("no frames could be decoded from the video")
    usable = sum(f.quality >= FRAME_QUALITY_THRESHOLD for f in frames)
    meta: dict = {
        "frames": len(frames),
        "duration": round(info.duration, 3),
        "seconds_per_hash": round(seconds_per_hash, 4),
    }
    if bars != NO_BARS:
        size = HASH_FRAME_SIZE
        meta["cropped"] = dict(zip(Bars._fields, (round(v / size, 4) for v in bars), strict=True))
    if usable == 0:
        meta["unreliable"] = True
    return Signal(VPDQ.name, format_vpdq(frames), None, meta)
