"""Case tables: policies, submissions and their evidence, cases, decisions, removal orders,
appeals, notices and statements of reasons.

Signals and bank items are referenced by id without foreign keys: a bank item may be revoked
or deleted later, and the case must still say what it matched at the time (the match row keeps
a copy of the signal, bank and labels).
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
from sqlalchemy.orm import Mapped, mapped_column, relationship

from countersignal.db import Base, UTCDateTime, new_id, utcnow

BigId = BigInteger().with_variant(Integer, "sqlite")

# Queue order: lower first. Removal orders rank between crisis content and designated entities.
PRIORITIES = {
    "threat_to_life": 0,
    "crisis": 1,
    "removal_order": 2,
    "designated_entity": 3,
    "promotional": 4,
    "other": 4,
}
ACTIONS = ("remove", "restrict", "label", "leave_up", "escalate")
FINAL_ACTIONS = ("remove", "restrict", "label", "leave_up")
RESTRICTIVE_ACTIONS = ("remove", "restrict", "label")
GROUND_TYPES = ("legal", "terms_of_service")
CASE_STATES = ("open", "pending_confirmation", "escalated", "decided", "reinstated")
DECISION_STATES = ("pending", "effective", "rejected", "reversed")
ORDER_REASONS = ("force_majeure", "manifest_error", "insufficient_information")


class Policy(Base):
    """An organisation's policy document (rules as data, see ``cases.policy``), versioned."""

    __tablename__ = "cases_policies"

    organisation_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    document: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(200), default="")


class Submission(Base):
    """Content a platform sent: its own ids for the content and uploader, and the signals."""

    __tablename__ = "cases_submissions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("sub"))
    organisation_id: Mapped[str] = mapped_column(String(40), index=True)
    content_id: Mapped[str] = mapped_column(String(500))
    uploader_id: Mapped[str | None] = mapped_column(String(500))
    territory: Mapped[str | None] = mapped_column(String(8))
    content_type: Mapped[str] = mapped_column(String(200), default="")
    signals: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    matches: Mapped[list[SubmissionMatch]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="SubmissionMatch.id"
    )
    findings: Mapped[list[Finding]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="Finding.id"
    )


class SubmissionMatch(Base):
    """One bank signal a submission matched, as it stood then (labels, trust, dispute)."""

    __tablename__ = "cases_matches"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    submission_id: Mapped[str] = mapped_column(
        ForeignKey("cases_submissions.id", ondelete="CASCADE"), index=True
    )
    signal_id: Mapped[int] = mapped_column(BigInteger, index=True)
    signal_type: Mapped[str] = mapped_column(String(32))
    signal_value: Mapped[str] = mapped_column(Text)
    distance: Mapped[float] = mapped_column(Float)
    bank_id: Mapped[str] = mapped_column(String(40))
    bank_name: Mapped[str] = mapped_column(String(200))
    bank_trusted: Mapped[bool] = mapped_column(Boolean, default=False)
    item_id: Mapped[str] = mapped_column(String(40))
    labels: Mapped[list] = mapped_column(JSON, default=list)
    disputed: Mapped[bool] = mapped_column(Boolean, default=False)
    rule: Mapped[str | None] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(32), default="")


class Finding(Base):
    """One classifier result on a submission, with its reason (which model, score, threshold)."""

    __tablename__ = "cases_findings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    submission_id: Mapped[str] = mapped_column(
        ForeignKey("cases_submissions.id", ondelete="CASCADE"), index=True
    )
    classifier: Mapped[str] = mapped_column(String(200))
    label: Mapped[str] = mapped_column(String(200))
    score: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float | None] = mapped_column(Float)
    reason: Mapped[dict] = mapped_column(JSON, default=dict)
    rule: Mapped[str | None] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(32), default="")


class RemovalOrder(Base):
    """A TCO removal order: who issued it, on what legal basis, and the one-hour clock."""

    __tablename__ = "cases_removal_orders"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("ord"))
    organisation_id: Mapped[str] = mapped_column(String(40), index=True)
    authority: Mapped[str] = mapped_column(String(300))
    authority_country: Mapped[str] = mapped_column(String(2))
    authority_reference: Mapped[str] = mapped_column(String(300))
    legal_basis: Mapped[str] = mapped_column(Text)
    content_reference: Mapped[str] = mapped_column(Text)
    content_id: Mapped[str | None] = mapped_column(String(500))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deadline: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # TCO Art. 11(3): the authority may ask that the content provider not be told (yet).
    notify_provider: Mapped[bool] = mapped_column(Boolean, default=True)
    withhold_reason: Mapped[str] = mapped_column(Text, default="")
    withhold_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="open")
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    response_reason: Mapped[str | None] = mapped_column(String(40))
    response_explanation: Mapped[str] = mapped_column(Text, default="")
    responded_by: Mapped[str | None] = mapped_column(String(200))

    escalations: Mapped[list[OrderEscalation]] = relationship(
        cascade="all, delete-orphan", lazy="selectin",
        order_by="OrderEscalation.minutes_left.desc()",
    )


class OrderEscalation(Base):
    """That the ``minutes_left`` warning for an order fired (unique: once each, any worker)."""

    __tablename__ = "cases_order_escalations"
    __table_args__ = (UniqueConstraint("order_id", "minutes_left"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(
        ForeignKey("cases_removal_orders.id", ondelete="CASCADE"), index=True
    )
    minutes_left: Mapped[int] = mapped_column(Integer)
    fired_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Case(Base):
    """What a human decides on (or what an automatic action is recorded against)."""

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_queue", "organisation_id", "status", "priority", "opened_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("case"))
    organisation_id: Mapped[str] = mapped_column(String(40), index=True)
    submission_id: Mapped[str | None] = mapped_column(
        ForeignKey("cases_submissions.id", ondelete="SET NULL"), index=True
    )
    removal_order_id: Mapped[str | None] = mapped_column(
        ForeignKey("cases_removal_orders.id", ondelete="SET NULL"), index=True
    )
    vault_entry_id: Mapped[str | None] = mapped_column(String(40))
    content_id: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(24), default="open")
    tier: Mapped[str] = mapped_column(String(32), default="other")
    priority: Mapped[int] = mapped_column(Integer, default=PRIORITIES["other"])
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sla_due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Why the case exists: the rules and evidence that opened it, in words for the reviewer.
    reasons: Mapped[list] = mapped_column(JSON, default=list)

    submission: Mapped[Submission | None] = relationship(lazy="selectin")
    removal_order: Mapped[RemovalOrder | None] = relationship(lazy="selectin")
    decisions: Mapped[list[Decision]] = relationship(
        back_populates="case", lazy="selectin", order_by="Decision.created_at"
    )


class Decision(Base):
    """A decision on a case: action, ground, explanation, who (or which rule) and when."""

    __tablename__ = "cases_decisions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("dec"))
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[str] = mapped_column(String(40), index=True)
    action: Mapped[str] = mapped_column(String(16))
    territories: Mapped[list] = mapped_column(JSON, default=list)
    ground_type: Mapped[str] = mapped_column(String(24))
    ground: Mapped[str] = mapped_column(Text)
    ground_reference_url: Mapped[str | None] = mapped_column(String(500))
    explanation: Mapped[str] = mapped_column(Text)
    automated: Mapped[bool] = mapped_column(Boolean, default=False)
    automated_detection: Mapped[bool] = mapped_column(Boolean, default=False)
    rule: Mapped[str | None] = mapped_column(String(200))
    decided_by: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="effective")
    requires_confirmation: Mapped[bool] = mapped_column(Boolean, default=False)
    confirmed_by: Mapped[str | None] = mapped_column(String(200))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    effective_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reversed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    case: Mapped[Case] = relationship(back_populates="decisions")


class Appeal(Base):
    """A content provider's complaint against a decision; answered within two weeks."""

    __tablename__ = "cases_appeals"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("apl"))
    organisation_id: Mapped[str] = mapped_column(String(40), index=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    decision_id: Mapped[str] = mapped_column(
        ForeignKey("cases_decisions.id", ondelete="CASCADE"), index=True
    )
    appellant_ref: Mapped[str] = mapped_column(String(500), default="")
    statement: Mapped[str] = mapped_column(Text)
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="open")
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    explanation: Mapped[str] = mapped_column(Text, default="")


class Notice(Base):
    """The content provider's notice of a decision: sent (via the platform) or withheld."""

    __tablename__ = "cases_notices"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("ntc"))
    organisation_id: Mapped[str] = mapped_column(String(40), index=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    decision_id: Mapped[str] = mapped_column(String(40), index=True)
    recipient_ref: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16))
    withheld_reason: Mapped[str] = mapped_column(Text, default="")
    withheld_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StatementRecord(Base):
    """The DSA statement of reasons produced for a restrictive decision (validated JSON)."""

    __tablename__ = "cases_statements"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("sor"))
    organisation_id: Mapped[str] = mapped_column(String(40), index=True)
    decision_id: Mapped[str] = mapped_column(
        ForeignKey("cases_decisions.id", ondelete="CASCADE"), unique=True
    )
    puid: Mapped[str] = mapped_column(String(500))
    document: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    exported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
