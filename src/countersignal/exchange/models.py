"""Exchange tables: partners, sharing groups (= TAXII collections), sync state, the STIX ids of
bank items, sightings, dispute state, TAXII status resources and hash-list checkpoints.

Bank items, labels and opinions stay in the ``banks`` tables; these tables only add what
sharing needs, so banks work the same whether or not anything is ever shared.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from countersignal.actions.crypto import PARTNER_CREDENTIALS, Keyring, Sealer
from countersignal.banks.models import BankItem, BigId
from countersignal.db import Base, UTCDateTime, new_id, utcnow


class Partner(Base):
    """Another organisation we exchange with, usually on another server in another country.

    ``partner_organisation_id`` is the organisation row that stands for the partner in this
    database: its API tokens (role ``partner``) are how it reads our collections, and its id is
    what its opinions and sightings are stored under. The remote fields say where to pull from
    and push to.
    """

    __tablename__ = "exchange_partners"
    __table_args__ = (UniqueConstraint("organisation_id", "name"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("prt"))
    organisation_id: Mapped[str] = mapped_column(String(40), index=True)
    partner_organisation_id: Mapped[str] = mapped_column(String(40), index=True)
    name: Mapped[str] = mapped_column(String(200))
    api_root_url: Mapped[str | None] = mapped_column(String(2000))
    collection_id: Mapped[str | None] = mapped_column(String(200))
    # Credentials for *their* server, sealed (AES-256-GCM, see ``set_credentials``): the
    # columns never hold them in clear, and they stay out of repr, logs and the audit trail.
    auth_token_sealed: Mapped[str | None] = mapped_column(Text)
    username: Mapped[str | None] = mapped_column(String(200))
    password_sealed: Mapped[str | None] = mapped_column(Text)
    # Loopback/private/link-local targets are refused unless this is set (SSRF guard).
    allow_private_network: Mapped[bool] = mapped_column(Boolean, default=False)
    # Only trusted partners' disputes count towards a signal's disputed state.
    trusted: Mapped[bool] = mapped_column(Boolean, default=False)
    # The partner opted in to receive sightings (match counts) of its own indicators.
    share_sightings: Mapped[bool] = mapped_column(Boolean, default=False)
    import_bank_id: Mapped[str | None] = mapped_column(ForeignKey("banks.id", ondelete="SET NULL"))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    pull_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    push_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    poll_seconds: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:  # never the credentials, sealed or not
        return f"Partner(id={self.id!r}, name={self.name!r}, api_root_url={self.api_root_url!r})"

    def set_credentials(self, sealer: Sealer, **values: str | None) -> None:
        """Seal ``auth_token`` and/or ``password`` (``None`` or ``""`` clears one). Each is
        bound to this row and field, so a sealed value copied elsewhere does not open."""
        if unknown := set(values) - set(CREDENTIAL_FIELDS):
            raise ValueError(f"not a partner credential: {', '.join(sorted(unknown))}")
        if self.id is None:
            self.id = new_id("prt")  # the id is part of what the seal is bound to
        for name, value in values.items():
            sealed = sealer.seal(value, context=credential_context(self.id, name)) if value \
                else None
            setattr(self, f"{name}_sealed", sealed)

    def credentials(self, sealer: Sealer) -> dict[str, str | None]:
        """``{"auth_token": ..., "password": ...}`` in clear, for the one request that needs
        them; raises :class:`~countersignal.actions.crypto.DecryptionFailed` under another
        key."""
        found: dict[str, str | None] = {}
        for name in CREDENTIAL_FIELDS:
            sealed = getattr(self, f"{name}_sealed")
            found[name] = (
                sealer.open(sealed, context=credential_context(self.id, name)) if sealed else None
            )
        return found

    @property
    def has_credentials(self) -> bool:
        return bool(self.auth_token_sealed or self.password_sealed)


CREDENTIAL_FIELDS = ("auth_token", "password")


def credential_context(partner_id: str, name: str) -> str:
    """What a sealed credential is bound to (AES-GCM associated data). Migration exchange_0002
    seals existing rows with the same string: change both or neither."""
    return f"exchange_partners:{partner_id}:{name}"


def credential_sealer(keyring: Keyring | None = None) -> Sealer:
    """The sealer for partner credentials: the deployment's master key (the evidence vault's,
    ``COUNTERSIGNAL_VAULT_KEY`` or ``<home>/vault.key``) under its own HKDF purpose. Without
    ``keyring``, the key of this process's settings (what ``serve``, the CLI and the workers
    use)."""
    if keyring is None:
        from countersignal.settings import get_settings

        keyring = Keyring.from_settings(get_settings())
    return keyring.sealer(PARTNER_CREDENTIALS)


def pop_credentials(fields: dict) -> dict[str, str | None]:
    """Take the credential fields out of a partner's field dict (to be sealed, not stored)."""
    return {name: fields.pop(name) for name in CREDENTIAL_FIELDS if name in fields}


class SyncState(Base):
    """Where pulling from and pushing to one partner has got to, and how it is going."""

    __tablename__ = "exchange_sync_state"

    partner_id: Mapped[str] = mapped_column(
        ForeignKey("exchange_partners.id", ondelete="CASCADE"), primary_key=True
    )
    # The partner server's X-TAXII-Date-Added-Last, verbatim: the next pull's added_after.
    pull_added_after: Mapped[str | None] = mapped_column(String(64))
    # An unfinished page chain: {"next": token, "added_after": the chain's first value}.
    pull_next: Mapped[dict | None] = mapped_column(JSON)
    # Shrinks while a page fails to parse, to corner a poisoned object; None = default.
    page_limit: Mapped[int | None] = mapped_column(Integer)
    # Per sharing group: the feed position (``next`` token) of the last object pushed.
    push_positions: Mapped[dict] = mapped_column(JSON, default=dict)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A worker holds the partner until then; expires, so a crashed worker never wedges it.
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    objects_received: Mapped[int] = mapped_column(BigInteger, default=0)
    objects_sent: Mapped[int] = mapped_column(BigInteger, default=0)
    objects_rejected: Mapped[int] = mapped_column(BigInteger, default=0)


class SharingGroup(Base):
    """A set of partners a bank can be shared with; each group is one TAXII collection."""

    __tablename__ = "exchange_sharing_groups"
    __table_args__ = (UniqueConstraint("organisation_id", "name"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("sgp"))
    organisation_id: Mapped[str] = mapped_column(String(40), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    collection_id: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class GroupMember(Base):
    __tablename__ = "exchange_group_members"

    group_id: Mapped[str] = mapped_column(
        ForeignKey("exchange_sharing_groups.id", ondelete="CASCADE"), primary_key=True
    )
    partner_id: Mapped[str] = mapped_column(
        ForeignKey("exchange_partners.id", ondelete="CASCADE"), primary_key=True
    )
    can_read: Mapped[bool] = mapped_column(Boolean, default=True)
    can_write: Mapped[bool] = mapped_column(Boolean, default=False)


class BankShare(Base):
    """Bank → sharing group: the bank's items are offered to the group's readers."""

    __tablename__ = "exchange_bank_shares"

    bank_id: Mapped[str] = mapped_column(
        ForeignKey("banks.id", ondelete="CASCADE"), primary_key=True
    )
    group_id: Mapped[str] = mapped_column(
        ForeignKey("exchange_sharing_groups.id", ondelete="CASCADE"), primary_key=True
    )
    # STIX confidence (0-100) and validity (valid_until = created + days) of the bank's items.
    confidence: Mapped[int | None] = mapped_column(Integer)
    valid_days: Mapped[int | None] = mapped_column(Integer)


class LocalOnlyLabel(Base):
    """Items carrying this label never leave the organisation."""

    __tablename__ = "exchange_local_only_labels"
    __table_args__ = (UniqueConstraint("organisation_id", "kind", "value"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    organisation_id: Mapped[str] = mapped_column(String(40), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(300))


class ItemRef(Base):
    """The STIX indicator id of a bank item, and for an imported one where it came from."""

    __tablename__ = "exchange_item_refs"
    __table_args__ = (UniqueConstraint("organisation_id", "stix_id"),)

    item_id: Mapped[str] = mapped_column(
        ForeignKey("bank_items.id", ondelete="CASCADE"), primary_key=True
    )
    organisation_id: Mapped[str] = mapped_column(String(40))
    stix_id: Mapped[str] = mapped_column(String(100))
    partner_id: Mapped[str | None] = mapped_column(
        ForeignKey("exchange_partners.id", ondelete="SET NULL"), index=True
    )
    created_by_ref: Mapped[str | None] = mapped_column(String(100))
    # The pattern as received: a revoked import is passed on with it (bank signals are gone).
    pattern: Mapped[str | None] = mapped_column(Text)
    # The originator's created/modified/revoked, passed on unchanged when re-shared.
    stix_created: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stix_modified: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stix_revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    confidence: Mapped[int | None] = mapped_column(Integer)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Sighting(Base):
    """How often an organisation matched an item: counts and times only, never user data."""

    __tablename__ = "exchange_sightings"
    __table_args__ = (UniqueConstraint("organisation_id", "item_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    organisation_id: Mapped[str] = mapped_column(String(40), index=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("bank_items.id", ondelete="CASCADE"))
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Dispute(Base):
    """Per-signal disputed state, read by cases/policy before any automatic action."""

    __tablename__ = "exchange_disputes"

    signal_id: Mapped[int] = mapped_column(
        ForeignKey("signals.id", ondelete="CASCADE"), primary_key=True
    )
    disputed: Mapped[bool] = mapped_column(Boolean, default=False)
    disputes: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class TaxiiStatus(Base):
    """A TAXII 2.1 status resource for one POST of objects."""

    __tablename__ = "exchange_taxii_status"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    organisation_id: Mapped[str] = mapped_column(String(40), index=True)
    collection_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    request_timestamp: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    total_count: Mapped[int] = mapped_column(Integer, default=0)
    success_count: Mapped[int] = mapped_column(Integer, default=0)
    failure_count: Mapped[int] = mapped_column(Integer, default=0)
    pending_count: Mapped[int] = mapped_column(Integer, default=0)
    details: Mapped[dict] = mapped_column(JSON, default=dict)


class FeedCheckpoint(Base):
    """How far a hash-list (or other checkpointed file) import into a bank has got."""

    __tablename__ = "exchange_feed_checkpoints"

    bank_id: Mapped[str] = mapped_column(
        ForeignKey("banks.id", ondelete="CASCADE"), primary_key=True
    )
    feed: Mapped[str] = mapped_column(String(200), primary_key=True)
    checkpoint: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


# Feeds page a bank's items by update time (migration exchange_0001 creates it).
Index("ix_exchange_bank_items_updated", BankItem.bank_id, BankItem.updated_at)
