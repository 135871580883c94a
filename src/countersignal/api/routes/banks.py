"""Banks, their items and raw signals. Every change is audited in its own transaction and made
matchable in this process at once (other processes pick it up within one poll)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from countersignal.api.deps import audit_reason, get_session, requires, sync_matcher
from countersignal.api.schemas import (
    BankCreate,
    BankList,
    BankOut,
    BankUpdate,
    ItemCreate,
    ItemOut,
    ItemPage,
    RawSignalsCreate,
    RawSignalsCreated,
    Removed,
)
from countersignal.audit import Target, record
from countersignal.auth import Principal
from countersignal.banks import service
from countersignal.banks.models import Bank, BankItem
from countersignal.banks.service import ItemInput, LabelInput, SignalInput
from countersignal.errors import Conflict, NotFound

router = APIRouter(prefix="/v1/banks", tags=["banks"])

DbSession = Annotated[Session, Depends(get_session)]
Reader = Annotated[Principal, Depends(requires("banks:read"))]
Writer = Annotated[Principal, Depends(requires("banks:write"))]
SignalWriter = Annotated[Principal, Depends(requires("signals:write"))]
Reason = Annotated[str | None, Depends(audit_reason)]


def _bank_out(session: Session, bank: Bank) -> BankOut:
    return BankOut.of(bank, service.bank_counts(session, [bank.id])[bank.id])


def _item_in_bank(session: Session, principal: Principal, bank_id: str, item_id: str):
    bank = service.get_bank(session, principal.organisation_id, bank_id)
    item = service.get_item(session, principal.organisation_id, item_id)
    if item.bank_id != bank.id:
        raise NotFound(f"no bank item {item_id!r} in this bank")
    return bank, item


def _audit(session, principal: Principal, action: str, target: Target, reason, **details):
    record(session, actor=principal.actor, action=action, target=target,
           organisation_id=principal.organisation_id, reason=reason, details=details)


@router.get("", response_model=BankList)
def list_banks(session: DbSession, principal: Reader) -> BankList:
    """Your organisation's banks with item and signal counts."""
    banks = service.list_banks(session, principal.organisation_id)
    counts = service.bank_counts(session, [b.id for b in banks])
    return BankList(banks=[BankOut.of(b, counts[b.id]) for b in banks])


@router.post("", response_model=BankOut, status_code=201)
def create_bank(body: BankCreate, session: DbSession, principal: Writer, reason: Reason):
    bank = service.create_bank(session, organisation_id=principal.organisation_id,
                               **body.model_dump())
    _audit(session, principal, "bank.create", Target("bank", bank.id), reason,
           name=bank.name, tlp=bank.tlp, trusted=bank.trusted)
    session.commit()
    return _bank_out(session, bank)


@router.get("/{bank_id}", response_model=BankOut)
def get_bank(bank_id: str, session: DbSession, principal: Reader) -> BankOut:
    """A bank by id (or by name)."""
    return _bank_out(session, service.get_bank(session, principal.organisation_id, bank_id))


@router.patch("/{bank_id}", response_model=BankOut)
def update_bank(request: Request, bank_id: str, body: BankUpdate, session: DbSession,
                principal: Writer, reason: Reason) -> BankOut:
    bank = service.get_bank(session, principal.organisation_id, bank_id)
    changes = body.model_dump(exclude_none=True)
    if "name" in changes and changes["name"] != bank.name:
        clash = session.scalar(select(Bank.id).where(
            Bank.organisation_id == principal.organisation_id, Bank.name == changes["name"]
        ))
        if clash:
            raise Conflict(f"bank {changes['name']!r} already exists")
    service.update_bank(session, bank, **changes)
    _audit(session, principal, "bank.update", Target("bank", bank.id), reason, changes=changes)
    session.commit()
    sync_matcher(request)  # matches report the new name/TLP/switch at once
    return _bank_out(session, bank)


@router.delete("/{bank_id}", response_model=Removed)
def delete_bank(request: Request, bank_id: str, session: DbSession, principal: Writer,
                reason: Reason) -> Removed:
    """Delete a bank with all its items; its signals stop matching everywhere."""
    bank = service.get_bank(session, principal.organisation_id, bank_id)
    removed = service.delete_bank(session, bank)
    _audit(session, principal, "bank.delete", Target("bank", bank.id), reason,
           name=bank.name, signals_removed=removed)
    session.commit()
    sync_matcher(request)
    return Removed(id=bank.id, signals_removed=removed)


@router.get("/{bank_id}/items", response_model=ItemPage)
def list_items(
    bank_id: str,
    session: DbSession,
    principal: Reader,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: Annotated[str | None, Query(max_length=40, description="last id of the previous page")]
    = None,
) -> ItemPage:
    bank = service.get_bank(session, principal.organisation_id, bank_id)
    items = service.list_items(session, bank, limit=limit, after=after)
    return ItemPage(
        items=[ItemOut.model_validate(i) for i in items],
        next_after=items[-1].id if len(items) == limit else None,
    )


def _item_input(body: ItemCreate | RawSignalsCreate, principal: Principal, signals,
                external_id=None, note="") -> ItemInput:
    return ItemInput(
        signals=[SignalInput(s.type.value, s.value) for s in signals],
        labels=[LabelInput(lb.kind, lb.value, lb.reference) for lb in body.labels],
        external_id=external_id,
        source=body.source,
        source_ref=body.source_ref,
        source_organisation_id=principal.organisation_id,
        tlp=body.tlp,
        note=note,
    )


@router.post("/{bank_id}/items", response_model=ItemOut, status_code=201)
def add_item(request: Request, bank_id: str, body: ItemCreate, session: DbSession,
             principal: SignalWriter, reason: Reason) -> ItemOut:
    """Add one piece of known content: its signals, labels and provenance."""
    bank = service.get_bank(session, principal.organisation_id, bank_id)
    item = service.add_item(
        session, bank,
        _item_input(body, principal, body.signals, external_id=body.external_id, note=body.note),
    )
    _audit(session, principal, "item.create", Target("bank_item", item.id), reason,
           bank_id=bank.id, signals=len(item.signals))
    session.commit()
    sync_matcher(request)
    return ItemOut.model_validate(item)


@router.post("/{bank_id}/signals", response_model=RawSignalsCreated, status_code=201)
def add_signals(request: Request, bank_id: str, body: RawSignalsCreate, session: DbSession,
                principal: SignalWriter, reason: Reason) -> RawSignalsCreated:
    """Add raw signals in bulk: one item per signal, sharing labels and provenance."""
    bank = service.get_bank(session, principal.organisation_id, bank_id)
    items = [
        service.add_item(session, bank, _item_input(body, principal, [s],
                                                    external_id=s.external_id))
        for s in body.signals
    ]
    _audit(session, principal, "signals.add", Target("bank", bank.id), reason,
           items=len(items))
    session.commit()
    sync_matcher(request)
    return RawSignalsCreated(item_ids=[i.id for i in items])


@router.get("/{bank_id}/items/{item_id}", response_model=ItemOut)
def get_item(bank_id: str, item_id: str, session: DbSession, principal: Reader) -> ItemOut:
    return ItemOut.model_validate(_item_in_bank(session, principal, bank_id, item_id)[1])


@router.delete("/{bank_id}/items/{item_id}", response_model=Removed)
def remove_item(request: Request, bank_id: str, item_id: str, session: DbSession,
                principal: Writer, reason: Reason) -> Removed:
    """Delete an item; its signals stop matching."""
    bank, item = _item_in_bank(session, principal, bank_id, item_id)
    removed = service.remove_item(session, item)
    _audit(session, principal, "item.delete", Target("bank_item", item_id), reason,
           bank_id=bank.id, signals_removed=removed)
    session.commit()
    sync_matcher(request)
    return Removed(id=item_id, signals_removed=removed)


@router.post("/{bank_id}/items/{item_id}/revoke", response_model=ItemOut)
def revoke_item(request: Request, bank_id: str, item_id: str, session: DbSession,
                principal: Writer, reason: Reason) -> ItemOut:
    """Retract an item but keep its record (e.g. a partner withdrew it)."""
    bank, item = _item_in_bank(session, principal, bank_id, item_id)
    removed = service.revoke_item(session, item)
    _audit(session, principal, "item.revoke", Target("bank_item", item_id), reason,
           bank_id=bank.id, signals_removed=removed)
    session.commit()
    sync_matcher(request)
    session.refresh(item)
    return ItemOut.model_validate(session.get(BankItem, item_id))
