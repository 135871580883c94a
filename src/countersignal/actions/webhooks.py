"""Webhooks to platforms: signed, durable, retried, idempotent, with a dead-letter list.

Delivery is *at least once*. :func:`enqueue` writes one outbox row per subscribed endpoint in
the same transaction as the decision that caused it, so an event exists if and only if its
cause committed. The worker (:func:`deliver_due`) claims due rows with a lease, posts them, and
records the outcome; a crash between posting and recording means the row is posted again after
its lease lapses — with the **same** ``Idempotency-Key``, which receivers must use to ignore
repeats. Failures back off exponentially (``base * 2**(attempt-1)``, capped); after
``max_attempts`` the message is *dead*: listed by :func:`list_dead_letters`, retried on request
with :func:`retry_dead_letter`.

Signing (like Stripe's scheme). Each request carries::

    Countersignal-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>

Receivers recompute the HMAC over the raw body bytes, compare in constant time, and reject
timestamps more than five minutes from their clock (replay window): :func:`verify_signature`
is the reference implementation (docs/due-process.md shows it standalone).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from countersignal.actions.crypto import Keyring
from countersignal.actions.models import OutboxMessage, WebhookEndpoint
from countersignal.actions.ssrf import check_url, pin
from countersignal.audit import Target, record
from countersignal.auth.principal import Principal, require, require_own
from countersignal.db import transaction, utcnow
from countersignal.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized

SIGNATURE_HEADER = "Countersignal-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
EVENT_HEADER = "Countersignal-Event"
DELIVERY_HEADER = "Countersignal-Delivery"
TOLERANCE_S = 300
MAX_ACK_BYTES = 4096

EVENTS = (
    "decision.remove",
    "decision.restrict",
    "decision.label",
    "decision.leave_up",
    "decision.reinstate",
    "case.escalated",
    "notice.content_provider",
    "removal_order.received",
    "removal_order.escalation",
)


@dataclass(frozen=True)
class RetryPolicy:
    """Back-off schedule: attempt n waits ``min(cap_s, base_s * 2**(n-1))`` after failing."""

    max_attempts: int = 8
    base_s: float = 30.0
    cap_s: float = 6 * 3600.0
    lease_s: float = 120.0
    timeout_s: float = 10.0

    def delay(self, attempts: int) -> timedelta:
        return timedelta(seconds=min(self.cap_s, self.base_s * 2 ** max(0, attempts - 1)))


@dataclass
class DeliveryReport:
    delivered: int = 0
    retrying: int = 0
    dead: int = 0


# --- signing -------------------------------------------------------------------------------


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The ``Countersignal-Signature`` header value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(
    secret: str, header: str, body: bytes, *, now: datetime | None = None,
    tolerance_s: int = TOLERANCE_S,
) -> int:
    """Check a received webhook; returns its timestamp or raises :class:`Unauthorized`.

    Any ``v1`` entry may match (several appear while a secret is being rotated)."""
    parts: dict[str, list[str]] = {}
    for item in (header or "").split(","):
        key, sep, value = item.strip().partition("=")
        if sep:
            parts.setdefault(key, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError) as exc:
        raise Unauthorized("webhook signature header has no valid timestamp") from exc
    current = int((now or utcnow()).timestamp())
    if abs(current - timestamp) > tolerance_s:
        raise Unauthorized("webhook timestamp outside the tolerance window (replay?)")
    expected = sign(secret, body, timestamp).rpartition("v1=")[2]
    if not any(hmac.compare_digest(expected, given) for given in parts.get("v1", [])):
        raise Unauthorized("webhook signature does not match")
    return timestamp


# --- endpoints -----------------------------------------------------------------------------


def register_endpoint(
    session: Session,
    principal: Principal,
    *,
    url: str,
    keyring: Keyring,
    events: list[str] | None = None,
    allow_private: bool = False,
    organisation_id: str | None = None,
) -> tuple[WebhookEndpoint, str]:
    """Register a platform endpoint; returns it and its signing secret (shown once, stored
    encrypted). Needs ``admin``: an endpoint decides where action data goes. Only the system
    principal (the operator at the CLI) may set ``allow_private``: a tenant must never be able
    to point deliveries into the deployment's own network."""
    require(principal, "admin")
    org = principal.organisation_for(organisation_id)
    if allow_private and not principal.is_system:
        raise Forbidden("only the deployment's operator (the CLI) may allow a private, "
                        "loopback or link-local webhook destination")
    unknown = sorted(set(events or ()) - set(EVENTS))
    if unknown:
        raise InvalidInput(f"unknown webhook event(s) {unknown}; known: {list(EVENTS)}")
    check_url(url, allow_private=allow_private)
    secret = "whsec_" + secrets.token_urlsafe(32)
    endpoint = WebhookEndpoint(
        organisation_id=org, url=url, events=sorted(set(events or ())),
        allow_private=allow_private, secret_ciphertext="",
    )
    session.add(endpoint)
    session.flush()
    endpoint.secret_ciphertext = keyring.encrypt_text(secret, context=f"webhook:{endpoint.id}")
    record(session, actor=principal.actor, action="webhook.register",
           target=Target("webhook_endpoint", endpoint.id), organisation_id=org,
           details={"url": url, "events": endpoint.events, "allow_private": allow_private})
    return endpoint, secret


def endpoint_secret(endpoint: WebhookEndpoint, keyring: Keyring) -> str:
    return keyring.decrypt_text(endpoint.secret_ciphertext, context=f"webhook:{endpoint.id}")


def list_endpoints(session: Session, principal: Principal) -> list[WebhookEndpoint]:
    require(principal, "admin")
    return list(session.scalars(
        select(WebhookEndpoint).where(principal.own(WebhookEndpoint.organisation_id))
        .order_by(WebhookEndpoint.created_at)
    ))


def deactivate_endpoint(session: Session, principal: Principal, endpoint_id: str) -> None:
    require(principal, "admin")
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    require_own(principal, endpoint.organisation_id if endpoint else None, what="endpoint")
    assert endpoint is not None
    endpoint.active = False
    record(session, actor=principal.actor, action="webhook.deactivate",
           target=Target("webhook_endpoint", endpoint.id),
           organisation_id=endpoint.organisation_id)


# --- outbox --------------------------------------------------------------------------------


def enqueue(
    session: Session,
    *,
    organisation_id: str,
    event: str,
    subject_id: str,
    data: dict,
    now: datetime | None = None,
) -> list[OutboxMessage]:
    """Queue ``event`` about ``subject_id`` for every active endpoint that wants it, inside the
    caller's transaction. The idempotency key is ``<event>:<subject_id>``: queueing the same
    event twice is a no-op, and every retry carries the same key."""
    if event not in EVENTS:
        raise InvalidInput(f"unknown webhook event {event!r}")
    now = now or utcnow()
    key = f"{event}:{subject_id}"
    endpoints = session.scalars(
        select(WebhookEndpoint).where(
            WebhookEndpoint.organisation_id == organisation_id, WebhookEndpoint.active.is_(True)
        )
    ).all()
    messages = []
    for endpoint in endpoints:
        if endpoint.events and event not in endpoint.events:
            continue
        existing = session.scalar(
            select(OutboxMessage).where(
                OutboxMessage.endpoint_id == endpoint.id, OutboxMessage.idempotency_key == key
            )
        )
        if existing is not None:
            messages.append(existing)
            continue
        message = OutboxMessage(
            organisation_id=organisation_id, endpoint_id=endpoint.id, event=event,
            idempotency_key=key, payload=data, status="pending", attempts=0,
            next_attempt_at=now, created_at=now, last_error="",
        )
        session.add(message)
        messages.append(message)
    session.flush()
    return messages


def request_body(message: OutboxMessage) -> bytes:
    """The exact bytes posted (and signed) for ``message``: identical on every attempt."""
    document = {
        "id": message.id,
        "event": message.event,
        "idempotency_key": message.idempotency_key,
        "created_at": message.created_at.isoformat(),
        "data": message.payload,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def deliver_due(
    factory: sessionmaker[Session],
    *,
    keyring: Keyring,
    client: httpx.Client | None = None,
    now: datetime | None = None,
    limit: int = 50,
    policy: RetryPolicy | None = None,
) -> DeliveryReport:
    """Post every due message once (claim, send, record); the worker calls this in a loop.

    Claims are leases taken with a conditional UPDATE, so concurrent workers (threads or
    processes, SQLite or PostgreSQL) never post the same message at the same time."""
    policy = policy or RetryPolicy()
    now = now or utcnow()
    with transaction(factory) as session:
        due = session.scalars(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.status == "pending",
                OutboxMessage.next_attempt_at <= now,
                or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now),
            )
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(limit)
        ).all()
    claimed = []
    for message_id in due:
        with transaction(factory) as session:
            taken = session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id == message_id,
                    OutboxMessage.status == "pending",
                    or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now),
                )
                .values(lease_until=now + timedelta(seconds=policy.lease_s))
            ).rowcount
        if taken == 1:
            claimed.append(message_id)
    report = DeliveryReport()
    if not claimed:
        return report  # the common case: no HTTP client (and its TLS context) built for nothing
    own_client = client is None
    client = client or httpx.Client(
        timeout=policy.timeout_s, follow_redirects=False, trust_env=False
    )
    try:
        for message_id in claimed:
            outcome = _deliver_one(factory, message_id, keyring, client, now, policy)
            setattr(report, outcome, getattr(report, outcome) + 1)
    finally:
        if own_client:
            client.close()
    return report


def _deliver_one(factory, message_id, keyring, client, now, policy) -> str:
    with factory() as session:
        message = session.get(OutboxMessage, message_id)
        endpoint = session.get(WebhookEndpoint, message.endpoint_id)
        body = request_body(message)
        url, allow_private, key, event = (
            endpoint.url, endpoint.allow_private, message.idempotency_key, message.event
        )
        secret = endpoint_secret(endpoint, keyring)
        active = endpoint.active
    status, error, ack = None, "", None
    try:
        if not active:
            raise InvalidInput("the endpoint was deactivated; nothing was sent")
        target = pin(url, allow_private=allow_private)
        response = client.post(
            target.url,
            content=body,
            extensions={"sni_hostname": target.sni_hostname},
            headers={
                "Host": target.host_header,
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(secret, body, int(now.timestamp())),
                IDEMPOTENCY_HEADER: key,
                EVENT_HEADER: event,
                DELIVERY_HEADER: message_id,
                "User-Agent": "countersignal-webhooks/1",
            },
        )
        status = response.status_code
        if 200 <= status < 300:
            ack = _acknowledgement(response)
        else:
            error = f"HTTP {status}"
    except (httpx.HTTPError, InvalidInput) as exc:
        error = f"{type(exc).__name__}: {exc}"[:1000]
    with transaction(factory) as session:
        message = session.get(OutboxMessage, message_id)
        message.attempts += 1
        message.last_status, message.last_error, message.lease_until = status, error, None
        if ack is not None:
            message.status, message.delivered_at = "delivered", now
            if ack:
                message.acknowledgement, message.acknowledged_at = ack, now
            return "delivered"
        if message.attempts >= policy.max_attempts or not active:
            message.status = "dead"
            return "dead"
        message.next_attempt_at = now + policy.delay(message.attempts)
        return "retrying"


def _acknowledgement(response: httpx.Response) -> dict:
    """The platform's answer, kept as its acknowledgement (JSON object, else a text excerpt)."""
    raw = response.content[:MAX_ACK_BYTES]
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {"text": raw.decode("utf-8", "replace")}
    return value if isinstance(value, dict) else {"value": value}


def list_dead_letters(
    session: Session, principal: Principal, *, limit: int = 100
) -> list[OutboxMessage]:
    """Messages that exhausted their retries, newest first (the operator's to-do list)."""
    require(principal, "cases:read")
    return list(session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.status == "dead", principal.own(OutboxMessage.organisation_id))
        .order_by(OutboxMessage.created_at.desc())
        .limit(limit)
    ))


def retry_dead_letter(
    session: Session, principal: Principal, message_id: str, *, now: datetime | None = None
) -> OutboxMessage:
    """Put a dead message back in the queue with a fresh attempt budget (same key)."""
    require(principal, "cases:decide")
    message = session.get(OutboxMessage, message_id)
    require_own(principal, message.organisation_id if message else None, what="message")
    assert message is not None
    if message.status != "dead":
        raise Conflict(f"message {message_id} is {message.status}, not dead")
    message.status, message.attempts = "pending", 0
    message.next_attempt_at, message.lease_until = now or utcnow(), None
    record(session, actor=principal.actor, action="webhook.retry",
           target=Target("outbox_message", message.id), organisation_id=message.organisation_id,
           details={"event": message.event, "idempotency_key": message.idempotency_key})
    return message


def acknowledge(
    session: Session,
    principal: Principal,
    idempotency_key: str,
    *,
    reference: str,
    now: datetime | None = None,
) -> list[OutboxMessage]:
    """Record a platform's later acknowledgement (e.g. its takedown reference) of an event it
    received; matched by the idempotency key it was sent."""
    require(principal, "match")
    messages = list(session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.idempotency_key == idempotency_key,
            principal.own(OutboxMessage.organisation_id),
        )
    ))
    if not messages:
        raise NotFound("no webhook message with that idempotency key")
    now = now or utcnow()
    for message in messages:
        message.acknowledgement = {**(message.acknowledgement or {}), "reference": reference}
        message.acknowledged_at = now
        record(session, actor=principal.actor, action="webhook.acknowledge",
               target=Target("outbox_message", message.id),
               organisation_id=message.organisation_id, details={"reference": reference})
    return messages
