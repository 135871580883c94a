"""Applying a partner's STIX objects: imports, updates, revocations, disputes, sightings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from countersignal.banks import service
from countersignal.banks.models import BankItem, Opinion
from countersignal.exchange import stix
from countersignal.exchange.disputes import disputed_signals, is_disputed, recompute_disputes
from countersignal.exchange.ingest import expire_imports, ingest, record_sighting
from countersignal.exchange.models import Partner, Sighting
from countersignal.exchange.settings import get_exchange_settings

from .helpers import ORG, PARTNER_ORG, THIRD_ORG, add, random_pdq

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def their_indicator(pdq: str, *, modified=T0, uid="a1", **changes) -> dict:
    facts = stix.IndicatorFacts(
        stix_id=stix.stix_id("indicator", "their", uid),
        created_by_ref=stix.identity_id("their_org"),
        created=T0,
        modified=modified,
        signals=[("pdq", pdq)],
        labels=["tier:crisis"],
        tlp="GREEN",
    )
    return {**stix.indicator(facts), **changes}


def imported_items(s):
    return s.scalars(select(BankItem).where(BankItem.source_organisation_id == PARTNER_ORG)).all()


def test_indicator_is_imported_once_with_provenance_and_marking(db, world):
    pdq = random_pdq()
    with db.begin() as s:
        report = ingest(s, s.get(Partner, world["abroad"]), [their_indicator(pdq)] * 2)
    assert (report.added, report.unchanged, report.errors) == (1, 1, [])
    with db() as s:
        [item] = imported_items(s)
        assert item.bank_id == world["inbox"] and item.tlp == "GREEN"
        assert item.source == "taxii:abroad" and item.source_ref == their_indicator(pdq)["id"]
        assert [(x.type, x.value) for x in item.signals] == [("pdq", pdq)]
        assert [(lb.kind, lb.value) for lb in item.labels] == [("tier", "crisis")]


def test_newer_version_updates_and_revocation_retracts(db, world):
    pdq = random_pdq()
    with db.begin() as s:
        partner = s.get(Partner, world["abroad"])
        ingest(s, partner, [their_indicator(pdq)])
        newer = their_indicator(pdq, modified=T0 + timedelta(hours=1), labels=["tier:promotional"])
        older = their_indicator(pdq, modified=T0 - timedelta(hours=1), labels=["other:stale"])
        report = ingest(s, partner, [newer, older])
        assert (report.updated, report.unchanged) == (1, 1)
    with db() as s:
        [item] = imported_items(s)
        assert [(lb.kind, lb.value) for lb in item.labels] == [("tier", "promotional")]
    with db.begin() as s:
        gone = their_indicator(pdq, modified=T0 + timedelta(hours=2), revoked=True)
        assert ingest(s, s.get(Partner, world["abroad"]), [gone]).revoked == 1
    with db() as s:
        [item] = imported_items(s)
        assert item.revoked_at is not None and item.signals == []


def test_changed_signals_replace_the_item(db, world):
    first, second = random_pdq(), random_pdq()
    with db.begin() as s:
        partner = s.get(Partner, world["abroad"])
        ingest(s, partner, [their_indicator(first)])
        ingest(s, partner, [their_indicator(second, modified=T0 + timedelta(minutes=1))])
    with db() as s:
        [item] = imported_items(s)
        assert [x.value for x in item.signals] == [second]


def test_bad_objects_are_reported_and_skipped(db, world):
    pdq = random_pdq()
    junk = [
        "not an object",
        {"type": "indicator", "id": "indicator--broken"},
        their_indicator("zz" * 32, uid="bad-pdq"),
        {"type": "malware", "id": "malware--x"},
        their_indicator(pdq, uid="good"),
    ]
    with db.begin() as s:
        report = ingest(s, s.get(Partner, world["abroad"]), junk)
    assert report.added == 1 and report.skipped == 1 and len(report.errors) == 3
    with db() as s:
        assert [x.signals[0].value for x in imported_items(s)] == [pdq]


def test_partner_without_import_bank_cannot_add(db, world):
    with db.begin() as s:
        report = ingest(s, s.get(Partner, world["third"]), [their_indicator(random_pdq())])
    assert report.added == 0 and "no import bank" in report.errors[0][1]


def opinion_on(item_or_id, value: str, *, by: str = PARTNER_ORG, modified=T0) -> dict:
    indicator_id = (
        item_or_id if isinstance(item_or_id, str) else stix.stix_id("indicator", item_or_id.id)
    )
    return stix.opinion(
        organisation_id=by,
        indicator_id=indicator_id,
        value=value,
        explanation="news footage, not propaganda",
        created=T0,
        modified=modified,
        tlp="GREEN",
    )


def test_trusted_partner_dispute_marks_our_signal_disputed(db, world):
    with db.begin() as s:
        item = add(s, service.get_bank(s, ORG, world["shared"]))
        signal_id = item.signals[0].id
    with db.begin() as s:
        report = ingest(s, s.get(Partner, world["abroad"]), [opinion_on(item, "false_positive")])
        assert report.opinions == 1, report.errors
    with db() as s:
        assert is_disputed(s, signal_id) and disputed_signals(s, ORG) == [signal_id]
        [op] = s.scalars(select(Opinion).where(Opinion.signal_id == signal_id)).all()
        assert (op.organisation_id, op.opinion) == (PARTNER_ORG, "false_positive")
        assert op.note == "news footage, not propaganda"
    # withdrawing (neutral) clears it
    with db.begin() as s:
        withdraw = opinion_on(item, "agree", modified=T0 + timedelta(minutes=1))
        withdraw["opinion"] = "neutral"
        ingest(s, s.get(Partner, world["abroad"]), [withdraw])
    with db() as s:
        assert not is_disputed(s, signal_id)


def test_untrusted_partner_and_threshold(db, world, monkeypatch):
    with db.begin() as s:
        item = add(s, service.get_bank(s, ORG, world["shared"]))
        signal_id = item.signals[0].id
        ingest(s, s.get(Partner, world["third"]), [opinion_on(item, "disagree", by=THIRD_ORG)])
    with db() as s:
        assert not is_disputed(s, signal_id)  # third is not trusted
    monkeypatch.setenv("COUNTERSIGNAL_EXCHANGE_DISPUTE_THRESHOLD", "2")
    get_exchange_settings.cache_clear()
    with db.begin() as s:
        ingest(s, s.get(Partner, world["abroad"]), [opinion_on(item, "disagree")])
        assert not is_disputed(s, signal_id)  # only one trusted dispute so far
        s.get(Partner, world["third"]).trusted = True
        recompute_disputes(s, [signal_id])
        assert is_disputed(s, signal_id)  # third became trusted: two now


def test_opinion_on_unknown_indicator_is_an_error(db, world):
    with db.begin() as s:
        missing = stix.stix_id("indicator", "nobody")
        report = ingest(s, s.get(Partner, world["abroad"]), [opinion_on(missing, "agree")])
    assert report.opinions == 0 and "no indicator known" in report.errors[0][1]


def test_sightings_counts_only(db, world):
    with db.begin() as s:
        item = add(s, service.get_bank(s, ORG, world["shared"]))
        sighting = stix.sighting(
            organisation_id=PARTNER_ORG,
            indicator_id=stix.stix_id("indicator", item.id),
            count=7,
            first_seen=T0,
            last_seen=T0 + timedelta(days=1),
            modified=T0,
            tlp="GREEN",
        )
        assert ingest(s, s.get(Partner, world["abroad"]), [sighting]).sightings == 1
        record_sighting(s, organisation_id=ORG, item_id=item.id)
        record_sighting(s, organisation_id=ORG, item_id=item.id, count=2)
    with db() as s:
        rows = {r.organisation_id: r.count for r in s.scalars(select(Sighting))}
        assert rows == {PARTNER_ORG: 7, ORG: 3}


@pytest.mark.parametrize("days,expected", [(-1, 1), (30, 0)])
def test_expired_imports_decay(db, world, days, expected):
    with db.begin() as s:
        until = datetime.now(UTC) + timedelta(days=days)
        obj = their_indicator(random_pdq(), valid_until=stix.timestamp(until))
        report = ingest(s, s.get(Partner, world["abroad"]), [obj])
        # an already-expired indicator is not imported at all
        assert report.added == (0 if days < 0 else 1)
        assert expire_imports(s) == 0
    if days > 0:
        with db.begin() as s:
            from countersignal.exchange.models import ItemRef

            ref = s.scalar(select(ItemRef))
            ref.valid_until = datetime.now(UTC) - timedelta(seconds=1)
            assert expire_imports(s) == 1
    assert expected in (0, 1)


def test_changing_trust_recomputes_disputes(db, world):
    from countersignal.exchange import policy

    with db.begin() as s:
        item = add(s, service.get_bank(s, ORG, world["shared"]))
        signal_id = item.signals[0].id
        ingest(s, s.get(Partner, world["abroad"]), [opinion_on(item, "disagree")])
        assert is_disputed(s, signal_id)
        policy.update_partner(s, s.get(Partner, world["abroad"]), trusted=False)
        assert not is_disputed(s, signal_id)
        policy.update_partner(s, s.get(Partner, world["abroad"]), trusted=True)
        assert is_disputed(s, signal_id)


def _relayed(s, world, obj_id):
    from countersignal.exchange import feed
    from countersignal.exchange.models import SharingGroup

    reader = feed.Reader(s.get(SharingGroup, world["group"]), s.get(Partner, world["third"]))
    page = feed.read_page(s, reader, feed.Filters(ids=frozenset({obj_id})))
    return [e.build() for e in page.entries]


def test_relayed_indicators_keep_their_creator_versions_and_revocation(db, world):
    obj = their_indicator(random_pdq(), modified=T0 + timedelta(minutes=5))
    with db.begin() as s:
        ingest(s, s.get(Partner, world["abroad"]), [obj])  # GREEN, inbox bank is shared
    with db() as s:
        [relayed] = _relayed(s, world, obj["id"])
    for key in ("id", "created", "modified", "created_by_ref", "pattern"):
        assert relayed[key] == obj[key], key
    gone = their_indicator("0" * 64, modified=T0 + timedelta(minutes=9), revoked=True)
    with db.begin() as s:
        ingest(s, s.get(Partner, world["abroad"]), [gone])
    with db() as s:
        [tombstone] = _relayed(s, world, obj["id"])
    assert tombstone["revoked"] is True and tombstone["modified"] == gone["modified"]
    assert tombstone["pattern"] == obj["pattern"]


def test_a_local_retraction_of_an_import_is_not_sent_as_the_creators(db, world):
    obj = their_indicator(random_pdq(), uid="local-retraction")
    with db.begin() as s:
        ingest(s, s.get(Partner, world["abroad"]), [obj])
        [item] = imported_items(s)
        service.revoke_item(s, item)
    with db() as s:
        assert _relayed(s, world, obj["id"]) == []


def test_hostile_shapes_are_object_errors_not_crashes(db, world):
    nested: dict = {}
    deep = nested
    for _ in range(5000):
        deep["x_deep"] = {}
        deep = deep["x_deep"]
    hostile = [
        {**their_indicator(random_pdq(), uid="deep"), "x_nested": nested},
        {**their_indicator(random_pdq(), uid="labels"), "labels": {"not": "a list"}},
        {
            **opinion_on("indicator--6b1f7c3e-2f4e-4a43-9d0c-3c1e2a9f4b11", "agree"),
            "object_refs": "indicator--not-a-list",
        },
        {"type": "sighting", "id": "sighting--x", "sighting_of_ref": 7},
    ]
    good = their_indicator(random_pdq(), uid="fine")
    with db.begin() as s:
        report = ingest(s, s.get(Partner, world["abroad"]), [*hostile, good])
    # stix2 accepts deep custom properties and coerces odd labels; the broken opinion and
    # sighting are errors; nothing raises and the good object still lands.
    assert report.received == len(hostile) + 1 and len(report.errors) == 2
    with db() as s:
        assert good["id"] in {i.source_ref for i in imported_items(s)}
