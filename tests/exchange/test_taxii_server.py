"""The TAXII 2.1 server, read and written by OASIS taxii2-client (a client no one here wrote),
against ``countersignal serve`` running as a real process."""

from __future__ import annotations

import httpx
import pytest
import stix2
import taxii2client.v21 as taxii
from requests import HTTPError
from taxii2client.exceptions import AccessError, TAXIIServiceException

from countersignal.banks import service
from countersignal.exchange import policy, stix
from countersignal.exchange.disputes import is_disputed

from .helpers import add, random_pdq
from .peers import Countersignal, make_org


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A platform (DE) serving a collection to a partner abroad (FR) and to an outsider."""
    tmp = tmp_path_factory.mktemp("taxii-server")
    url = f"sqlite:///{tmp / 'de.db'}"
    server = Countersignal(tmp, url)
    sessions = server.sessions()
    org, org_tokens = make_org(sessions, "Platform DE", "DE", ("curator", "reviewer"))
    partner_org, partner_tokens = make_org(sessions, "Partner FR", "FR", ("partner",))
    _, outsider_tokens = make_org(sessions, "Outsider", "US", ("partner",))
    with sessions.begin() as s:
        shared = service.create_bank(s, organisation_id=org, name="shared", tlp="GREEN")
        inbox = service.create_bank(s, organisation_id=org, name="from-fr", tlp="AMBER")
        group = policy.create_sharing_group(s, organisation_id=org, name="EU partners")
        partner = policy.create_partner(
            s,
            organisation_id=org,
            partner_organisation_id=partner_org,
            name="fr",
            trusted=True,
            import_bank_id=inbox.id,
        )
        policy.add_member(s, group, partner, can_read=True, can_write=True)
        policy.share_bank(s, shared, group)
        items = [add(s, shared) for _ in range(7)]
        secret = add(s, shared, tlp="RED")
        ctx = {
            "server": server,
            "sessions": sessions,
            "org": org,
            "collection": group.collection_id,
            "items": [i.id for i in items],
            "red": secret.id,
            "curator": org_tokens["curator"],
            "reviewer": org_tokens["reviewer"],
            "partner": partner_tokens["partner"],
            "outsider": outsider_tokens["partner"],
        }
    yield ctx
    server.stop()


REFUSED = (AccessError, TAXIIServiceException, HTTPError)


def collection(home, token_name="partner") -> taxii.Collection:
    url = f"{home['server'].taxii_root}collections/{home['collection']}/"
    return taxii.Collection(url, user="token", password=home[token_name])


def test_discovery_and_collections_with_taxii2_client(home):
    server = taxii.Server(f"{home['server'].url}/taxii2/", user="x", password=home["partner"])
    assert server.title == "Countersignal TAXII 2.1"
    [root] = server.api_roots
    assert "application/taxii+json;version=2.1" in root.versions
    [col] = root.collections
    assert col.id == home["collection"] and col.can_read and col.can_write
    outsider = taxii.ApiRoot(home["server"].taxii_root, user="x", password=home["outsider"])
    assert outsider.collections == []


def test_objects_paged_parse_with_stix2_and_respect_policy(home):
    col = collection(home)
    seen = []
    for envelope in taxii.as_pages(col.get_objects, per_request=3):
        seen.extend(envelope.get("objects", []))
    ids = [o["id"] for o in seen]
    assert len(ids) == len(set(ids))
    for obj in seen:
        stix2.parse(obj, allow_custom=False, version="2.1")
    indicators = {o["id"] for o in seen if o["type"] == "indicator"}
    assert indicators == {stix.stix_id("indicator", i) for i in home["items"]}
    assert stix.stix_id("indicator", home["red"]) not in ids
    assert stix.identity_id(home["org"]) in ids


def test_added_after_headers_manifest_versions_and_match(home):
    col = collection(home)
    resp = httpx.get(
        f"{col.url}objects/",
        params={"match[type]": "indicator", "limit": 2},
        auth=("x", home["partner"]),
        headers={"Accept": "application/taxii+json;version=2.1"},
    )
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/taxii+json")
    first, last = resp.headers["X-TAXII-Date-Added-First"], resp.headers["X-TAXII-Date-Added-Last"]
    assert first <= last and resp.json()["more"] is True
    rest = col.get_objects(added_after=last, type="indicator")
    got = [o["id"] for o in rest["objects"]]
    assert len(got) == len(home["items"]) - 2
    assert not {o["id"] for o in resp.json()["objects"]} & set(got)
    manifest = col.get_manifest(type="indicator")
    assert {m["id"] for m in manifest["objects"]} >= set(got)
    one = stix.stix_id("indicator", home["items"][0])
    assert [o["id"] for o in col.get_object(one)["objects"]] == [one]
    versions = col.object_versions(one)["versions"]
    assert len(versions) == 1
    assert col.get_objects(id=one, version=versions[0])["objects"][0]["modified"] == versions[0]


def test_partner_posts_a_dispute_and_it_lands(home):
    col = collection(home)
    target = home["items"][1]
    dispute = stix.opinion(
        organisation_id="org_fr_remote",
        indicator_id=stix.stix_id("indicator", target),
        value="false_positive",
        explanation="documentary footage",
        created=stix.parse_timestamp("2026-11-29T10:00:00Z"),
        modified=stix.parse_timestamp("2026-11-29T10:00:00Z"),
        tlp="GREEN",
    )
    junk = {"type": "indicator", "id": "indicator--bad"}
    status = col.add_objects({"objects": [dispute, junk]}, wait_for_completion=False)
    assert status.status == "complete"
    assert (status.success_count, status.failure_count) == (1, 1)
    again = taxii.Status(
        f"{home['server'].taxii_root}status/{status.id}/", user="x", password=home["partner"]
    )
    assert again.total_count == 2
    with home["sessions"]() as s:
        item = service.get_item(s, home["org"], target)
        assert is_disputed(s, item.signals[0].id)
    # The partner withdraws it again with DELETE.
    resp = httpx.delete(
        f"{col.url}objects/{dispute['id']}/",
        auth=("x", home["partner"]),
        headers={"Accept": "application/taxii+json;version=2.1"},
    )
    assert resp.status_code == 200, resp.text
    with home["sessions"]() as s:
        assert not is_disputed(s, item.signals[0].id)


def test_owner_delete_revokes_and_partner_sees_tombstone(home):
    col = collection(home)
    target = stix.stix_id("indicator", home["items"][2])
    before = col.get_objects(type="indicator")
    resp = httpx.delete(
        f"{col.url}objects/{target}/",
        headers={"Authorization": f"Bearer {home['curator']}", "Accept": "application/json"},
    )
    assert resp.status_code == 200, resp.text
    after = col.get_objects(type="indicator", id=target)["objects"]
    assert after[0]["revoked"] is True
    assert after[0]["modified"] > next(
        o["modified"] for o in before["objects"] if o["id"] == target
    )
    stix2.parse(after[0], version="2.1")


def test_access_is_enforced(home):
    with pytest.raises(REFUSED):
        collection(home, "outsider").get_objects()
    with pytest.raises(REFUSED):
        collection(home, "reviewer").get_objects()  # no 'exchange' permission
    resp = httpx.get(f"{home['server'].taxii_root}collections/", headers={"Accept": "*/*"})
    assert resp.status_code == 401 and resp.headers["content-type"].startswith(
        "application/taxii+json"
    )
    resp = httpx.get(
        f"{home['server'].taxii_root}collections/",
        auth=("x", home["partner"]),
        headers={"Accept": "text/html"},
    )
    assert resp.status_code == 406
    # the owner reads its own collection but cannot POST into it as a partner would
    owner = collection(home, "curator")
    assert owner.get_objects(type="indicator")["objects"]
    with pytest.raises(REFUSED):
        owner.add_objects({"objects": []}, wait_for_completion=False)


def test_bad_parameters_are_400_not_500(home):
    col = collection(home)
    for params in ({"limit": "x"}, {"added_after": "yesterday"}, {"next": "###"}):
        resp = httpx.get(
            f"{col.url}objects/",
            params=params,
            auth=("x", home["partner"]),
            headers={"Accept": "application/taxii+json;version=2.1"},
        )
        assert 400 <= resp.status_code < 500, (params, resp.status_code)
    resp = httpx.post(
        f"{col.url}objects/",
        content=b"{not json",
        auth=("x", home["partner"]),
        headers={
            "Accept": "application/taxii+json;version=2.1",
            "Content-Type": "application/taxii+json;version=2.1",
        },
    )
    assert 400 <= resp.status_code < 500
    assert random_pdq()  # helper still importable for other modules
