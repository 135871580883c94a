"""VideoIndex agrees with the brute-force vpdq matcher and persists."""

from __future__ import annotations

import numpy as np
import pytest

from countersignal.index.video import VideoIndex
from countersignal.signals.pdq import words_to_hex
from countersignal.signals.video import VpdqFrame, format_vpdq, vpdq_match

from .conftest import flip_bits, random_hashes


def _video(rng, base: np.ndarray, flips: int, quality: int = 90) -> list[tuple[str, int]]:
    frames = flip_bits(rng, base, np.full(len(base), flips))
    return [(h, quality) for h in words_to_hex(frames)]


def _vpdq(frames) -> str:
    return format_vpdq([VpdqFrame(h, q, i, float(i)) for i, (h, q) in enumerate(frames)])


@pytest.fixture
def library(rng):
    """Eight stored videos; video 3 shares half its frames with the query's source."""
    sources = [random_hashes(rng, 20) for _ in range(8)]
    sources[3][:10] = sources[0][:10]
    videos = {vid: _video(rng, src, 4) for vid, src in enumerate(sources)}
    videos[5] = [(h, 10) for h, _ in videos[5]]  # all low quality: never stored
    return sources, videos


def test_query_matches_brute_force_percentages(rng, library):
    sources, videos = library
    index = VideoIndex()
    for vid, frames in videos.items():
        index.add_frames(vid, frames)
    query = _video(rng, sources[0], 6) + _video(rng, random_hashes(rng, 2), 0)  # 20 + 2 frames
    found = {m.video_id: m for m in index.query_frames(query, min_query_percent=0)}
    for vid, frames in videos.items():
        expected = vpdq_match(_vpdq(query), _vpdq(frames))
        if expected.query_percent == 0:
            assert vid not in found
        else:
            assert found[vid].query_percent == pytest.approx(expected.query_percent)
            assert found[vid].compared_percent == pytest.approx(expected.compared_percent)
    assert [m.video_id for m in index.query_frames(query)] == [0]  # 20/22 >= 80%, video 3 < 80%


def test_string_api_remove_and_snapshot(rng, library, tmp_path):
    sources, videos = library
    index = VideoIndex()
    index.add(list(videos), [_vpdq(f) for f in videos.values()])
    query = _vpdq(_video(rng, sources[2], 3))
    hits = index.query(query)
    assert [(h[0], h[1]) for h in hits] == [(2, 0.0)]
    assert hits[0][2] == {"query_percent": 100.0, "compared_percent": 100.0}
    path = tmp_path / "v.idx"
    index.save(path)
    loaded = VideoIndex.load(path)
    assert loaded.query(query) == hits and len(loaded) == len(index) == 8
    assert loaded.remove([2, 42]) == 1
    assert loaded.query(query) == [] and len(loaded) == 7
    loaded.add_frames(2, videos[2])
    assert [h[0] for h in loaded.query(query)] == [2]


def test_empty_and_low_quality_queries_match_nothing(rng, library):
    _sources, videos = library
    index = VideoIndex()
    assert index.query_frames(videos[0]) == []
    index.add_frames(0, videos[0])
    assert index.query_frames([(h, 20) for h, _ in videos[0]]) == []
