"""Hostile input: every case made in code; each must give a clear error, never a crash or hang."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from api.helpers import mistyped_tiff
from countersignal.errors import ContentTooLarge, UnsupportedContent
from countersignal.settings import Limits
from countersignal.signals import hash_bytes, hash_file
from countersignal.signals.pdq import hash_image, open_image


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG claiming width x height pixels with a few bytes of data: a decompression bomb's
    header. Decoding it would need width*height bytes; checking it must not."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def test_decompression_bomb_is_too_large_not_a_warning() -> None:
    with pytest.raises(ContentTooLarge, match="pixels"):
        hash_bytes(_png_header_only(100_000, 100_000))
    # Also past Pillow's own hard limit (2 x MAX_IMAGE_PIXELS), where it would raise itself.
    with pytest.raises(ContentTooLarge):
        hash_image(_png_header_only(60_000, 60_000), limits=Limits(max_image_pixels=10**12))


def test_pixel_limit_applies_to_real_images(make_photo) -> None:
    data = _jpeg(make_photo(0, (400, 300)))
    with pytest.raises(ContentTooLarge):
        hash_bytes(data, limits=Limits(max_image_pixels=400 * 300 - 1))
    assert hash_bytes(data, limits=Limits(max_image_pixels=400 * 300))[0].type == "pdq"
    with pytest.raises(ContentTooLarge):
        hash_image(make_photo(0, (400, 300)), limits=Limits(max_image_pixels=1000))


def test_byte_limits_are_checked_before_reading(tmp_path: Path, make_photo) -> None:
    data = _jpeg(make_photo(1))
    with pytest.raises(ContentTooLarge):
        hash_bytes(data, limits=Limits(max_image_bytes=len(data) - 1))
    with pytest.raises(ContentTooLarge):
        hash_bytes(data, limits=Limits(max_file_bytes=len(data) - 1))
    text = tmp_path / "big.txt"
    text.write_text("word " * 1000)
    with pytest.raises(ContentTooLarge):
        hash_file(text, limits=Limits(max_text_bytes=100))


def test_truncated_image(make_photo) -> None:
    data = _jpeg(make_photo(2))
    with pytest.raises(UnsupportedContent, match="truncated"):
        hash_bytes(data[: len(data) // 2])


def test_corrupt_image_body(make_photo) -> None:
    data = bytearray(_jpeg(make_photo(3)))
    data[20:] = b"\x00" * (len(data) - 20)  # JPEG magic, then nothing valid
    with pytest.raises(UnsupportedContent):
        hash_bytes(bytes(data))
    with pytest.raises(UnsupportedContent):
        hash_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)


def test_any_decoder_error_is_unsupported_content() -> None:
    """Pillow raises TypeError for this one; whatever a decoder raises, the content is bad."""
    with pytest.raises(UnsupportedContent, match="corrupt or truncated image: TypeError"):
        hash_bytes(mistyped_tiff())
    with pytest.raises(UnsupportedContent):
        open_image(mistyped_tiff())


def test_empty_content(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(UnsupportedContent, match="empty"):
        hash_file(empty)
    with pytest.raises(UnsupportedContent, match="empty"):
        hash_bytes(b"")
    with pytest.raises(UnsupportedContent, match="empty"):
        open_image(b"")


def test_wrong_type_gets_digests_only(tmp_path: Path) -> None:
    """A file named .jpg that is not an image is hashed as bytes, not fed to a decoder."""
    fake = tmp_path / "photo.jpg"
    fake.write_bytes(bytes(range(256)) * 4)
    assert [s.type for s in hash_file(fake)] == ["md5", "sha256"]


def test_non_utf8_text(tmp_path: Path) -> None:
    latin1 = "Café crème, déjà vu. " * 3
    with pytest.raises(UnsupportedContent, match="UTF-8"):
        hash_bytes(latin1.encode("latin-1"), content_type="text/plain")
    # Valid UTF-8 in the sniffed head, invalid later: still a clear error, not a crash.
    mixed = tmp_path / "mixed.txt"
    mixed.write_bytes(("plain ascii " * 100).encode() + latin1.encode("latin-1"))
    with pytest.raises(UnsupportedContent, match=f"byte {1200 + latin1.index('é')}"):
        hash_file(mixed)


def test_text_of_only_punctuation_has_digests_only() -> None:
    assert [s.type for s in hash_bytes(b"!!! ... ???")] == ["md5", "sha256"]


def test_bad_exif_does_not_lose_the_image(make_photo) -> None:
    exif = Image.Exif()
    exif[0x0112] = 99  # not an orientation
    buffer = io.BytesIO()
    make_photo(4).save(buffer, format="JPEG", exif=exif)
    assert hash_bytes(buffer.getvalue())[0].type == "pdq"


def test_truncated_and_fake_video(tmp_path: Path, make_video) -> None:
    data = make_video("hostile.mp4").read_bytes()
    with pytest.raises(UnsupportedContent):
        hash_bytes(data[: len(data) // 3])
    with pytest.raises(UnsupportedContent):
        hash_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00garbage" * 50)


def test_video_limits(make_video) -> None:
    video = make_video("limits.mp4", seconds=3)
    with pytest.raises(ContentTooLarge, match="long"):
        hash_file(video, limits=Limits(max_video_seconds=2))
    with pytest.raises(ContentTooLarge):
        hash_file(video, limits=Limits(max_video_bytes=100))


def test_binary_that_starts_like_text_gets_digests(tmp_path: Path) -> None:
    """A PDF-like file: ASCII header, binary later. Not declared text, so digests only."""
    data = b"%PDF-1.4\n" + b"1 0 obj << /Type /Catalog >> endobj\n" * 20 + bytes(range(128, 256))
    path = tmp_path / "document.pdf"
    path.write_bytes(data)
    assert [s.type for s in hash_file(path)] == ["md5", "sha256"]
    assert [s.type for s in hash_bytes(data)] == ["md5", "sha256"]
    with pytest.raises(UnsupportedContent, match="UTF-8"):
        hash_bytes(data, filename="document.txt")


def test_only_mainstream_image_decoders_are_reachable() -> None:
    """An image format Pillow could decode but we do not expose (here PPM) is refused."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="PPM")
    with pytest.raises(UnsupportedContent):
        open_image(buffer.getvalue())
