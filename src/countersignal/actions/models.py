"""Action tables: webhook endpoints, the durable outbox of deliveries, the evidence vault.

No foreign keys point into other packages' tables (cases refer to these by id and these refer
to cases by id), so each package's migration branch stands alone.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from countersignal.db import Base, UTCDateTime, new_id, utcnow

OUTBOX_STATES = ("pending", "delivered", "dead")
VAULT_PURPOSES = ("review", "evidence")


class WebhookEndpoint(Base):
    """Where a platform receives action events; the signing secret is stored encrypted."""

    __tablename__ = "actions_webhook_endpoints"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("hook"))
    organisation_id: Mapped[str] = mapped_column(String(40), index=True)
    url: Mapped[str] = mapped_column(Text)
    secret_ciphertext: Mapped[str] = mapped_column(Text)
    # Event names this endpoint wants; empty means every event.
    events: Mapped[list] = mapped_column(JSON, default=list)
    # Private, loopback and link-local targets are refused unless explicitly allowed.
    allow_private: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboxMessage(Base):
    """One event for one endpoint, written in the transaction that caused it, delivered at
    least once by the worker with the same idempotency key on every attempt."""

    __tablename__ = "actions_outbox"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "idempotency_key"),
        Index("ix_actions_outbox_due", "status", "next_attempt_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("msg"))
    organisation_id: Mapped[str] = mapped_column(String(40), index=True)
    endpoint_id: Mapped[str] = mapped_column(
        ForeignKey("actions_webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    event: Mapped[str] = mapped_column(String(100))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A worker that claimed the message holds it until then; a crashed worker's claim lapses.
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What the platform answered (its reference for the action), synchronously or later.
    acknowledgement: Mapped[dict | None] = mapped_column(JSON)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class VaultEntry(Base):
    """Preserved content and metadata. The blob lives encrypted on disk under its keyed
    address; the metadata is encrypted in ``metadata_ciphertext``; both go at ``retain_until``."""

    __tablename__ = "actions_vault_entries"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("vlt"))
    organisation_id: Mapped[str] = mapped_column(String(40), index=True)
    case_id: Mapped[str | None] = mapped_column(String(40), index=True)
    submission_id: Mapped[str | None] = mapped_column(String(40), index=True)
    blob_address: Mapped[str | None] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer, default=0)
    content_type: Mapped[str] = mapped_column(String(200), default="")
    metadata_ciphertext: Mapped[str] = mapped_column(Text, default="")
    key_id: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(16), default="review")
    retain_until: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    extension_reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
