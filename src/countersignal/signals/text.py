"""Text signals: ``text_exact`` (SHA-256 of a normalised form) and ``text_near`` (MinHash).

Normalisation folds what people change to dodge exact matching without changing what a text
says: Unicode compatibility forms (NFKC: full-width, ligatures, styled maths letters), case
(casefold), Cyrillic/Greek look-alikes of Latin letters (a table in ``data/confusables.json``,
from Unicode UTS #39), invisible format characters (zero-width joiners, bidi marks), all
punctuation and symbols, and runs of white space.

``text_near`` is a 128-slot MinHash over character 5-grams of the normalised text. It won
over TLSH in ``bench/eval_text_neardup.py`` (see docs/evaluation.md): at equal precision
TLSH recalls far less after word swaps and inserted or deleted sentences, and gives no hash
at all for texts under 50 bytes. The MinHash is implemented here (a small C kernel) rather than
taken from ``datasketch`` so stored signals never change when a dependency changes its
hashing, and so a 16 MB text hashes in seconds; the evaluation checks it agrees with
``datasketch``. 5-gram keys: polynomial over code points with an odd 64-bit base, then the
splitmix64 finaliser; slots: multiply-shift hashes with parameters derived from a fixed label.
Value: 1024 hex digits = 128 big-endian uint32 minima. Distance: the share of slots that
differ (an estimate of 1 - Jaccard similarity of the 5-gram sets), 0.0..1.0.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from functools import cache
from importlib import resources
from typing import ClassVar

import numpy as np

from countersignal.errors import InvalidInput, InvalidSignal
from countersignal.signals._minhash import minhash_codes
from countersignal.signals.base import ExactSignalType, Signal, SignalType
from countersignal.signals.file import SHA256

NUM_PERM = 128
SHINGLE = 5


@cache
def _confusables() -> dict[int, str]:
    raw = resources.files("countersignal.signals").joinpath("data/confusables.json").read_text()
    return {ord(k): v for k, v in json.loads(raw)["map"].items()}


_SPACE = re.compile(r"\s+")
_DROPPED = ("Cf", "Cc", "Cs", "Co", "Cn")  # invisible format and control characters


class _Folding(dict):
    """``str.translate`` table filled on first sight of each code point: the per-character
    decision runs in Python once per distinct character, the rest of the text in C."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        category = unicodedata.category(char)
        if category[0] in "PSZ" or char.isspace():
            folded = " "  # punctuation, symbols and separators split words
        elif category in _DROPPED:
            folded = ""
        else:
            folded = char
        self[code] = folded
        return folded


_FOLDING = _Folding()


def normalise(text: str) -> str:
    """The form both text signals hash: see the module docstring for what is folded."""
    text = unicodedata.normalize("NFKC", text).translate(_confusables()).casefold()
    return _SPACE.sub(" ", text.translate(_FOLDING)).strip()


class TextExact(ExactSignalType):
    """SHA-256 (hex) of the normalised text's UTF-8 bytes."""

    name: ClassVar[str] = "text_exact"

    @classmethod
    def validate(cls, value: str) -> str:
        try:
            return SHA256.validate(value)
        except InvalidSignal:
            raise InvalidSignal(f"{str(value)[:80]!r} is not a text_exact value") from None


@cache
def _permutations() -> tuple[np.ndarray, np.ndarray]:
    """Multiply-shift hash parameters, derived from a fixed label so they never change."""
    stream = b"".join(
        hashlib.blake2b(b"countersignal text_near minhash v1:%d" % block).digest()
        for block in range(NUM_PERM * 16 // 64)
    )
    words = np.frombuffer(stream, dtype=">u8").astype(np.uint64)
    return words[0::2] | np.uint64(1), np.ascontiguousarray(words[1::2])  # odd multipliers, offsets


def shingles(normalised: str) -> set[str]:
    """The text's set of character 5-grams (the whole text when shorter)."""
    if len(normalised) <= SHINGLE:
        return {normalised}
    return {normalised[i : i + SHINGLE] for i in range(len(normalised) - SHINGLE + 1)}


def minhash(normalised: str) -> np.ndarray:
    """128 uint32 minima of multiply-shift hashes of the text's 5-grams (duplicates need no
    removal: they hash alike). Compiled (``_minhash.c``): a 16 MB text costs about a second."""
    codes = np.frombuffer(normalised.encode("utf-32-le"), "<u4").astype(np.uint32, copy=False)
    multipliers, offsets = _permutations()
    minima = np.empty(len(multipliers), dtype=np.uint64)
    minhash_codes(codes, min(SHINGLE, len(codes)), multipliers, offsets, minima)
    return minima.astype(np.uint32)


class TextNear(SignalType):
    """MinHash of character 5-grams; distance = share of differing slots."""

    name: ClassVar[str] = "text_near"
    # bench/eval_text_neardup.py: 0.7 was best on its dev split and 0.8 loses precision;
    # 0.6 keeps a margin (recall 0.85-1.00 per single edit, no false match) because
    # unrelated texts on one topic share more 5-grams than the evaluation's corpus.
    default_threshold: ClassVar[float] = 0.6
    max_threshold: ClassVar[float] = 1.0
    hex_length: ClassVar[int] = NUM_PERM * 8

    @classmethod
    def validate(cls, value: str) -> str:
        if not isinstance(value, str):
            raise InvalidSignal(f"text_near value must be a string, not {type(value).__name__}")
        canonical = value.strip().lower()
        if len(canonical) != cls.hex_length or not re.fullmatch(r"[0-9a-f]+", canonical):
            raise InvalidSignal(f"{value[:40]!r}... is not a text_near value ({NUM_PERM} x 8 hex)")
        return canonical

    @classmethod
    def distance(cls, a: str, b: str) -> float:
        return float(np.count_nonzero(to_slots(a) != to_slots(b))) / NUM_PERM


def to_slots(value: str) -> np.ndarray:
    """The uint32 slots of a ``text_near`` value."""
    return np.frombuffer(bytes.fromhex(value), dtype=">u4").astype(np.uint32)


def from_slots(slots: np.ndarray) -> str:
    return np.asarray(slots, dtype=">u4").tobytes().hex()


def hash_text(text: str) -> list[Signal]:
    """``text_exact`` and ``text_near`` signals of a text.

    Raises :class:`InvalidInput` when nothing is left after normalisation (empty text, or
    only punctuation): such texts would all share one hash and match each other.
    """
    if not isinstance(text, str):
        raise InvalidInput(f"text must be a string, not {type(text).__name__}")
    normal = normalise(text)
    if not normal:
        raise InvalidInput("text is empty after normalisation (only spaces or punctuation)")
    exact = hashlib.sha256(normal.encode()).hexdigest()
    meta = {"chars": len(normal)}
    return [
        Signal(TextExact.name, exact, None, meta),
        Signal(TextNear.name, from_slots(minhash(normal)), None, meta),
    ]
