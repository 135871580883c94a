"""The audit chain: appends, validation, verification, tampering and the database guards."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from countersignal.audit import (
    GENESIS_HASH,
    Actor,
    AuditChainHead,
    AuditEvent,
    Target,
    event_hash,
    list_events,
    record,
    verify,
)
from countersignal.errors import InvalidInput

from .tamper import tamper

ALICE = Actor("user", "usr_alice", "tok_alice1")


def append(factory, count: int, *, organisation_id: str = "org_a", action: str = "bank.create"):
    with factory() as session, session.begin():
        for i in range(count):
            record(
                session,
                actor=ALICE,
                action=action,
                target=Target("bank", f"bank_{i}"),
                organisation_id=organisation_id,
                details={"name": f"bank {i}", "n": i},
            )


def check(factory):
    with factory() as session:
        return verify(session)


def test_empty_log_verifies(session_factory):
    result = check(session_factory)
    assert result.ok and result.events_checked == 0 and result.last_hash == GENESIS_HASH


def test_events_chain_in_order_and_verify(session_factory):
    append(session_factory, 3)
    append(session_factory, 2, organisation_id="org_b", action="token.revoke")
    with session_factory() as session:
        events = list(session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
        head = session.get(AuditChainHead, 1)
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))
    assert (head.seq, head.last_hash) == (5, events[-1].hash)
    assert events[0].at.tzinfo is not None
    assert events[2].details == {"name": "bank 2", "n": 2}
    result = check(session_factory)
    assert (result.ok, result.events_checked, result.last_hash) == (True, 5, events[-1].hash)


def test_stored_event_rehashes_to_its_hash(session_factory):
    """The hash is recomputable from the stored row alone (what verify relies on)."""
    append(session_factory, 1)
    with session_factory() as session:
        event = session.scalar(select(AuditEvent))
        fields = {c.name: getattr(event, c.name) for c in AuditEvent.__table__.c}
        stored = fields.pop("hash")
    assert event_hash(**fields) == stored
    assert event_hash(**{**fields, "reason": "changed"}) != stored


def test_event_rolls_back_with_the_callers_transaction(session_factory):
    append(session_factory, 1)
    with pytest.raises(RuntimeError), session_factory() as session, session.begin():
        record(
            session,
            actor=ALICE,
            action="bank.delete",
            target=Target("bank", "b"),
            organisation_id="org_a",
        )
        raise RuntimeError("the state change failed")
    append(session_factory, 1)
    with session_factory() as session:
        assert [e.action for e in list_events(session)] == ["bank.create", "bank.create"]
    assert check(session_factory).events_checked == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"action": "Bank Create"}, "dotted lower case"),
        ({"action": "bank"}, "dotted lower case"),
        ({"action": "vault.read"}, "reason is required"),
        ({"action": "vault.read", "reason": "   "}, "reason is required"),
        ({"details": {"password": "hunter2"}}, "secrets"),
        ({"details": {"nested": [{"Client_Secret": "x"}]}}, "secrets"),
        ({"details": {"note": "cs_abcd1234_" + "A" * 40}}, "API token"),
        ({"details": {"x": float("nan")}}, "plain JSON"),
        ({"details": {"x": object()}}, "plain JSON"),
        ({"details": {"x": "y" * 70_000}}, "bytes"),
        ({"details": ["not", "an", "object"]}, "JSON object"),
        ({"actor": Actor("robot", "r1")}, "actor"),  # type: ignore[arg-type]
        ({"target": Target("bank", "b" * 201)}, "target_id longer"),
        ({"action": "vault.read", "reason": "r" * 2001}, "reason longer"),
    ],
)
def test_record_refuses_bad_events(kwargs, message):
    """Checked before any SQL runs, so an unbound session is enough."""
    args = {"actor": ALICE, "action": "bank.create", "target": None, "organisation_id": "org_a"}
    with Session() as session, pytest.raises(InvalidInput, match=message):
        record(session, **{**args, **kwargs})


def test_evidence_read_with_reason_and_unicode_details(session_factory):
    with session_factory() as session, session.begin():
        event = record(
            session,
            actor=Actor.system("retention"),
            action="vault.read",
            target=Target("vault_entry", "ve_1"),
            organisation_id=None,
            reason=" appeal review ",
            details={"ملاحظة": "نص", "ratio": 0.1, "k": [1]},
        )
    assert event.reason == "appeal review"
    assert check(session_factory).ok


def test_list_events_filters_and_pages(session_factory):
    append(session_factory, 3)
    append(session_factory, 2, organisation_id="org_b", action="token.revoke")
    with session_factory() as session:
        assert [e.seq for e in list_events(session)] == [5, 4, 3, 2, 1]
        assert [e.seq for e in list_events(session, organisation_id="org_b")] == [5, 4]
        assert [e.seq for e in list_events(session, action="token.")] == [5, 4]
        assert [e.seq for e in list_events(session, action="token")] == []
        assert [e.seq for e in list_events(session, target_id="bank_1")] == [5, 2]
        assert [e.seq for e in list_events(session, limit=2, before_seq=4)] == [3, 2]
        first = list_events(session, limit=1, before_seq=2)[0]
        assert [e.seq for e in list_events(session, since=first.at, until=first.at)] == []
        assert 1 in [e.seq for e in list_events(session, since=first.at)]
        with pytest.raises(InvalidInput):
            list_events(session, limit=0)


# --- tampering (guards bypassed, as a database owner could) ---------------------------------


def test_verify_catches_an_edited_event(session_factory):
    append(session_factory, 4)
    tamper(session_factory, ("UPDATE audit_events SET actor_id = 'usr_mallory' WHERE seq = 2", {}))
    result = check(session_factory)
    assert (result.ok, result.first_bad_seq, result.events_checked) == (False, 2, 1)
    assert "does not match its hash" in result.problem


def test_verify_catches_edited_details_json(session_factory):
    append(session_factory, 3)
    tamper(
        session_factory,
        ("UPDATE audit_events SET details = :d WHERE seq = 3", {"d": '{"n": 2, "name": "x"}'}),
    )
    assert check(session_factory).first_bad_seq == 3


def test_verify_catches_an_edit_with_a_recomputed_hash(session_factory):
    """Rewriting an event *and* its hash breaks the link from the next event."""
    append(session_factory, 4)
    with session_factory() as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.seq == 2))
        fields = {c.name: getattr(event, c.name) for c in AuditEvent.__table__.c}
    fields.pop("hash")
    fields["reason"] = "forged"
    tamper(
        session_factory,
        (
            "UPDATE audit_events SET reason = 'forged', hash = :h WHERE seq = 2",
            {"h": event_hash(**fields)},
        ),
    )
    result = check(session_factory)
    assert (result.ok, result.first_bad_seq) == (False, 3)
    assert "does not link" in result.problem


def test_verify_catches_a_deleted_event(session_factory):
    append(session_factory, 5)
    tamper(session_factory, ("DELETE FROM audit_events WHERE seq = 3", {}))
    result = check(session_factory)
    assert (result.ok, result.first_bad_seq, result.events_checked) == (False, 3, 2)
    assert "missing" in result.problem


def test_verify_catches_events_cut_from_the_end(session_factory):
    append(session_factory, 5)
    tamper(session_factory, ("DELETE FROM audit_events WHERE seq >= 4", {}))
    result = check(session_factory)
    assert (result.ok, result.first_bad_seq, result.events_checked) == (False, 4, 3)
    assert "cut from the end" in result.problem


def test_cut_end_with_rewound_head_is_caught_by_the_anchor(session_factory):
    """Cutting the tail *and* rewinding the head leaves a valid shorter chain; an anchor from
    an earlier verify, kept outside the database, is what exposes it."""
    append(session_factory, 5)
    earlier = check(session_factory)
    anchor = (earlier.events_checked, earlier.last_hash)
    append(session_factory, 1)
    with session_factory() as session:
        assert verify(session, anchor=anchor).ok  # the log grew; the anchored event is intact
    tamper(
        session_factory,
        ("DELETE FROM audit_events WHERE seq >= 5", {}),
        (
            "UPDATE audit_chain_head SET seq = 4, last_hash = "
            "(SELECT hash FROM audit_events WHERE seq = 4)",
            {},
        ),
    )
    assert check(session_factory).ok  # without the anchor the shorter chain looks fine
    with session_factory() as session:
        result = verify(session, anchor=anchor)
    assert (result.ok, result.first_bad_seq) == (False, 5)
    assert "before the anchored seq 5" in result.problem


def test_rewritten_log_is_caught_by_the_anchor(session_factory):
    """Rewrite event 2 and re-chain everything after it: consistent, but not the anchored log."""
    append(session_factory, 3)
    earlier = check(session_factory)
    with session_factory() as session:
        rows = session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
        columns = [c.name for c in AuditEvent.__table__.c if c.name != "hash"]
        fields = [{c: getattr(row, c) for c in columns} for row in rows]
    fields[1]["reason"] = "rewritten"
    statements = []
    previous_hash = rows[0].hash
    for current in fields[1:]:
        current["prev_hash"] = previous_hash
        previous_hash = event_hash(**current)
        statements.append(
            (
                "UPDATE audit_events SET reason = :reason, prev_hash = :prev, hash = :hash "
                "WHERE seq = :seq",
                {
                    "reason": current["reason"],
                    "prev": current["prev_hash"],
                    "hash": previous_hash,
                    "seq": current["seq"],
                },
            )
        )
    statements.append(("UPDATE audit_chain_head SET last_hash = :h", {"h": previous_hash}))
    tamper(session_factory, *statements)
    assert check(session_factory).ok
    with session_factory() as session:
        result = verify(session, anchor=(earlier.events_checked, earlier.last_hash))
    assert (result.ok, result.first_bad_seq) == (False, 3)
    assert "rewritten" in result.problem


def test_verify_catches_reordered_events(session_factory):
    append(session_factory, 5)
    tamper(
        session_factory,
        ("UPDATE audit_events SET seq = -1 WHERE seq = 2", {}),
        ("UPDATE audit_events SET seq = 2 WHERE seq = 3", {}),
        ("UPDATE audit_events SET seq = 3 WHERE seq = -1", {}),
    )
    result = check(session_factory)
    assert (result.ok, result.first_bad_seq) == (False, 2)


def test_verify_catches_an_inserted_event(session_factory):
    """A forged event spliced in after seq 2, chained correctly to it, and the rest renumbered:
    the renumbered events no longer match their hashes."""
    append(session_factory, 4)
    with session_factory() as session:
        prev = session.scalar(select(AuditEvent).where(AuditEvent.seq == 2))
    forged = {c.name: getattr(prev, c.name) for c in AuditEvent.__table__.c}
    forged.update(seq=3, id="evt_forged", action="bank.delete", prev_hash=prev.hash)
    forged.pop("hash")
    forged_hash = event_hash(**forged)
    tamper(
        session_factory,
        ("UPDATE audit_events SET seq = seq + 100 WHERE seq >= 3", {}),
        ("UPDATE audit_events SET seq = seq - 99 WHERE seq >= 100", {}),
        (
            "INSERT INTO audit_events (seq, id, at, organisation_id, actor_kind, actor_id, "
            "actor_token_id, action, target_type, target_id, reason, details, prev_hash, hash) "
            "SELECT 3, 'evt_forged', at, organisation_id, actor_kind, actor_id, actor_token_id, "
            "'bank.delete', target_type, target_id, reason, details, hash, :h "
            "FROM audit_events WHERE seq = 2",
            {"h": forged_hash},
        ),
        (
            "UPDATE audit_chain_head SET seq = 5, last_hash = "
            "(SELECT hash FROM audit_events WHERE seq = 5)",
            {},
        ),
    )
    result = check(session_factory)
    assert (result.ok, result.first_bad_seq, result.events_checked) == (False, 4, 3)


def test_verify_catches_an_event_appended_behind_the_heads_back(session_factory):
    append(session_factory, 2)
    tamper(
        session_factory,
        (
            "INSERT INTO audit_events (seq, id, at, organisation_id, actor_kind, actor_id, "
            "action, details, prev_hash, hash) SELECT 3, 'evt_x', at, organisation_id, "
            "actor_kind, actor_id, action, details, hash, 'f' FROM audit_events WHERE seq = 2",
            {},
        ),
    )
    result = check(session_factory)
    assert (result.ok, result.first_bad_seq) == (False, 3)
    assert "beyond the chain head" in result.problem


# --- the database guards ----------------------------------------------------------------------


REFUSED_BY_GUARDS = (
    "UPDATE audit_events SET reason = 'x' WHERE seq = 1",
    "DELETE FROM audit_events WHERE seq = 2",
    "DELETE FROM audit_events",
    "DELETE FROM audit_chain_head",
    "UPDATE audit_chain_head SET seq = seq - 1",
    "UPDATE audit_chain_head SET last_hash = 'f'",
    "UPDATE audit_chain_head SET seq = seq + 2",
    "INSERT INTO audit_events (seq, id, at, actor_kind, actor_id, action, details, "
    "prev_hash, hash) VALUES (3, 'evt_x', '2026-01-01', 'system', 'x', 'a.b', '{}', '0', '0')",
)


def test_guards_refuse_changes_to_the_log(session_factory):
    append(session_factory, 2)
    for sql in REFUSED_BY_GUARDS:
        with session_factory() as session, pytest.raises(DBAPIError), session.begin():
            session.execute(text(sql))
    assert check(session_factory).events_checked == 2


@pytest.mark.postgres
def test_postgres_guard_refuses_truncate(pg_url):
    from countersignal.db import make_engine, migrate, session_factory

    migrate(pg_url)
    engine = make_engine(pg_url)
    try:
        factory = session_factory(engine)
        append(factory, 1)
        for table in ("audit_events", "audit_chain_head"):
            with (
                factory() as session,
                pytest.raises(DBAPIError, match="append-only"),
                session.begin(),
            ):
                session.execute(text(f"TRUNCATE {table}"))
        assert check(factory).events_checked == 1
    finally:
        engine.dispose()
