"""Video signals: ``vpdq`` (per-frame PDQ, via Meta's ``vpdq`` package) and probing limits.

Value format of ``vpdq`` (the one python-threatexchange and HMA store, so banks exchange
without conversion): a JSON array with one string per hashed frame,
``"<64 hex pdq>,<quality 0..100>,<timestamp seconds>"``, in frame order, e.g.
``["f8f8...9b22,100,0.000", "f8f8...9b22,98,1.000"]``. Frames are sampled one per second.
The canonical form writes timestamps with three decimals (pytx writes three *significant*
digits, which it and we both parse). The format has no frame number: ``parse_vpdq`` numbers
frames by position.

Matching follows vpdq's reference brute-force matcher: drop frames with a duplicate hash,
drop frames of quality < 50, then a query frame matches when some candidate frame is within
PDQ distance 31. ``distance(query, candidate) = 100 - query match percentage``, so the
default threshold 20 means "at least 80% of the query's frames are found in the candidate".
It is asymmetric on purpose: a short clip of a long video matches it, not the other way.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, NamedTuple

import numpy as np

from countersignal.errors import ContentTooLarge, InvalidSignal, UnsupportedContent
from countersignal.settings import Limits, get_settings
from countersignal.signals.base import Signal, SignalType
from countersignal.signals.pdq import PDQ, hex_to_words

FRAME_DISTANCE_THRESHOLD = 31
FRAME_QUALITY_THRESHOLD = 50
SECONDS_PER_HASH = 1.0
PROBE_TIMEOUT_S = 30


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


# Runs in a child process: a crash or hang in the decoder must not take the caller down.
_HASH_SCRIPT = """
import json, sys, vpdq
features = vpdq.computeHash(sys.argv[1], seconds_per_hash=float(sys.argv[2]))
json.dump([[f.hex, f.quality, f.timestamp] for f in features], sys.stdout)
"""


def hash_video(path: str | Path, *, limits: Limits | None = None) -> Signal:
    """The ``vpdq`` signal of a video file (probe, then hash in a child with a timeout).

    The timeout is 60 s plus twice the probed duration: vpdq hashes faster than real time
    (22 s of SD video in ~1.5 s), so only a decoder stuck on hostile input reaches it.
    """
    info = probe_video(path, limits=limits)
    timeout = 60 + 2 * info.duration
    command = [sys.executable, "-c", _HASH_SCRIPT, str(path), str(SECONDS_PER_HASH)]
    try:
        done = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise UnsupportedContent(f"video hashing timed out after {timeout:.0f} s") from None
    if done.returncode != 0:
        lines = done.stderr.decode(errors="replace").strip().splitlines()
        raise UnsupportedContent(f"vpdq could not hash the video: {(lines or ['?'])[-1][:200]}")
    rows = json.loads(done.stdout)
    if not rows:
        raise UnsupportedContent("vpdq found no frames in the video")
    frames = [VpdqFrame(h, int(q), n, float(t)) for n, (h, q, t) in enumerate(rows)]
    usable = sum(f.quality >= FRAME_QUALITY_THRESHOLD for f in frames)
    meta = {"frames": len(frames), "duration": round(info.duration, 3)}
    if usable == 0:
        meta["unreliable"] = True
    return Signal(VPDQ.name, format_vpdq(frames), None, meta)
