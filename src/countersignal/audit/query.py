"""Reading the audit log: filtered, newest first, paged by sequence number."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from countersignal.audit.models import AuditEvent
from countersignal.errors import InvalidInput

MAX_PAGE = 1000


def list_events(
    session: Session,
    *,
    organisation_id: str | None = None,
    action: str | None = None,
    actor_id: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_seq: int | None = None,
    limit: int = 100,
) -> list[AuditEvent]:
    """Events matching every given filter, newest first.

    ``action`` ending in ``.`` matches a namespace (``"token."`` → every token action).
    Page backwards by passing the last ``seq`` you got as ``before_seq``. Callers serving one
    tenant check ``require(principal, "audit:read")`` and pass
    ``organisation_id=principal.organisation_id``.
    """
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}")
    query = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(limit)
    if organisation_id is not None:
        query = query.where(AuditEvent.organisation_id == organisation_id)
    if action is not None:
        if action.endswith("."):
            query = query.where(AuditEvent.action.startswith(action, autoescape=True))
        else:
            query = query.where(AuditEvent.action == action)
    if actor_id is not None:
        query = query.where(AuditEvent.actor_id == actor_id)
    if target_type is not None:
        query = query.where(AuditEvent.target_type == target_type)
    if target_id is not None:
        query = query.where(AuditEvent.target_id == target_id)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    if until is not None:
        query = query.where(AuditEvent.at < until)
    if before_seq is not None:
        query = query.where(AuditEvent.seq < before_seq)
    return list(session.scalars(query))
