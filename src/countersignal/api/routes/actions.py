"""Webhook endpoints, dead letters, acknowledgements and the evidence vault over HTTP.

This router's lifespan also runs the background worker (webhook deliveries, removal-order
escalations, withheld notices, evidence purges) in a thread of the API process unless
``COUNTERSIGNAL_WORKER_IN_PROCESS=false``; FastAPI merges it into the app's lifespan.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from countersignal.actions import vault as vault_service
from countersignal.actions import webhooks
from countersignal.api.deps import get_principal, get_session
from countersignal.api.routes.cases import vault_of
from countersignal.auth import Principal


@asynccontextmanager
async def run_worker(app: FastAPI) -> AsyncIterator[None]:
    """The embedded default's in-process worker thread, for as long as the app runs."""
    from countersignal.cases.worker import worker_for

    runtime = app.state.api.runtime
    worker = worker_for(runtime).start() if runtime.settings.worker_in_process else None
    try:
        yield
    finally:
        if worker is not None:
            worker.stop()


router = APIRouter(prefix="/v1", tags=["actions"], lifespan=run_worker)

DbSession = Annotated[Session, Depends(get_session)]
Caller = Annotated[Principal, Depends(get_principal)]
Reason = Annotated[str, Field(min_length=1, max_length=2000)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class EndpointIn(Strict):
    url: Annotated[str, Field(min_length=8, max_length=2000)]
    events: list[str] = []


class EndpointOut(Out):
    id: str
    url: str
    events: list[str]
    allow_private: bool
    active: bool
    created_at: datetime


class EndpointCreated(EndpointOut):
    secret: str = Field(description="the signing secret; shown this once only")


class EndpointList(BaseModel):
    endpoints: list[EndpointOut]


class MessageOut(Out):
    id: str
    endpoint_id: str
    event: str
    idempotency_key: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_status: int | None
    last_error: str
    created_at: datetime
    delivered_at: datetime | None
    acknowledgement: dict | None
    acknowledged_at: datetime | None


class MessageList(BaseModel):
    messages: list[MessageOut]


class AckIn(Strict):
    idempotency_key: Annotated[str, Field(min_length=1, max_length=200)]
    reference: Annotated[str, Field(min_length=1, max_length=500)]


class VaultEntryOut(Out):
    id: str
    case_id: str | None
    submission_id: str | None
    size: int
    content_type: str
    purpose: str
    retain_until: datetime
    extension_reason: str
    created_at: datetime
    purged_at: datetime | None


class VaultList(BaseModel):
    entries: list[VaultEntryOut]


class ReadIn(Strict):
    reason: Reason


class VaultRead(BaseModel):
    entry: VaultEntryOut
    metadata: dict
    content_base64: str | None


class ExtendIn(Strict):
    until: AwareDatetime
    reason: Reason


@router.post("/webhooks", response_model=EndpointCreated, status_code=201)
def register(request: Request, body: EndpointIn, session: DbSession,
             principal: Caller) -> EndpointCreated:
    """Register a webhook endpoint (admin). Verify deliveries with the returned secret: see
    docs/due-process.md. Private and loopback destinations are refused."""
    endpoint, secret = webhooks.register_endpoint(
        session, principal, url=body.url, events=body.events, keyring=vault_of(request).keyring)
    # Built before the commit: a response that cannot be made must not leave an endpoint
    # whose secret nobody ever saw.
    out = EndpointCreated(**EndpointOut.model_validate(endpoint).model_dump(), secret=secret)
    session.commit()
    return out


@router.get("/webhooks", response_model=EndpointList)
def list_endpoints(session: DbSession, principal: Caller) -> EndpointList:
    return EndpointList(endpoints=[EndpointOut.model_validate(e)
                                   for e in webhooks.list_endpoints(session, principal)])


@router.delete("/webhooks/{endpoint_id}", status_code=204)
def deactivate(endpoint_id: str, session: DbSession, principal: Caller) -> None:
    webhooks.deactivate_endpoint(session, principal, endpoint_id)
    session.commit()


@router.get("/webhooks/dead-letters", response_model=MessageList)
def dead_letters(session: DbSession, principal: Caller) -> MessageList:
    """Deliveries that exhausted their retries."""
    return MessageList(messages=[MessageOut.model_validate(m)
                                 for m in webhooks.list_dead_letters(session, principal)])


@router.post("/webhooks/dead-letters/{message_id}/retry", response_model=MessageOut)
def retry(message_id: str, session: DbSession, principal: Caller) -> MessageOut:
    message = webhooks.retry_dead_letter(session, principal, message_id)
    out = MessageOut.model_validate(message)
    session.commit()
    return out


@router.post("/webhooks/acknowledgements", response_model=MessageList)
def acknowledge(body: AckIn, session: DbSession, principal: Caller) -> MessageList:
    """Record your acknowledgement (e.g. your takedown reference) of an event you received."""
    messages = webhooks.acknowledge(session, principal, body.idempotency_key,
                                    reference=body.reference)
    out = MessageList(messages=[MessageOut.model_validate(m) for m in messages])
    session.commit()
    return out


@router.get("/vault", response_model=VaultList)
def list_vault(session: DbSession, principal: Caller, case_id: str | None = None) -> VaultList:
    return VaultList(entries=[VaultEntryOut.model_validate(e) for e in
                              vault_service.list_entries(session, principal, case_id=case_id)])


@router.post("/vault/{entry_id}/read", response_model=VaultRead)
def read(request: Request, entry_id: str, body: ReadIn, session: DbSession,
         principal: Caller) -> VaultRead:
    """Open preserved evidence (``vault:read``); the read and its reason are audited."""
    opened = vault_service.read_entry(session, principal, vault_of(request), entry_id,
                                      reason=body.reason)
    out = VaultRead(
        entry=VaultEntryOut.model_validate(opened.entry), metadata=opened.metadata,
        content_base64=(base64.b64encode(opened.content).decode()
                        if opened.content is not None else None))
    session.commit()
    return out


@router.post("/vault/{entry_id}/extend", response_model=VaultEntryOut)
def extend(entry_id: str, body: ExtendIn, session: DbSession,
           principal: Caller) -> VaultEntryOut:
    """Keep evidence longer on an authority's or court's request (never shorter)."""
    entry = vault_service.extend_retention(session, principal, entry_id, until=body.until,
                                           reason=body.reason)
    out = VaultEntryOut.model_validate(entry)
    session.commit()
    return out
