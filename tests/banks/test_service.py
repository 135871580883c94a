"""Bank service functions on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from countersignal.banks import service
from countersignal.banks.models import SignalChange
from countersignal.banks.service import ItemInput, LabelInput, SignalInput
from countersignal.errors import Conflict, InvalidInput, InvalidSignal, NotFound

ORG, OTHER = "org_a", "org_b"
PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def test_create_list_and_tenancy(session_factory):
    with session_factory.begin() as s:
        service.create_bank(s, organisation_id=ORG, name="crisis", tlp="tlp:amber")
        service.create_bank(s, organisation_id=OTHER, name="crisis")
    with session_factory() as s:
        banks = service.list_banks(s, ORG)
        assert [(b.name, b.tlp) for b in banks] == [("crisis", "AMBER")]
        with pytest.raises(NotFound):
            service.get_bank(s, ORG, service.list_banks(s, OTHER)[0].id)
    with session_factory.begin() as s, pytest.raises(Conflict):
        service.create_bank(s, organisation_id=ORG, name="crisis")


def test_bad_bank_fields(session_factory):
    with session_factory() as s:
        with pytest.raises(InvalidInput):
            service.create_bank(s, organisation_id=ORG, name="x", tlp="purple")
        with pytest.raises(InvalidInput):
            service.create_bank(s, organisation_id=ORG, name="  ")


def test_add_item_canonicalises_and_logs_changes(session_factory):
    with session_factory.begin() as s:
        bank = service.create_bank(s, organisation_id=ORG, name="b")
        item = service.add_item(
            s,
            bank,
            ItemInput(
                signals=[SignalInput("pdq", PDQ.upper()), SignalInput("md5", md5("a"))],
                labels=[LabelInput.parse("designated_entity:Example Front@UN:QDe.999")],
                source="test",
            ),
        )
        item_id = item.id
    with session_factory() as s:
        item = service.get_item(s, ORG, item_id)
        assert {(x.type, x.value) for x in item.signals} == {("pdq", PDQ), ("md5", md5("a"))}
        assert item.labels[0].reference == "UN:QDe.999"
        changes = s.scalars(select(SignalChange).order_by(SignalChange.seq)).all()
        assert [(c.op, c.type) for c in changes] == [("add", "pdq"), ("add", "md5")] or [
            (c.op, c.type) for c in changes
        ] == [("add", "md5"), ("add", "pdq")]
        with pytest.raises(NotFound):
            service.get_item(s, OTHER, item_id)
        found = service.find_signals(s, ORG, "md5", md5("a").upper())
        assert [f.item_id for f in found] == [item_id]
        assert service.find_signals(s, OTHER, "md5", md5("a")) == []


def test_invalid_signal_and_label_rejected(session_factory):
    with session_factory() as s:
        bank = service.create_bank(s, organisation_id=ORG, name="b")
        with pytest.raises(InvalidSignal):
            service.add_item(s, bank, ItemInput(signals=[SignalInput("pdq", "zz")]))
        with pytest.raises(InvalidInput):
            service.add_item(
                s,
                bank,
                ItemInput(signals=[SignalInput("md5", md5("x"))], labels=[LabelInput("mood", "x")]),
            )
        with pytest.raises(InvalidInput):
            service.add_item(s, bank, ItemInput(signals=[]))
        with pytest.raises(InvalidInput):
            LabelInput.parse("no-colon")


def test_remove_and_revoke_log_removals(session_factory):
    with session_factory.begin() as s:
        bank = service.create_bank(s, organisation_id=ORG, name="b")
        one = service.add_item(s, bank, ItemInput(signals=[SignalInput("md5", md5("1"))])).id
        two = service.add_item(s, bank, ItemInput(signals=[SignalInput("md5", md5("2"))])).id
    with session_factory.begin() as s:
        assert service.remove_item(s, service.get_item(s, ORG, one)) == 1
        assert service.revoke_item(s, service.get_item(s, ORG, two)) == 1
    with session_factory() as s:
        with pytest.raises(NotFound):
            service.get_item(s, ORG, one)
        revoked = service.get_item(s, ORG, two)
        assert revoked.revoked_at is not None and revoked.signals == []
        ops = [c.op for c in s.scalars(select(SignalChange).order_by(SignalChange.seq))]
        # The revocation is also a metadata edit of the item: caches of it are dropped.
        assert ops == ["add", "add", "remove", "remove", "meta"]


def test_delete_bank_removes_signals(session_factory):
    with session_factory.begin() as s:
        bank = service.create_bank(s, organisation_id=ORG, name="b")
        for n in range(3):
            service.add_item(s, bank, ItemInput(signals=[SignalInput("md5", md5(str(n)))]))
        assert service.bank_counts(s, [bank.id]) == {bank.id: (3, 3)}
        assert service.delete_bank(s, bank) == 3
    with session_factory() as s:
        assert service.list_banks(s, ORG) == []


def test_opinions_one_per_organisation(session_factory):
    with session_factory.begin() as s:
        bank = service.create_bank(s, organisation_id=ORG, name="b")
        sig_id = service.add_item(s, bank, ItemInput(signals=[SignalInput("md5", md5("o"))]))
        sig_id = sig_id.signals[0].id
        service.set_opinion(s, organisation_id=OTHER, signal_id=sig_id, opinion="disagree")
        service.set_opinion(
            s, organisation_id=OTHER, signal_id=sig_id, opinion="false_positive", note="news"
        )
        with pytest.raises(InvalidInput):
            service.set_opinion(s, organisation_id=ORG, signal_id=sig_id, opinion="meh")
        with pytest.raises(NotFound):
            service.set_opinion(s, organisation_id=ORG, signal_id=sig_id + 999, opinion="agree")
    with session_factory() as s:
        ops = service.opinions_for(s, [sig_id])[sig_id]
        assert [(o.organisation_id, o.opinion, o.note) for o in ops] == [
            (OTHER, "false_positive", "news")
        ]
