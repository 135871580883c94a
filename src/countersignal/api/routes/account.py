"""Who am I, index status for my organisation, and my organisation's audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from countersignal.api.deps import api_state, get_principal, get_session, requires
from countersignal.api.schemas import AuditEventOut, AuditPage, IndexStatus, Me
from countersignal.audit import list_events
from countersignal.auth import Principal
from countersignal.banks.models import Bank, Signal

router = APIRouter(prefix="/v1", tags=["account"])

DbSession = Annotated[Session, Depends(get_session)]


@router.get("/me", response_model=Me)
async def me(principal: Annotated[Principal, Depends(get_principal)]) -> Me:
    """The organisation, roles and permissions your token carries."""
    return Me(
        organisation_id=principal.organisation_id,
        user_id=principal.user_id,
        token_id=principal.token_id,
        roles=sorted(principal.roles),
        permissions=sorted(principal.permissions),
    )


@router.get("/index", response_model=IndexStatus)
def index_status(
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, Depends(requires("banks:read"))],
) -> IndexStatus:
    """Whether matching is ready and current, and your organisation's signals by type
    (deployment-wide index sizes are in ``/metrics``: they are not one tenant's business)."""
    status = api_state(request).keeper.status()
    counts = session.execute(
        select(Signal.type, func.count())
        .join(Bank, Bank.id == Signal.bank_id)
        .where(Bank.organisation_id == principal.organisation_id)
        .group_by(Signal.type)
    ).all()
    return IndexStatus(
        ready=bool(status and status["ready"]),
        applied_seq=status["applied_seq"] if status else None,
        sync_age_s=status["sync_age_s"] if status else None,
        signals={stype: n for stype, n in counts},
    )


@router.get("/audit", response_model=AuditPage)
def audit_log(
    session: DbSession,
    principal: Annotated[Principal, Depends(requires("audit:read"))],
    action: Annotated[str | None, Query(max_length=100, description="'bank.' for a namespace")]
    = None,
    actor_id: Annotated[str | None, Query(max_length=100)] = None,
    target_type: Annotated[str | None, Query(max_length=64)] = None,
    target_id: Annotated[str | None, Query(max_length=200)] = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    before_seq: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditPage:
    """Your organisation's audit events, newest first; page with ``before_seq``."""
    events = list_events(
        session,
        organisation_id=principal.organisation_id,
        action=action,
        actor_id=actor_id,
        target_type=target_type,
        target_id=target_id,
        since=since,
        until=until,
        before_seq=before_seq,
        limit=limit,
    )
    return AuditPage(
        events=[AuditEventOut.model_validate(e) for e in events],
        next_before_seq=events[-1].seq if len(events) == limit else None,
    )
