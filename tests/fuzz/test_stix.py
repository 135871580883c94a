"""STIX 2.1 objects and patterns as a hostile partner might send them: every object is parsed
or refused with InvalidInput, and no pattern, however long or nested, costs seconds of CPU."""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from countersignal.errors import InvalidInput
from countersignal.exchange import stix
from fuzz.budget import fuzz_settings

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
VALID = stix.indicator(stix.IndicatorFacts(
    stix_id=stix.stix_id("indicator", "fuzz"), created_by_ref=stix.identity_id("org_fuzz"),
    created=NOW, modified=NOW, signals=[("md5", "a" * 32), ("url", "https://example.org/x")],
    labels=["behaviour:glorification"], tlp="GREEN", confidence=50,
))

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=4),
    max_leaves=12,
)
PATTERN_PIECES = st.sampled_from([
    "[", "]", "(", ")", " OR ", " AND ", " FOLLOWEDBY ", " WITHIN 5 SECONDS", "file:hashes.",
    "'MD5'", "'x_pdq'", "MD5", " = ", " != ", "'", "\\", "'a'", "url:value", "domain-name:value",
    "x" * 64, "\x00", "é", " LIKE ", "START t'2020-01-01T00:00:00Z' STOP t'2021-01-01T00:00:00Z'",
])


@fuzz_settings(examples=300)
@given(st.dictionaries(st.sampled_from([*sorted(VALID), "extensions", "x_evil", "revoked"]),
                       JSON, max_size=4))
def test_mutated_indicators_parse_or_are_refused(changes: dict) -> None:
    obj = {**VALID, **changes}
    try:
        parsed = stix.parse_indicator(obj)
    except InvalidInput:
        return
    assert parsed.stix_id and (parsed.revoked or parsed.signals)


@fuzz_settings(examples=400)
@given(st.lists(PATTERN_PIECES | st.text(max_size=12), max_size=30).map("".join))
def test_patterns_give_signals_or_invalid_input(pattern: str) -> None:
    try:
        found = stix.signals_from_pattern(pattern)
    except InvalidInput:
        return
    assert all(s.type and isinstance(s.value, str) for s in found)


@fuzz_settings(examples=100)
@given(JSON)
def test_any_json_value_as_an_object(value) -> None:
    with contextlib.suppress(InvalidInput):
        stix.parse_indicator(value) if isinstance(value, dict) else stix.validate(value)


def test_huge_and_deep_patterns_are_cheap() -> None:
    """Near MAX_PATTERN_CHARS the ANTLR grammar took ~25 s per object (found by this suite);
    only the linear simple form may be that long now."""
    term = "file:hashes.'MD5' = '" + "a" * 32 + "'"
    limit = stix.MAX_PATTERN_CHARS
    hostile = [
        "[" + " AND ".join([term] * (limit // (len(term) + 5))) + "]",
        "[" * (limit // 2) + "]" * (limit // 2),
        "(" * (stix.MAX_GRAMMAR_PATTERN_CHARS - 2) + "[]",
        "[" * (stix.MAX_GRAMMAR_PATTERN_CHARS // 2) + "]" * (stix.MAX_GRAMMAR_PATTERN_CHARS // 2),
    ]
    for pattern in hostile:
        started = time.monotonic()
        with contextlib.suppress(InvalidInput):
            stix.signals_from_pattern(pattern)
        assert time.monotonic() - started < 2.0, len(pattern)
    simple = "[" + " OR ".join([term] * (limit // (len(term) + 4) - 1)) + "]"
    started = time.monotonic()
    assert [s.type for s in stix.signals_from_pattern(simple)] == ["md5"]
    assert time.monotonic() - started < 10.0  # linear: ~1 s alone, slower on a busy machine
