"""Helpers for the API tests: unique names, and content made in code (textured images and
their near-copies)."""

from __future__ import annotations

import io
import secrets
import struct

import numpy as np
from PIL import Image, ImageFilter


def image(seed: int, size: int = 256) -> Image.Image:
    """A photo-like image (smoothed noise): PDQ quality well above 50."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    img = Image.fromarray(small).resize((size, size), Image.Resampling.BICUBIC)
    return img.filter(ImageFilter.GaussianBlur(2))


def encode(img: Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def png(seed: int) -> bytes:
    return encode(image(seed))


def near_copy(seed: int) -> bytes:
    """The same picture re-encoded as a smaller JPEG: different bytes, near-identical PDQ."""
    return encode(image(seed).resize((200, 200)), "JPEG", quality=80)


def mistyped_tiff() -> bytes:
    """A valid TIFF whose StripOffsets entry is retyped ASCII: Pillow's decoder then raises
    TypeError (not OSError/ValueError) — the shape of hostile file a fuzzer finds."""
    data = bytearray(encode(image(5, 32), "TIFF"))
    assert data[:4] == b"II*\x00"
    ifd = struct.unpack_from("<I", data, 4)[0]
    for entry in range(struct.unpack_from("<H", data, ifd)[0]):
        at = ifd + 2 + 12 * entry
        if struct.unpack_from("<H", data, at)[0] == 273:  # StripOffsets
            struct.pack_into("<H", data, at + 2, 2)  # field type 2 = ASCII
            return bytes(data)
    raise AssertionError("no StripOffsets entry")


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"
