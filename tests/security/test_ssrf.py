"""Every outbound-request guard (webhook deliveries, TAXII partner pulls and pushes, content
fetched by URL) refuses private, loopback, link-local and otherwise internal destinations in
every spelling, unless an administrator allowed private targets, and never follows a redirect
inward. Real resolution (getaddrinfo) and real loopback HTTP servers throughout."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from countersignal.actions import ssrf as webhook_guard
from countersignal.api import content
from countersignal.errors import CountersignalError
from countersignal.exchange import ssrf as partner_guard
from countersignal.exchange.client import PartnerEndpoint, TaxiiClient
from countersignal.netguard import is_public
from countersignal.settings import ApiSettings
from loopback import QuietHandler, serve_http

HOSTILE = [
    "http://127.0.0.1/", "http://127.8.9.10:8080/x", "http://localhost/", "http://vm/",
    "http://0.0.0.0/", "http://0/", "http://10.1.2.3/", "http://172.16.0.1/",
    "http://192.168.1.1/", "http://100.64.0.1/", "http://169.254.169.254/latest/meta-data/",
    "http://2130706433/",  # decimal 127.0.0.1
    "http://0x7f000001/", "http://0x7f.0.0.1/",  # hex
    "http://017700000001/", "http://0177.0.0.01/",  # octal
    "http://127.1/", "http://10.1/",  # short forms
    "http://[::1]/", "http://[::]/", "http://[fe80::1]/", "http://[fc00::1]/",
    "http://[::ffff:127.0.0.1]/", "http://[::ffff:7f00:1]/", "http://[::ffff:169.254.169.254]/",
    "http://[::127.0.0.1]/",  # IPv4-compatible
    "http://[64:ff9b::7f00:1]/", "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 to 127/8, 169.254/16
    "http://[2002:7f00:1::]/", "http://[2002:a9fe:a9fe::]/",  # 6to4
    "http://224.0.0.1/", "http://[ff02::1]/",  # multicast
    "https://LOCALHOST./", "http://127.0.0.1.:80/",
]


def _fetch_guard(url: str) -> None:
    host = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)[0].strip("[]").rstrip(".")
    settings = ApiSettings(fetch_enabled=True, fetch_allowed_hosts=[host.lower()],
                           fetch_timeout_s=2)
    content.fetch_url(url, settings)


GUARDS: dict[str, Callable[[str], object]] = {
    "webhooks": webhook_guard.check_url,
    "taxii partners": partner_guard.check_url,
    "fetch by URL": _fetch_guard,
}


@pytest.mark.parametrize("guard", sorted(GUARDS))
@pytest.mark.parametrize("url", HOSTILE)
def test_internal_destinations_are_refused(guard: str, url: str) -> None:
    with pytest.raises(CountersignalError) as refused:
        GUARDS[guard](url)
    assert refused.value.http_status in (400, 403, 422), refused.value


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8",
                                     "64:ff9b::808:808", "2002:808:808::"])
def test_public_addresses_and_public_carriers_stay_allowed(address: str) -> None:
    assert is_public(address)
    host = f"[{address}]" if ":" in address else address
    webhook_guard.check_url(f"https://{host}/hook")
    partner_guard.check_url(f"https://{host}/taxii2/")


@pytest.mark.parametrize("url", ["http://user:pw@8.8.8.8/", "file:///etc/passwd",
                                 "gopher://8.8.8.8/", "ftp://8.8.8.8/", "http:///x"])
def test_schemes_and_credentials(url: str) -> None:
    for guard in GUARDS.values():
        with pytest.raises(CountersignalError):
            guard(url)


def test_private_targets_only_when_explicitly_allowed() -> None:
    assert webhook_guard.check_url("http://127.0.0.1:9/x", allow_private=True)
    partner_guard.check_url("http://127.0.0.1:9/x", allow_private=True)


# --- redirects -----------------------------------------------------------------------------


class Hits:
    """A loopback HTTP server: ``/go?to=URL`` redirects there, anything else answers 200."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        hits = self.paths

        class Handler(QuietHandler):
            def _answer(self) -> None:
                hits.append(self.path)
                if self.path.startswith("/go?to="):
                    self.reply(302, content_type=None,
                               headers={"Location": self.path.removeprefix("/go?to=")})
                    return
                self.reply(200, b'{"ok": true}', "application/taxii+json;version=2.1")

            do_GET = do_POST = _answer

        self.handler = Handler

    def serve(self) -> Iterator[Hits]:
        """Serve (a generator for fixtures): ``.server`` and ``.url`` while it runs."""
        with serve_http(self.handler) as server:
            self.server, self.url = server, server.url
            yield self


@pytest.fixture
def origin() -> Iterator[Hits]:
    yield from Hits().serve()


@pytest.fixture
def inside() -> Iterator[Hits]:
    """Stands for an internal service the redirects try to reach."""
    yield from Hits().serve()


def test_taxii_client_never_follows_a_redirect(origin: Hits, inside: Hits) -> None:
    endpoint = PartnerEndpoint(f"{origin.url}/go?to={inside.url}/secret/",
                               allow_private_network=True)
    with TaxiiClient(endpoint, timeout=5) as client, pytest.raises(CountersignalError,
                                                                   match="redirect"):
        client.request("GET", "")
    assert origin.paths and not inside.paths


def test_fetch_follows_redirects_only_to_public_addresses(origin: Hits, inside: Hits,
                                                          monkeypatch) -> None:
    """The first hop stands for a public site: only its name is resolved by a stub (no public
    address loops back here); every later hop goes through the real guard."""
    import ipaddress

    from countersignal import netguard

    real = netguard.checked_addresses

    def public_first_hop(url: str, **kwargs):
        if netguard.parse_url(url).hostname == "public.test":
            return [ipaddress.ip_address("127.0.0.1")]
        return real(url, **kwargs)

    monkeypatch.setattr(netguard, "checked_addresses", public_first_hop)
    port = origin.server.server_port
    settings = ApiSettings(fetch_enabled=True, fetch_allowed_hosts=["public.test", "localhost",
                                                                    "127.0.0.1"],
                           fetch_timeout_s=5)
    body, _ = content.fetch_url(f"http://public.test:{port}/plain", settings)
    assert body == b'{"ok": true}'
    for target in (f"{inside.url}/secret", f"http://localhost:{inside.server.server_port}/x",
                   f"http://[::ffff:127.0.0.1]:{inside.server.server_port}/x"):
        with pytest.raises(CountersignalError):
            content.fetch_url(f"http://public.test:{port}/go?to={target}", settings)
    assert not inside.paths


def test_webhook_delivery_never_follows_a_redirect(sqlite_template, tmp_path, origin: Hits,
                                                   inside: Hits) -> None:
    """Even to an endpoint the operator allowed onto a private network, a 302 is a failed
    attempt: the delivery (signed, with the action data) never reaches the redirect target."""
    import shutil

    from countersignal.actions import webhooks
    from countersignal.actions.crypto import Keyring
    from countersignal.auth import Principal
    from countersignal.db import make_engine, session_factory, transaction

    shutil.copyfile(sqlite_template, tmp_path / "db.sqlite")
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    factory, keyring = session_factory(engine), Keyring.generate()
    with transaction(factory) as session:
        webhooks.register_endpoint(
            session, Principal.system("tests"), url=f"{origin.url}/go?to={inside.url}/x",
            keyring=keyring, allow_private=True, organisation_id="org_redirect")
        event = sorted(webhooks.EVENTS)[0]
        webhooks.enqueue(session, organisation_id="org_redirect", event=event,
                         subject_id="s1", data={"case": "c1"})
    report = webhooks.deliver_due(factory, keyring=keyring)
    engine.dispose()
    assert report.delivered == 0 and origin.paths and not inside.paths


def test_webhook_delivery_connects_to_the_checked_address(sqlite_template, tmp_path, origin,
                                                          monkeypatch) -> None:
    """DNS rebinding: the name resolves to the receiver when checked and to an unreachable
    address afterwards (a stub resolver stands for the attacker's DNS server). The delivery
    must reach the checked address; a second lookup at connection time would miss it."""
    import shutil
    import socket

    from countersignal.actions import webhooks
    from countersignal.actions.crypto import Keyring
    from countersignal.auth import Principal
    from countersignal.db import make_engine, session_factory, transaction

    real = socket.getaddrinfo
    answers = {"rebind.test": 0}

    def rebinding(host, port, *args, **kwargs):
        if host != "rebind.test":
            return real(host, port, *args, **kwargs)
        answers[host] += 1
        address = "127.0.0.1" if answers[host] % 2 else "10.255.255.1"
        return real(address, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    shutil.copyfile(sqlite_template, tmp_path / "db.sqlite")
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    factory, keyring = session_factory(engine), Keyring.generate()
    with transaction(factory) as session:
        webhooks.register_endpoint(
            session, Principal.system("tests"),
            url=f"http://rebind.test:{origin.server.server_port}/hook", keyring=keyring,
            allow_private=True, organisation_id="org_rebind")
        webhooks.enqueue(session, organisation_id="org_rebind",
                         event=sorted(webhooks.EVENTS)[0], subject_id="s1", data={})
    answers["rebind.test"] = 0  # the delivery's check gets the receiver, any later lookup not
    report = webhooks.deliver_due(factory, keyring=keyring,
                                  policy=webhooks.RetryPolicy(timeout_s=3))
    engine.dispose()
    assert origin.paths == ["/hook"] and report.delivered == 1
    assert answers["rebind.test"] == 1  # one lookup: the check's


# --- one implementation ----------------------------------------------------------------------

MALFORMED = ["http://" + "a" * 70 + ".example/x",  # a label IDNA cannot encode
             "http://example.com:abc/x", "http://8.8.8.8:99999/x", "http://[::1/"]


@pytest.mark.parametrize("url", MALFORMED)
def test_malformed_urls_are_a_clear_refusal_for_every_guard(url: str) -> None:
    """**Bug fixed** by making netguard the one implementation: the webhook guard let
    ``UnicodeError`` (over-long label) and ``ValueError`` (bad port, broken IPv6 literal) out,
    the partner guard the ``ValueError``s."""
    for guard in (webhook_guard.check_url, webhook_guard.pin, partner_guard.check_url,
                  partner_guard.pin):
        for allow_private in (False, True):
            with pytest.raises(CountersignalError) as refused:
                guard(url, allow_private=allow_private)
            assert refused.value.http_status in (400, 422), (guard, refused.value)


def test_a_malformed_webhook_url_is_a_4xx_from_the_api(stack) -> None:
    with stack.api("admin") as admin:
        for url in MALFORMED:
            reply = admin.post("/v1/webhooks", json={"url": url})
            assert 400 <= reply.status_code < 500, (url, reply.status_code, reply.text[:200])


def test_the_guards_are_thin_uses_of_netguard() -> None:
    """Resolution and the address rule live in countersignal.netguard only."""
    import inspect

    for module in (webhook_guard, partner_guard):
        source = inspect.getsource(module)
        assert "netguard" in source
        for duplicate in ("getaddrinfo", "import ipaddress", "is_public(", "urlsplit("):
            assert duplicate not in source, (module.__name__, duplicate)
    # The exception types callers rely on: a webhook's is an InvalidInput (a failed delivery
    # attempt, 422 at registration), a partner's a Forbidden (a failed sync, never a page to
    # shrink).
    from countersignal.errors import Forbidden, InvalidInput

    with pytest.raises(InvalidInput):
        webhook_guard.check_url("http://10.0.0.1/")
    with pytest.raises(Forbidden):
        partner_guard.check_url("http://10.0.0.1/")


def test_taxii_client_connects_to_the_checked_address(origin: Hits, monkeypatch) -> None:
    """DNS rebinding against a partner pull: the name resolves to the partner's server when
    checked (a stub resolver stands for the attacker's DNS server, and the loopback address
    stands for a public one) and to an internal, unreachable address afterwards. The request
    must reach the checked address with the name in ``Host``; a second lookup would miss."""
    import socket

    from countersignal import netguard

    real_lookup, real_public = socket.getaddrinfo, netguard.is_public
    answers = {"rebind.test": 0}

    def rebinding(host, port, *args, **kwargs):
        if host != "rebind.test":
            return real_lookup(host, port, *args, **kwargs)
        answers[host] += 1
        address = "127.0.0.1" if answers[host] % 2 else "10.255.255.1"
        return real_lookup(address, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    monkeypatch.setattr(netguard, "is_public",
                        lambda address: str(address) == "127.0.0.1" or real_public(address))
    port = origin.server.server_port
    endpoint = PartnerEndpoint(f"http://rebind.test:{port}/taxii2/api/")  # private not allowed
    with TaxiiClient(endpoint, timeout=3) as client:
        body = client.api_root()
    assert body == {"ok": True} and origin.paths == ["/taxii2/api/"]
    assert answers["rebind.test"] == 1  # one lookup: the check's
