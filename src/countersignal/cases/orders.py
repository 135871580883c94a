"""TCO removal orders: intake, the one-hour clock, escalations, the response to the authority.

An order's deadline is ``received_at + 1 hour`` (Art. 3(3)). Intake opens a case that the
queue ranks after threat-to-life and crisis content and before everything else, with the
order's deadline as its SLA. The worker calls :func:`run_escalations`: when 15 and then 5
minutes are left (and when the deadline passes) a :class:`Notifier` is told, once each — a
unique row per (order, minutes) makes "once" hold across several workers. The response is
recorded as done, or not done with one of the Regulation's reasons (force majeure or de facto
impossibility, manifest errors, insufficient information — Art. 3(7)–(8)); a response after
the deadline shows as late.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from countersignal.actions import webhooks
from countersignal.audit import Actor, Target, record
from countersignal.auth.principal import Principal, require, require_own
from countersignal.cases.models import ORDER_REASONS, OrderEscalation, RemovalOrder
from countersignal.db import utcnow
from countersignal.errors import Conflict, InvalidInput

ORDER_WINDOW = timedelta(hours=1)
ESCALATION_MINUTES = (15, 5, 0)


class Notifier(Protocol):
    """Where escalations go: a webhook (default), an e-mail relay, a pager — anything."""

    def notify(self, session: Session, *, organisation_id: str, event: str, subject_id: str,
               data: dict, now: datetime) -> None: ...


class WebhookNotifier:
    """Escalations as ``removal_order.escalation`` webhooks through the durable outbox."""

    def notify(self, session, *, organisation_id, event, subject_id, data, now) -> None:
        webhooks.enqueue(session, organisation_id=organisation_id, event=event,
                         subject_id=subject_id, data=data, now=now)


@dataclass
class EmailNotifier:
    """Escalations by e-mail through an SMTP relay (sent at once; the DB row records it)."""

    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]

    def notify(self, session, *, organisation_id, event, subject_id, data, now) -> None:
        import smtplib
        from email.message import EmailMessage

        message = EmailMessage()
        message["From"], message["To"] = self.sender, ", ".join(self.recipients)
        message["Subject"] = (f"[countersignal] removal order {data['order_id']}: "
                              f"{data['minutes_left']} minutes left")
        message.set_content("\n".join(f"{k}: {v}" for k, v in sorted(data.items())))
        with smtplib.SMTP(self.host, self.port, timeout=10) as smtp:
            smtp.send_message(message)


def receive_order(
    session: Session,
    principal: Principal,
    *,
    authority: str,
    authority_country: str,
    authority_reference: str,
    legal_basis: str,
    content_reference: str,
    content_id: str | None = None,
    received_at: datetime | None = None,
    notify_provider: bool = True,
    withhold_reason: str = "",
    withhold_until: datetime | None = None,
    organisation_id: str | None = None,
    now: datetime | None = None,
) -> RemovalOrder:
    """Record a removal order and open its case; the clock runs from ``received_at``."""
    from countersignal.cases.service import open_case

    require(principal, "cases:decide")
    org = principal.organisation_for(organisation_id)
    for name, value in (("authority", authority), ("authority_reference", authority_reference),
                        ("legal_basis", legal_basis), ("content_reference", content_reference)):
        if not (value or "").strip():
            raise InvalidInput(f"a removal order needs {name}")
    if len(authority_country) != 2 or not authority_country.isalpha():
        raise InvalidInput("authority_country must be an ISO 3166-1 alpha-2 code")
    if not notify_provider and not (withhold_reason or "").strip():
        raise InvalidInput("withholding the notice needs the authority's reason (Art. 11(3))")
    now = now or utcnow()
    received_at = received_at or now
    if received_at.tzinfo is None:
        raise InvalidInput("received_at must be timezone-aware (UTC)")
    order = RemovalOrder(
        organisation_id=org, authority=authority.strip(),
        authority_country=authority_country.upper(),
        authority_reference=authority_reference.strip(), legal_basis=legal_basis.strip(),
        content_reference=content_reference.strip(), content_id=content_id,
        received_at=received_at, deadline=received_at + ORDER_WINDOW,
        notify_provider=notify_provider, withhold_reason=withhold_reason or "",
        withhold_until=withhold_until, status="open", response_explanation="",
    )
    session.add(order)
    session.flush()
    record(session, actor=principal.actor, action="order.receive",
           target=Target("removal_order", order.id), organisation_id=org,
           details={"authority": order.authority, "reference": order.authority_reference,
                    "deadline": order.deadline.isoformat()})
    open_case(session, principal, organisation_id=org, tier="removal_order",
              reasons=[f"removal order {order.authority_reference} from {order.authority}: "
                       f"{order.legal_basis}"],
              removal_order=order, now=now)
    webhooks.enqueue(session, organisation_id=org, event="removal_order.received",
                     subject_id=order.id, data=order_payload(order, now), now=now)
    return order


def order_payload(order: RemovalOrder, now: datetime) -> dict:
    return {
        "order_id": order.id,
        "authority": order.authority,
        "authority_reference": order.authority_reference,
        "content_reference": order.content_reference,
        "content_id": order.content_id,
        "deadline": order.deadline.isoformat(),
        "minutes_left": max(0, int((order.deadline - now).total_seconds() // 60)),
    }


@dataclass(frozen=True)
class OrderClock:
    deadline: datetime
    remaining: timedelta
    overdue: bool
    late: bool | None  # None until answered


def clock(order: RemovalOrder, now: datetime | None = None) -> OrderClock:
    """Where an order stands against its one-hour deadline."""
    now = now or utcnow()
    late = None if order.responded_at is None else order.responded_at > order.deadline
    reference = order.responded_at or now
    return OrderClock(order.deadline, order.deadline - reference,
                      order.responded_at is None and now > order.deadline, late)


def run_escalations(
    session: Session, notifier: Notifier, *, now: datetime | None = None,
) -> list[tuple[str, int]]:
    """Fire each due escalation of every unanswered order once; returns what fired."""
    now = now or utcnow()
    horizon = now + timedelta(minutes=max(ESCALATION_MINUTES))
    orders = session.scalars(
        select(RemovalOrder).where(RemovalOrder.status == "open", RemovalOrder.deadline <= horizon)
    ).all()
    fired = []
    for order in orders:
        done = {e.minutes_left for e in order.escalations}
        for minutes in ESCALATION_MINUTES:
            if minutes in done or order.deadline - now > timedelta(minutes=minutes):
                continue
            try:
                with session.begin_nested():
                    session.add(OrderEscalation(order_id=order.id, minutes_left=minutes,
                                                fired_at=now))
                    session.flush()
            except IntegrityError:
                continue  # another worker fired it
            notifier.notify(session, organisation_id=order.organisation_id,
                            event="removal_order.escalation",
                            subject_id=f"{order.id}:{minutes}",
                            data={**order_payload(order, now), "threshold_minutes": minutes},
                            now=now)
            record(session, actor=Actor.system("worker"), action="order.escalate",
                   target=Target("removal_order", order.id),
                   organisation_id=order.organisation_id, details={"minutes_left": minutes})
            fired.append((order.id, minutes))
    return fired


def respond_to_order(
    session: Session,
    principal: Principal,
    order_id: str,
    *,
    outcome: str,
    reason: str | None = None,
    explanation: str = "",
    now: datetime | None = None,
) -> RemovalOrder:
    """Record the answer to the authority: ``done``, or ``not_done`` with a reason."""
    from countersignal.cases.service import actor_key

    require(principal, "cases:decide")
    order = session.get(RemovalOrder, order_id)
    require_own(principal, order.organisation_id if order else None, what="removal order")
    assert order is not None
    return record_response(session, order, outcome=outcome, reason=reason,
                           explanation=explanation, responded_by=actor_key(principal),
                           now=now or utcnow(), actor=principal.actor)


def record_response(
    session: Session, order: RemovalOrder, *, outcome: str, reason: str | None,
    explanation: str, responded_by: str, now: datetime, actor: Actor,
) -> RemovalOrder:
    if order.status != "open":
        raise Conflict(f"removal order {order.id} was already answered ({order.status})")
    if outcome == "done":
        reason = None
    elif outcome == "not_done":
        if reason not in ORDER_REASONS:
            raise InvalidInput(f"not acting on an order needs a reason: {', '.join(ORDER_REASONS)}")
        if not explanation.strip():
            raise InvalidInput("explain to the authority why the order was not acted on")
    else:
        raise InvalidInput("outcome must be 'done' or 'not_done'")
    order.status, order.responded_at, order.responded_by = outcome, now, responded_by
    order.response_reason, order.response_explanation = reason, explanation.strip()
    late = now > order.deadline
    record(session, actor=actor, action="order.respond",
           target=Target("removal_order", order.id), organisation_id=order.organisation_id,
           details={"outcome": outcome, "reason": reason, "late": late})
    return order


def list_orders(
    session: Session, principal: Principal, *, open_only: bool = False, limit: int = 100,
    organisation_id: str | None = None,
) -> list[RemovalOrder]:
    """Orders, nearest deadline first (``organisation_id`` narrows a system caller's view)."""
    require(principal, "cases:read")
    query = select(RemovalOrder).where(principal.own(RemovalOrder.organisation_id))
    if organisation_id:
        query = query.where(RemovalOrder.organisation_id == organisation_id)
    if open_only:
        query = query.where(RemovalOrder.status == "open")
    return list(session.scalars(query.order_by(RemovalOrder.deadline).limit(limit)))


def get_order(session: Session, principal: Principal, order_id: str) -> RemovalOrder:
    require(principal, "cases:read")
    order = session.get(RemovalOrder, order_id)
    require_own(principal, order.organisation_id if order else None, what="removal order")
    assert order is not None
    return order
