"""Helpers for the API tests: unique names, and content made in code (textured images and
their near-copies)."""

from __future__ import annotations

import io
import secrets

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


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"
