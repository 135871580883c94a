"""Collection feed: date_added order, keyset paging with next, added_after, filters, settle."""

from __future__ import annotations

from datetime import timedelta

import stix2

from countersignal.banks import service
from countersignal.exchange import feed
from countersignal.exchange.models import Partner, SharingGroup
from countersignal.exchange.settings import get_exchange_settings

from .helpers import ORG, add


def reader(s, world, partner="abroad"):
    return feed.Reader(s.get(SharingGroup, world["group"]), s.get(Partner, world[partner]))


def test_pages_follow_next_without_gaps_or_repeats(db, world):
    with db.begin() as s:
        bank = service.get_bank(s, ORG, world["shared"])
        for _ in range(23):
            add(s, bank)
    seen, token, pages = [], None, 0
    with db() as s:
        while True:
            after = feed.Position.decode(token) if token else None
            page = feed.read_page(s, reader(s, world), feed.Filters(limit=5, after=after))
            pages += 1
            seen.extend(e.stix_id for e in page.entries)
            assert [e.position for e in page.entries] == sorted(e.position for e in page.entries)
            if not page.more:
                break
            token = page.next
        everything = feed.read_page(s, reader(s, world), feed.Filters(limit=1000))
    # 5 markings + 1 identity + 23 indicators
    assert len(seen) == len(set(seen)) == 29 == len(everything.entries)
    assert pages == 6


def test_added_after_returns_only_later_versions(db, world):
    with db.begin() as s:
        bank = service.get_bank(s, ORG, world["shared"])
        first = add(s, bank)
    with db() as s:
        page = feed.read_page(s, reader(s, world), feed.Filters(limit=100))
        checkpoint = page.last_added
    with db.begin() as s:
        second = add(s, service.get_bank(s, ORG, world["shared"]))
        service.revoke_item(s, service.get_item(s, ORG, first.id))
    with db() as s:
        page = feed.read_page(s, reader(s, world), feed.Filters(added_after=checkpoint))
        objects = [e.build() for e in page.entries]
    assert [o["type"] for o in objects] == ["indicator", "indicator"]
    revoked = [o for o in objects if o.get("revoked")]
    assert len(revoked) == 1 and revoked[0]["id"].endswith(
        feed.stix.stix_id("indicator", first.id).split("--")[1]
    )
    assert any(o["id"] == feed.stix.stix_id("indicator", second.id) for o in objects)
    for obj in objects:
        stix2.parse(obj, allow_custom=True, version="2.1")


def test_type_and_id_filters(db, world):
    with db.begin() as s:
        items = [add(s, service.get_bank(s, ORG, world["shared"])) for _ in range(3)]
    wanted = feed.stix.stix_id("indicator", items[1].id)
    with db() as s:
        page = feed.read_page(s, reader(s, world), feed.Filters(types=frozenset({"indicator"})))
        assert {e.object_type for e in page.entries} == {"indicator"} and len(page.entries) == 3
        page = feed.read_page(s, reader(s, world), feed.Filters(ids=frozenset({wanted})))
        assert [e.stix_id for e in page.entries] == [wanted]
        version = page.entries[0].version
        exact = feed.Filters(ids=frozenset({wanted}), versions=feed.stix.timestamp(version))
        assert len(feed.read_page(s, reader(s, world), exact).entries) == 1
        other = feed.Filters(
            ids=frozenset({wanted}), versions=feed.stix.timestamp(version + timedelta(seconds=1))
        )
        assert feed.read_page(s, reader(s, world), other).entries == []


def test_young_objects_are_held_back_until_settled(db, world, monkeypatch):
    monkeypatch.setenv("COUNTERSIGNAL_EXCHANGE_SETTLE_SECONDS", "3600")
    get_exchange_settings.cache_clear()
    with db.begin() as s:
        add(s, service.get_bank(s, ORG, world["shared"]))
    with db() as s:
        page = feed.read_page(s, reader(s, world), feed.Filters(types=frozenset({"indicator"})))
        assert page.entries == []


def test_next_token_is_validated():
    import pytest

    from countersignal.errors import InvalidInput

    with pytest.raises(InvalidInput):
        feed.Position.decode("not-base64-json")


def _imported_from_abroad(s, world):
    from countersignal.exchange.models import ItemRef

    inbox = service.get_bank(s, ORG, world["inbox"])
    item = add(s, inbox, tlp="AMBER", source_organisation_id="org_abroad")
    stix_id = "indicator--0b0e6f5e-8a0c-4c4e-9d7b-1f2a3b4c5d6e"
    s.add(
        ItemRef(item_id=item.id, organisation_id=ORG, stix_id=stix_id, partner_id=world["abroad"])
    )
    s.flush()
    return item, stix_id


def test_our_opinion_of_a_partner_indicator_goes_back_to_that_partner_only(db, world):
    with db.begin() as s:
        # The import bank is not even shared: feedback to the source needs no share.
        from countersignal.exchange import policy

        policy.unshare_bank(
            s, s.get(service.Bank, world["inbox"]), s.get(SharingGroup, world["group"])
        )
        item, stix_id = _imported_from_abroad(s, world)
        service.set_opinion(
            s,
            organisation_id=ORG,
            signal_id=item.signals[0].id,
            opinion="false_positive",
            note="satire",
        )
    with db() as s:
        kinds = {"opinion"}
        to_source = feed.read_page(s, reader(s, world), feed.Filters(types=frozenset(kinds)))
        to_third = feed.read_page(
            s, reader(s, world, "third"), feed.Filters(types=frozenset(kinds))
        )
        [entry] = to_source.entries
        obj = entry.build()
    assert to_third.entries == []
    assert obj["object_refs"] == [stix_id] and obj["opinion"] == "strongly-disagree"
    assert obj["explanation"] == "satire" and obj["created_by_ref"] == feed.stix.identity_id(ORG)
    stix2.parse(obj, version="2.1")


def test_sightings_only_to_the_source_partner_and_only_when_it_opted_in(db, world):
    from countersignal.exchange.ingest import record_sighting

    with db.begin() as s:
        item, stix_id = _imported_from_abroad(s, world)
        record_sighting(s, organisation_id=ORG, item_id=item.id, count=4)
    only = feed.Filters(types=frozenset({"sighting"}))
    with db() as s:
        assert feed.read_page(s, reader(s, world), only).entries == []  # not opted in
    with db.begin() as s:
        s.get(Partner, world["abroad"]).share_sightings = True
        s.get(Partner, world["third"]).share_sightings = True
    with db() as s:
        [entry] = feed.read_page(s, reader(s, world), only).entries
        assert feed.read_page(s, reader(s, world, "third"), only).entries == []
        obj = entry.build()
    assert (obj["sighting_of_ref"], obj["count"]) == (stix_id, 4)
    assert set(obj) <= {
        "type",
        "spec_version",
        "id",
        "created",
        "modified",
        "created_by_ref",
        "sighting_of_ref",
        "count",
        "first_seen",
        "last_seen",
        "where_sighted_refs",
        "object_marking_refs",
    }  # counts and times only: nothing about users or content
    stix2.parse(obj, version="2.1")
