"""Apply STIX objects received from a partner (pulled, or POSTed to our TAXII server).

Everything is idempotent — a page read twice changes nothing the second time — because a
client that resumes after a failure re-reads from its last checkpoint. Each object is applied
in its own savepoint: one bad object is reported and skipped, never blocking the rest.

* indicator → an item in the partner's import bank (source = the partner, marking kept);
  a newer version updates it; ``revoked`` retracts it (signals stop matching at once);
* opinion → that partner's opinion of each signal of the referenced item, then the signal's
  disputed state is recomputed (``neutral`` withdraws an earlier opinion);
* sighting → the partner's match count for one of our items.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from countersignal.banks.models import Bank, BankItem, Label, Opinion
from countersignal.banks.service import (
    ItemInput,
    add_item,
    canonical_signal,
    remove_item,
    revoke_item,
    set_opinion,
)
from countersignal.db import utcnow
from countersignal.errors import CountersignalError, InvalidInput
from countersignal.exchange import stix
from countersignal.exchange import tlp as tlp_rules
from countersignal.exchange.disputes import recompute_disputes
from countersignal.exchange.models import ItemRef, Partner, Sighting

MAX_NOTE = 10_000


@dataclass
class IngestReport:
    received: int = 0
    added: int = 0
    updated: int = 0
    revoked: int = 0
    unchanged: int = 0
    opinions: int = 0
    sightings: int = 0
    skipped: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)

    def merge(self, other: IngestReport) -> None:
        for name in ("received", "added", "updated", "revoked", "unchanged"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("opinions", "sightings", "skipped"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors)

    def as_dict(self) -> dict:
        return {**self.__dict__, "errors": [{"id": i, "error": e} for i, e in self.errors]}


def ingest(session: Session, partner: Partner, objects: Iterable[object]) -> IngestReport:
    """Apply ``objects`` from ``partner`` to this database (caller commits)."""
    report = IngestReport()
    resolver = _Resolver(session, partner.organisation_id)
    for number, obj in enumerate(objects):
        report.received += 1
        label = obj.get("id", f"#{number}") if isinstance(obj, dict) else f"#{number}"
        kind = obj.get("type") if isinstance(obj, dict) else None
        handler = HANDLERS.get(kind)
        if handler is None:
            if not isinstance(obj, dict) or not isinstance(kind, str):
                report.errors.append((str(label)[:120], "not a STIX object"))
            else:
                report.skipped += 1
            continue
        try:
            with session.begin_nested():
                handler(session, partner, obj, report, resolver)
        except CountersignalError as exc:
            report.errors.append((str(label)[:120], exc.message))
        except IntegrityError as exc:
            report.errors.append((str(label)[:120], f"conflicting write: {exc.orig}"))
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
            # A shape no check anticipated: this object is skipped, the feed goes on.
            report.errors.append((str(label)[:120], f"malformed {kind}: {exc!s:.200}"))
    session.flush()
    return report


class _Resolver:
    """STIX indicator id → local item, for ids we issued or imported."""

    def __init__(self, session: Session, organisation_id: str) -> None:
        self.session, self.organisation_id = session, organisation_id
        self.backfilled = False

    def item_for(
        self, indicator_id: str, *, maybe_ours: bool = True
    ) -> tuple[BankItem, ItemRef] | None:
        """``maybe_ours=False`` skips looking among our own never-referenced items (costly on
        a big bank) when the object cannot be ours."""
        ref = self._ref(indicator_id)
        if ref is None and maybe_ours and not self.backfilled:
            ensure_refs(self.session, self.organisation_id)
            self.backfilled = True
            ref = self._ref(indicator_id)
        if ref is None:
            return None
        item = self.session.get(BankItem, ref.item_id)
        return (item, ref) if item is not None else None

    def _ref(self, indicator_id: str) -> ItemRef | None:
        return self.session.scalar(
            select(ItemRef).where(
                ItemRef.organisation_id == self.organisation_id, ItemRef.stix_id == indicator_id
            )
        )


def ensure_refs(session: Session, organisation_id: str) -> int:
    """Record the indicator id of every local item that has none yet (ids are deterministic,
    so this only makes them findable by id); returns how many were added."""
    missing = session.scalars(
        select(BankItem.id)
        .join(Bank, Bank.id == BankItem.bank_id)
        .outerjoin(ItemRef, ItemRef.item_id == BankItem.id)
        .where(Bank.organisation_id == organisation_id, ItemRef.item_id.is_(None))
    ).all()
    try:
        with session.begin_nested():
            session.add_all(
                ItemRef(
                    item_id=item_id,
                    organisation_id=organisation_id,
                    stix_id=stix.stix_id("indicator", item_id),
                )
                for item_id in missing
            )
    except IntegrityError:  # another process did it first: its rows are the same
        return 0
    return len(missing)


# --- indicators ----------------------------------------------------------------------------


def _apply_indicator(session, partner: Partner, obj: dict, report: IngestReport, resolver):
    parsed = stix.parse_indicator(obj)
    ours = parsed.created_by_ref == stix.identity_id(partner.organisation_id)
    found = resolver.item_for(parsed.stix_id, maybe_ours=ours)
    if found is not None:
        item, ref = found
        if ref.partner_id != partner.id:
            # Ours, or first received from another partner: a relay may not change it.
            report.unchanged += 1
            return
        if ref.stix_modified is not None and parsed.modified <= ref.stix_modified:
            report.unchanged += 1
            return
        ref.stix_modified = parsed.modified
        if item.revoked_at is not None:
            report.unchanged += 1  # revocation is final in STIX
        elif parsed.revoked or _expired(parsed.valid_until):
            ref.stix_revoked = parsed.revoked
            revoke_item(session, item)
            report.revoked += 1
        else:
            _update_item(session, partner, item, ref, parsed, obj)
            report.updated += 1
        return
    if parsed.revoked or _expired(parsed.valid_until):
        report.unchanged += 1  # a tombstone for something we never had
        return
    item = _new_item(session, partner, parsed)
    session.add(_ref_for(partner, item, parsed, obj))
    report.added += 1


def _expired(valid_until: datetime | None) -> bool:
    return valid_until is not None and valid_until <= utcnow()


def _import_bank(session: Session, partner: Partner) -> Bank:
    bank = session.get(Bank, partner.import_bank_id) if partner.import_bank_id else None
    if bank is None or bank.organisation_id != partner.organisation_id:
        raise InvalidInput(f"partner {partner.name!r} has no import bank to receive indicators")
    return bank


def _valid_signals(parsed: stix.ParsedIndicator) -> list:
    good = []
    for signal in parsed.signals:
        try:
            good.append(canonical_signal(signal))
        except CountersignalError:
            continue
    if not good:
        raise InvalidInput("no valid signal in the indicator pattern")
    return good


def _new_item(session: Session, partner: Partner, parsed: stix.ParsedIndicator) -> BankItem:
    return add_item(
        session,
        _import_bank(session, partner),
        ItemInput(
            signals=_valid_signals(parsed),
            labels=parsed.labels,
            source=f"taxii:{partner.name}"[:200],
            source_ref=parsed.stix_id,
            source_organisation_id=partner.partner_organisation_id,
            tlp=parsed.tlp,
        ),
    )


def _ref_for(partner: Partner, item: BankItem, parsed: stix.ParsedIndicator, obj: dict):
    return ItemRef(
        item_id=item.id,
        organisation_id=partner.organisation_id,
        stix_id=parsed.stix_id,
        partner_id=partner.id,
        created_by_ref=parsed.created_by_ref,
        pattern=obj.get("pattern"),
        stix_created=parsed.created,
        stix_modified=parsed.modified,
        stix_revoked=False,
        confidence=parsed.confidence,
        valid_until=parsed.valid_until,
    )


def _update_item(session, partner, item: BankItem, ref: ItemRef, parsed, obj: dict) -> None:
    signals = _valid_signals(parsed)
    if {(s.type, s.value) for s in signals} != {(s.type, s.value) for s in item.signals}:
        # New signal set: replace the item (its removals and additions reach every index).
        session.delete(ref)
        session.flush()
        remove_item(session, item)
        new = _new_item(session, partner, parsed)
        session.add(_ref_for(partner, new, parsed, obj))
        return
    item.tlp = tlp_rules.normalise(parsed.tlp) if parsed.tlp else None
    session.execute(delete(Label).where(Label.item_id == item.id))
    session.expire(item, ["labels"])
    session.add_all(
        Label(item_id=item.id, kind=lb.kind, value=lb.value, reference=lb.reference)
        for lb in parsed.labels
    )
    ref.pattern, ref.confidence, ref.valid_until = (
        obj.get("pattern"),
        parsed.confidence,
        parsed.valid_until,
    )
    item.updated_at = utcnow()


# --- opinions and sightings ----------------------------------------------------------------


def _apply_opinion(session, partner: Partner, obj: dict, report: IngestReport, resolver):
    parsed = stix.validate(obj)
    value = stix.LOCAL_OPINION.get(parsed["opinion"])
    modified = stix.parse_timestamp(obj["modified"])
    touched: list[int] = []
    for ref_id in parsed["object_refs"]:
        found = resolver.item_for(ref_id) if ref_id.startswith("indicator--") else None
        if found is None:
            continue
        item, _ = found
        for signal in item.signals:
            touched.append(signal.id)
            current = session.scalar(
                select(Opinion).where(
                    Opinion.signal_id == signal.id,
                    Opinion.organisation_id == partner.partner_organisation_id,
                )
            )
            seen = (current.details or {}).get("stix_modified") if current else None
            if seen and stix.parse_timestamp(seen) >= modified:
                continue
            if value is None:
                if current is not None:
                    session.delete(current)
                continue
            set_opinion(
                session,
                organisation_id=partner.partner_organisation_id,
                signal_id=signal.id,
                opinion=value,
                note=str(parsed.get("explanation", ""))[:MAX_NOTE],
                details={
                    "stix_id": parsed["id"],
                    "stix_opinion": parsed["opinion"],
                    "stix_modified": stix.timestamp(modified),
                    "partner_id": partner.id,
                },
            )
    if not touched:
        raise InvalidInput("the opinion refers to no indicator known here")
    session.flush()
    recompute_disputes(session, touched)
    report.opinions += 1


def _apply_sighting(session, partner: Partner, obj: dict, report: IngestReport, resolver):
    parsed = stix.validate(obj)
    found = resolver.item_for(parsed["sighting_of_ref"])
    if found is None:
        raise InvalidInput("the sighting refers to no indicator known here")
    item, _ = found
    modified = stix.parse_timestamp(obj["modified"])
    first = stix.parse_timestamp(obj["first_seen"]) if obj.get("first_seen") else modified
    last = stix.parse_timestamp(obj["last_seen"]) if obj.get("last_seen") else modified
    row = session.scalar(
        select(Sighting).where(
            Sighting.organisation_id == partner.partner_organisation_id,
            Sighting.item_id == item.id,
        )
    )
    if row is None:
        row = Sighting(organisation_id=partner.partner_organisation_id, item_id=item.id)
        session.add(row)
    elif row.last_seen >= last and row.count >= int(parsed.get("count", 1)):
        report.unchanged += 1
        return
    row.count = int(parsed.get("count", 1))
    row.first_seen, row.last_seen = first, last
    report.sightings += 1


HANDLERS = {
    "indicator": _apply_indicator,
    "opinion": _apply_opinion,
    "sighting": _apply_sighting,
}


# --- local bookkeeping that feeds the exchange ---------------------------------------------


def record_sighting(
    session: Session, *, organisation_id: str, item_id: str, count: int = 1
) -> Sighting:
    """Count a match of an item (call it where matches are recorded); partners that opted in
    receive the counts of their own indicators as STIX sightings."""
    now = utcnow()
    row = session.scalar(
        select(Sighting).where(
            Sighting.organisation_id == organisation_id, Sighting.item_id == item_id
        )
    )
    if row is None:
        row = Sighting(organisation_id=organisation_id, item_id=item_id, count=0, first_seen=now)
        session.add(row)
    row.count += count
    row.last_seen = now
    session.flush()
    return row


def expire_imports(session: Session) -> int:
    """Retract imported items whose ``valid_until`` has passed (MISP-style decay)."""
    rows = session.scalars(
        select(BankItem)
        .join(ItemRef, ItemRef.item_id == BankItem.id)
        .where(ItemRef.valid_until <= utcnow(), BankItem.revoked_at.is_(None))
    ).all()
    for item in rows:
        revoke_item(session, item)
    return len(rows)


__all__ = ["IngestReport", "ensure_refs", "expire_imports", "ingest", "record_sighting"]
