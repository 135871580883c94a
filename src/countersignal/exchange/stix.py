"""STIX 2.1 mapping: bank items ⇄ indicators, opinions ⇄ opinion objects, match counts →
sightings, organisations → identities.

An item becomes one indicator whose pattern ORs its exact hashes::

    [file:hashes.'SHA-256' = '…' OR file:hashes.'x_pdq' = '…' OR url:value = '…']

Standard hash names are used where STIX has one (``MD5``, ``SHA-256``); every other signal type
goes under a custom ``x_<type>`` key (PDQ is never passed off as SHA-256). Objects are built as
plain JSON dicts (cheap for large feeds); the tests check that stix2 parses every kind emitted.
Incoming objects are parsed and validated with stix2 before anything is stored.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import stix2
from stix2.exceptions import STIXError
from stix2patterns.v21.pattern import Pattern

from countersignal.banks.models import LABEL_KINDS
from countersignal.banks.service import LabelInput, SignalInput
from countersignal.errors import InvalidInput
from countersignal.exchange import tlp as tlp_rules

# Fixed namespace: STIX ids derived from Countersignal ids are the same on every run.
NAMESPACE = uuid.UUID("6b1f7c3e-2f4e-5a43-9d0c-3c1e2a9f4b11")

HASH_KEYS = {"md5": "MD5", "sha256": "SHA-256"}
SIGNAL_BY_HASH_KEY = {"md5": "md5", "sha-256": "sha256", "pdq": "pdq"}
OBSERVABLE_VALUE_TYPES = {"url": "url", "url_domain": "domain-name"}
SIGNAL_BY_OBSERVABLE = {v: k for k, v in OBSERVABLE_VALUE_TYPES.items()}
# A 4-hour vPDQ at one frame a second is ~1.1 M characters; anything beyond is refused.
MAX_PATTERN_CHARS = 2_000_000
MAX_SIGNALS = 64
# The OASIS grammar (ANTLR) costs ~6 us a character and far more on deep nesting: a hostile peer
# could spend minutes of CPU per object near MAX_PATTERN_CHARS. Long patterns must be in the
# simple ORed-equalities form (all we emit), read by a regular expression in linear time.
MAX_GRAMMAR_PATTERN_CHARS = 16_384

# Local opinions → STIX opinion enum, and back (neutral withdraws an earlier opinion).
STIX_OPINION = {"agree": "agree", "disagree": "disagree", "false_positive": "strongly-disagree"}
LOCAL_OPINION = {
    "strongly-agree": "agree",
    "agree": "agree",
    "neutral": None,
    "disagree": "disagree",
    "strongly-disagree": "false_positive",
}


def stix_id(kind: str, *parts: str) -> str:
    """A deterministic STIX id (UUIDv5) for a local record, e.g. ``indicator--…``."""
    return f"{kind}--{uuid.uuid5(NAMESPACE, '/'.join(parts))}"


def identity_id(organisation_id: str) -> str:
    return stix_id("identity", "organisation", organisation_id)


def timestamp(value: datetime) -> str:
    """STIX timestamp, UTC, microsecond precision (exact round trip of stored times)."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        raise InvalidInput(f"not a timestamp: {value!r:.60}") from None
    if parsed.tzinfo is None:
        raise InvalidInput(f"timestamp {value!r:.60} has no time zone")
    return parsed.astimezone(UTC)


# --- patterns ------------------------------------------------------------------------------


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _unquote(literal: str) -> str:
    if len(literal) < 2 or literal[0] != "'" or literal[-1] != "'":
        raise InvalidInput(f"pattern value {literal[:60]!r} is not a string")
    out, chars = [], iter(literal[1:-1])
    for char in chars:
        out.append(next(chars, "") if char == "\\" else char)
    return "".join(out)


def pattern_for(signals: list[tuple[str, str]]) -> str:
    """The STIX pattern matching any of ``(signal_type, value)``."""
    if not signals:
        raise InvalidInput("an indicator needs at least one signal")
    terms = []
    for stype, value in sorted(signals):
        if stype in OBSERVABLE_VALUE_TYPES:
            terms.append(f"{OBSERVABLE_VALUE_TYPES[stype]}:value = {_quote(value)}")
        else:
            key = HASH_KEYS.get(stype, f"x_{stype}")
            terms.append(f"file:hashes.{_quote(key)} = {_quote(value)}")
    return "[" + " OR ".join(terms) + "]"


_LITERAL = r"'(?:[^'\\]|\\.)*'"
_TERM = rf"(?:file:hashes\.(?:{_LITERAL}|[A-Za-z0-9_-]+)|(?:url|domain-name):value) = {_LITERAL}"
_SIMPLE = re.compile(rf"\[{_TERM}(?: OR {_TERM})*\]")
_SIMPLE_TERM = re.compile(
    rf"(file:hashes\.({_LITERAL}|[A-Za-z0-9_-]+)|(url|domain-name):value) = ({_LITERAL})"
)


def _comparisons(pattern: str) -> dict[str, list[tuple[list[str], str, str]]]:
    """``{object_type: [(path, op, literal)]}`` as stix2-patterns' ``inspect`` gives it.

    Patterns shaped like the ones we emit (ORed equalities) are read with a strict regular
    expression: the ANTLR grammar takes seconds on a long vPDQ pattern. Anything else goes
    through the OASIS grammar.
    """
    if _SIMPLE.fullmatch(pattern):
        out: dict[str, list] = {}
        for match in _SIMPLE_TERM.finditer(pattern):
            if match.group(2) is not None:
                key = match.group(2)
                key = _unquote(key) if key.startswith("'") else key
                out.setdefault("file", []).append((["hashes", key], "=", match.group(4)))
            else:
                out.setdefault(match.group(3), []).append((["value"], "=", match.group(4)))
        return out
    if len(pattern) > MAX_GRAMMAR_PATTERN_CHARS:
        raise InvalidInput(
            f"pattern is longer than {MAX_GRAMMAR_PATTERN_CHARS} characters and not a plain OR "
            "of equalities"
        )
    try:
        inspected = Pattern(pattern).inspect()
    except Exception as exc:  # the pattern library raises its own parse errors
        raise InvalidInput(f"unparsable STIX pattern: {exc}") from None
    if inspected.observation_ops or inspected.qualifiers:
        raise InvalidInput("pattern uses observation operators or qualifiers")
    return inspected.comparisons


def signals_from_pattern(pattern: str) -> list[SignalInput]:
    """Exact-hash signals in a STIX pattern; unknown hash names are skipped.

    Only ``=`` comparisons inside one observation are understood: anything that needs
    sequence or time reasoning (FOLLOWEDBY, WITHIN, ...) cannot be a bank signal.
    """
    from countersignal.signals import SIGNAL_TYPES

    if len(pattern) > MAX_PATTERN_CHARS:
        raise InvalidInput(f"pattern longer than {MAX_PATTERN_CHARS} characters")
    found: list[SignalInput] = []
    for object_type, comparisons in _comparisons(pattern).items():
        for path, op, literal in comparisons:
            if op != "=":
                continue
            if object_type == "file" and len(path) == 2 and path[0] == "hashes":
                key = str(path[1]).lower()
                stype = SIGNAL_BY_HASH_KEY.get(key) or key.removeprefix("x_")
                known = key.startswith("x_") or key in SIGNAL_BY_HASH_KEY
                if known and stype in SIGNAL_TYPES:
                    found.append(SignalInput(stype, _unquote(literal)))
            elif object_type in SIGNAL_BY_OBSERVABLE and path == ["value"]:
                found.append(SignalInput(SIGNAL_BY_OBSERVABLE[object_type], _unquote(literal)))
    return list(dict.fromkeys(found))


# --- outbound objects ----------------------------------------------------------------------


def label_strings(labels) -> list[str]:
    return sorted(str(LabelInput(lb.kind, lb.value, lb.reference)) for lb in labels)


def parse_label(text: str) -> LabelInput:
    """``kind:value[@ref]`` when the kind is ours, else an ``other`` label with the text."""
    kind, sep, _ = text.partition(":")
    if sep and kind in LABEL_KINDS:
        try:
            parsed = LabelInput.parse(text)
        except InvalidInput:
            parsed = None
        if parsed and parsed.value:
            return parsed
    return LabelInput("other", text.strip()[:300])


@dataclass(frozen=True)
class IndicatorFacts:
    """What an indicator says, independent of where it is stored."""

    stix_id: str
    created_by_ref: str
    created: datetime
    modified: datetime
    signals: list[tuple[str, str]]
    labels: list[str]
    tlp: str
    revoked: bool = False
    confidence: int | None = None
    valid_until: datetime | None = None


def indicator(facts: IndicatorFacts) -> dict:
    obj = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": facts.stix_id,
        "created": timestamp(facts.created),
        "modified": timestamp(max(facts.modified, facts.created)),
        "created_by_ref": facts.created_by_ref,
        "pattern": pattern_for(facts.signals),
        "pattern_type": "stix",
        "valid_from": timestamp(facts.created),
        "object_marking_refs": [tlp_rules.MARKING_IDS[facts.tlp]],
    }
    if facts.labels:
        obj["labels"] = facts.labels
    if facts.confidence is not None:
        obj["confidence"] = facts.confidence
    if facts.valid_until is not None and facts.valid_until > facts.created:
        obj["valid_until"] = timestamp(facts.valid_until)
    if facts.revoked:
        obj["revoked"] = True
    return obj


def identity(organisation_id: str, name: str, created: datetime) -> dict:
    return {
        "type": "identity",
        "spec_version": "2.1",
        "id": identity_id(organisation_id),
        "created": timestamp(created),
        "modified": timestamp(created),
        "name": name,
        "identity_class": "organization",
    }


def opinion(
    *,
    organisation_id: str,
    indicator_id: str,
    value: str,
    explanation: str,
    created: datetime,
    modified: datetime,
    tlp: str,
) -> dict:
    obj = {
        "type": "opinion",
        "spec_version": "2.1",
        "id": stix_id("opinion", organisation_id, indicator_id),
        "created": timestamp(created),
        "modified": timestamp(max(created, modified)),
        "created_by_ref": identity_id(organisation_id),
        "opinion": STIX_OPINION[value],
        "object_refs": [indicator_id],
        "object_marking_refs": [tlp_rules.MARKING_IDS[tlp]],
    }
    if explanation:
        obj["explanation"] = explanation
    return obj


def sighting(
    *,
    organisation_id: str,
    indicator_id: str,
    count: int,
    first_seen: datetime,
    last_seen: datetime,
    modified: datetime,
    tlp: str,
) -> dict:
    """Counts and times only: no content, no user, no submission id."""
    return {
        "type": "sighting",
        "spec_version": "2.1",
        "id": stix_id("sighting", organisation_id, indicator_id),
        "created": timestamp(first_seen),
        "modified": timestamp(max(first_seen, modified)),
        "created_by_ref": identity_id(organisation_id),
        "sighting_of_ref": indicator_id,
        "count": min(count, 999_999_999),
        "first_seen": timestamp(first_seen),
        "last_seen": timestamp(last_seen),
        "where_sighted_refs": [identity_id(organisation_id)],
        "object_marking_refs": [tlp_rules.MARKING_IDS[tlp]],
    }


# --- inbound objects -----------------------------------------------------------------------


@dataclass
class ParsedIndicator:
    stix_id: str
    created: datetime
    modified: datetime
    created_by_ref: str | None
    revoked: bool
    signals: list[SignalInput]
    labels: list[LabelInput] = field(default_factory=list)
    tlp: str | None = None
    confidence: int | None = None
    valid_until: datetime | None = None


def validate(obj: object) -> stix2.base._STIXBase:
    """stix2's own validation of one object (custom properties allowed, as peers add them)."""
    if not isinstance(obj, dict):
        raise InvalidInput("a STIX object must be a JSON object")
    try:
        return stix2.parse(obj, allow_custom=True, version="2.1")
    # stix2 lets AttributeError out for wrong-typed properties (e.g. "extensions": true)
    except (STIXError, ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        raise InvalidInput(f"invalid STIX {obj.get('type')!s:.40}: {exc!s:.300}") from None
    except Exception as exc:  # the pattern validator has bugs ('' → UnboundLocalError)
        raise InvalidInput(f"invalid STIX {obj.get('type')!s:.40}: {type(exc).__name__}") from None


def parse_indicator(obj: dict) -> ParsedIndicator:
    parsed = validate(obj)
    if parsed["type"] != "indicator":
        raise InvalidInput("not an indicator")
    if parsed.get("pattern_type") != "stix":
        raise InvalidInput(f"pattern_type {parsed.get('pattern_type')!r} is not supported")
    revoked = bool(parsed.get("revoked", False))
    signals = [] if revoked else signals_from_pattern(parsed["pattern"])
    if not revoked and not signals:
        raise InvalidInput("indicator pattern holds no supported exact signal")
    if len(signals) > MAX_SIGNALS:
        raise InvalidInput(f"indicator has more than {MAX_SIGNALS} signals")
    return ParsedIndicator(
        stix_id=parsed["id"],
        created=parse_timestamp(obj["created"]),
        modified=parse_timestamp(obj["modified"]),
        created_by_ref=parsed.get("created_by_ref"),
        revoked=revoked,
        signals=signals,
        labels=[parse_label(str(text)) for text in parsed.get("labels", [])][:100],
        tlp=tlp_rules.level_of(list(parsed.get("object_marking_refs", []))),
        confidence=parsed.get("confidence"),
        valid_until=parse_timestamp(obj["valid_until"]) if obj.get("valid_until") else None,
    )
