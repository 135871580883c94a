"""Organisations (tenants), their users and their API tokens.

Secrets are never stored: users keep an argon2 hash of their password, tokens a SHA-256 of the
whole token string. Only a token's 8-character ``prefix`` is kept in clear, to find it and to
show it in lists.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from countersignal.db import Base, UTCDateTime, id_column_type, utcnow

ORGANISATION_KINDS = ("platform", "newsroom", "partner", "authority")


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[str] = mapped_column(id_column_type(), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    country: Mapped[str] = mapped_column(String(2))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True), default=utcnow)


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(id_column_type(), primary_key=True)
    organisation_id: Mapped[str] = mapped_column(
        id_column_type(), ForeignKey("organisations.id"), index=True
    )
    email: Mapped[str] = mapped_column(String(320), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    roles: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True), default=utcnow)


class ApiToken(Base):
    """A bearer token. ``user_id`` is empty for service tokens (a platform's machine client)."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(id_column_type(), primary_key=True)
    organisation_id: Mapped[str] = mapped_column(
        id_column_type(), ForeignKey("organisations.id"), index=True
    )
    user_id: Mapped[str | None] = mapped_column(
        id_column_type(), ForeignKey("users.id"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(8), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    roles: Mapped[list[str]] = mapped_column(JSON)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(timezone=True))

    def state(self, now: datetime) -> str:
        """``active``, ``expired`` or ``revoked`` at ``now`` (for lists)."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"
