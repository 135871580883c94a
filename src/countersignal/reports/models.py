"""Report tables: published transparency reports, frozen.

A transparency report is computed from live tables for any range; *publishing* one freezes the
figures (JSON) with a SHA-256 digest, so what was published can be shown again unchanged even
after later corrections to the underlying records.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from countersignal.db import Base, UTCDateTime, new_id, utcnow


class PublishedReport(Base):
    __tablename__ = "reports_published"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("rpt"))
    organisation_id: Mapped[str] = mapped_column(String(40), index=True)
    period_start: Mapped[datetime] = mapped_column(UTCDateTime)
    period_end: Mapped[datetime] = mapped_column(UTCDateTime)
    figures: Mapped[dict] = mapped_column(JSON)
    sha256: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_by: Mapped[str] = mapped_column(String(200))
