"""Tables of the classify package: designation lists, their versions, designations and aliases,
which lists each organisation uses, per-organisation classifier settings, and the text-model
registry.

Designations are never deleted: a de-listing marks the row inactive and records the list
version that removed it, so every past decision can still cite what the list said then.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from countersignal.db import Base, UTCDateTime, id_column_type, new_id, utcnow


class DesignationList(Base):
    """A cited source of designations, e.g. the UN Security Council consolidated list."""

    __tablename__ = "classify_lists"

    id: Mapped[str] = mapped_column(
        id_column_type(), primary_key=True, default=lambda: new_id("dlist")
    )
    name: Mapped[str] = mapped_column(String(200), unique=True)
    format: Mapped[str] = mapped_column(String(20))  # "un-xml" | "csv"
    source_url: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    versions: Mapped[list[ListVersion]] = relationship(
        back_populates="designation_list", order_by="ListVersion.loaded_at"
    )


class ListVersion(Base):
    """One load of a list: where it came from, its hash, and what changed against the last."""

    __tablename__ = "classify_list_versions"
    __table_args__ = (UniqueConstraint("list_id", "sequence"),)

    id: Mapped[str] = mapped_column(
        id_column_type(), primary_key=True, default=lambda: new_id("dlver")
    )
    list_id: Mapped[str] = mapped_column(ForeignKey("classify_lists.id", ondelete="CASCADE"))
    sequence: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(2000))  # file path or URL it was read from
    sha256: Mapped[str] = mapped_column(String(64))
    generated_at: Mapped[str | None] = mapped_column(String(64))  # as the publisher wrote it
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    total: Mapped[int] = mapped_column(Integer)
    added: Mapped[int] = mapped_column(Integer)
    changed: Mapped[int] = mapped_column(Integer)
    delisted: Mapped[int] = mapped_column(Integer)
    # {"added": [ref], "changed": [{"reference", "fields"}], "delisted": [ref]}
    diff: Mapped[dict] = mapped_column(JSON)

    designation_list: Mapped[DesignationList] = relationship(back_populates="versions")


class Designation(Base):
    """A designated individual or entity on one list, keyed by its reference number."""

    __tablename__ = "classify_designations"
    __table_args__ = (UniqueConstraint("list_id", "reference"),)

    id: Mapped[str] = mapped_column(
        id_column_type(), primary_key=True, default=lambda: new_id("desig")
    )
    list_id: Mapped[str] = mapped_column(
        ForeignKey("classify_lists.id", ondelete="CASCADE"), index=True
    )
    reference: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20))  # "individual" | "entity"
    name: Mapped[str] = mapped_column(String(500))
    original_script_name: Mapped[str | None] = mapped_column(String(500))
    list_type: Mapped[str | None] = mapped_column(String(100))  # e.g. Al-Qaida, Taliban
    listed_on: Mapped[date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    first_version_id: Mapped[str] = mapped_column(ForeignKey("classify_list_versions.id"))
    changed_version_id: Mapped[str] = mapped_column(ForeignKey("classify_list_versions.id"))
    delisted_version_id: Mapped[str | None] = mapped_column(
        ForeignKey("classify_list_versions.id")
    )
    extra: Mapped[dict] = mapped_column(JSON, default=dict)

    designation_list: Mapped[DesignationList] = relationship()
    aliases: Mapped[list[DesignationAlias]] = relationship(
        back_populates="designation", cascade="all, delete-orphan", order_by="DesignationAlias.id"
    )


class DesignationAlias(Base):
    """A name a designation is known by; ``quality`` as the list states it."""

    __tablename__ = "classify_aliases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    designation_id: Mapped[str] = mapped_column(
        ForeignKey("classify_designations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(500))
    # primary | original | good | low | aka | fka
    quality: Mapped[str] = mapped_column(String(20))

    designation: Mapped[Designation] = relationship(back_populates="aliases")


class OrganisationList(Base):
    """A list an organisation has chosen to use (organisation ids are plain strings for now)."""

    __tablename__ = "classify_org_lists"

    organisation_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    list_id: Mapped[str] = mapped_column(
        ForeignKey("classify_lists.id", ondelete="CASCADE"), primary_key=True
    )
    enabled_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OrganisationClassifySettings(Base):
    """Per-organisation classifier switches; OCR is off unless an organisation turns it on."""

    __tablename__ = "classify_org_settings"

    organisation_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    ocr_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    ocr_languages: Mapped[str] = mapped_column(String(64), default="eng+ara+rus")


class TextModel(Base):
    """A trained text classifier: what it was trained on, how it measured, where it is stored."""

    __tablename__ = "classify_text_models"
    __table_args__ = (UniqueConstraint("organisation_id", "name", "version"),)

    id: Mapped[str] = mapped_column(
        id_column_type(), primary_key=True, default=lambda: new_id("tmodel")
    )
    organisation_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(40))  # "tfidf-char-lr" | "embedding-lr"
    positive_label: Mapped[str] = mapped_column(String(200))
    training_sha256: Mapped[str] = mapped_column(String(64))
    target_precision: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    metrics: Mapped[dict] = mapped_column(JSON)
    artifact_path: Mapped[str] = mapped_column(Text)
    artifact_sha256: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
