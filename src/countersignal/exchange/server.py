"""TAXII 2.1 server logic, free of HTTP: who may see which collection, writes, deletes.

Each sharing group is one collection. Its owner organisation reads it as the policy lets any
partner see it; a partner reads it when it is a member with ``can_read`` (policy applied for
that partner) and writes to it with ``can_write`` (what it writes is ingested as from that
partner: its opinions, sightings and, when it has an import bank, its indicators).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from countersignal.auth import Principal
from countersignal.banks.models import BankItem, Opinion
from countersignal.banks.service import revoke_item
from countersignal.db import utcnow
from countersignal.errors import Forbidden, NotFound
from countersignal.exchange.disputes import recompute_disputes
from countersignal.exchange.feed import Reader
from countersignal.exchange.ingest import ensure_refs, ingest
from countersignal.exchange.models import GroupMember, ItemRef, Partner, SharingGroup, TaxiiStatus


@dataclass(frozen=True)
class Access:
    group: SharingGroup
    partner: Partner | None  # None: the owner organisation itself
    can_read: bool
    can_write: bool

    @property
    def reader(self) -> Reader:
        return Reader(self.group, self.partner)

    def resource(self) -> dict:
        """The TAXII collection resource."""
        return {
            "id": self.group.collection_id,
            "title": self.group.name,
            "description": self.group.description or "",
            "can_read": self.can_read,
            "can_write": self.can_write,
            "media_types": ["application/stix+json;version=2.1"],
        }


def collections_for(session: Session, principal: Principal) -> list[Access]:
    """Every collection the caller may see, owned or as a partner."""
    if principal.organisation_id is None:
        return []
    out: list[Access] = [
        Access(group, None, True, False)
        for group in session.scalars(
            select(SharingGroup)
            .where(SharingGroup.organisation_id == principal.organisation_id)
            .order_by(SharingGroup.name)
        )
    ]
    rows = session.execute(
        select(SharingGroup, Partner, GroupMember)
        .join(GroupMember, GroupMember.group_id == SharingGroup.id)
        .join(Partner, Partner.id == GroupMember.partner_id)
        .where(
            Partner.partner_organisation_id == principal.organisation_id,
            Partner.enabled.is_(True),
            Partner.organisation_id == SharingGroup.organisation_id,
        )
        .order_by(SharingGroup.name)
    ).all()
    out.extend(
        Access(group, partner, member.can_read, member.can_write)
        for group, partner, member in rows
        if member.can_read or member.can_write
    )
    return out


def collection_for(session: Session, principal: Principal, collection_id: str) -> Access:
    """The caller's access to one collection; NotFound when it has none (existence hidden)."""
    for access in collections_for(session, principal):
        if access.group.collection_id == collection_id:
            return access
    raise NotFound(f"no collection {collection_id!r}")


def require_read(access: Access) -> None:
    if not access.can_read:
        raise Forbidden("this collection is not readable by you")


def add_objects(session: Session, access: Access, objects: list) -> TaxiiStatus:
    """Apply a partner's POSTed objects; returns the (completed) status resource."""
    if not access.can_write or access.partner is None:
        raise Forbidden("this collection is not writable by you")
    report = ingest(session, access.partner, objects)
    failed = {ident for ident, _ in report.errors}
    ids = [str(o.get("id")) for o in objects if isinstance(o, dict) and o.get("id")]
    status = TaxiiStatus(
        id=str(uuid.uuid4()),
        organisation_id=access.partner.partner_organisation_id,
        collection_id=access.group.collection_id,
        status="complete",
        request_timestamp=utcnow(),
        total_count=len(objects),
        success_count=len(objects) - len(report.errors),
        failure_count=len(report.errors),
        pending_count=0,
        details={
            "successes": [i for i in ids if i not in failed][:1000],
            "failures": [{"id": i, "message": m} for i, m in report.errors][:1000],
        },
    )
    session.add(status)
    session.flush()
    return status


def status_resource(status: TaxiiStatus) -> dict:
    return {
        "id": status.id,
        "status": status.status,
        "request_timestamp": status.request_timestamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "total_count": status.total_count,
        "success_count": status.success_count,
        "successes": [{"id": i} for i in status.details.get("successes", [])],
        "failure_count": status.failure_count,
        "failures": status.details.get("failures", []),
        "pending_count": status.pending_count,
        "pendings": [],
    }


def get_status(session: Session, principal: Principal, status_id: str) -> TaxiiStatus:
    status = session.get(TaxiiStatus, status_id)
    visible = status is not None and (
        status.organisation_id == principal.organisation_id
        or any(
            a.group.collection_id == status.collection_id and a.partner is None
            for a in collections_for(session, principal)
        )
    )
    if not visible:
        raise NotFound(f"no status {status_id!r}")
    return status


def delete_object(session: Session, access: Access, principal: Principal, object_id: str) -> str:
    """Delete from a collection: the owner revokes its indicator (the tombstone is what tells
    partners); a partner withdraws its own opinion. Returns what was done."""
    if access.partner is None:
        if not principal.can("banks:write"):
            raise Forbidden("deleting an indicator needs the 'banks:write' permission")
        ensure_refs(session, access.group.organisation_id)
        item = session.scalar(
            select(BankItem)
            .join(ItemRef, ItemRef.item_id == BankItem.id)
            .where(
                ItemRef.organisation_id == access.group.organisation_id,
                ItemRef.stix_id == object_id,
            )
        )
        if item is None:
            raise NotFound(f"no object {object_id!r} in this collection")
        if item.revoked_at is None:
            revoke_item(session, item)
        return "revoked"
    if not access.can_write:
        raise Forbidden("this collection is not writable by you")
    mine = [
        op
        for op in session.scalars(
            select(Opinion).where(Opinion.organisation_id == access.partner.partner_organisation_id)
        )
        if (op.details or {}).get("stix_id") == object_id
    ]
    if not mine:
        raise NotFound(f"no object {object_id!r} of yours in this collection")
    signal_ids = [op.signal_id for op in mine]
    for op in mine:
        session.delete(op)
    session.flush()
    recompute_disputes(session, signal_ids)
    return "withdrawn"
