"""STIX 2.1 mapping: patterns, object shapes that stix2 accepts, TLP 2.0 markings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import stix2

from countersignal.errors import InvalidInput
from countersignal.exchange import stix, tlp

from .helpers import random_pdq, sha256

NOW = datetime(2026, 11, 29, 12, 0, 0, 123456, tzinfo=UTC)
PDQ = random_pdq()


def facts(**changes) -> stix.IndicatorFacts:
    base = dict(
        stix_id=stix.stix_id("indicator", "item_x"),
        created_by_ref=stix.identity_id("org_home"),
        created=NOW,
        modified=NOW + timedelta(seconds=5),
        signals=[("pdq", PDQ), ("sha256", sha256("a"))],
        labels=["behaviour:glorification", "designated_entity:Example@UN:QDe.999"],
        tlp="AMBER+STRICT",
        confidence=70,
        valid_until=NOW + timedelta(days=30),
    )
    return stix.IndicatorFacts(**{**base, **changes})


def test_pattern_keeps_pdq_out_of_sha256_and_round_trips():
    pdq, sha = random_pdq(), sha256("x")
    url = "https://example.org/it's\\here"
    pattern = stix.pattern_for([("pdq", pdq), ("sha256", sha), ("url", url), ("md5", "a" * 32)])
    assert f"file:hashes.'x_pdq' = '{pdq}'" in pattern
    assert f"file:hashes.'SHA-256' = '{sha}'" in pattern
    assert f"file:hashes.'MD5' = '{'a' * 32}'" in pattern
    assert "'SHA-256' = '" + pdq not in pattern
    back = {(s.type, s.value) for s in stix.signals_from_pattern(pattern)}
    assert back == {("pdq", pdq), ("sha256", sha), ("url", url), ("md5", "a" * 32)}


def test_foreign_hash_names_and_unsupported_patterns():
    pattern = "[file:hashes.'SHA-1' = 'abc' OR file:hashes.PDQ = '" + "0" * 64 + "']"
    assert [(s.type, s.value) for s in stix.signals_from_pattern(pattern)] == [("pdq", "0" * 64)]
    with pytest.raises(InvalidInput):
        stix.signals_from_pattern("[file:hashes.MD5 = 'a'] FOLLOWEDBY [file:hashes.MD5 = 'b']")
    with pytest.raises(InvalidInput):
        stix.signals_from_pattern("not a pattern")


def test_every_emitted_object_kind_parses_with_stix2():
    objects = [
        stix.indicator(facts()),
        stix.indicator(facts(revoked=True, confidence=None, valid_until=None, labels=[])),
        stix.identity("org_home", "Home platform", NOW),
        stix.opinion(
            organisation_id="org_abroad",
            indicator_id=facts().stix_id,
            value="false_positive",
            explanation="this is news footage",
            created=NOW,
            modified=NOW,
            tlp="GREEN",
        ),
        stix.sighting(
            organisation_id="org_abroad",
            indicator_id=facts().stix_id,
            count=3,
            first_seen=NOW,
            last_seen=NOW + timedelta(hours=1),
            modified=NOW,
            tlp="GREEN",
        ),
        *(tlp.marking_definition(level) for level in tlp.ORDER),
    ]
    for obj in objects:
        parsed = stix2.parse(obj, allow_custom=False, version="2.1")
        assert parsed.id == obj["id"]
    indicator = stix2.parse(objects[0], version="2.1")
    assert indicator.object_marking_refs == [tlp.MARKING_IDS["AMBER+STRICT"]]
    assert indicator.confidence == 70 and indicator.labels[0] == "behaviour:glorification"
    assert objects[3]["opinion"] == "strongly-disagree"


def test_parse_indicator_reads_what_indicator_writes():
    obj = stix.indicator(facts())
    parsed = stix.parse_indicator(obj)
    assert parsed.stix_id == obj["id"]
    assert parsed.tlp == "AMBER+STRICT" and parsed.confidence == 70
    assert {(s.type, s.value) for s in parsed.signals} == set(facts().signals)
    assert [(lb.kind, lb.value, lb.reference) for lb in parsed.labels] == [
        ("behaviour", "glorification", None),
        ("designated_entity", "Example", "UN:QDe.999"),
    ]
    assert parsed.modified == NOW + timedelta(seconds=5)


@pytest.mark.parametrize(
    "change",
    [
        {"pattern_type": "sigma"},
        {"pattern": "[file:hashes.'SHA-1' = 'abc']"},
        {"pattern": "[file:name = 'x']"},
        {"created": "yesterday"},
        {"id": "indicator--not-a-uuid"},
    ],
)
def test_parse_indicator_rejects(change):
    with pytest.raises(InvalidInput):
        stix.parse_indicator({**stix.indicator(facts()), **change})


def test_tlp_levels_read_from_either_generation():
    assert tlp.level_of([str(stix2.TLP_WHITE.id)]) == "CLEAR"
    assert tlp.level_of([tlp.MARKING_IDS["GREEN"], str(stix2.TLP_AMBER.id)]) == "AMBER"
    assert tlp.level_of(["marking-definition--00000000-0000-4000-8000-000000000000"]) is None
    assert tlp.normalise("tlp:white") == "CLEAR"
    with pytest.raises(InvalidInput):
        tlp.normalise("purple")


def test_fast_pattern_reader_agrees_with_the_oasis_grammar():
    from stix2patterns.v21.pattern import Pattern

    pattern = stix.pattern_for(
        [
            ("pdq", PDQ),
            ("md5", "b" * 32),
            ("url", "https://example.org/a'b\\c"),
            ("url_domain", "example.org"),
            ("vpdq", '["' + PDQ + ',90,0.000"]'),
        ]
    )
    assert stix._SIMPLE.fullmatch(pattern)
    fast = stix._comparisons(pattern)
    slow = Pattern(pattern).inspect().comparisons
    normalise = {k: sorted(map(repr, v)) for k, v in fast.items()}
    assert normalise == {k: sorted(map(repr, v)) for k, v in slow.items()}


def test_oversized_patterns_and_signal_floods_are_refused():
    with pytest.raises(InvalidInput):
        stix.signals_from_pattern("[url:value = '" + "a" * (stix.MAX_PATTERN_CHARS + 1) + "']")
    flood = [("md5", f"{n:032x}") for n in range(stix.MAX_SIGNALS + 1)]
    with pytest.raises(InvalidInput):
        stix.parse_indicator(stix.indicator(facts(signals=flood)))
