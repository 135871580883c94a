"""Bank tables: banks, items (one piece of known content), signals, labels, opinions.

``signals.id`` is an integer because it is what the in-memory indexes store (8 bytes each).
``signal_changes`` is the ordered log of signal additions and removals that keeps every index
replica current without rebuilds (a snapshot records the last sequence number it has applied).
It also carries ``meta`` entries, written whenever a bank's or an item's metadata changes, so
that every replica drops the match metadata it caches (see ``index.matcher.ItemMetadata``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from countersignal.db import Base, UTCDateTime, new_id, utcnow

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a real BIGINT.
BigId = BigInteger().with_variant(Integer, "sqlite")

TLP_LEVELS = ("CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED")
LABEL_KINDS = ("designated_entity", "behaviour", "tier", "other")
TIERS = ("threat_to_life", "crisis", "designated_entity", "promotional")
OPINIONS = ("agree", "disagree", "false_positive")


class Bank(Base):
    __tablename__ = "banks"
    __table_args__ = (UniqueConstraint("organisation_id", "name"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("bank"))
    organisation_id: Mapped[str] = mapped_column(String(40), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    tlp: Mapped[str] = mapped_column(String(16), default="AMBER")
    # Only banks marked trusted may feed automatic actions (and only under an explicit rule).
    trusted: Mapped[bool] = mapped_column(Boolean, default=False)
    local_only: Mapped[bool] = mapped_column(Boolean, default=False)
    matching_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    items: Mapped[list[BankItem]] = relationship(back_populates="bank", passive_deletes=True)


class BankItem(Base):
    __tablename__ = "bank_items"
    __table_args__ = (Index("ix_bank_items_bank_external", "bank_id", "external_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("item"))
    bank_id: Mapped[str] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"), index=True)
    external_id: Mapped[str | None] = mapped_column(String(300))
    # Provenance: who put this here and from where (an organisation, a list, a partner feed).
    source: Mapped[str] = mapped_column(String(200), default="")
    source_ref: Mapped[str | None] = mapped_column(String(500))
    source_organisation_id: Mapped[str | None] = mapped_column(String(40))
    tlp: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    bank: Mapped[Bank] = relationship(back_populates="items")
    labels: Mapped[list[Label]] = relationship(
        back_populates="item", cascade="all, delete-orphan", lazy="selectin"
    )
    signals: Mapped[list[Signal]] = relationship(
        back_populates="item", cascade="all, delete-orphan", lazy="selectin"
    )


class Label(Base):
    __tablename__ = "bank_item_labels"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    item_id: Mapped[str] = mapped_column(
        ForeignKey("bank_items.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(300))
    # e.g. "UN:QDe.004" for a designated entity, with the list it comes from.
    reference: Mapped[str | None] = mapped_column(String(300))

    item: Mapped[BankItem] = relationship(back_populates="labels")


class Signal(Base):
    __tablename__ = "signals"
    __table_args__ = (
        UniqueConstraint("item_id", "type", "value"),
        Index("ix_signals_type_value", "type", "value"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    item_id: Mapped[str] = mapped_column(
        ForeignKey("bank_items.id", ondelete="CASCADE"), index=True
    )
    bank_id: Mapped[str] = mapped_column(String(40), index=True)
    type: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(Text)
    quality: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    item: Mapped[BankItem] = relationship(back_populates="signals")
    opinions: Mapped[list[Opinion]] = relationship(
        back_populates="signal", cascade="all, delete-orphan"
    )


class Opinion(Base):
    """An organisation's view of a signal; one current opinion per organisation."""

    __tablename__ = "opinions"
    __table_args__ = (UniqueConstraint("signal_id", "organisation_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    signal_id: Mapped[int] = mapped_column(ForeignKey("signals.id", ondelete="CASCADE"))
    organisation_id: Mapped[str] = mapped_column(String(40), index=True)
    opinion: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    signal: Mapped[Signal] = relationship(back_populates="opinions")


class SignalChange(Base):
    """Ordered log of index-relevant changes: replicas replay it from their snapshot's seq."""

    __tablename__ = "signal_changes"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    signal_id: Mapped[int] = mapped_column(BigInteger, index=True)
    type: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(Text)
    op: Mapped[str] = mapped_column(String(8))  # "add" | "remove" | "meta"
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


META_OP = "meta"


@event.listens_for(Session, "before_flush")
def _log_metadata_changes(session: Session, _flush_context, _instances) -> None:
    """One ``meta`` change per flush that edits what a match reports about a bank or an item
    (name, TLP, trust, matching switch, provenance, revocation, labels).

    A flush hook rather than calls in each service: any path that edits this metadata through
    the ORM invalidates the replicas' caches, including ones written later. New items are not
    changes (nothing can have cached them); deleted ones log their signal removals.
    """
    changed = any(
        isinstance(obj, (Bank, BankItem)) and session.is_modified(obj, include_collections=False)
        for obj in session.dirty
    ) or any(
        isinstance(obj, Label) and obj.item_id is not None
        for obj in (*session.new, *session.deleted)
    )
    if changed:
        session.add(SignalChange(signal_id=0, type="", value="", op=META_OP))
