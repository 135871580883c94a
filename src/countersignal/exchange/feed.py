"""What a collection holds for one reader: STIX objects in ``date_added`` order, paged.

Nothing is copied into a separate store: objects are built from the bank tables on each
request, so a sharing-rule change applies to the very next page. Each object's ``date_added``
is the time its current version was written (item ``updated_at``, opinion ``updated_at``, ...);
only the current version of an object is kept.

Paging is keyset paging on ``(date_added, source, key)``; ``next`` is that position, opaque to
clients and valid forever (no server-side state). Objects younger than ``settle_seconds`` are
held back: a transaction that started earlier but commits later would otherwise land behind a
client's ``added_after`` checkpoint and never be seen.
"""

from __future__ import annotations

import base64
import heapq
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from countersignal.banks.models import Bank, BankItem, Opinion, Signal
from countersignal.db import utcnow
from countersignal.errors import InvalidInput
from countersignal.exchange import stix
from countersignal.exchange import tlp as tlp_rules
from countersignal.exchange.models import BankShare, ItemRef, Partner, SharingGroup, Sighting
from countersignal.exchange.policy import effective_tlp, local_only_labels, withheld_reason
from countersignal.exchange.settings import get_exchange_settings

BATCH = 500
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MARKINGS_ADDED = stix.parse_timestamp(tlp_rules.TLP2_CREATED)


@dataclass(frozen=True, order=True)
class Position:
    """A point in a collection's order; entries strictly after it come next."""

    date_added: datetime
    source: str = ""
    key: str = ""

    def encode(self) -> str:
        raw = json.dumps([stix.timestamp(self.date_added), self.source, self.key])
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Position:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            added, source, key = json.loads(raw)
            return cls(stix.parse_timestamp(added), str(source), str(key))
        except (ValueError, TypeError, InvalidInput):
            raise InvalidInput("the 'next' value is not one this server issued") from None


@dataclass(frozen=True, order=True)
class Entry:
    position: Position
    stix_id: str = field(compare=False)
    version: datetime = field(compare=False)
    object_type: str = field(compare=False)
    build: Callable[[], dict] = field(compare=False, repr=False)


@dataclass
class Filters:
    """TAXII ``match[...]`` filters and the paging window."""

    types: frozenset[str] | None = None
    ids: frozenset[str] | None = None
    versions: str = "last"  # last | first | all | a timestamp (only current versions exist)
    added_after: datetime | None = None
    after: Position | None = None
    limit: int = 500

    def start(self) -> Position:
        if self.after is not None:
            return self.after
        if self.added_after is None:
            return Position(datetime(1900, 1, 1, tzinfo=UTC))
        # Strictly after added_after: the largest position at that instant.
        return Position(self.added_after, "\uffff")


@dataclass
class Page:
    entries: list[Entry]
    more: bool
    next: str | None

    @property
    def first_added(self) -> datetime | None:
        return self.entries[0].position.date_added if self.entries else None

    @property
    def last_added(self) -> datetime | None:
        return self.entries[-1].position.date_added if self.entries else None


@dataclass
class Reader:
    """Who is reading: a partner (policy applied for it) or the owner itself (partner None)."""

    group: SharingGroup
    partner: Partner | None


def read_page(session: Session, reader: Reader, filters: Filters) -> Page:
    """One page of the collection for ``reader``."""
    settings = get_exchange_settings()
    until = utcnow() - timedelta(seconds=settings.settle_seconds)
    limit = max(1, min(filters.limit, settings.max_page_limit))
    start = filters.start()
    sources = [
        source(session, reader, filters, start, until)
        for name, source in SOURCES.items()
        if filters.types is None or name in filters.types
    ]
    entries: list[Entry] = []
    for entry in heapq.merge(*sources):
        if filters.ids is not None and entry.stix_id not in filters.ids:
            continue
        if not _version_matches(entry, filters.versions):
            continue
        entries.append(entry)
        if len(entries) > limit:
            break
    more = len(entries) > limit
    entries = entries[:limit]
    return Page(entries, more, entries[-1].position.encode() if more else None)


def _version_matches(entry: Entry, versions: str) -> bool:
    wanted = {v.strip() for v in versions.split(",") if v.strip()} or {"last"}
    if wanted & {"last", "first", "all"}:
        return True
    return any(stix.parse_timestamp(v) == entry.version for v in wanted)


# --- sources -------------------------------------------------------------------------------


def _keyset(
    session: Session, query: Select, added_col, key_col, start: Position, until: datetime
) -> Iterator:
    """Rows of ``query`` ordered by (added, key) from ``start`` on, fetched in batches."""
    query = query.where(added_col <= until).order_by(added_col, key_col)
    window = query.where(added_col >= start.date_added)
    while True:
        rows = session.execute(window.limit(BATCH)).all()
        yield from rows
        if len(rows) < BATCH:
            return
        last = rows[-1]
        last_added, last_key = last._mapping["added"], last._mapping["key"]
        window = query.where(
            or_(added_col > last_added, and_(added_col == last_added, key_col > last_key))
        )


def _after(position: Position, start: Position) -> bool:
    return position > start


def indicators(session, reader: Reader, filters: Filters, start: Position, until: datetime):
    group = reader.group
    labels = local_only_labels(session, group.organisation_id)
    query = (
        select(
            BankItem,
            Bank,
            ItemRef,
            BankShare,
            BankItem.updated_at.label("added"),
            BankItem.id.label("key"),
        )
        .join(Bank, Bank.id == BankItem.bank_id)
        .join(BankShare, and_(BankShare.bank_id == Bank.id, BankShare.group_id == group.id))
        .outerjoin(ItemRef, ItemRef.item_id == BankItem.id)
        .where(Bank.organisation_id == group.organisation_id)
    )
    if filters.ids is not None:
        query = query.where(or_(ItemRef.stix_id.in_(filters.ids), ItemRef.item_id.is_(None)))
    for item, bank, ref, share, added, key in _keyset(
        session, query, BankItem.updated_at, BankItem.id, start, until
    ):
        position = Position(added, "indicator", key)
        if not _after(position, start):
            continue
        if withheld_reason(item, bank, ref, reader.partner, labels) is not None:
            continue
        facts = indicator_facts(item, bank, ref, share)
        yield Entry(
            position,
            facts.stix_id,
            facts.modified,
            "indicator",
            lambda facts=facts, ref=ref: _indicator_object(facts, ref),
        )


def indicator_facts(
    item: BankItem, bank: Bank, ref: ItemRef | None, share: BankShare | None
) -> stix.IndicatorFacts:
    """How a bank item reads as an indicator, whether it started here or at a partner."""
    imported = ref is not None and ref.partner_id is not None
    valid_until = ref.valid_until if imported else None
    confidence = ref.confidence if imported else None
    if not imported and share is not None:
        confidence = share.confidence
        if share.valid_days:
            valid_until = item.created_at + timedelta(days=share.valid_days)
    created = item.created_at
    modified = max(item.updated_at, item.revoked_at or item.updated_at)
    if imported:  # passed on as its creator made it
        created = ref.stix_created or created
        modified = ref.stix_modified or modified
    return stix.IndicatorFacts(
        stix_id=ref.stix_id if ref else stix.stix_id("indicator", item.id),
        created_by_ref=(ref.created_by_ref if imported and ref.created_by_ref else None)
        or stix.identity_id(bank.organisation_id),
        created=created,
        modified=modified,
        signals=[(s.type, s.value) for s in item.signals],
        labels=stix.label_strings(item.labels),
        tlp=effective_tlp(item, bank),
        revoked=item.revoked_at is not None,
        confidence=confidence,
        valid_until=valid_until,
    )


def _indicator_object(facts: stix.IndicatorFacts, ref: ItemRef | None) -> dict:
    if facts.signals:
        return stix.indicator(facts)
    # A revoked item has no signals left: reuse the pattern as received, else a placeholder
    # that no receiver can match (only the id and ``revoked`` matter in a tombstone).
    pattern = ref.pattern if ref and ref.pattern else None
    obj = stix.indicator(
        stix.IndicatorFacts(**{**facts.__dict__, "signals": [("revoked", facts.stix_id)]})
    )
    if pattern:
        obj["pattern"] = pattern
    return obj


def opinions(session, reader: Reader, filters: Filters, start: Position, until: datetime):
    group, partner = reader.group, reader.partner
    owner = group.organisation_id
    labels = local_only_labels(session, owner)
    query = (
        select(
            Opinion,
            BankItem,
            Bank,
            ItemRef,
            BankShare,
            Opinion.updated_at.label("added"),
            Opinion.id.label("key"),
        )
        .join(Signal, Signal.id == Opinion.signal_id)
        .join(BankItem, BankItem.id == Signal.item_id)
        .join(Bank, Bank.id == BankItem.bank_id)
        .outerjoin(ItemRef, ItemRef.item_id == BankItem.id)
        .outerjoin(BankShare, and_(BankShare.bank_id == Bank.id, BankShare.group_id == group.id))
        .where(Opinion.organisation_id == owner, Bank.organisation_id == owner)
    )
    for row, item, bank, ref, share, added, key in _keyset(
        session, query, Opinion.updated_at, Opinion.id, start, until
    ):
        position = Position(added, "opinion", f"{key:020d}")
        if not _after(position, start):
            continue
        from_reader = partner is not None and ref is not None and ref.partner_id == partner.id
        if not from_reader and (
            share is None or withheld_reason(item, bank, ref, partner, labels) is not None
        ):
            continue
        indicator_id = ref.stix_id if ref else stix.stix_id("indicator", item.id)
        obj = stix.opinion(
            organisation_id=owner,
            indicator_id=indicator_id,
            value=row.opinion,
            explanation=row.note,
            created=row.created_at,
            modified=row.updated_at,
            tlp=effective_tlp(item, bank),
        )
        yield Entry(position, obj["id"], row.updated_at, "opinion", lambda obj=obj: obj)


def sightings(session, reader: Reader, filters: Filters, start: Position, until: datetime):
    partner = reader.partner
    if partner is None or not partner.share_sightings:
        return
    query = (
        select(
            Sighting,
            BankItem,
            Bank,
            ItemRef,
            Sighting.updated_at.label("added"),
            Sighting.id.label("key"),
        )
        .join(BankItem, BankItem.id == Sighting.item_id)
        .join(Bank, Bank.id == BankItem.bank_id)
        .join(ItemRef, ItemRef.item_id == BankItem.id)
        .where(
            Sighting.organisation_id == reader.group.organisation_id,
            ItemRef.partner_id == partner.id,
        )
    )
    for row, item, bank, ref, added, key in _keyset(
        session, query, Sighting.updated_at, Sighting.id, start, until
    ):
        position = Position(added, "sighting", f"{key:020d}")
        if not _after(position, start):
            continue
        obj = stix.sighting(
            organisation_id=reader.group.organisation_id,
            indicator_id=ref.stix_id,
            count=row.count,
            first_seen=row.first_seen,
            last_seen=row.last_seen,
            modified=row.updated_at,
            tlp=effective_tlp(item, bank),
        )
        yield Entry(position, obj["id"], row.updated_at, "sighting", lambda obj=obj: obj)


def identities(session, reader: Reader, filters: Filters, start: Position, until: datetime):
    owner = reader.group.organisation_id
    name, created = organisation_name(session, owner)
    position = Position(created, "identity", owner)
    if _after(position, start) and created <= until:
        obj = stix.identity(owner, name, created)
        yield Entry(position, obj["id"], created, "identity", lambda: obj)


def organisation_name(session: Session, organisation_id: str) -> tuple[str, datetime]:
    """The organisation's name and creation time (its id and the epoch when not registered)."""
    from countersignal.auth.models import Organisation

    org = session.get(Organisation, organisation_id)
    return (org.name, org.created_at) if org else (organisation_id, EPOCH)


def markings(session, reader: Reader, filters: Filters, start: Position, until: datetime):
    for number, level in enumerate(tlp_rules.ORDER):
        position = Position(MARKINGS_ADDED, "marking-definition", str(number))
        if _after(position, start):
            obj = tlp_rules.marking_definition(level)
            yield Entry(position, obj["id"], MARKINGS_ADDED, obj["type"], lambda obj=obj: obj)


SOURCES = {
    "marking-definition": markings,
    "identity": identities,
    "indicator": indicators,
    "opinion": opinions,
    "sighting": sightings,
}
