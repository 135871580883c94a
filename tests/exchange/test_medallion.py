"""This client against OASIS medallion, run as a real process on loopback, as a partner."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import pytest
from sqlalchemy import select

from countersignal.actions.crypto import Keyring
from countersignal.banks import service
from countersignal.banks.models import BankItem
from countersignal.exchange import policy, stix, sync
from countersignal.exchange.models import Partner, SharingGroup, SyncState
from countersignal.exchange.settings import get_exchange_settings
from loopback import QuietHandler, serve_http

from .helpers import ORG, add, random_pdq
from .peers import Medallion

# The deployment's master key (partner credentials are sealed under a sub-key of it).
KEYRING = Keyring.generate()

T0 = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def db(sqlite_db):
    """The client's behaviour does not depend on the database (ingest runs on both elsewhere)."""
    return sqlite_db


@pytest.fixture(scope="module")
def medallion(tmp_path_factory):
    peer = Medallion(tmp_path_factory.mktemp("medallion"))
    yield peer
    peer.stop()


def peer_indicator(n: int, pdq: str | None = None, **changes) -> dict:
    facts = stix.IndicatorFacts(
        stix_id=stix.stix_id("indicator", "medallion-test", str(n), random_pdq()),
        created_by_ref=stix.identity_id("peer_org"),
        created=T0,
        modified=T0 + timedelta(seconds=n),
        signals=[("pdq", pdq or random_pdq())],
        labels=["tier:promotional"],
        tlp="GREEN",
    )
    return {**stix.indicator(facts), **changes}


def connect(db, world, peer: Medallion, *, name="medallion", private=True, **fields) -> str:
    with db.begin() as s:
        partner = policy.create_partner(
            s,
            organisation_id=ORG,
            partner_organisation_id=f"org_{name}",
            name=name,
            api_root_url=peer.api_root,
            collection_id=peer.collection_id,
            username=peer.USER,
            password=peer.PASSWORD,
            keyring=KEYRING,
            allow_private_network=private,
            import_bank_id=world["inbox"],
            **fields,
        )
        return partner.id


def state(db, partner_id) -> SyncState:
    with db() as s:
        return s.get(SyncState, partner_id)


def test_pull_pages_through_medallion_and_resumes(db, world, medallion, monkeypatch):
    monkeypatch.setenv("COUNTERSIGNAL_EXCHANGE_PAGE_LIMIT", "2")
    get_exchange_settings.cache_clear()
    objects = [peer_indicator(n) for n in range(5)]
    medallion.post(objects)
    partner_id = connect(db, world, medallion)
    result = sync.pull(db, partner_id, keyring=KEYRING)
    assert result.ok, result.error
    assert result.pages >= 3 and result.report.added >= 5
    checkpoint = state(db, partner_id).pull_added_after
    assert checkpoint and state(db, partner_id).pull_next is None
    with db() as s:
        refs = {i.source_ref for i in s.scalars(select(BankItem)) if i.source == "taxii:medallion"}
    assert {o["id"] for o in objects} <= refs
    # Nothing new: the next pull reads nothing and keeps its checkpoint.
    again = sync.pull(db, partner_id, keyring=KEYRING)
    assert again.ok and again.report.added == 0
    assert state(db, partner_id).pull_added_after == checkpoint
    # Something new arrives: only it is read.
    fresh = peer_indicator(99)
    medallion.post([fresh])
    later = sync.pull(db, partner_id, keyring=KEYRING)
    assert later.report.added == 1 and later.report.received == 1
    statuses = {st.name: st for st in _status(db)}
    assert statuses["medallion"].healthy and statuses["medallion"].objects_received >= 6


def _status(db):
    with db() as s:
        return sync.partner_status(s, ORG)


def test_push_to_medallion_then_another_org_pulls_it(db, world, medallion, tmp_path):
    with db.begin() as s:
        bank = service.get_bank(s, ORG, world["shared"])
        mine = [add(s, bank) for _ in range(3)]
        red = add(s, bank, tlp="RED")
    partner_id = connect(db, world, medallion, name="medallion-push")
    with db.begin() as s:
        group = s.get(SharingGroup, world["group"])
        policy.add_member(s, group, s.get(Partner, partner_id))
    result = sync.push(db, partner_id, keyring=KEYRING)
    assert result.ok, result.error
    ids = {o["id"] for o in medallion.all_objects()}
    assert {stix.stix_id("indicator", i.id) for i in mine} <= ids
    assert stix.stix_id("indicator", red.id) not in ids
    assert stix.identity_id(ORG) in ids
    # pushing again sends nothing new
    assert sync.push(db, partner_id, keyring=KEYRING).sent == 0


def test_ssrf_guard_refuses_loopback_unless_allowed(db, world, medallion):
    partner_id = connect(db, world, medallion, name="careless", private=False)
    result = sync.pull(db, partner_id, keyring=KEYRING)
    assert not result.ok and "not a public address" in result.error
    st = state(db, partner_id)
    assert st.consecutive_failures == 1 and st.pull_added_after is None
    assert st.next_attempt_at > datetime.now(UTC)


def test_outage_backs_off_and_resumes_without_losing_place(db, world, tmp_path):
    peer = Medallion(tmp_path / "flaky", objects=[peer_indicator(1)])
    try:
        partner_id = connect(db, world, peer, name="flaky", poll_seconds=1)
        assert sync.pull(db, partner_id, keyring=KEYRING).ok
        checkpoint = state(db, partner_id).pull_added_after
        peer.stop()
        for expected in (1, 2):
            failed = sync.pull(db, partner_id, keyring=KEYRING)
            assert not failed.ok and "cannot reach" in failed.error
            st = state(db, partner_id)
            assert st.consecutive_failures == expected and st.pull_added_after == checkpoint
        with db() as s:
            assert partner_id not in sync.due_partners(s)  # backing off
            [flaky] = [x for x in sync.partner_status(s, ORG) if x.name == "flaky"]
            assert not flaky.healthy and flaky.last_error
        peer.start()  # the memory backend reloads its (empty) file: a restarted partner
        peer.post([peer_indicator(2)])
        back = sync.pull(db, partner_id, keyring=KEYRING)
        assert back.ok and back.report.added == 1
        assert state(db, partner_id).consecutive_failures == 0
    finally:
        peer.stop()


class _Silent:
    """A TCP server that accepts and never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]

    def close(self):
        self.sock.close()


def test_timeout_is_a_failure_not_a_hang(db, world, monkeypatch):
    monkeypatch.setenv("COUNTERSIGNAL_EXCHANGE_REQUEST_TIMEOUT_SECONDS", "0.5")
    get_exchange_settings.cache_clear()
    silent = _Silent()
    try:
        with db.begin() as s:
            partner = policy.create_partner(
                s,
                organisation_id=ORG,
                partner_organisation_id="org_silent",
                name="silent",
                api_root_url=f"http://127.0.0.1:{silent.port}/api/",
                collection_id="c1",
                allow_private_network=True,
            )
            partner_id = partner.id
        result = sync.pull(db, partner_id, keyring=KEYRING)
        assert not result.ok and "timed out" in result.error
    finally:
        silent.close()


class _Poisoned(QuietHandler):
    """Pages of 1 object are fine except one whose body is garbage; bigger pages are garbage."""

    objects: ClassVar[list] = []
    times: ClassVar[list[str]] = []

    def do_GET(self):
        from urllib.parse import parse_qs, urlsplit

        query = parse_qs(urlsplit(self.path).query)
        limit = int(query.get("limit", ["100"])[0])
        after = query.get("added_after", [""])[0]
        start = next((i for i, t in enumerate(self.times) if t > after), len(self.times))
        chunk = list(range(start, min(start + limit, len(self.times))))
        self.send_response(200)
        self.send_header("Content-Type", "application/taxii+json;version=2.1")
        if chunk:
            self.send_header("X-TAXII-Date-Added-First", self.times[chunk[0]])
            self.send_header("X-TAXII-Date-Added-Last", self.times[chunk[-1]])
        self.end_headers()
        if any(self.objects[i] is None for i in chunk):
            self.wfile.write(b'{"objects": [ this is not json')
            return
        more = chunk and chunk[-1] < len(self.times) - 1
        body = {"more": bool(more), "objects": [self.objects[i] for i in chunk]}
        self.wfile.write(json.dumps(body).encode())


def test_a_poisoned_page_is_cornered_and_skipped(db, world, monkeypatch):
    monkeypatch.setenv("COUNTERSIGNAL_EXCHANGE_PAGE_LIMIT", "4")
    get_exchange_settings.cache_clear()
    _Poisoned.objects = [peer_indicator(n) for n in range(6)]
    _Poisoned.objects[3] = None
    _Poisoned.times = [stix.timestamp(T0 + timedelta(seconds=n)) for n in range(6)]
    with serve_http(_Poisoned) as server:
        with db.begin() as s:
            partner_id = policy.create_partner(
                s,
                organisation_id=ORG,
                partner_organisation_id="org_poison",
                name="poison",
                api_root_url=f"{server.url}/api/",
                collection_id="c1",
                allow_private_network=True,
                import_bank_id=world["inbox"],
            ).id
        rounds = [sync.pull(db, partner_id, keyring=KEYRING) for _ in range(4)]
        assert any(not r.ok for r in rounds) and rounds[-1].ok
        st = state(db, partner_id)
        assert st.objects_rejected == 1 and "skipped" in (st.last_error or "")
        assert st.pull_added_after == _Poisoned.times[-1]
        with db() as s:
            got = {i.source_ref for i in s.scalars(select(BankItem)) if i.source == "taxii:poison"}
        good = {o["id"] for o in _Poisoned.objects if o is not None}
        assert got == good


def test_two_workers_never_sync_one_partner_at_once(db, world, medallion):
    from countersignal.exchange.models import SyncState as State

    partner_id = connect(db, world, medallion, name="leased")
    with db.begin() as s:
        s.add(
            State(
                partner_id=partner_id,
                consecutive_failures=0,
                push_positions={},
                lease_until=datetime.now(UTC) + timedelta(minutes=1),
            )
        )
    busy = sync.pull(db, partner_id, keyring=KEYRING)
    assert not busy.ok and "another worker" in busy.error
    with db.begin() as s:
        s.get(State, partner_id).lease_until = datetime.now(UTC) - timedelta(seconds=1)
    # An expired lease (a dead worker's) is taken over.
    assert sync.pull(db, partner_id, keyring=KEYRING).ok
    assert state(db, partner_id).lease_until is None
