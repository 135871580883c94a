"""Parsers for designation lists: the UN Security Council consolidated list XML and a simple
CSV format for any other list.

Both produce the same records, so loading, diffing and detection do not care where a list came
from. The XML is parsed with defusedxml: entity expansion (billion laughs), external entities
and DTDs are refused and reported as ``InvalidInput``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from datetime import date
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as safe_et
from defusedxml import DefusedXmlException

from countersignal.errors import InvalidInput

# Quality words as the UN list writes them, mapped to the stored vocabulary.
_QUALITY = {"good": "good", "low": "low", "a.k.a.": "aka", "f.k.a.": "fka", "": "aka"}
CSV_COLUMNS = (
    "reference",
    "kind",
    "name",
    "aliases",
    "low_quality_aliases",
    "original_script_name",
    "list_type",
    "listed_on",
)


@dataclass(frozen=True)
class DesignationRecord:
    """One designated individual or entity as a list states it."""

    reference: str
    kind: str  # "individual" | "entity"
    name: str
    aliases: tuple[tuple[str, str], ...] = ()  # (name, quality)
    original_script_name: str | None = None
    list_type: str | None = None
    listed_on: date | None = None
    extra: dict = field(default_factory=dict, compare=False)

    def fingerprint(self) -> str:
        """A hash of everything a diff should notice (not ``extra``, which is commentary)."""
        canonical = {
            "kind": self.kind,
            "name": self.name,
            "aliases": sorted(self.aliases),
            "original": self.original_script_name,
            "list_type": self.list_type,
            "listed_on": self.listed_on.isoformat() if self.listed_on else None,
        }
        return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class ParsedList:
    records: tuple[DesignationRecord, ...]
    generated_at: str | None
    sha256: str


def _clean(text: str | None) -> str:
    return " ".join((text or "").split())


def _parse_date(text: str | None) -> date | None:
    text = _clean(text)
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def _values(node: Element, tag: str) -> list[str]:
    return [v for v in (_clean(e.text) for e in node.findall(f"{tag}/VALUE")) if v]


def _un_record(node: Element, kind: str) -> DesignationRecord:
    parts = [_clean(node.findtext(t)) for t in ("FIRST_NAME", "SECOND_NAME", "THIRD_NAME",
                                                "FOURTH_NAME")]
    name = " ".join(p for p in parts if p)
    reference = _clean(node.findtext("REFERENCE_NUMBER"))
    if not name or not reference:
        raise InvalidInput(f"a {kind} without a name or reference number: {reference or name!r}")
    alias_tag = "INDIVIDUAL_ALIAS" if kind == "individual" else "ENTITY_ALIAS"
    aliases: list[tuple[str, str]] = []
    for alias in node.findall(alias_tag):
        alias_name = _clean(alias.findtext("ALIAS_NAME"))
        if alias_name:
            quality = _QUALITY.get(_clean(alias.findtext("QUALITY")).lower(), "aka")
            aliases.append((alias_name, quality))
    extra = {
        "data_id": _clean(node.findtext("DATAID")),
        "comments": _clean(node.findtext("COMMENTS1")),
        "nationality": _values(node, "NATIONALITY"),
        "designation": _values(node, "DESIGNATION"),
        "title": _values(node, "TITLE"),
    }
    return DesignationRecord(
        reference=reference,
        kind=kind,
        name=name,
        aliases=tuple(dict.fromkeys(aliases)),
        original_script_name=_clean(node.findtext("NAME_ORIGINAL_SCRIPT")) or None,
        list_type=_clean(node.findtext("UN_LIST_TYPE")) or None,
        listed_on=_parse_date(node.findtext("LISTED_ON")),
        extra={k: v for k, v in extra.items() if v},
    )


def parse_un_xml(data: bytes) -> ParsedList:
    """Parse the UN consolidated list (CONSOLIDATED_LIST/INDIVIDUALS/ENTITIES schema)."""
    try:
        root = safe_et.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise InvalidInput(f"refused unsafe XML in designation list: {exc}") from exc
    except ParseError as exc:
        raise InvalidInput(f"designation list is not well-formed XML: {exc}") from exc
    if root.tag != "CONSOLIDATED_LIST":
        raise InvalidInput(f"not a UN consolidated list (root element {root.tag!r})")
    records = [_un_record(n, "individual") for n in root.findall("INDIVIDUALS/INDIVIDUAL")]
    records += [_un_record(n, "entity") for n in root.findall("ENTITIES/ENTITY")]
    _reject_duplicates(records)
    return ParsedList(tuple(records), root.get("dateGenerated"), hashlib.sha256(data).hexdigest())


def parse_csv(data: bytes) -> ParsedList:
    """Parse the simple CSV list format (see docs/classify.md): one row per designation,
    aliases separated by ``|``."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput("designation CSV must be UTF-8") from exc
    try:  # newline="": the csv module reads quoted line breaks and bare \r itself
        reader = csv.DictReader(io.StringIO(text, newline=""))
        columns = set(reader.fieldnames or ())
        rows = list(reader)
    except csv.Error as exc:
        raise InvalidInput(f"designation CSV is malformed: {exc}") from None
    missing = {"reference", "kind", "name"} - columns
    if missing:
        raise InvalidInput(f"designation CSV lacks columns: {', '.join(sorted(missing))}")
    unknown = columns - set(CSV_COLUMNS)
    if unknown:
        raise InvalidInput(f"designation CSV has unknown columns: {', '.join(sorted(unknown))}")
    records = []
    for line, row in enumerate(rows, start=2):
        kind = _clean(row.get("kind")).lower()
        if kind not in ("individual", "entity"):
            raise InvalidInput(f"line {line}: kind must be 'individual' or 'entity'")
        reference, name = _clean(row.get("reference")), _clean(row.get("name"))
        if not reference or not name:
            raise InvalidInput(f"line {line}: reference and name are required")
        aliases = [(_clean(a), "good") for a in (row.get("aliases") or "").split("|")]
        aliases += [(_clean(a), "low") for a in (row.get("low_quality_aliases") or "").split("|")]
        listed_on = _clean(row.get("listed_on"))
        if listed_on and _parse_date(listed_on) is None:
            raise InvalidInput(f"line {line}: listed_on must be an ISO date (YYYY-MM-DD)")
        records.append(
            DesignationRecord(
                reference=reference,
                kind=kind,
                name=name,
                aliases=tuple(dict.fromkeys(a for a in aliases if a[0])),
                original_script_name=_clean(row.get("original_script_name")) or None,
                list_type=_clean(row.get("list_type")) or None,
                listed_on=_parse_date(listed_on),
            )
        )
    _reject_duplicates(records)
    return ParsedList(tuple(records), None, hashlib.sha256(data).hexdigest())


def _reject_duplicates(records: list[DesignationRecord]) -> None:
    seen: set[str] = set()
    for record in records:
        if record.reference in seen:
            raise InvalidInput(f"reference number {record.reference!r} appears twice")
        seen.add(record.reference)


def parse_list(data: bytes, list_format: str) -> ParsedList:
    """Parse ``data`` in ``list_format`` ("un-xml" or "csv")."""
    if list_format == "un-xml":
        return parse_un_xml(data)
    if list_format == "csv":
        return parse_csv(data)
    raise InvalidInput(f"unknown designation list format {list_format!r}; use un-xml or csv")


def guess_format(filename: str) -> str:
    return "csv" if filename.lower().endswith(".csv") else "un-xml"
