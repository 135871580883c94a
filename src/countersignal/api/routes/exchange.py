"""``GET /v1/exchange/partners``: how sharing with each partner is going (the TAXII routes
themselves live in ``taxii.py``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from countersignal.api.deps import get_session, requires
from countersignal.auth import Principal
from countersignal.exchange.sync import PartnerStatus, partner_status

router = APIRouter(prefix="/v1/exchange", tags=["exchange"])


@router.get("/partners", response_model=list[PartnerStatus])
def partners(
    session: Annotated[Session, Depends(get_session)],
    caller: Annotated[Principal, Depends(requires("banks:read"))],
) -> list[PartnerStatus]:
    """Per-partner sync status: checkpoint, last success, failures, objects in and out."""
    return partner_status(session, caller.organisation_id)
