"""Append-only, hash-chained audit log: who did what, to what, when and why.

    from countersignal.audit import Actor, Target, record, verify

    record(session, actor=principal.actor, action="bank.create",
           target=Target("bank", bank.id), organisation_id=principal.organisation_id,
           details={"name": bank.name})
    assert verify(session).ok

``record`` writes inside the caller's transaction. The database refuses UPDATE and DELETE on
``audit_events`` (triggers in migration ``audit_0001``); ``verify`` catches what a database
owner could still do by going around them. See ``chain.py`` for the one-chain design.
"""

from countersignal.audit.chain import (
    REASON_REQUIRED_PREFIXES,
    Actor,
    Target,
    VerifyResult,
    event_hash,
    record,
    verify,
)
from countersignal.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent
from countersignal.audit.query import list_events

__all__ = [
    "GENESIS_HASH",
    "REASON_REQUIRED_PREFIXES",
    "Actor",
    "AuditChainHead",
    "AuditEvent",
    "Target",
    "VerifyResult",
    "event_hash",
    "list_events",
    "record",
    "verify",
]
