"""Outbound request guard: webhook URLs must not reach the deployment's own network.

A webhook URL is chosen by a tenant, so without a guard it could make this server call its
database, cloud metadata service (169.254.169.254) or anything on loopback. Every address the
host name resolves to must be globally routable unless the endpoint is explicitly marked
``allow_private`` by its administrator (tests on loopback set it). The check runs when the
endpoint is registered and again before every delivery (DNS answers change), and the delivery
connects to the address that passed (``pin``): a rebinding DNS server gets no second lookup to
answer differently. Redirects are never followed, so a public host cannot bounce a delivery
inward.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from countersignal.errors import InvalidInput
from countersignal.netguard import is_public


class BlockedDestination(InvalidInput):
    """The URL resolves to a private, loopback, link-local or otherwise internal address."""

    title = "Destination not allowed"


def resolve(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise InvalidInput(f"cannot resolve webhook host {host!r}: {exc}") from exc
    return [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]


def check_url(url: str, *, allow_private: bool = False) -> str:
    """Return ``url`` if it is http(s) with a host whose every address is public (or private
    addresses are explicitly allowed); raise :class:`BlockedDestination` otherwise."""
    checked_addresses(url, allow_private=allow_private)
    return url


@dataclass(frozen=True)
class Pinned:
    """A request target fixed to an address that passed the check: connecting by name would
    resolve again, and a rebinding DNS server could answer with an internal address."""

    url: str  # the checked address in place of the host name
    host_header: str
    sni_hostname: str  # TLS still verifies the certificate against the name


def pin(url: str, *, allow_private: bool = False) -> Pinned:
    """``url`` checked, with its host replaced by the first address that passed."""
    parts = urlsplit(url)
    address = checked_addresses(url, allow_private=allow_private)[0]
    literal = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    return Pinned(parts._replace(netloc=netloc).geturl(), parts.netloc, parts.hostname or "")


def checked_addresses(
    url: str, *, allow_private: bool = False
) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Every address ``url``'s host resolves to, each allowed by the rule above."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"webhook URL {url!r} must be http(s)://host/...")
    if parts.username or parts.password:
        raise InvalidInput("webhook URLs must not carry credentials; the signature authenticates")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = resolve(parts.hostname, port)
    if not addresses:
        raise InvalidInput(f"webhook host {parts.hostname!r} has no addresses")
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                raise BlockedDestination(
                    f"webhook host {parts.hostname!r} resolves to {address}, which is not a "
                    "public address; an administrator must allow private destinations explicitly"
                )
    return addresses
