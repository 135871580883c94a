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
