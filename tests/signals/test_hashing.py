"""Kind detection by magic bytes, file/bytes agreement, batch hashing."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from countersignal.errors import NotFound
from countersignal.signals import hash_bytes, hash_file, iter_hash_paths
from countersignal.signals.file import digest_bytes, sniff_kind


def _save(image, path: Path, fmt: str) -> Path:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    path.write_bytes(buffer.getvalue())
    return path


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP"])
def test_images_are_detected_whatever_their_name(tmp_path: Path, fmt: str, make_photo) -> None:
    path = _save(make_photo(1), tmp_path / "misleading.txt", fmt)
    signals = hash_file(path)
    assert [s.type for s in signals] == ["pdq", "md5", "sha256"]
    assert (signals[1].value, signals[2].value) == digest_bytes(path.read_bytes())


def test_hash_bytes_equals_hash_file(tmp_path: Path, make_photo, make_video) -> None:
    image = _save(make_photo(2), tmp_path / "a.png", "PNG")
    text = tmp_path / "a.txt"
    text.write_text("Some text to hash, with ünïcödé.", encoding="utf-8")
    for path in (image, text, make_video("bytes.mp4")):
        assert hash_bytes(path.read_bytes()) == hash_file(path)


def test_text_file_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbfhello world")
    assert hash_file(path)[0] == hash_bytes(b"hello world")[0]
    assert [s.type for s in hash_file(path)] == ["text_exact", "text_near", "md5", "sha256"]


def test_sniff_kind() -> None:
    assert sniff_kind(b"\x1a\x45\xdf\xa3" + b"\x00" * 20) == "video"
    assert sniff_kind(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image"
    assert sniff_kind(b"\x00\x00\x00\x20ftypisom") == "video"
    assert sniff_kind(b"\x00\x00\x00\x20ftypavif") == "image"
    assert sniff_kind("naïve".encode() + "é".encode()[:1]) == "text"  # cut mid-character
    assert sniff_kind(b"text\x00with nul") == "other"
    assert sniff_kind(b"\xff\xfe\x00\x00") == "other"


def test_missing_file() -> None:
    with pytest.raises(NotFound):
        hash_file("/nonexistent/file.jpg")


def _tree(root: Path, make_photo) -> list[Path]:
    (root / "sub" / "deeper").mkdir(parents=True)
    files = [_save(make_photo(i), root / "sub" / f"img{i}.png", "PNG") for i in range(3)]
    (root / "sub" / "deeper" / "note.txt").write_text("a note")
    (root / "sub" / "broken.jpg").write_bytes(b"\xff\xd8\xff" + b"\x00" * 100)
    (root / "empty.bin").write_bytes(b"")
    return files


def test_iter_hash_paths_walks_folders_and_survives_bad_files(tmp_path: Path, make_photo) -> None:
    _tree(tmp_path, make_photo)
    results = list(iter_hash_paths([tmp_path, tmp_path / "missing.png"]))
    by_name = {Path(r.path).name: r for r in results}
    assert len(results) == 7
    assert by_name["broken.jpg"].error.startswith("UnsupportedContent")
    assert by_name["empty.bin"].error.startswith("UnsupportedContent")
    assert by_name["missing.png"].error.startswith("NotFound")
    assert by_name["note.txt"].signals[0].type == "text_exact"
    assert all(by_name[f"img{i}.png"].signals[0].type == "pdq" for i in range(3))


def test_parallel_batch_gives_the_same_results_in_order(tmp_path: Path, make_photo) -> None:
    _tree(tmp_path, make_photo)
    serial = list(iter_hash_paths([tmp_path]))
    parallel = list(iter_hash_paths([tmp_path], jobs=2))
    assert parallel == serial


def test_dihedral_in_batch(tmp_path: Path, make_photo) -> None:
    _save(make_photo(9), tmp_path / "x.png", "PNG")
    (result,) = iter_hash_paths([tmp_path], dihedral=True)
    assert [s.type for s in result.signals].count("pdq") == 8


def test_batch_survives_a_worker_being_killed(tmp_path: Path, make_photo) -> None:
    """SIGKILL the pool's workers mid-batch (as the OOM killer would): every file still gets
    its result, in order, because stranded files are re-hashed in a fresh process."""
    import os
    import signal

    psutil = pytest.importorskip("psutil")
    for i in range(24):
        _save(make_photo(i, (64, 48)), tmp_path / f"{i:02d}.png", "PNG")
    results = iter_hash_paths([tmp_path], jobs=2)
    first = next(results)
    workers = psutil.Process().children()
    assert workers
    for worker in workers:
        os.kill(worker.pid, signal.SIGKILL)
    rest = list(results)
    assert [Path(r.path).name for r in [first, *rest]] == [f"{i:02d}.png" for i in range(24)]
    assert all(r.error is None and r.signals[0].type == "pdq" for r in rest)


def test_audio_in_a_video_container_gets_digests(tmp_path: Path) -> None:
    import subprocess

    path = tmp_path / "speech.mp4"
    command = ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=1"]
    subprocess.run([*command, "-c:a", "aac", str(path)], check=True, timeout=60)
    assert sniff_kind(path.read_bytes()[:64]) == "video"  # an MP4 container...
    assert [s.type for s in hash_file(path)] == ["md5", "sha256"]  # ...with no video in it
    assert hash_bytes(path.read_bytes()) == hash_file(path)
