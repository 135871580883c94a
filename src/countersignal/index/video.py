"""vPDQ video index: frame-level PDQ range search, then per-video aggregation.

Every stored video's usable frames (unique hashes of quality >= 50, in vpdq's own order:
deduplicate, then filter) go into one :class:`PDQIndex` under *frame ids*; an array maps frame
id to video id. A query looks up all its usable frames in one batch, then per candidate video
counts the query frames with a match in it (query percent) and that video's frames matched by
any query frame (compared percent), as vpdq's brute-force matcher does. A video matches when
its query percent reaches ``min_query_percent`` (80 by default).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar, NamedTuple

import numpy as np

from countersignal.errors import InvalidInput
from countersignal.index.base import SignalIndex, as_id_array
from countersignal.index.pdq import PDQIndex, as_words
from countersignal.index.snapshot import SnapshotError, read_snapshot, write_snapshot
from countersignal.signals.video import parse_vpdq

FRAME_THRESHOLD = 31
QUALITY_THRESHOLD = 50
MIN_QUERY_PERCENT = 80.0
SNAPSHOT_KIND = "vpdq"


class VideoMatch(NamedTuple):
    video_id: int
    query_percent: float
    compared_percent: float


def usable_frames(frames: Sequence[tuple[str, int]], quality_threshold: int) -> list[str]:
    """Unique frame hashes (first occurrence decides) whose quality reaches the threshold."""
    seen: set[str] = set()
    kept = []
    for pdq_hex, quality, *_ in frames:
        if pdq_hex not in seen:
            seen.add(pdq_hex)
            if quality >= quality_threshold:
                kept.append(pdq_hex)
    return kept


class VideoIndex(SignalIndex):
    """Videos by their vPDQ frames; ``query`` distance is ``100 - query percent``.

    Values passed to :meth:`add` and :meth:`query` are ``vpdq`` strings (see
    :func:`countersignal.signals.video.parse_vpdq`); :meth:`add_frames` and
    :meth:`query_frames` take plain ``(hex, quality)`` lists.
    """

    signal_type: ClassVar[str] = "vpdq"

    def __init__(self) -> None:
        self._frames = PDQIndex()
        self._frame_video = np.empty(1024, dtype=np.int64)
        self._next_frame = 0
        self._video_frames: dict[int, list[np.ndarray]] = defaultdict(list)
        self._frame_counts: dict[int, int] = defaultdict(int)

    # --- writing ---------------------------------------------------------------------------

    def add(self, ids: Sequence[int] | np.ndarray, values: Sequence[str]) -> None:
        parsed = [[(f.pdq_hex, f.quality) for f in parse_vpdq(v)] for v in values]
        for video_id, frames in zip(as_id_array(ids, len(parsed)).tolist(), parsed, strict=True):
            self.add_frames(video_id, frames)

    def add_frames(self, video_id: int, frames: Sequence[tuple[str, int]]) -> None:
        """Store one video's frames (``(pdq_hex, quality)`` pairs) under ``video_id``."""
        hexes = usable_frames(frames, QUALITY_THRESHOLD)
        words = as_words(hexes)
        start, end = self._next_frame, self._next_frame + len(words)
        if end > len(self._frame_video):
            grown = np.empty(max(end, 2 * len(self._frame_video)), dtype=np.int64)
            grown[:start] = self._frame_video[:start]
            self._frame_video = grown
        self._frame_video[start:end] = video_id
        frame_ids = np.arange(start, end, dtype=np.int64)
        self._frames.add_words(frame_ids, words)
        self._next_frame = end
        self._video_frames[video_id].append(frame_ids)
        self._frame_counts[video_id] += len(frame_ids)

    def remove(self, ids: Sequence[int]) -> int:
        """Forget these videos; returns how many videos were removed."""
        removed, frame_ids = 0, []
        for video_id in as_id_array(ids, len(ids)).tolist():
            frames = self._video_frames.pop(video_id, None)
            if frames is not None:
                frame_ids.extend(frames)
                del self._frame_counts[video_id]
                removed += 1
        if frame_ids:  # one pass over the frame index for the whole call
            self._frames.remove(np.concatenate(frame_ids))
        return removed

    # --- reading ---------------------------------------------------------------------------

    def query_frames(
        self,
        frames: Sequence[tuple[str, int]],
        *,
        frame_threshold: int = FRAME_THRESHOLD,
        quality_threshold: int = QUALITY_THRESHOLD,
        min_query_percent: float = MIN_QUERY_PERCENT,
    ) -> list[VideoMatch]:
        """Videos matching a query's frames, best query percent first, then by id."""
        hexes = usable_frames(frames, quality_threshold)
        if not hexes:
            return []
        query_hits: dict[int, int] = defaultdict(int)
        compared_hits: dict[int, set[int]] = defaultdict(set)
        for hits in self._frames.query_words(as_words(hexes), frame_threshold):
            if not hits:
                continue
            frame_ids = np.fromiter((f for f, _ in hits), dtype=np.int64, count=len(hits))
            videos = self._frame_video[frame_ids]
            for video_id in np.unique(videos).tolist():
                query_hits[video_id] += 1
            for video_id, frame_id in zip(videos.tolist(), frame_ids.tolist(), strict=True):
                compared_hits[video_id].add(frame_id)
        matches = []
        for video_id, count in query_hits.items():
            query_percent = count * 100.0 / len(hexes)
            if query_percent >= min_query_percent:
                compared = len(compared_hits[video_id]) * 100.0 / self._frame_counts[video_id]
                matches.append(VideoMatch(video_id, query_percent, compared))
        matches.sort(key=lambda m: (-m.query_percent, m.video_id))
        return matches

    def query(
        self, value: str, threshold: float | None = None
    ) -> list[tuple[int, float, dict[str, float]]]:
        """``(video id, 100 - query percent, percents)``; threshold is that distance (20)."""
        if threshold is None:
            threshold = 100.0 - MIN_QUERY_PERCENT
        if not 0 <= threshold <= 100:
            raise InvalidInput(f"vpdq threshold {threshold} must be between 0 and 100")
        frames = [(f.pdq_hex, f.quality) for f in parse_vpdq(value)]
        return [
            (
                m.video_id,
                100.0 - m.query_percent,
                {"query_percent": m.query_percent, "compared_percent": m.compared_percent},
            )
            for m in self.query_frames(frames, min_query_percent=100.0 - threshold)
        ]

    def __len__(self) -> int:
        return len(self._video_frames)

    # --- snapshots -------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        video_ids = np.array(sorted(self._video_frames), dtype=np.int64)
        arrays = {f"frames.{k}": v for k, v in self._frames.snapshot_arrays().items()}
        arrays["frame_video"] = self._frame_video[: self._next_frame]
        arrays["video_ids"] = video_ids
        arrays["video_frames"] = np.concatenate(
            [np.zeros(0, dtype=np.int64)]
            + [np.concatenate(self._video_frames[v]) for v in video_ids.tolist()]
        )
        arrays["video_frame_counts"] = np.array(
            [self._frame_counts[v] for v in video_ids.tolist()], dtype=np.int64
        )
        write_snapshot(path, SNAPSHOT_KIND, {"next_frame": self._next_frame}, arrays)

    @classmethod
    def load(cls, path: Path) -> VideoIndex:
        meta, arrays = read_snapshot(path, SNAPSHOT_KIND)
        index = cls()
        prefix = "frames."
        index._frames = PDQIndex.from_arrays(
            {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
        )
        index._next_frame = int(meta["next_frame"])
        index._frame_video = np.array(arrays["frame_video"], dtype=np.int64)
        counts = arrays["video_frame_counts"]
        if len(index._frame_video) != index._next_frame or counts.sum() != len(
            arrays["video_frames"]
        ):
            raise SnapshotError(f"{path}: video index arrays are inconsistent")
        bounds = np.concatenate([[0], np.cumsum(counts)])
        for i, video_id in enumerate(arrays["video_ids"].tolist()):
            index._video_frames[video_id] = [
                np.array(arrays["video_frames"][bounds[i] : bounds[i + 1]])
            ]
            index._frame_counts[video_id] = int(counts[i])
        return index
