"""Bank service functions: the one way the CLI, the API and the UI change banks.

Every function takes the caller's ``organisation_id`` and only sees that organisation's banks.
Signal additions and removals are written to ``signal_changes`` in the same transaction, which
is how every index (in this process or another) learns about them without a rebuild.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from countersignal.banks.models import (
    LABEL_KINDS,
    OPINIONS,
    TLP_LEVELS,
    Bank,
    BankItem,
    Label,
    Opinion,
    Signal,
    SignalChange,
)
from countersignal.db import utcnow
from countersignal.errors import Conflict, InvalidInput, NotFound


@dataclass(frozen=True)
class SignalInput:
    type: str
    value: str
    quality: int | None = None


@dataclass(frozen=True)
class LabelInput:
    kind: str
    value: str
    reference: str | None = None

    @classmethod
    def parse(cls, text: str) -> LabelInput:
        """``kind:value[@reference]``, e.g. ``designated_entity:ISIL@UN:QDe.115``."""
        kind, sep, rest = text.partition(":")
        if not sep or not rest:
            raise InvalidInput(f"label {text!r} is not kind:value[@reference]")
        value, _, reference = rest.partition("@")
        return cls(kind.strip(), value.strip(), reference.strip() or None)

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}" + (f"@{self.reference}" if self.reference else "")


@dataclass
class ItemInput:
    signals: list[SignalInput]
    labels: list[LabelInput] = field(default_factory=list)
    external_id: str | None = None
    source: str = ""
    source_ref: str | None = None
    source_organisation_id: str | None = None
    tlp: str | None = None
    note: str = ""


def _check_tlp(tlp: str | None) -> str | None:
    if tlp is None:
        return None
    norm = tlp.upper().removeprefix("TLP:").replace("WHITE", "CLEAR")
    if norm not in TLP_LEVELS:
        raise InvalidInput(f"TLP {tlp!r} is not one of {', '.join(TLP_LEVELS)}")
    return norm


def _check_label(label: LabelInput) -> LabelInput:
    if label.kind not in LABEL_KINDS:
        raise InvalidInput(f"label kind {label.kind!r} is not one of {', '.join(LABEL_KINDS)}")
    if not label.value or len(label.value) > 300:
        raise InvalidInput("label value must be 1 to 300 characters")
    return label


def canonical_signal(signal: SignalInput) -> SignalInput:
    """Validate a signal against its type and return its canonical form."""
    from countersignal.signals import get_signal_type

    value = get_signal_type(signal.type).validate(signal.value)
    return SignalInput(signal.type, value, signal.quality)


# --- banks -------------------------------------------------------------------------------


def create_bank(
    session: Session,
    *,
    organisation_id: str,
    name: str,
    description: str = "",
    tlp: str = "AMBER",
    trusted: bool = False,
    local_only: bool = False,
) -> Bank:
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput("bank name must be 1 to 200 characters")
    exists = session.scalar(
        select(Bank.id).where(Bank.organisation_id == organisation_id, Bank.name == name)
    )
    if exists:
        raise Conflict(f"bank {name!r} already exists")
    bank = Bank(
        organisation_id=organisation_id,
        name=name,
        description=description,
        tlp=_check_tlp(tlp),
        trusted=trusted,
        local_only=local_only,
    )
    session.add(bank)
    session.flush()
    return bank


def list_banks(session: Session, organisation_id: str) -> list[Bank]:
    return list(
        session.scalars(
            select(Bank).where(Bank.organisation_id == organisation_id).order_by(Bank.name)
        )
    )


def get_bank(session: Session, organisation_id: str, bank: str) -> Bank:
    """A bank of this organisation by id or by name (NotFound for another organisation's)."""
    found = session.scalar(
        select(Bank).where(
            Bank.organisation_id == organisation_id, (Bank.id == bank) | (Bank.name == bank)
        )
    )
    if found is None:
        raise NotFound(f"no bank {bank!r}")
    return found


def update_bank(session: Session, bank: Bank, **changes) -> Bank:
    allowed = {"name", "description", "tlp", "trusted", "local_only", "matching_enabled"}
    unknown = set(changes) - allowed
    if unknown:
        raise InvalidInput(f"cannot change {', '.join(sorted(unknown))}")
    if "tlp" in changes:
        changes["tlp"] = _check_tlp(changes["tlp"])
    for key, value in changes.items():
        setattr(bank, key, value)
    session.flush()
    return bank


def delete_bank(session: Session, bank: Bank) -> int:
    """Delete a bank with its items; returns the number of signals removed from matching."""
    removed = _log_removals(session, select(Signal).where(Signal.bank_id == bank.id))
    session.delete(bank)
    session.flush()
    return removed


def bank_counts(session: Session, bank_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
    """bank id -> (items, signals)."""
    items = dict(
        session.execute(
            select(BankItem.bank_id, func.count())
            .where(BankItem.bank_id.in_(bank_ids))
            .group_by(BankItem.bank_id)
        ).all()
    )
    signals = dict(
        session.execute(
            select(Signal.bank_id, func.count())
            .where(Signal.bank_id.in_(bank_ids))
            .group_by(Signal.bank_id)
        ).all()
    )
    return {b: (items.get(b, 0), signals.get(b, 0)) for b in bank_ids}


# --- items and signals ---------------------------------------------------------------------


def add_item(session: Session, bank: Bank, item: ItemInput) -> BankItem:
    """Add one piece of known content with its signals and labels (validated, canonical)."""
    if not item.signals:
        raise InvalidInput("an item needs at least one signal")
    signals = list(dict.fromkeys(canonical_signal(s) for s in item.signals))
    labels = [_check_label(label) for label in item.labels]
    row = BankItem(
        bank_id=bank.id,
        external_id=item.external_id,
        source=item.source,
        source_ref=item.source_ref,
        source_organisation_id=item.source_organisation_id,
        tlp=_check_tlp(item.tlp),
        note=item.note,
        labels=[Label(kind=lb.kind, value=lb.value, reference=lb.reference) for lb in labels],
        signals=[
            Signal(bank_id=bank.id, type=s.type, value=s.value, quality=s.quality)
            for s in {(s.type, s.value): s for s in signals}.values()
        ],
    )
    session.add(row)
    session.flush()
    session.add_all(
        SignalChange(signal_id=s.id, type=s.type, value=s.value, op="add") for s in row.signals
    )
    return row


def get_item(session: Session, organisation_id: str, item_id: str) -> BankItem:
    item = session.scalar(
        select(BankItem)
        .join(Bank)
        .where(BankItem.id == item_id, Bank.organisation_id == organisation_id)
    )
    if item is None:
        raise NotFound(f"no bank item {item_id!r}")
    return item


def list_items(
    session: Session, bank: Bank, *, limit: int = 100, after: str | None = None
) -> list[BankItem]:
    query = select(BankItem).where(BankItem.bank_id == bank.id).order_by(BankItem.id)
    if after:
        query = query.where(BankItem.id > after)
    return list(session.scalars(query.limit(max(1, min(limit, 1000)))))


def remove_item(session: Session, item: BankItem) -> int:
    """Delete an item; its signals stop matching everywhere (logged as removals)."""
    removed = _log_removals(session, select(Signal).where(Signal.item_id == item.id))
    session.delete(item)
    session.flush()
    return removed


def revoke_item(session: Session, item: BankItem) -> int:
    """Retract an item but keep the record (e.g. a partner's STIX ``revoked``)."""
    removed = _log_removals(session, select(Signal).where(Signal.item_id == item.id))
    session.execute(delete(Signal).where(Signal.item_id == item.id))
    item.revoked_at = utcnow()
    session.flush()
    session.expire(item, ["signals"])
    return removed


def _log_removals(session: Session, signals_query) -> int:
    rows = session.execute(
        signals_query.with_only_columns(Signal.id, Signal.type, Signal.value)
    ).all()
    session.add_all(
        SignalChange(signal_id=sid, type=stype, value=value, op="remove")
        for sid, stype, value in rows
    )
    return len(rows)


def find_signals(session: Session, organisation_id: str, signal_type: str, value: str):
    """This organisation's stored signals with exactly this (canonical) value."""
    value = canonical_signal(SignalInput(signal_type, value)).value
    return list(
        session.scalars(
            select(Signal)
            .join(Bank, Bank.id == Signal.bank_id)
            .where(
                Signal.type == signal_type,
                Signal.value == value,
                Bank.organisation_id == organisation_id,
            )
        )
    )


# --- opinions ------------------------------------------------------------------------------


def set_opinion(
    session: Session,
    *,
    organisation_id: str,
    signal_id: int,
    opinion: str,
    note: str = "",
    details: dict | None = None,
) -> Opinion:
    """Record (or replace) an organisation's opinion of a signal."""
    if opinion not in OPINIONS:
        raise InvalidInput(f"opinion must be one of {', '.join(OPINIONS)}")
    if session.get(Signal, signal_id) is None:
        raise NotFound(f"no signal {signal_id}")
    row = session.scalar(
        select(Opinion).where(
            Opinion.signal_id == signal_id, Opinion.organisation_id == organisation_id
        )
    )
    if row is None:
        row = Opinion(signal_id=signal_id, organisation_id=organisation_id)
        session.add(row)
    row.opinion, row.note, row.details = opinion, note, details or {}
    session.flush()
    return row


def opinions_for(session: Session, signal_ids: Iterable[int]) -> dict[int, list[Opinion]]:
    out: dict[int, list[Opinion]] = {}
    for row in session.scalars(select(Opinion).where(Opinion.signal_id.in_(list(signal_ids)))):
        out.setdefault(row.signal_id, []).append(row)
    return out
