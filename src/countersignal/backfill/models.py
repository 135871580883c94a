"""Backfill runs, their finished chunks (the checkpoint) and what they found."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from countersignal.banks.models import BigId
from countersignal.db import Base, UTCDateTime, new_id, utcnow


class BackfillRun(Base):
    __tablename__ = "backfill_runs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("bf"))
    organisation_id: Mapped[str] = mapped_column(String(40), index=True)
    source: Mapped[str] = mapped_column(Text)
    # sha256 of the ordered path list: a resume must see the same archive in the same order.
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    total_items: Mapped[int] = mapped_column(Integer)
    chunk_size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="running")
    items_done: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    matches: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class BackfillChunk(Base):
    """A chunk written here is finished: its results committed in the same transaction."""

    __tablename__ = "backfill_chunks"
    __table_args__ = (UniqueConstraint("run_id", "chunk"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("backfill_runs.id", ondelete="CASCADE"))
    chunk: Mapped[int] = mapped_column(Integer)
    items: Mapped[int] = mapped_column(Integer)
    errors: Mapped[list] = mapped_column(JSON, default=list)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BackfillMatch(Base):
    __tablename__ = "backfill_matches"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(
        ForeignKey("backfill_runs.id", ondelete="CASCADE"), index=True
    )
    path: Mapped[str] = mapped_column(Text)
    signal_type: Mapped[str] = mapped_column(String(32))
    signal_id: Mapped[int] = mapped_column(BigInteger)
    item_id: Mapped[str] = mapped_column(String(40))
    bank_id: Mapped[str] = mapped_column(String(40))
    distance: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
