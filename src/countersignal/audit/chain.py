"""Appending to and verifying the hash chain.

Design: **one chain per deployment.** Every event, whatever its organisation, links to the one
before it. Verification is then a single linear pass with one answer, cross-tenant ordering is
provable, and cutting out a whole organisation's events breaks the chain just like cutting one.
The cost is that appends serialise deployment-wide (the chain-head row lock is held until the
caller commits); audit writes are a handful per request, so keep ``record`` near the end of the
transaction and this stays cheap. Per-organisation views are plain filters on ``organisation_id``.

Each event's ``hash`` is SHA-256 over a canonical JSON document of all its fields plus
``prev_hash`` (see :func:`event_hash`). Sequence numbers are contiguous from 1 because they are
taken from the chain head inside the caller's transaction: a rollback gives the number back.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from countersignal.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent
from countersignal.db import new_id, utcnow
from countersignal.errors import InvalidInput, Unavailable

HASH_DOMAIN = b"countersignal.audit.v1\n"
"""Prefix of every hashed document, so the format can change without ambiguity."""

MAX_DETAILS_BYTES = 64 * 1024
"""Audit details describe an action; content and evidence belong in the vault, not here."""

REASON_REQUIRED_PREFIXES = ("vault.", "evidence.")
"""Actions that read or export preserved evidence must say why (TCO Regulation safeguards)."""

ACTION_PATTERN = re.compile(r"^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)+$")
SECRET_KEY_PATTERN = re.compile(
    r"pass(word|wd)|secret|authori[sz]ation|api[_-]?key|private[_-]?key"
)
TOKEN_VALUE_PATTERN = re.compile(r"\bcs_[a-z0-9]{8}_[A-Za-z0-9]{20,}")

ActorKind = Literal["user", "token", "system"]

# Core statements, built once: an append is three round trips and no ORM bookkeeping.
_head = AuditChainHead.__table__
_CLAIM_NEXT_SEQ = (
    update(_head)
    .where(_head.c.id == 1)
    .values(seq=_head.c.seq + 1)
    .returning(_head.c.seq, _head.c.last_hash)
)
_SET_HEAD_HASH = update(_head).where(_head.c.id == 1).values(last_hash=bindparam("new_hash"))
_INSERT_EVENT = insert(AuditEvent.__table__)


@dataclass(frozen=True)
class Actor:
    """Who did it: a user (optionally through one of their tokens), a service token, or the system.

    ``countersignal.auth.Principal.actor`` builds one from an authenticated caller.
    """

    kind: ActorKind
    id: str
    token_id: str | None = None

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        """The product itself or a local operator (CLI, scheduler, migration)."""
        return cls(kind="system", id=name)


@dataclass(frozen=True)
class Target:
    """What it was done to, e.g. ``Target("bank", "bank_3f9c...")``."""

    type: str
    id: str | None = None


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of :func:`verify`. ``last_hash`` is worth writing down outside the database:
    a later verify whose chain no longer contains it proves the log was rewritten."""

    ok: bool
    events_checked: int
    first_bad_seq: int | None = None
    problem: str | None = None
    last_hash: str = GENESIS_HASH


def format_time(at: datetime) -> str:
    """The canonical text of a timestamp: UTC, microseconds, ``Z``."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces, no NaN/Infinity, UTF-8 kept as is."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def event_hash(
    *,
    seq: int,
    id: str,
    at: datetime,
    organisation_id: str | None,
    actor_kind: str,
    actor_id: str,
    actor_token_id: str | None,
    action: str,
    target_type: str | None,
    target_id: str | None,
    reason: str | None,
    details: dict,
    prev_hash: str,
) -> str:
    """SHA-256 (hex) of the canonical document of one event; recomputed by :func:`verify`."""
    document = {
        "seq": seq,
        "id": id,
        "at": format_time(at),
        "organisation_id": organisation_id,
        "actor": {"kind": actor_kind, "id": actor_id, "token_id": actor_token_id},
        "action": action,
        "target": {"type": target_type, "id": target_id},
        "reason": reason,
        "details": details,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(HASH_DOMAIN + canonical_json(document).encode()).hexdigest()


def _clean_details(details: dict | None) -> dict:
    """JSON-normalised copy of ``details`` (what the database will give back), checked for
    size and for anything that looks like a credential."""
    if details is None:
        return {}
    if not isinstance(details, dict):
        raise InvalidInput("audit details must be a JSON object")
    try:
        text = canonical_json(details)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"audit details are not plain JSON: {exc}") from exc
    if len(text.encode()) > MAX_DETAILS_BYTES:
        raise InvalidInput(f"audit details over {MAX_DETAILS_BYTES} bytes; store content elsewhere")
    if TOKEN_VALUE_PATTERN.search(text):
        raise InvalidInput("audit details contain what looks like an API token secret")
    cleaned = json.loads(text)
    _reject_secret_keys(cleaned)
    return cleaned


MAX_LENGTHS = {
    "action": 100,
    "actor_id": 100,
    "actor_token_id": 40,
    "target_type": 64,
    "target_id": 200,
    "reason": 2000,
}


def _check_lengths(**values: str | None) -> None:
    """Same limits on every backend (SQLite would silently store longer strings)."""
    for name, value in values.items():
        if value is not None and len(value) > MAX_LENGTHS[name]:
            raise InvalidInput(f"audit {name} longer than {MAX_LENGTHS[name]} characters")


def _reject_secret_keys(value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if SECRET_KEY_PATTERN.search(key.lower()):
                raise InvalidInput(f"audit details must not carry secrets (key {key!r})")
            _reject_secret_keys(item)
    elif isinstance(value, list):
        for item in value:
            _reject_secret_keys(item)


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    target: Target | None,
    organisation_id: str | None,
    reason: str | None = None,
    details: dict | None = None,
) -> AuditEvent:
    """Append one event inside the caller's transaction: it commits with the change it describes
    or not at all.

    Takes the chain-head row lock (an ``UPDATE``, so SQLite takes its write lock at once too);
    concurrent appenders wait for this transaction to end, so the chain never forks. Use the
    default READ COMMITTED isolation on PostgreSQL (stricter levels turn the wait into a
    serialisation error). Returns the event as written, detached from the session.
    """
    if not ACTION_PATTERN.match(action):
        raise InvalidInput(f"audit action {action!r} must be dotted lower case, e.g. 'bank.create'")
    reason = reason.strip() if reason else None
    if action.startswith(REASON_REQUIRED_PREFIXES) and not reason:
        raise InvalidInput(f"a reason is required for {action!r}")
    if actor.kind not in ("user", "token", "system") or not actor.id:
        raise InvalidInput(f"invalid audit actor {actor!r}")
    _check_lengths(
        action=action,
        actor_id=actor.id,
        actor_token_id=actor.token_id,
        target_type=target.type if target else None,
        target_id=target.id if target else None,
        reason=reason,
    )
    clean = _clean_details(details)

    claimed = session.execute(_CLAIM_NEXT_SEQ).one_or_none()
    if claimed is None:
        raise Unavailable("audit chain head missing: run the database migrations")
    seq, prev_hash = claimed

    fields = {
        "seq": seq,
        "id": new_id("evt"),
        "at": utcnow(),
        "organisation_id": organisation_id,
        "actor_kind": actor.kind,
        "actor_id": actor.id,
        "actor_token_id": actor.token_id,
        "action": action,
        "target_type": target.type if target else None,
        "target_id": target.id if target else None,
        "reason": reason,
        "details": clean,
        "prev_hash": prev_hash,
    }
    fields["hash"] = event_hash(**fields)
    session.execute(_INSERT_EVENT, fields)
    session.execute(_SET_HEAD_HASH, {"new_hash": fields["hash"]})
    return AuditEvent(**fields)


def _read_head(session: Session) -> tuple[int, str] | None:
    row = session.execute(
        select(AuditChainHead.seq, AuditChainHead.last_hash).where(AuditChainHead.id == 1)
    ).one_or_none()
    return None if row is None else (row.seq, row.last_hash)


def verify(
    session: Session, *, anchor: tuple[int, str] | None = None, batch_size: int = 2000
) -> VerifyResult:
    """Walk the chain in order and report the first event that was edited, removed, inserted or
    moved, or a chain head that does not match the last event.

    ``anchor`` is an earlier result's ``(events_checked, last_hash)``, kept outside the
    database: the chain must still hold that event unchanged. It catches what the chain alone
    cannot, a database owner cutting the tail *and* rewinding the head, or rewriting it all.

    Safe while others append: it checks the events up to the head as first read (all committed,
    since an event commits with the head that counts it), then that nothing lies beyond the head.
    """
    head = _read_head(session)
    if head is None:
        return VerifyResult(False, 0, None, "audit chain head row is missing")
    head_seq, head_hash = head
    expected_seq = 1
    prev_hash = GENESIS_HASH
    columns = [c for c in AuditEvent.__table__.c if c.name != "hash"]
    while expected_seq <= head_seq:
        rows = session.execute(
            select(*columns, AuditEvent.hash)
            .where(AuditEvent.seq >= expected_seq, AuditEvent.seq <= head_seq)
            .order_by(AuditEvent.seq)
            .limit(batch_size)
        ).all()
        if not rows:
            break
        for row in rows:
            fields = row._asdict()
            stored_hash = fields.pop("hash")
            checked = expected_seq - 1
            if row.seq != expected_seq:
                return VerifyResult(
                    False,
                    checked,
                    expected_seq,
                    f"event seq {expected_seq} is missing (deleted?); "
                    f"next present is seq {row.seq}",
                    prev_hash,
                )
            if event_hash(**fields) != stored_hash:
                return VerifyResult(
                    False,
                    checked,
                    row.seq,
                    f"event seq {row.seq} does not match its hash (edited or moved)",
                    prev_hash,
                )
            if row.prev_hash != prev_hash:
                return VerifyResult(
                    False,
                    checked,
                    row.seq,
                    f"event seq {row.seq} does not link to event seq "
                    f"{row.seq - 1} (inserted, deleted or reordered)",
                    prev_hash,
                )
            if anchor is not None and row.seq == anchor[0] and stored_hash != anchor[1]:
                return VerifyResult(
                    False,
                    checked,
                    row.seq,
                    f"event seq {row.seq} is not the anchored one: the log was rewritten",
                    prev_hash,
                )
            prev_hash = stored_hash
            expected_seq += 1

    checked = expected_seq - 1
    if checked < head_seq:
        return VerifyResult(
            False,
            checked,
            expected_seq,
            f"chain head records {head_seq} events but the log ends at seq "
            f"{checked} (events cut from the end?)",
            prev_hash,
        )
    if anchor is not None and anchor[0] > checked:
        return VerifyResult(
            False,
            checked,
            checked + 1,
            f"the log ends at seq {checked}, before the anchored seq {anchor[0]} "
            "(events cut from the end)",
            prev_hash,
        )
    if prev_hash != head_hash:
        return VerifyResult(
            False,
            checked,
            head_seq,
            f"chain head hash {head_hash[:12]}… is not the hash of event seq {head_seq}",
            prev_hash,
        )
    beyond = session.execute(select(func.max(AuditEvent.seq))).scalar_one() or 0
    head_now = _read_head(session)
    if head_now is None or beyond > head_now[0]:
        return VerifyResult(
            False,
            checked,
            head_seq + 1,
            "events beyond the chain head (inserted at the end?)",
            prev_hash,
        )
    return VerifyResult(True, checked, None, None, prev_hash)
