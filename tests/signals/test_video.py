"""vPDQ: hashing generated videos, the HMA value format, and the reference matching rule."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from countersignal.errors import InvalidInput, InvalidSignal, UnsupportedContent
from countersignal.settings import Limits
from countersignal.signals import hash_bytes, hash_file, parse_vpdq
from countersignal.signals.file import digest_file
from countersignal.signals.pdq import PDQ
from countersignal.signals.video import (
    BANK_SECONDS_PER_HASH,
    NO_BARS,
    VPDQ,
    Bars,
    VpdqFrame,
    choose_bars,
    format_vpdq,
    frame_bars,
    hash_video,
    seconds_per_hash_for,
    vpdq_match,
)


@pytest.fixture(scope="module")
def videos(make_video):
    original = make_video("orig.mp4", "testsrc2", 4)
    return {
        "original": original,
        "reencoded": make_video(
            "reenc.mp4", original, extra=("-crf", "35", "-vf", "scale=320:240,eq=brightness=0.05")
        ),
        "other": make_video("other.mp4", "mandelbrot", 4),
        "clip": make_video("clip.mp4", "testsrc2", 2),
    }


def test_hash_file_gives_video_signals(videos) -> None:
    signals = hash_file(videos["original"])
    assert [s.type for s in signals] == ["video_md5", "vpdq", "sha256"]
    md5, sha256 = digest_file(videos["original"])
    assert signals[0].value == md5 and signals[2].value == sha256
    frames = parse_vpdq(signals[1].value)
    assert signals[1].meta["frames"] == len(frames) >= 4  # one frame per second
    assert [f.frame_number for f in frames] == list(range(len(frames)))
    assert all(b.timestamp > a.timestamp for a, b in itertools.pairwise(frames))


def test_reencoded_video_matches_and_other_does_not(videos) -> None:
    original = hash_video(videos["original"]).value
    reencoded = hash_video(videos["reencoded"]).value
    other = hash_video(videos["other"]).value
    assert VPDQ.distance(reencoded, original) <= VPDQ.default_threshold
    assert VPDQ.distance(other, original) > VPDQ.default_threshold
    assert VPDQ.compare(reencoded, [other, original]) == [(1, VPDQ.distance(reencoded, original))]


def test_clip_matches_full_video_but_not_reverse(videos) -> None:
    """Asymmetry: every frame of a 2 s clip is in the 4 s video, not the other way round."""
    clip = hash_video(videos["clip"]).value
    full = hash_video(videos["original"]).value
    assert vpdq_match(clip, full).query_percent == 100.0
    assert vpdq_match(full, clip).query_percent < 80.0
    assert VPDQ.distance(clip, full) < VPDQ.distance(full, clip)


def test_value_format_is_pytx_hma_compatible(videos) -> None:
    from threatexchange.extensions.vpdq.vpdq import VPDQSignal
    from threatexchange.extensions.vpdq.vpdq_util import json_to_vpdq, vpdq_to_json

    ours = hash_video(videos["original"]).value
    theirs = json_to_vpdq(ours)  # pytx parses our value
    assert [f.pdq_hex for f in theirs] == [f.pdq_hex for f in parse_vpdq(ours)]
    assert VPDQ.validate(vpdq_to_json(theirs)) == ours  # and we parse theirs
    reencoded = hash_video(videos["reencoded"]).value
    pytx = VPDQSignal.compare_hash(reencoded, ours)
    assert pytx.distance.query_match_percent == vpdq_match(reencoded, ours).query_percent


def test_matching_follows_the_reference_brute_force() -> None:
    """Dedup, quality filter and both percentages as vpdq's brute-force matcher computes them."""
    from threatexchange.extensions.vpdq.vpdq_brute_matcher import match_VPDQ_hash_brute
    from threatexchange.extensions.vpdq.vpdq_util import json_to_vpdq

    base = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"

    def flipped(bits: int) -> str:
        return f"{int(base, 16) ^ ((1 << bits) - 1):064x}"

    query = [
        VpdqFrame(base, 100, 0, 0.0),
        VpdqFrame(base, 100, 1, 1.0),  # duplicate: counted once
        VpdqFrame(flipped(40), 90, 2, 2.0),
        VpdqFrame(flipped(120), 20, 3, 3.0),  # low quality: ignored
        VpdqFrame(flipped(200), 80, 4, 4.0),
    ]
    candidate = [VpdqFrame(flipped(10), 100, 0, 0.0), VpdqFrame(flipped(100), 70, 1, 1.0)]
    q, c = format_vpdq(query), format_vpdq(candidate)
    reference = match_VPDQ_hash_brute(json_to_vpdq(q), json_to_vpdq(c), 50, 31)
    ours = vpdq_match(q, c)
    assert ours == (reference.query_match_percent, reference.compared_match_percent)
    assert ours.query_percent == pytest.approx(200 / 3)
    assert PDQ.distance(base, flipped(10)) == 10


def test_video_with_no_usable_frame_only_matches_itself() -> None:
    low = format_vpdq([VpdqFrame("0" * 64, 10, 0, 0.0)])
    other = format_vpdq([VpdqFrame("0" * 63 + "1", 10, 0, 0.0)])
    assert VPDQ.distance(low, low) == 0
    assert VPDQ.distance(low, other) == 100


@pytest.mark.parametrize(
    "bad", ["[]", json.dumps(["x" * 64 + ",100,0"]), json.dumps([["a", 1]]), "[1, 2]"]
)
def test_parse_rejects_malformed(bad: str) -> None:
    with pytest.raises(InvalidSignal):
        parse_vpdq(bad)


def test_pillarboxed_copy_matches_only_with_bars_cropped(make_video, videos) -> None:
    """The TMK failure mode: the same scene with black bars shares no whole-frame hash."""
    boxed = make_video(
        "boxed.mp4", videos["original"], extra=("-vf", "scale=112:120,pad=160:120:24:0:black")
    )
    original = hash_video(videos["original"]).value
    signal = hash_video(boxed)
    assert signal.meta["cropped"]["left"] == pytest.approx(24 / 160, abs=0.02)
    assert VPDQ.distance(signal.value, original) <= VPDQ.default_threshold
    uncropped = hash_video(boxed, crop_bars=False).value
    assert VPDQ.distance(uncropped, original) > VPDQ.default_threshold


def test_frames_stay_compatible_with_the_vpdq_package(videos) -> None:
    """Partners hash with ``vpdq.computeHash``; on a video without bars ours must match theirs."""
    import vpdq

    theirs = vpdq.computeHash(str(videos["reencoded"]), seconds_per_hash=1.0)
    theirs_value = format_vpdq(
        [VpdqFrame(f.hex, f.quality, n, f.timestamp) for n, f in enumerate(theirs)]
    )
    ours = hash_video(videos["reencoded"]).value
    assert "cropped" not in hash_video(videos["reencoded"]).meta
    assert vpdq_match(ours, theirs_value) == (100.0, 100.0)
    assert [f.timestamp for f in parse_vpdq(ours)] == [f.timestamp for f in theirs]


def _frame(top: int = 0, bottom: int = 0, left: int = 0, right: int = 0) -> np.ndarray:
    rng = np.random.default_rng(top + bottom + left + right)
    frame = rng.integers(60, 255, (64, 64, 3), dtype=np.uint8)
    frame[:top], frame[64 - bottom :], frame[:, :left], frame[:, 64 - right :] = 0, 0, 0, 0
    return frame


def test_frame_bars_finds_letterbox_and_pillarbox() -> None:
    assert frame_bars(_frame(top=8, bottom=8)) == Bars(8, 8, 0, 0)
    assert frame_bars(_frame(left=5, right=7)) == Bars(0, 0, 5, 7)
    assert frame_bars(np.zeros((64, 64, 3), dtype=np.uint8)) is None  # blank: no evidence
    subtitled = _frame(top=8, bottom=8)
    subtitled[60, 20:40] = 255  # a bright subtitle line inside the bottom bar is content
    assert frame_bars(subtitled) == Bars(8, 3, 0, 0)


def test_choose_bars_takes_the_median_and_refuses_dark_videos() -> None:
    per_frame = [Bars(8, 8, 0, 0)] * 5 + [Bars(8, 3, 0, 0)] * 2 + [None] * 3
    assert choose_bars(per_frame, 64, 64) == Bars(8, 8, 0, 0)
    assert choose_bars([None, None], 64, 64) == NO_BARS
    assert choose_bars([Bars(30, 30, 0, 0)] * 3, 64, 64) == NO_BARS  # keeps < 25%: not bars


def test_decoder_timeout_gives_a_clear_error(videos) -> None:
    limits = Limits(video_hash_timeout_s=0.001, video_hash_timeout_per_video_s=0)
    with pytest.raises(UnsupportedContent, match="timed out after"):
        hash_video(videos["original"], limits=limits)


def test_recut_matches_only_a_densely_hashed_bank_copy(make_video, videos) -> None:
    """A copy trimmed by half a second samples other instants: at one frame per second on
    both sides no frame meets; hashed for a bank (every 1/30 s) the original holds a frame
    at each instant the 1 fps query samples, and unrelated video still does not match."""
    recut = make_video("recut.mp4", videos["original"], extra=("-ss", "0.5"))
    query = hash_file(recut)[1].value  # matching hashes at one frame per second
    assert parse_vpdq(query)[1].timestamp == 1.0
    bank_sparse = hash_file(videos["original"])[1].value
    bank_dense = hash_file(videos["original"], purpose="bank")[1]
    assert bank_dense.meta["seconds_per_hash"] == pytest.approx(BANK_SECONDS_PER_HASH, abs=1e-4)
    assert bank_dense.meta["frames"] >= 25 * len(parse_vpdq(bank_sparse))
    in_memory = hash_bytes(videos["original"].read_bytes(), purpose="bank")[1]
    assert in_memory.value == bank_dense.value
    assert VPDQ.distance(query, bank_sparse) > VPDQ.default_threshold
    assert VPDQ.distance(query, bank_dense.value) <= VPDQ.default_threshold
    other = hash_file(videos["other"])[1].value
    assert VPDQ.distance(other, bank_dense.value) > VPDQ.default_threshold


def test_dense_bank_hash_crops_like_the_query(make_video, videos) -> None:
    """Bars are decided on the same one-per-second frames whatever the sampling rate."""
    boxed = make_video(
        "boxed.mp4", videos["original"], extra=("-vf", "scale=112:120,pad=160:120:24:0:black")
    )
    query = hash_video(boxed)
    bank = hash_video(boxed, seconds_per_hash=BANK_SECONDS_PER_HASH)
    assert bank.meta["cropped"] == query.meta["cropped"]
    every_30th = parse_vpdq(bank.value)[::30]
    assert vpdq_match(query.value, every_30th).query_percent == 100.0


def test_unknown_hash_purpose_is_refused(videos) -> None:
    assert seconds_per_hash_for("query") == 1.0
    with pytest.raises(InvalidInput, match="purpose"):
        hash_file(videos["original"], purpose="archive")  # type: ignore[arg-type]


def test_long_banked_videos_are_hashed_at_a_capped_frame_count(videos) -> None:
    """The dense bank interval widens for long videos (here a clip of a few seconds capped at
    30 frames), and never becomes sparser than the query side's one per second."""
    capped = hash_video(videos["original"], seconds_per_hash=BANK_SECONDS_PER_HASH,
                        limits=Limits(max_bank_video_frames=30))
    duration = capped.meta["duration"]
    assert capped.meta["seconds_per_hash"] == pytest.approx(duration / 30, abs=1e-3)
    assert 25 <= capped.meta["frames"] <= 31
    query = hash_video(videos["original"])
    assert vpdq_match(query.value, capped.value).query_percent == 100.0
    floor = hash_video(videos["original"], seconds_per_hash=BANK_SECONDS_PER_HASH,
                       limits=Limits(max_bank_video_frames=1))
    assert floor.meta["seconds_per_hash"] == 1.0
