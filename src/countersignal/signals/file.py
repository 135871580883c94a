"""Cryptographic file digests (``md5``, ``sha256``, ``video_md5``) and content sniffing.

Digests are streamed in fixed-size chunks so memory stays bounded whatever the file size.
``video_md5`` is python-threatexchange's name for the MD5 of a video file; it is the same
digest as ``md5`` but kept as its own type so banks shared with HMA keep their type names.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import BinaryIO, ClassVar, Literal

from countersignal.signals.base import HexDigestType

CHUNK_BYTES = 1 << 20

Kind = Literal["image", "video", "text", "other"]


class MD5(HexDigestType):
    name: ClassVar[str] = "md5"
    hex_length: ClassVar[int] = 32


class SHA256(HexDigestType):
    name: ClassVar[str] = "sha256"
    hex_length: ClassVar[int] = 64


class VideoMD5(HexDigestType):
    name: ClassVar[str] = "video_md5"
    hex_length: ClassVar[int] = 32


def digest_stream(stream: BinaryIO) -> tuple[str, str]:
    """``(md5, sha256)`` hex digests of a binary stream, read in bounded chunks."""
    md5, sha256 = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    while chunk := stream.read(CHUNK_BYTES):
        md5.update(chunk)
        sha256.update(chunk)
    return md5.hexdigest(), sha256.hexdigest()


def digest_file(path: str | Path) -> tuple[str, str]:
    """``(md5, sha256)`` of a file, streamed."""
    with open(path, "rb") as stream:
        return digest_stream(stream)


def digest_bytes(data: bytes) -> tuple[str, str]:
    return hashlib.md5(data, usedforsecurity=False).hexdigest(), hashlib.sha256(data).hexdigest()


# Leading bytes -> kind. Only formats a decoder here can read; everything else is "other".
_IMAGE_MAGIC = (
    b"\xff\xd8\xff",  # JPEG
    b"\x89PNG\r\n\x1a\n",
    b"GIF87a",
    b"GIF89a",
    b"BM",  # BMP
    b"II*\x00",  # TIFF little-endian
    b"MM\x00*",  # TIFF big-endian
)
_VIDEO_MAGIC = (
    b"\x1a\x45\xdf\xa3",  # Matroska / WebM
    b"FLV",
    b"\x00\x00\x01\xba",  # MPEG-PS
    b"\x00\x00\x01\xb3",  # MPEG video
)


def sniff_kind(head: bytes) -> Kind:
    """Classify content by its first bytes (at least 16), never by its file name.

    Names and declared content types are attacker-controlled; magic bytes are what decoders
    actually act on. Text is UTF-8 (optionally with BOM) without NUL bytes.
    """
    if head.startswith(_IMAGE_MAGIC):
        return "image"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        return "image" if brand in (b"avif", b"avis", b"heic", b"heix", b"mif1") else "video"
    if head.startswith(_VIDEO_MAGIC) or (len(head) > 188 and head[0] == 0x47 == head[188]):
        return "video"  # the second test: MPEG transport stream sync bytes 188 apart
    if head and _looks_like_text(head):
        return "text"
    return "other"


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is still text.
        return exc.start >= len(head) - 3 and exc.reason == "unexpected end of data"
    return True
