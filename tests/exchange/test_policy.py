"""Sharing policy, one test per rule, checked through what a partner's feed actually holds."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from countersignal.banks import service
from countersignal.exchange import feed, policy
from countersignal.exchange.models import ItemRef, Partner, SharingGroup

from .helpers import ORG, THIRD_ORG, add


def indicator_ids(session, group_id: str, partner_id: str | None) -> set[str]:
    group = session.get(SharingGroup, group_id)
    partner = session.get(Partner, partner_id) if partner_id else None
    page = feed.read_page(session, feed.Reader(group, partner), feed.Filters(limit=10_000))
    return {e.stix_id for e in page.entries if e.object_type == "indicator"}


def item_stix_id(item) -> str:
    from countersignal.exchange import stix

    return stix.stix_id("indicator", item.id)


def test_shared_bank_item_reaches_every_reading_partner(db, world):
    with db.begin() as s:
        item = add(s, service.get_bank(s, ORG, world["shared"]))
    with db() as s:
        assert item_stix_id(item) in indicator_ids(s, world["group"], world["abroad"])
        assert item_stix_id(item) in indicator_ids(s, world["group"], world["third"])


def test_unshared_bank_stays_home(db, world):
    with db.begin() as s:
        private = service.create_bank(s, organisation_id=ORG, name="private", tlp="CLEAR")
        item = add(s, private)
    with db() as s:
        assert item_stix_id(item) not in indicator_ids(s, world["group"], world["abroad"])


def test_local_only_bank_never_leaves(db, world):
    with db.begin() as s:
        bank = service.get_bank(s, ORG, world["shared"])
        item = add(s, bank)
        service.update_bank(s, bank, local_only=True)
    with db() as s:
        assert item_stix_id(item) not in indicator_ids(s, world["group"], world["abroad"])
        assert item_stix_id(item) not in indicator_ids(s, world["group"], None)


@pytest.mark.parametrize("bank_tlp,item_tlp", [("RED", None), ("GREEN", "RED"), ("RED", "CLEAR")])
def test_tlp_red_never_leaves(db, world, bank_tlp, item_tlp):
    with db.begin() as s:
        bank = service.get_bank(s, ORG, world["shared"])
        service.update_bank(s, bank, tlp=bank_tlp)
        item = add(s, bank, tlp=item_tlp)
    with db() as s:
        assert item_stix_id(item) not in indicator_ids(s, world["group"], world["abroad"])


def test_local_only_label_keeps_item_home(db, world):
    with db.begin() as s:
        bank = service.get_bank(s, ORG, world["shared"])
        kept = add(s, bank, labels=["designated_entity:Domestic Group@national-list"])
        sent = add(s, bank, labels=["designated_entity:ISIL@UN:QDe.115"])
        policy.set_label_local_only(s, ORG, "designated_entity", "Domestic Group")
    with db() as s:
        seen = indicator_ids(s, world["group"], world["abroad"])
        assert item_stix_id(kept) not in seen and item_stix_id(sent) in seen
    with db.begin() as s:
        policy.set_label_local_only(s, ORG, "designated_entity", "Domestic Group", False)
    with db() as s:
        assert item_stix_id(kept) in indicator_ids(s, world["group"], world["abroad"])


def _imported(s, world, tlp, stix_id):
    """An item that arrived from the partner abroad, in the (shared) import bank."""
    inbox = service.get_bank(s, ORG, world["inbox"])
    item = add(s, inbox, tlp=tlp, source="taxii:abroad", source_organisation_id="org_abroad")
    s.add(
        ItemRef(item_id=item.id, organisation_id=ORG, stix_id=stix_id, partner_id=world["abroad"])
    )
    s.flush()
    return item


@pytest.mark.parametrize(
    "tlp,to_third",
    [("CLEAR", True), ("GREEN", True), ("AMBER", False), ("AMBER+STRICT", False), (None, False)],
)
def test_imports_are_never_reshared_beyond_their_marking(db, world, tlp, to_third):
    stix_id = "indicator--5b2f0a4c-6b8e-4f7a-9c1d-2e3f4a5b6c7d"
    with db.begin() as s:
        _imported(s, world, tlp, stix_id)
    with db() as s:
        assert (stix_id in indicator_ids(s, world["group"], world["third"])) is to_third
        # ... and never back to the partner it came from, whatever the marking.
        assert stix_id not in indicator_ids(s, world["group"], world["abroad"])


def test_partner_reads_only_groups_it_is_a_reading_member_of(db, world):
    with db.begin() as s:
        other = policy.create_sharing_group(s, organisation_id=ORG, name="other")
        third = s.get(Partner, world["third"])
        policy.add_member(s, other, third, can_read=False, can_write=True)
        abroad = s.get(Partner, world["abroad"])
        readable = {g.name for g, _ in policy.member_groups(s, abroad)}
        assert readable == {"gifct-like"}
        assert {g.name for g, _ in policy.member_groups(s, third)} == {"gifct-like"}
        assert {g.name for g, _ in policy.member_groups(s, third, write=True)} == {"other"}


def test_partner_config_is_validated(db, world):
    from countersignal.errors import Conflict, InvalidInput, NotFound

    with db() as s:
        with pytest.raises(InvalidInput):
            policy.create_partner(s, organisation_id=ORG, partner_organisation_id=ORG, name="me")
        with pytest.raises(Conflict):
            policy.create_partner(
                s, organisation_id=ORG, partner_organisation_id=THIRD_ORG, name="third"
            )
        with pytest.raises(NotFound):
            policy.create_partner(
                s,
                organisation_id=ORG,
                partner_organisation_id="org_x",
                name="x",
                import_bank_id="bank_missing",
            )
        assert [p.name for p in policy.list_partners(s, ORG)] == ["abroad", "third"]
        assert s.scalar(select(Partner.id).where(Partner.name == "third")) == world["third"]
