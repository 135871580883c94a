"""Sharing policy: partners, sharing groups, bank shares, local-only labels, and the one
function that decides whether an item may leave for a given partner.

The decision is made at export (every TAXII page, every push, every file export), never at
banking time, so changing a rule takes effect on the next page. Rules, in order:

1. a local-only bank never leaves;
2. TLP:RED never leaves (the stricter of the item's and the bank's marking counts);
3. an item carrying a label marked local-only never leaves;
4. an imported item never goes back to the partner it came from, and is only passed on when
   its own marking allows a recipient to share it (CLEAR, GREEN); unmarked imports stay here;
5. otherwise it goes to the partners in the sharing groups the bank is shared with (the feed
   query applies this one).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from countersignal.actions.crypto import Keyring
from countersignal.banks.models import Bank, BankItem, Opinion, Signal
from countersignal.errors import Conflict, InvalidInput, NotFound
from countersignal.exchange import tlp as tlp_rules
from countersignal.exchange.models import (
    BankShare,
    GroupMember,
    ItemRef,
    LocalOnlyLabel,
    Partner,
    SharingGroup,
    credential_sealer,
    pop_credentials,
)

PARTNER_FIELDS = {
    "name",
    "api_root_url",
    "collection_id",
    "auth_token",
    "username",
    "password",
    "allow_private_network",
    "trusted",
    "share_sightings",
    "import_bank_id",
    "enabled",
    "pull_enabled",
    "push_enabled",
    "poll_seconds",
}


# --- partners ------------------------------------------------------------------------------


def create_partner(
    session: Session,
    *,
    organisation_id: str,
    partner_organisation_id: str,
    name: str,
    keyring: Keyring | None = None,
    **fields,
) -> Partner:
    """Register a partner organisation (and, optionally, its TAXII server to pull from).
    ``auth_token``/``password`` are sealed under ``keyring`` (default: this process's key)."""
    unknown = set(fields) - PARTNER_FIELDS
    if unknown:
        raise InvalidInput(f"unknown partner field(s) {', '.join(sorted(unknown))}")
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput("partner name must be 1 to 200 characters")
    if partner_organisation_id == organisation_id:
        raise InvalidInput("an organisation cannot be its own partner")
    taken = session.scalar(
        select(Partner.id).where(Partner.organisation_id == organisation_id, Partner.name == name)
    )
    if taken:
        raise Conflict(f"partner {name!r} already exists")
    if fields.get("import_bank_id"):
        _own_bank(session, organisation_id, fields["import_bank_id"])
    credentials = pop_credentials(fields)
    partner = Partner(
        organisation_id=organisation_id,
        partner_organisation_id=partner_organisation_id,
        name=name,
        **fields,
    )
    if credentials:
        partner.set_credentials(credential_sealer(keyring), **credentials)
    session.add(partner)
    session.flush()
    return partner


def _own_bank(session: Session, organisation_id: str, bank_id: str) -> Bank:
    bank = session.get(Bank, bank_id)
    if bank is None or bank.organisation_id != organisation_id:
        raise NotFound(f"no bank {bank_id!r}")
    return bank


def update_partner(
    session: Session, partner: Partner, keyring: Keyring | None = None, **changes
) -> Partner:
    unknown = set(changes) - PARTNER_FIELDS
    if unknown:
        raise InvalidInput(f"cannot change {', '.join(sorted(unknown))}")
    if credentials := pop_credentials(changes):
        partner.set_credentials(credential_sealer(keyring), **credentials)
    if changes.get("import_bank_id"):
        _own_bank(session, partner.organisation_id, changes["import_bank_id"])
    trust_changed = {"trusted", "enabled"} & set(changes)
    for key, value in changes.items():
        setattr(partner, key, value)
    session.flush()
    if trust_changed:  # its disputes start or stop counting
        from countersignal.exchange.disputes import recompute_disputes

        recompute_disputes(
            session,
            session.scalars(
                select(Opinion.signal_id)
                .join(Signal, Signal.id == Opinion.signal_id)
                .join(Bank, Bank.id == Signal.bank_id)
                .where(
                    Opinion.organisation_id == partner.partner_organisation_id,
                    Bank.organisation_id == partner.organisation_id,
                )
            ).all(),
        )
    return partner


def get_partner(session: Session, organisation_id: str, partner: str) -> Partner:
    """A partner of this organisation by id or name."""
    found = session.scalar(
        select(Partner).where(
            Partner.organisation_id == organisation_id,
            (Partner.id == partner) | (Partner.name == partner),
        )
    )
    if found is None:
        raise NotFound(f"no partner {partner!r}")
    return found


def list_partners(session: Session, organisation_id: str) -> list[Partner]:
    return list(
        session.scalars(
            select(Partner).where(Partner.organisation_id == organisation_id).order_by(Partner.name)
        )
    )


def partners_for_principal(session: Session, partner_organisation_id: str) -> list[Partner]:
    """Partner entries (one per owning organisation) that stand for this caller's org."""
    return list(
        session.scalars(
            select(Partner).where(
                Partner.partner_organisation_id == partner_organisation_id,
                Partner.enabled.is_(True),
            )
        )
    )


# --- sharing groups (= TAXII collections) -----------------------------------------------


def create_sharing_group(
    session: Session, *, organisation_id: str, name: str, description: str = ""
) -> SharingGroup:
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput("sharing group name must be 1 to 200 characters")
    taken = session.scalar(
        select(SharingGroup.id).where(
            SharingGroup.organisation_id == organisation_id, SharingGroup.name == name
        )
    )
    if taken:
        raise Conflict(f"sharing group {name!r} already exists")
    group = SharingGroup(
        organisation_id=organisation_id,
        name=name,
        description=description,
        collection_id=str(uuid.uuid4()),
    )
    session.add(group)
    session.flush()
    return group


def get_sharing_group(session: Session, organisation_id: str, group: str) -> SharingGroup:
    found = session.scalar(
        select(SharingGroup).where(
            SharingGroup.organisation_id == organisation_id,
            (SharingGroup.id == group)
            | (SharingGroup.name == group)
            | (SharingGroup.collection_id == group),
        )
    )
    if found is None:
        raise NotFound(f"no sharing group {group!r}")
    return found


def list_sharing_groups(session: Session, organisation_id: str) -> list[SharingGroup]:
    return list(
        session.scalars(
            select(SharingGroup)
            .where(SharingGroup.organisation_id == organisation_id)
            .order_by(SharingGroup.name)
        )
    )


def add_member(
    session: Session,
    group: SharingGroup,
    partner: Partner,
    *,
    can_read: bool = True,
    can_write: bool = False,
) -> GroupMember:
    """Add (or change) a partner's access to a group's collection."""
    if partner.organisation_id != group.organisation_id:
        raise NotFound(f"no partner {partner.id!r}")
    member = session.get(GroupMember, (group.id, partner.id))
    if member is None:
        member = GroupMember(group_id=group.id, partner_id=partner.id)
        session.add(member)
    member.can_read, member.can_write = can_read, can_write
    session.flush()
    return member


def remove_member(session: Session, group: SharingGroup, partner: Partner) -> None:
    session.execute(
        delete(GroupMember).where(
            GroupMember.group_id == group.id, GroupMember.partner_id == partner.id
        )
    )


def share_bank(
    session: Session,
    bank: Bank,
    group: SharingGroup,
    *,
    confidence: int | None = None,
    valid_days: int | None = None,
) -> BankShare:
    """Offer a bank's items to a sharing group (subject to the rules above)."""
    if bank.organisation_id != group.organisation_id:
        raise NotFound(f"no bank {bank.id!r}")
    if confidence is not None and not 0 <= confidence <= 100:
        raise InvalidInput("confidence must be 0 to 100")
    if valid_days is not None and valid_days < 1:
        raise InvalidInput("valid_days must be at least 1")
    share = session.get(BankShare, (bank.id, group.id))
    if share is None:
        share = BankShare(bank_id=bank.id, group_id=group.id)
        session.add(share)
    share.confidence, share.valid_days = confidence, valid_days
    session.flush()
    return share


def unshare_bank(session: Session, bank: Bank, group: SharingGroup) -> None:
    session.execute(
        delete(BankShare).where(BankShare.bank_id == bank.id, BankShare.group_id == group.id)
    )


def set_label_local_only(
    session: Session, organisation_id: str, kind: str, value: str, local_only: bool = True
) -> None:
    """Mark (or unmark) a label so items carrying it never leave the organisation."""
    existing = session.scalar(
        select(LocalOnlyLabel).where(
            LocalOnlyLabel.organisation_id == organisation_id,
            LocalOnlyLabel.kind == kind,
            LocalOnlyLabel.value == value,
        )
    )
    if local_only and existing is None:
        session.add(LocalOnlyLabel(organisation_id=organisation_id, kind=kind, value=value))
    elif not local_only and existing is not None:
        session.delete(existing)
    session.flush()


def local_only_labels(session: Session, organisation_id: str) -> frozenset[tuple[str, str]]:
    return frozenset(
        session.execute(
            select(LocalOnlyLabel.kind, LocalOnlyLabel.value).where(
                LocalOnlyLabel.organisation_id == organisation_id
            )
        ).all()
    )


# --- the decision --------------------------------------------------------------------------


def effective_tlp(item: BankItem, bank: Bank) -> str:
    """The stricter of the item's own marking and its bank's."""
    if item.tlp:
        return tlp_rules.stricter(item.tlp, bank.tlp)
    return tlp_rules.normalise(bank.tlp)


def is_imported(item: BankItem, ref: ItemRef | None, organisation_id: str) -> bool:
    return (ref is not None and ref.partner_id is not None) or (
        item.source_organisation_id not in (None, organisation_id)
    )


def withheld_reason(
    item: BankItem,
    bank: Bank,
    ref: ItemRef | None,
    partner: Partner | None,
    local_labels: Iterable[tuple[str, str]],
) -> str | None:
    """Why ``item`` may not go to ``partner`` (None: it may). ``partner`` None = any partner."""
    if bank.local_only:
        return "bank is local-only"
    if effective_tlp(item, bank) == "RED":
        return "TLP:RED never leaves"
    local_labels = frozenset(local_labels)
    for label in item.labels:
        if (label.kind, label.value) in local_labels:
            return f"label {label.kind}:{label.value} is local-only"
    if is_imported(item, ref, bank.organisation_id):
        if partner is not None and (
            (ref is not None and ref.partner_id == partner.id)
            or item.source_organisation_id == partner.partner_organisation_id
        ):
            return "it came from this partner"
        if item.revoked_at is not None and not (ref is not None and ref.stix_revoked):
            return "retracted here, not by its creator (only the creator revokes in STIX)"
        if item.tlp is None:
            return "an unmarked import is not passed on"
        if tlp_rules.normalise(item.tlp) not in tlp_rules.RESHAREABLE:
            return f"an imported TLP:{tlp_rules.normalise(item.tlp)} item is not passed on"
    return None


def member_groups(
    session: Session, partner: Partner, *, write: bool = False
) -> list[tuple[SharingGroup, GroupMember]]:
    """The groups (collections) a partner can read (or write)."""
    query = (
        select(SharingGroup, GroupMember)
        .join(GroupMember, GroupMember.group_id == SharingGroup.id)
        .where(GroupMember.partner_id == partner.id)
    )
    query = query.where(GroupMember.can_write.is_(True) if write else GroupMember.can_read)
    return [(g, m) for g, m in session.execute(query).all()]
