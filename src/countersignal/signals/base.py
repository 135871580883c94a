"""The signal-type interface every hasher and index codes against.

Modelled on python-threatexchange's ``SignalType``: one small class per type, each with a
brute-force ``compare`` kept as the reference that fast indexes are tested against. Unlike
pytx there are no mixins or pickles, and thresholds are class attributes callers may override
per query instead of constants buried in code.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from countersignal.errors import InvalidSignal

Distance = int | float


@dataclass(frozen=True)
class Signal:
    """One computed signal of some content.

    ``value`` is always the canonical string form (what ``validate`` returns), so two equal
    signals compare equal as dataclasses and can be stored and exchanged as plain strings.
    """

    type: str
    value: str
    quality: int | None = None
    meta: dict = field(default_factory=dict)


class SignalType(ABC):
    """A kind of signal: how to validate a value and how far apart two values are."""

    name: ClassVar[str]
    default_threshold: ClassVar[Distance]
    max_threshold: ClassVar[Distance]
    # False where distance(query, candidate) depends on which side is the query (vpdq).
    symmetric: ClassVar[bool] = True

    @classmethod
    @abstractmethod
    def validate(cls, value: str) -> str:
        """Return the canonical form of ``value`` or raise :class:`InvalidSignal`."""

    @classmethod
    @abstractmethod
    def distance(cls, a: str, b: str) -> Distance:
        """Distance between two canonical values; 0 means identical."""

    @classmethod
    def check_threshold(cls, threshold: Distance | None) -> Distance:
        """The threshold to use: the default when None, else within 0..max_threshold."""
        if threshold is None:
            return cls.default_threshold
        if not 0 <= threshold <= cls.max_threshold:
            raise InvalidSignal(
                f"threshold {threshold} for {cls.name} must be between 0 and {cls.max_threshold}"
            )
        return threshold

    @classmethod
    def compare(
        cls, query: str, candidates: Sequence[str], threshold: Distance | None = None
    ) -> list[tuple[int, Distance]]:
        """Brute-force reference match: ``(position, distance)`` of every candidate in range.

        Slow on purpose (one ``distance`` call per candidate): indexes must agree with it.
        """
        limit = cls.check_threshold(threshold)
        query = cls.validate(query)
        matches = []
        for position, candidate in enumerate(candidates):
            dist = cls.distance(query, cls.validate(candidate))
            if dist <= limit:
                matches.append((position, dist))
        return matches


class ExactSignalType(SignalType):
    """A type that only matches identical canonical values (cryptographic hashes, URLs)."""

    default_threshold: ClassVar[Distance] = 0
    max_threshold: ClassVar[Distance] = 0

    @classmethod
    def distance(cls, a: str, b: str) -> Distance:
        return 0 if a == b else 1


class HexDigestType(ExactSignalType):
    """A fixed-length lowercase hex digest (MD5, SHA-256)."""

    hex_length: ClassVar[int]

    @classmethod
    def validate(cls, value: str) -> str:
        if not isinstance(value, str):
            raise InvalidSignal(f"{cls.name} value must be a string, not {type(value).__name__}")
        canonical = value.strip().lower()
        if len(canonical) != cls.hex_length or not _HEX.fullmatch(canonical):
            raise InvalidSignal(
                f"{value[:80]!r} is not a valid {cls.name}: expected {cls.hex_length} hex digits"
            )
        return canonical


_HEX = re.compile(r"[0-9a-f]+")
