"""The decoders behind the hashers, fed mutated and hostile media: every input ends as signals
or a CountersignalError (the API's clear 4xx), in bounded time and memory, process alive."""

from __future__ import annotations

import io
import subprocess

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from countersignal.errors import CountersignalError
from countersignal.settings import Limits
from countersignal.signals import hash_bytes
from fuzz.budget import fuzz_settings, run_bounded

# Pillow warns about the damaged EXIF these inputs carry; what is tested is the outcome
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:PIL.TiffImagePlugin")

LIMITS = Limits(max_image_pixels=4_000_000, max_video_seconds=30)


def _photo(seed: int, size=(96, 72)) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def _encoded(fmt: str) -> bytes:
    out = io.BytesIO()
    _photo(len(fmt)).save(out, fmt)
    return out.getvalue()


SEEDS = {fmt: _encoded(fmt) for fmt in ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP")}


@st.composite
def mutated(draw) -> bytes:
    """A valid image of one format with bytes flipped, cut, repeated or spliced in: what a
    broken upload or a decoder exploit looks like to the hasher."""
    data = bytearray(SEEDS[draw(st.sampled_from(sorted(SEEDS)))])
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(("flip", "cut", "insert", "dup")))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip":
            data[at] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[at:at + draw(st.integers(1, 64))]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=32))
        else:
            data[at:at] = data[at:at + draw(st.integers(1, 256))] * draw(st.integers(1, 8))
    return bytes(data)


def _hash_or_clear_error(data: bytes, **claims) -> None:
    try:
        signals = hash_bytes(data, limits=LIMITS, **claims)
    except CountersignalError as exc:
        assert 400 <= exc.http_status < 500, exc
        return
    assert signals and all(s.value for s in signals)


@fuzz_settings(examples=250)
@given(mutated())
def test_mutated_images_give_signals_or_a_clear_error(data: bytes) -> None:
    _hash_or_clear_error(data)


MAGICS = [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a", b"BM", b"II*\x00", b"RIFF",
          b"\x00\x00\x00\x18ftypmp42", b"\x1aE\xdf\xa3", b"%PDF-", b"\xef\xbb\xbf"]


@fuzz_settings(examples=200)
@given(st.sampled_from(MAGICS), st.binary(max_size=2048),
       st.sampled_from([None, "image/png", "text/plain", "video/mp4"]),
       st.sampled_from([None, "x.txt", "../../etc/passwd", "a\x00b.png", "C:\\x\\..\\y.jpg"]))
def test_magic_prefixed_garbage_and_hostile_names(magic, tail, content_type, filename) -> None:
    """Garbage behind every sniffed magic number, with lying types and traversal names (the
    name is only a claim: it must never be used as a path)."""
    _hash_or_clear_error(magic + tail, content_type=content_type, filename=filename)


@pytest.fixture(scope="module")
def small_video(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("video") / "v.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=duration=1:size=96x64:rate=5",
         "-pix_fmt", "yuv420p", str(path)], check=True, timeout=60,
    )
    return path.read_bytes()


@fuzz_settings(examples=12, deadline_ms=20_000)
@given(data=st.data())
def test_mutated_video_gives_signals_or_a_clear_error(small_video: bytes, data) -> None:
    body = bytearray(small_video)
    for _ in range(data.draw(st.integers(1, 6))):
        at = data.draw(st.integers(16, len(body) - 1))
        if data.draw(st.booleans()):
            body[at] = data.draw(st.integers(0, 255))
        else:
            del body[at:]
            break
    _hash_or_clear_error(bytes(body))


MAKE_BOMBS = r"""
import io, sys, zlib, struct
from pathlib import Path
from PIL import Image

def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

def png_stream(width, height):
    # A real, fully valid PNG whose pixels are all zero: compresses ~1000:1.
    squeeze = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    raw = b"".join(squeeze.compress(row) for _ in range(height)) + squeeze.flush()
    head = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", head) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")

def gif(width, height):
    out = io.BytesIO(); Image.new("P", (width, height)).save(out, "GIF"); return out.getvalue()

def tiff_header_only(width, height):
    entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (259, 3, 1, 1),
               (262, 3, 1, 1), (273, 4, 1, 8), (277, 3, 1, 1), (278, 4, 1, height),
               (279, 4, 1, 16)]
    ifd = struct.pack("<H", len(entries)) + b"".join(
        struct.pack("<HHII", tag, kind, count, value) for tag, kind, count, value in entries)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + b"\x00\x00\x00\x00"

folder = Path(FOLDER)
(folder / "png-16k-x-16k-zeros.png").write_bytes(png_stream(16_000, 16_000))
(folder / "png-8k-x-30k.png").write_bytes(png_stream(8_000, 30_000))
(folder / "gif-12k-x-12k.gif").write_bytes(gif(12_000, 12_000))
(folder / "tiff-header-100k-x-100k.tif").write_bytes(tiff_header_only(100_000, 100_000))
result = {"made": len(list(folder.iterdir()))}
"""

HASH_BOMBS = r"""
from pathlib import Path
from countersignal.errors import CountersignalError
from countersignal.signals import hash_bytes

result = {}
for path in sorted(Path(FOLDER).iterdir()):
    data = path.read_bytes()
    try:
        hash_bytes(data)
        result[path.name] = ["accepted", len(data)]
    except CountersignalError as exc:
        result[path.name] = [type(exc).__name__, len(data), exc.http_status]
"""


@pytest.mark.slow
def test_decompression_bombs_are_refused_in_bounded_memory(tmp_path) -> None:
    """Each bomb decodes to 144 MP .. 10 GP; the default pixel limit (64 MP) must refuse it
    from the header, before any pixel buffer is allocated: the hashing child stays small."""
    folder = f"FOLDER = {str(tmp_path)!r}\n"
    assert run_bounded(folder + MAKE_BOMBS, timeout_s=120).result == {"made": 4}
    run = run_bounded(folder + HASH_BOMBS, memory_mib=2048, timeout_s=60)
    assert run.returncode == 0, run.stderr
    assert len(run.result) == 4
    for name, (outcome, size, *status) in run.result.items():
        assert outcome == "ContentTooLarge", (name, outcome)
        assert status == [413]
        assert size < 2_000_000, name  # a small file: a real bomb
    baseline = run_bounded("import countersignal.signals\nresult = {}")
    assert run.peak_mib - baseline.peak_mib < 64, (run.peak_mib, baseline.peak_mib)
    assert run.seconds < 30
