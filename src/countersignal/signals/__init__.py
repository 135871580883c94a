"""Signal types and hashing: what content is reduced to before it is banked and matched.

Type names follow python-threatexchange / HMA where a type exists there (``pdq``,
``video_md5``, ``vpdq``, ``url``); the others are ``md5``, ``sha256``, ``text_exact``,
``text_near`` and ``url_domain``.
"""

from __future__ import annotations

from countersignal.errors import NotFound
from countersignal.signals.base import Signal, SignalType
from countersignal.signals.file import MD5, SHA256, VideoMD5
from countersignal.signals.hashing import HashResult, hash_bytes, hash_file, iter_hash_paths
from countersignal.signals.pdq import PDQ, hash_image
from countersignal.signals.text import TextExact, TextNear, hash_text
from countersignal.signals.url import URL, URLDomain, hash_url
from countersignal.signals.video import VPDQ, VpdqFrame, parse_vpdq

SIGNAL_TYPES: dict[str, type[SignalType]] = {
    t.name: t for t in (PDQ, VPDQ, VideoMD5, MD5, SHA256, TextExact, TextNear, URL, URLDomain)
}


def get_signal_type(name: str) -> type[SignalType]:
    """The signal type called ``name``; :class:`NotFound` (404) when there is none."""
    try:
        return SIGNAL_TYPES[name]
    except (KeyError, TypeError):
        known = ", ".join(sorted(SIGNAL_TYPES))
        raise NotFound(f"unknown signal type {name!r}; known types: {known}") from None


__all__ = [
    "SIGNAL_TYPES",
    "HashResult",
    "Signal",
    "SignalType",
    "VpdqFrame",
    "get_signal_type",
    "hash_bytes",
    "hash_file",
    "hash_image",
    "hash_text",
    "hash_url",
    "iter_hash_paths",
    "parse_vpdq",
]
