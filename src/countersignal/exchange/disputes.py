"""Disputed state of signals: ThreatExchange's DISPUTED, decided by trusted partners.

A signal is disputed when at least ``dispute_threshold`` trusted partners of the bank's owner
hold a ``disagree`` or ``false_positive`` opinion of it. Cases/policy read :func:`is_disputed`
before any automatic action and send disputed matches to human review instead.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from countersignal.banks.models import Bank, Opinion, Signal
from countersignal.exchange.models import Dispute, Partner
from countersignal.exchange.settings import get_exchange_settings

DISPUTING = ("disagree", "false_positive")


def is_disputed(session: Session, signal_id: int) -> bool:
    """Whether trusted partners dispute this signal (auto-actions must stop; review it)."""
    return bool(session.scalar(select(Dispute.disputed).where(Dispute.signal_id == signal_id)))


def disputed_signals(session: Session, organisation_id: str) -> list[int]:
    """Ids of this organisation's disputed signals (for a review queue)."""
    return list(
        session.scalars(
            select(Dispute.signal_id)
            .join(Signal, Signal.id == Dispute.signal_id)
            .join(Bank, Bank.id == Signal.bank_id)
            .where(Dispute.disputed.is_(True), Bank.organisation_id == organisation_id)
            .order_by(Dispute.signal_id)
        )
    )


def recompute_disputes(
    session: Session, signal_ids: Iterable[int], *, threshold: int | None = None
) -> None:
    """Refresh the stored disputed state of these signals from the opinions held now."""
    signal_ids = sorted(set(signal_ids))
    if not signal_ids:
        return
    threshold = threshold or get_exchange_settings().dispute_threshold
    trusted = (
        select(Partner.partner_organisation_id)
        .join(Bank, Bank.organisation_id == Partner.organisation_id)
        .where(Bank.id == Signal.bank_id, Partner.trusted.is_(True), Partner.enabled.is_(True))
    )
    counts = dict(
        session.execute(
            select(Signal.id, func.count(Opinion.id))
            .join(Opinion, Opinion.signal_id == Signal.id)
            .where(
                Signal.id.in_(signal_ids),
                Opinion.opinion.in_(DISPUTING),
                Opinion.organisation_id.in_(trusted.scalar_subquery()),
            )
            .group_by(Signal.id)
        ).all()
    )
    existing = {
        d.signal_id: d
        for d in session.scalars(select(Dispute).where(Dispute.signal_id.in_(signal_ids)))
    }
    live = set(session.scalars(select(Signal.id).where(Signal.id.in_(signal_ids))))
    for signal_id in signal_ids:
        if signal_id not in live:
            continue
        count = counts.get(signal_id, 0)
        row = existing.get(signal_id)
        if row is None:
            if count == 0:
                continue
            row = Dispute(signal_id=signal_id)
            session.add(row)
        row.disputes, row.disputed = count, count >= threshold
    session.flush()
