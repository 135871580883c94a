"""Audit tables: the append-only event log and its single chain-head row.

``audit_events`` is written only by :func:`countersignal.audit.record` and never updated or
deleted (database triggers refuse both; see migration ``audit_0001``). ``audit_chain_head`` is one
row holding the last sequence number and hash: appenders lock it to serialise, and it lets
:func:`countersignal.audit.verify` notice events cut from the end of the log.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from countersignal.db import Base, UTCDateTime, id_column_type

GENESIS_HASH = "0" * 64
"""``prev_hash`` of the first event: there is nothing before it."""

SeqType = BigInteger().with_variant(Integer(), "sqlite")


class AuditEvent(Base):
    """One thing someone (or the system) did; hashed together with the event before it."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_target", "target_type", "target_id"),)

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=False)
    id: Mapped[str] = mapped_column(id_column_type(), unique=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True), index=True)
    organisation_id: Mapped[str | None] = mapped_column(id_column_type(), index=True)
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str] = mapped_column(String(100), index=True)
    actor_token_id: Mapped[str | None] = mapped_column(id_column_type())
    action: Mapped[str] = mapped_column(String(100), index=True)
    target_type: Mapped[str | None] = mapped_column(String(64))
    target_id: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditChainHead(Base):
    """The tip of the one deployment-wide chain (exactly one row, ``id = 1``)."""

    __tablename__ = "audit_chain_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(SeqType)
    last_hash: Mapped[str] = mapped_column(String(64))
